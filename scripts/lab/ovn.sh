#!/usr/bin/env bash
# A real OVN as the BFD peer of gateway replicas, in network namespaces (OVN 23.03 + OVS 3.1,
# userspace "netdev" datapath: no kernel module needed).
#
#   [PREFIX-ovs]  ovsdb-server x3, ovs-vswitchd, ovn-northd, ovn-controller (one chassis)
#                 br-int: p-gwN <-veth-> eth0 [PREFIX-gwN]   gateway replicas (agent runs here)
#                         p-kick <-veth-> eth0 [PREFIX-kick] the "kicker" (see cmd_kicker)
#   logical:      lr0 --lrp-gw (distributed gateway port, gateway chassis = this chassis)-- ls-gw
#                 ls-gw ports gw1..gwN, kick; ECMP static routes 0.0.0.0/0 and ::/0 via the
#                 replicas, each with --bfd, so ovn-controller (pinctrl) runs a BFD session with
#                 every replica address from lrp-gw's address of that family. (Kube-OVN reroutes
#                 with policies from a dedicated BFD port instead: BFD-gated policies need OVN
#                 >= 24.03 or its patch. The sessions are the same, except that OVN's packets are
#                 routed there and arrive with TTL 254; the agent accepts >= 254.)
#
# Everything the lab creates is recorded under /run/vea-lab/PREFIX-ovn/ before it is created; `down`
# removes only what is recorded there and kills only pids from its own pid files (never by name).
set -euo pipefail

readonly RUN_ROOT=/run/vea-lab
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly LAB_DIR LAB_TOOL=ovn.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$LAB_DIR/common.sh"
readonly BFD_DEFAULT_TX=100 BFD_DEFAULT_RX=100 BFD_DEFAULT_MULT=3
readonly LRP=lrp-gw LR=lr0 LS=ls-gw LRP_MAC=0a:00:00:16:00:01

# Addressing plan (private/documentation ranges; they exist only inside the lab namespaces). The
# replicas' eth0 and the router port share one subnet, so BFD packets arrive with TTL 255.
readonly LRP4=10.16.0.1 LRP6=fd00:10:16::1 PLEN4=16 PLEN6=64
readonly KICK4=10.16.0.250 KICK6=fd00:10:16::fa KICK_MAC=0a:00:00:16:00:fa

usage() {
  cat >&2 <<'EOF'
usage: ovn.sh COMMAND [-p PREFIX] [ARGS...]    (PREFIX default: vov; namespaces PREFIX-<node>)
  up [--gateways N] [--family 4|6|dual] [--underlay yes|no]
                                          start OVS+OVN, lr0/ls-gw, replicas gw1..gwN (default 2, dual);
                                          --underlay yes: net1 on each replica, external gateway in PREFIX-ext
  down                                    stop and remove only what `up` created
  env gwN                                 Kube-OVN's environment of gwN's bfdd container (KEY=VALUE),
                                          with --underlay also the init container's gateway variables
  info                                    JSON description of the lab
  exec NODE CMD...                        NODE = ovs|kick|gwN (|ext with --underlay)
  bfd-route DST_IP [MIN_TX MIN_RX MULT]   NB BFD row + ECMP --bfd static route (again: change timers)
  bfd-del DST_IP                          remove the route and the BFD row
  bfd-state DST_IP                        SB BFD status: up|down|init|admin_down|absent
  bfd-wait DST_IP STATE TIMEOUT_S         wait for that SB status; prints the ms waited
  bfd-json                                SB BFD rows (ovn-sbctl --format=json: headings + data)
  nexthops [4|6]                          ECMP nexthops lr0's logical flows route to now (one a line)
  groups                                  br-int's OpenFlow groups (ECMP select groups)
  events                                  SB BFD status changes seen by the monitor: "EPOCH_MS DST_IP STATUS"
  kicker start [MS] | kicker stop         junk UDP/3784 to lrp-gw every MS (default 50) from PREFIX-kick
  nbctl|sbctl|vsctl|ofctl|ctrl-appctl [--] ARGS...  the tools, on this lab's databases/daemons
                                          (-- before tool options: `ovn.sh sbctl -p P -- --bare list bfd`)
EOF
  exit 2
}

PREFIX=vov
ARGS=()
declare -A OPTS=()
parse_args() {
  parse_opts "--gateways --family --underlay" "$@"
  STATE=$RUN_ROOT/$PREFIX-ovn
  # Every OVS/OVN tool finds its daemons and sockets through these (never /var/run/openvswitch).
  export OVS_RUNDIR=$STATE/ovs OVS_LOGDIR=$STATE/log OVS_DBDIR=$STATE/ovs OVS_SYSCONFDIR=$STATE/etc
  export OVN_RUNDIR=$STATE/ovn OVN_LOGDIR=$STATE/log OVN_DBDIR=$STATE/ovn OVN_SYSCONFDIR=$STATE/etc
  OVS_DB=unix:$OVS_RUNDIR/db.sock
  NB_DB=unix:$OVN_RUNDIR/ovnnb_db.sock
  SB_DB=unix:$OVN_RUNDIR/ovnsb_db.sock
  CHASSIS=$PREFIX-chassis
}


# ---------------------------------------------------------------------------------------------
# Small helpers (the rest are in common.sh, shared with lab.sh)

in_ovs() { ip netns exec "$(ns ovs)" "$@"; }

# wait_for DESCRIPTION TIMEOUT_S CMD...: polls CMD every 50 ms.
wait_for() {
  local what=$1 timeout_us=$(($2 * 1000000)) t0
  shift 2
  t0=$(now_us)
  until "$@" >/dev/null 2>&1; do
    (($(now_us) - t0 < timeout_us)) || die "$what: not reached within $((timeout_us / 1000000)) s"
    sleep 0.05
  done
}

gw4() { echo "10.16.0.1$1"; }
gw6() { echo "fd00:10:16::1$1"; }
gw_mac() { printf '0a:00:00:16:00:%02x' $((0x10 + $1)); }
# The underlay (up --underlay): net1 of gwN and the external gateway in PREFIX-ext, as Multus would
# attach it; only Kube-OVN's init container (gateway variables) needs it.
readonly EXT4=172.17.0.1 EXT6=fd00:172:17::1 EXT_PLEN4=16 EXT_PLEN6=64
net1_4() { echo "172.17.0.1$1"; }
net1_6() { echo "fd00:172:17::1$1"; }

load_state() {
  load_lab_conf family=FAMILY gateways=GATEWAYS underlay=UNDERLAY
}

check_gw() {
  [[ $1 =~ ^gw([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= GATEWAYS)) ||
    die "unknown gateway '$1' (OVN lab '$PREFIX' has gw1..gw$GATEWAYS)"
  echo "${BASH_REMATCH[1]}"
}

check_node() {
  [[ $1 == ovs || $1 == kick ]] && return 0
  [[ $1 == ext ]] && ((UNDERLAY)) && return 0
  check_gw "$1" >/dev/null
}

# The tools, always against this lab's databases (the OVN ones talk to unix sockets only, so they
# work from any namespace; the OVS ones reach ovs-vswitchd through $OVS_RUNDIR).
nbctl() { ovn-nbctl --db="$NB_DB" --timeout=20 "$@"; }
sbctl() { ovn-sbctl --db="$SB_DB" --timeout=20 "$@"; }
vsctl() { ovs-vsctl --db="$OVS_DB" --timeout=20 "$@"; }
# ovn-controller 23.03 has no --unixctl option: its socket is $OVN_RUNDIR/ovn-controller.PID.ctl.
ctrl_appctl() {
  local pid
  pid=$(owned_pid "$STATE/ovn-controller.pid") || die "ovn-controller is not running"
  ovs-appctl -t "$OVN_RUNDIR/ovn-controller.$pid.ctl" "$@"
}

# ---------------------------------------------------------------------------------------------
# up / down


# plug NODE INDEX_NAME MAC: a veth (new_veth) whose "eth0" end is in PREFIX-NODE and whose p-NODE
# end is an OVS port of br-int bound to logical switch port NODE.
plug() {
  local node=$1 tmp=$2 mac=$3
  new_veth "$tmp"
  ip link set "${tmp}a" netns "$(ns "$node")" name eth0
  ip link set "${tmp}b" netns "$(ns ovs)" name "p-$node"
  nip "$node" link set eth0 address "$mac"
  nip "$node" link set eth0 up
  nip ovs link set "p-$node" up
  # The netdev datapath copies frames between AF_PACKET sockets and does not complete checksums
  # of CHECKSUM_PARTIAL packets: without this, UDP/TCP data from the replica arrives corrupt.
  ip netns exec "$(ns "$node")" ethtool -K eth0 tx off >/dev/null
  vsctl add-port br-int "p-$node" -- set interface "p-$node" "external_ids:iface-id=$node"
}

# add_node NODE INDEX_NAME MAC IP4 IP6: namespace + logical switch port + addresses.
add_node() {
  local node=$1 tmp=$2 mac=$3 a4=$4 a6=$5 addrs=$3
  add_ns "$node"
  if has4; then addrs+=" $a4"; fi
  if has6; then addrs+=" $a6"; fi
  nbctl lsp-add "$LS" "$node" -- lsp-set-addresses "$node" "$addrs"
  plug "$node" "$tmp" "$mac"
  if has4; then nip "$node" addr add "$a4/$PLEN4" dev eth0; fi
  if has6; then nip "$node" addr add "$a6/$PLEN6" dev eth0 nodad; fi
}

# PREFIX-ext: bridge br-ext with the external gateway's addresses; net1 of every replica on it.
add_underlay() {
  local i
  add_ns ext
  nip ext link add br-ext type bridge
  nip ext link set br-ext up
  if has4; then nip ext addr add "$EXT4/$EXT_PLEN4" dev br-ext; fi
  if has6; then nip ext addr add "$EXT6/$EXT_PLEN6" dev br-ext nodad; fi
  for ((i = 1; i <= GATEWAYS; i++)); do
    new_veth "$PREFIX-u$i"
    ip link set "$PREFIX-u${i}a" netns "$(ns "gw$i")" name net1
    ip link set "$PREFIX-u${i}b" netns "$(ns ext)" name "u-gw$i"
    nip ext link set "u-gw$i" master br-ext up
    nip "gw$i" link set net1 up
    if has4; then nip "gw$i" addr add "$(net1_4 "$i")/$EXT_PLEN4" dev net1; fi
    if has6; then nip "gw$i" addr add "$(net1_6 "$i")/$EXT_PLEN6" dev net1 nodad; fi
  done
}

start_daemons() {
  mkdir -p "$OVS_RUNDIR" "$OVN_RUNDIR" "$STATE/log" "$STATE/etc"
  ovsdb-tool create "$OVS_RUNDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-tool create "$OVN_RUNDIR/ovnnb_db.db" /usr/share/ovn/ovn-nb.ovsschema
  ovsdb-tool create "$OVN_RUNDIR/ovnsb_db.db" /usr/share/ovn/ovn-sb.ovsschema
  # One ovsdb-server per database, unix sockets only: DIR/NAME.db served on DIR/SOCK.
  local spec dir name sock
  for spec in ovs:conf:db ovn:ovnnb_db:ovnnb_db ovn:ovnsb_db:ovnsb_db; do
    IFS=: read -r dir name sock <<<"$spec"
    in_ovs ovsdb-server -vconsole:off "$STATE/$dir/$name.db" --remote="punix:$STATE/$dir/$sock.sock" \
      --pidfile="$STATE/ovsdb-$name.pid" --unixctl="$STATE/$dir/ovsdb-$name.ctl" \
      --log-file="$STATE/log/ovsdb-$name.log" --detach --no-chdir
  done
  vsctl --no-wait init
  # --disable-system: only the userspace datapath (there is no openvswitch kernel module here).
  in_ovs ovs-vswitchd -vconsole:off "$OVS_DB" --pidfile="$STATE/ovs-vswitchd.pid" --unixctl="$OVS_RUNDIR/ovs-vswitchd.ctl" \
    --log-file="$STATE/log/ovs-vswitchd.log" --detach --no-chdir --disable-system --disable-system-route
  vsctl add-br br-int -- set bridge br-int datapath_type=netdev fail-mode=secure \
    other-config:disable-in-band=true
  in_ovs ovn-northd -vconsole:off --ovnnb-db="$NB_DB" --ovnsb-db="$SB_DB" --pidfile="$STATE/ovn-northd.pid" \
    --unixctl="$OVN_RUNDIR/ovn-northd.ctl" --log-file="$STATE/log/ovn-northd.log" --detach --no-chdir
  nbctl init
  vsctl set open . "external_ids:system-id=$CHASSIS" "external_ids:ovn-remote=$SB_DB" \
    external_ids:ovn-encap-type=geneve external_ids:ovn-encap-ip=127.0.0.1 \
    external_ids:ovn-bridge-datapath-type=netdev
  in_ovs ovn-controller -vconsole:off "$OVS_DB" --pidfile="$STATE/ovn-controller.pid" \
    --log-file="$STATE/log/ovn-controller.log" --detach --no-chdir
}

setup_logical() {
  local nets=()
  if has4; then nets+=("$LRP4/$PLEN4"); fi
  if has6; then nets+=("$LRP6/$PLEN6"); fi
  nbctl lr-add "$LR" -- lrp-add "$LR" "$LRP" "$LRP_MAC" "${nets[@]}"
  # BFD runs only on a distributed gateway port resident on this chassis (pinctrl.c).
  nbctl lrp-set-gateway-chassis "$LRP" "$CHASSIS" 10
  nbctl ls-add "$LS" -- lsp-add "$LS" rp-gw -- lsp-set-type rp-gw router \
    -- lsp-set-addresses rp-gw router -- lsp-set-options rp-gw "router-port=$LRP"
}

# SB status watcher: every change of a BFD row's status, timestamped by ovsdb-client.
start_monitor() {
  setsid ovsdb-client --timestamp --format=csv --pidfile="$STATE/bfd-monitor.pid" monitor "$SB_DB" \
    OVN_Southbound BFD dst_ip,status </dev/null >"$STATE/bfd-monitor.csv" 2>"$STATE/log/bfd-monitor.log" &
  wait_for "SB BFD monitor" 5 owned_pid "$STATE/bfd-monitor.pid"
}

cmd_up() {
  only_opts --gateways --family --underlay
  ((${#ARGS[@]} == 0)) || die "up takes no positional arguments (got: ${ARGS[*]})"
  GATEWAYS=${OPTS[--gateways]:-2}
  FAMILY=${OPTS[--family]:-dual}
  case ${OPTS[--underlay]:-no} in
    yes) UNDERLAY=1 ;;
    no) UNDERLAY=0 ;;
    *) die "--underlay must be yes or no, got '${OPTS[--underlay]}'" ;;
  esac
  [[ $GATEWAYS =~ ^[1-9]$ ]] || die "--gateways must be 1..9, got '$GATEWAYS'"
  [[ $FAMILY =~ ^(4|6|dual)$ ]] || die "--family must be 4, 6 or dual, got '$FAMILY'"
  [[ -e $STATE ]] && die "OVN lab '$PREFIX' already exists ($STATE); run: ovn.sh down -p $PREFIX"
  local n i
  for n in ovs kick ext $(seq -f 'gw%g' 1 "$GATEWAYS"); do
    ns_exists "$(ns "$n")" && die "namespace $(ns "$n") already exists and was not created by this lab"
  done
  command -v ovn-controller >/dev/null || die "OVN is not installed (run: make setup)"
  mkdir -p "$STATE/netns" "$STATE/links"
  save_lab_conf family=FAMILY gateways=GATEWAYS underlay=UNDERLAY
  trap 'rc=$?; trap - EXIT; echo "ovn.sh: up failed; removing what it created" >&2; teardown || true; exit "$rc"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  add_ns ovs
  start_daemons
  setup_logical
  for ((i = 1; i <= GATEWAYS; i++)); do
    add_node "gw$i" "$PREFIX-g$i" "$(gw_mac "$i")" "$(gw4 "$i")" "$(gw6 "$i")"
  done
  add_node kick "$PREFIX-k" "$KICK_MAC" "$KICK4" "$KICK6"
  if ((UNDERLAY)); then add_underlay; fi
  start_monitor
  # Ready = the chassis claimed the gateway port (BFD can run) and has installed the flows.
  wait_for "cr-$LRP bound to $CHASSIS" 30 port_bound "cr-$LRP"
  nbctl --wait=hv sync
  : >"$STATE/ready"
  trap - EXIT INT TERM
  echo "OVN lab '$PREFIX' up: family $FAMILY, $GATEWAYS gateways"
}

port_bound() {
  [[ -n $(sbctl --bare --columns=chassis find port_binding "logical_port=$1") ]]
}

# Remove everything recorded under $STATE; safe on a half-built lab. Keeps going past failures
# (and keeps the state directory, so `down` can be retried).
teardown() {
  [[ -d $STATE ]] || return 0
  local f rc=0
  for f in kicker bfd-monitor ovn-controller ovn-northd ovs-vswitchd ovsdb-ovnsb_db ovsdb-ovnnb_db ovsdb-conf; do
    stop_pidfile "$STATE/$f.pid" || rc=1
  done
  remove_recorded "$rc"
}

cmd_down() { down_cmd 'OVN lab'; }

# ---------------------------------------------------------------------------------------------
# env / info / exec

cmd_env() {
  only_opts
  ((${#ARGS[@]} == 1)) || die "usage: ovn.sh env [-p PREFIX] gwN"
  load_state
  local i pod_ips=() peers=()
  i=$(check_gw "${ARGS[0]}")
  if has4; then
    pod_ips+=("$(gw4 "$i")")
    peers+=("$LRP4")
    # The init container's gateway variables: the router port is the internal gateway.
    if ((UNDERLAY)); then printf '%s\n' "INTERNAL_GATEWAY_IPV4=$LRP4" "EXTERNAL_GATEWAY_IPV4=$EXT4"; fi
  fi
  if has6; then
    pod_ips+=("$(gw6 "$i")")
    peers+=("$LRP6")
    if ((UNDERLAY)); then printf '%s\n' "INTERNAL_GATEWAY_IPV6=$LRP6" "EXTERNAL_GATEWAY_IPV6=$EXT6"; fi
  fi
  local IFS=,
  echo "POD_IPS=${pod_ips[*]}"
  echo "BFD_PEER_IPS=${peers[*]}"
  echo "BFD_MIN_TX=$BFD_DEFAULT_TX"
  echo "BFD_MIN_RX=$BFD_DEFAULT_RX"
  echo "BFD_MULTI=$BFD_DEFAULT_MULT"
}

cmd_info() {
  only_opts
  ((${#ARGS[@]} == 0)) || die "info takes no positional arguments"
  load_state
  local i gws=() v4='' v6=''
  if has4; then v4=1; fi
  if has6; then v6=1; fi
  for ((i = 1; i <= GATEWAYS; i++)); do
    gws+=("$(jq -nc --arg name "gw$i" --arg ns "$(ns "gw$i")" --arg mac "$(gw_mac "$i")" \
      --arg a4 "${v4:+$(gw4 "$i")}" --arg a6 "${v6:+$(gw6 "$i")}" \
      --arg n4 "${v4:+$(net1_4 "$i")}" --arg n6 "${v6:+$(net1_6 "$i")}" --argjson underlay "$UNDERLAY" '
      def opt(k; v): if v == "" then {} else {(k): v} end;
      {($name): ({ns: $ns, mac: $mac} + opt("ipv4"; $a4) + opt("ipv6"; $a6)
        + if $underlay == 1 then {net1: (opt("ipv4"; $n4) + opt("ipv6"; $n6))} else {} end)}')")
  done
  jq -nc --arg prefix "$PREFIX" --arg family "$FAMILY" --arg state "$STATE" --arg chassis "$CHASSIS" \
    --arg lr "$LR" --arg lrp "$LRP" --arg mac "$LRP_MAC" --arg l4 "${v4:+$LRP4}" --arg l6 "${v6:+$LRP6}" \
    --arg e4 "${v4:+$EXT4}" --arg e6 "${v6:+$EXT6}" --arg ovs "$(ns ovs)" --arg kick "$(ns kick)" --arg ext "$(ns ext)" \
    --argjson underlay "$UNDERLAY" --jsonargs '
    def opt(k; v): if v == "" then {} else {(k): v} end;
    {prefix: $prefix, family: $family, stateDir: $state, chassis: $chassis, router: $lr,
     routerPort: ({name: $lrp, mac: $mac} + opt("ipv4"; $l4) + opt("ipv6"; $l6)),
     namespaces: ({ovs: $ovs, kick: $kick} + if $underlay == 1 then {ext: $ext} else {} end),
     gateways: ($ARGS.positional | add)}
    + if $underlay == 1 then {externalGateway: (opt("ipv4"; $e4) + opt("ipv6"; $e6))} else {} end' "${gws[@]}"
}

# ---------------------------------------------------------------------------------------------
# BFD: NB rows and routes, SB status

# ip_family IP: prints 4 or 6 for an address of a family this lab has.
ip_family() {
  local addr=$1
  if [[ $addr =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] && has4; then
    echo 4
  elif [[ $addr == *:* && $addr =~ ^[0-9a-f:]+$ ]] && has6; then
    echo 6
  else
    die "'$addr' is not an address of a family this lab has (family $FAMILY; write IPv6 in lowercase)"
  fi
}

nb_bfd_uuid() { nbctl --bare --columns=_uuid find bfd "dst_ip=\"$1\""; }

check_timer() {
  [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) || die "bfd-route: $1 must be $3..$4, got '$2'"
}

cmd_bfd_route() {
  only_opts
  ((${#ARGS[@]} == 1 || ${#ARGS[@]} == 4)) || die "usage: ovn.sh bfd-route [-p PREFIX] DST_IP [MIN_TX MIN_RX MULT]"
  load_state
  local dst=${ARGS[0]} tx=${ARGS[1]:-$BFD_DEFAULT_TX} rx=${ARGS[2]:-$BFD_DEFAULT_RX} mult=${ARGS[3]:-$BFD_DEFAULT_MULT}
  local fam uuid prefix
  fam=$(ip_family "$dst")
  check_timer MIN_TX "$tx" 1 3600000
  check_timer MIN_RX "$rx" 1 3600000
  check_timer MULT "$mult" 1 255
  uuid=$(nb_bfd_uuid "$dst")
  if [[ -n $uuid ]]; then
    # A timer change: OVN applies it at once, without a Poll of its own (OVN-06 in docs/bfd-requirements.md).
    nbctl set bfd "$uuid" "min_tx=$tx" "min_rx=$rx" "detect_mult=$mult"
  else
    # The row first: `lr-route-add --bfd` then finds it by dst_ip (and its timers are ours).
    nbctl create bfd "logical_port=$LRP" "dst_ip=\"$dst\"" "min_tx=$tx" "min_rx=$rx" "detect_mult=$mult" >/dev/null
  fi
  if [[ $fam == 4 ]]; then prefix=0.0.0.0/0; else prefix=::/0; fi
  if ! nbctl --bare --columns=nexthop find logical_router_static_route "nexthop=\"$dst\"" | grep -q .; then
    nbctl --bfd --ecmp lr-route-add "$LR" "$prefix" "$dst"
  fi
}

cmd_bfd_del() {
  only_opts
  ((${#ARGS[@]} == 1)) || die "usage: ovn.sh bfd-del [-p PREFIX] DST_IP"
  load_state
  local dst=${ARGS[0]} fam prefix uuid
  fam=$(ip_family "$dst")
  if [[ $fam == 4 ]]; then prefix=0.0.0.0/0; else prefix=::/0; fi
  nbctl --if-exists lr-route-del "$LR" "$prefix" "$dst"
  uuid=$(nb_bfd_uuid "$dst")
  if [[ -n $uuid ]]; then nbctl destroy bfd "$uuid"; fi
}

sb_status() {
  local s
  s=$(sbctl --bare --columns=status find bfd "dst_ip=\"$1\"")
  echo "${s:-absent}"
}

cmd_bfd_state() {
  only_opts
  ((${#ARGS[@]} == 1)) || die "usage: ovn.sh bfd-state [-p PREFIX] DST_IP"
  load_state
  ip_family "${ARGS[0]}" >/dev/null
  sb_status "${ARGS[0]}"
}

cmd_bfd_wait() {
  only_opts
  ((${#ARGS[@]} == 3)) || die "usage: ovn.sh bfd-wait [-p PREFIX] DST_IP STATE TIMEOUT_S"
  load_state
  local dst=${ARGS[0]} want=${ARGS[1]} timeout=${ARGS[2]} t0 now s limit_us
  ip_family "$dst" >/dev/null
  [[ $want =~ ^(up|down|init|admin_down|absent)$ ]] || die "bfd-wait: STATE must be up|down|init|admin_down|absent, got '$want'"
  [[ $timeout =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bfd-wait: TIMEOUT_S must be a number of seconds, got '$timeout'"
  limit_us=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000000 }')
  t0=$(now_us)
  while :; do
    s=$(sb_status "$dst")
    now=$(now_us)
    if [[ $s == "$want" ]]; then
      echo $(((now - t0) / 1000))
      return 0
    fi
    ((now - t0 < limit_us)) || die "bfd-wait: SB BFD status of $dst is not $want after $timeout s (last: $s)"
    sleep 0.05
  done
}

cmd_bfd_json() {
  only_opts
  load_state
  sbctl --format=json --columns=dst_ip,status,disc,src_port,min_tx,min_rx,detect_mult,logical_port list bfd
}

# The nexthops lr0 routes to, read from the logical flows northd computed: a static route's
# nexthop appears as `reg0 = IP;` (IPv4) or `xxreg0 = IP;` (IPv6) in the routing stages only while
# its BFD session is usable (northd drops nexthops whose status is down or admin_down).
cmd_nexthops() {
  only_opts
  ((${#ARGS[@]} <= 1)) || die "usage: ovn.sh nexthops [-p PREFIX] [4|6]"
  load_state
  local want=${ARGS[0]:-}
  [[ -z $want || $want == 4 || $want == 6 ]] || die "nexthops: family must be 4 or 6"
  sbctl lflow-list "$LR" | awk -v want="$want" '
    /table=[0-9]+ *\(lr_in_ip_routing(_ecmp)? *\)/ {
      while (match($0, /x*xreg0 = [0-9a-f:.]+;|[^x]reg0 = [0-9.]+;/)) {
        s = substr($0, RSTART, RLENGTH); $0 = substr($0, RSTART + RLENGTH)
        sub(/^[^=]*= /, "", s); sub(/;$/, "", s)
        v6 = index(s, ":") > 0
        if (want == "" || (want == 6 && v6) || (want == 4 && !v6)) seen[s] = 1
      }
    }
    END { for (s in seen) print s }' | sort
}

cmd_groups() {
  only_opts
  load_state
  in_ovs ovs-ofctl -O OpenFlow15 dump-groups br-int
}

# "EPOCH_MS DST_IP STATUS" for every status the monitor saw, oldest first (the first ones are
# the rows as they were when it started). ovsdb-client stamps each update in UTC, ms resolution.
cmd_events() {
  only_opts
  load_state
  [[ -f $STATE/bfd-monitor.csv ]] || die "no monitor output in $STATE"
  TZ=UTC awk -F, '
    /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9:.]+$/ {
      split($0, dt, /[- :.]/)
      ms = mktime(dt[1] " " dt[2] " " dt[3] " " dt[4] " " dt[5] " " dt[6]) * 1000 + dt[7]
      next
    }
    $2 == "initial" || $2 == "insert" || $2 == "new" {
      dst = $3; st = $4; gsub(/"/, "", dst)
      if (dst != "" && st != "") printf "%.0f %s %s\n", ms, dst, st
    }' "$STATE/bfd-monitor.csv"
}

# ---------------------------------------------------------------------------------------------
# kicker: OVN 23.03's pinctrl re-arms its BFD timer only when a packet-in arrives in time, so
# with every peer dead it stops transmitting and detects nothing for ~60 s (docs/lab-contract.md §3.4, OVN-01). Junk
# BFD-port packets (My Discriminator 0: pinctrl drops them after the packet-in) keep it awake.

cmd_kicker() {
  only_opts
  load_state
  local pidfile=$STATE/kicker.pid
  case ${ARGS[0]:-} in
    start)
      local ms=${ARGS[1]:-50} dsts=()
      [[ $ms =~ ^[0-9]+$ ]] && ((ms >= 1 && ms <= 10000)) || die "kicker start: MS must be 1..10000, got '$ms'"
      owned_pid "$pidfile" >/dev/null && die "the kicker is already running in OVN lab '$PREFIX'"
      if has4; then dsts+=("$KICK4=$LRP4"); fi
      if has6; then dsts+=("$KICK6=$LRP6"); fi
      setsid ip netns exec "$(ns kick)" "$(command -v node)" "$LAB_DIR/ovn-kicker.mjs" --pidfile "$pidfile" \
        --interval "$ms" "${dsts[@]}" </dev/null >>"$STATE/log/kicker.log" 2>&1 &
      wait_for "kicker start" 5 owned_pid "$pidfile"
      ;;
    stop) stop_pidfile "$pidfile" ;;
    *) die "usage: ovn.sh kicker [-p PREFIX] start [MS] | stop" ;;
  esac
}

# ---------------------------------------------------------------------------------------------

main() {
  (($#)) || usage
  local cmd=$1
  shift
  parse_args "$@"
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    info) cmd_info ;;
    exec) cmd_exec ;;
    bfd-route) cmd_bfd_route ;;
    bfd-del) cmd_bfd_del ;;
    bfd-state) cmd_bfd_state ;;
    bfd-wait) cmd_bfd_wait ;;
    bfd-json) cmd_bfd_json ;;
    nexthops) cmd_nexthops ;;
    groups) cmd_groups ;;
    events) cmd_events ;;
    kicker) cmd_kicker ;;
    nbctl | sbctl | vsctl)
      load_state
      "$cmd" "${ARGS[@]}"
      ;;
    ofctl)
      load_state
      in_ovs ovs-ofctl "${ARGS[@]}"
      ;;
    ctrl-appctl)
      load_state
      ctrl_appctl "${ARGS[@]}"
      ;;
    -h | --help | help) usage ;;
    *)
      echo "ovn.sh: unknown command '$cmd'" >&2
      usage
      ;;
  esac
}

main "$@"
