#!/usr/bin/env bash
# Network-namespace lab for vpc-egress-agent (contract: docs/lab-contract.md, summarised in usage()).
#
#   PREFIX-vpc  --eth0--  br-vpc [PREFIX-ovn]  --eth0-- PREFIX-gwN --net1--  br-ext [PREFIX-ext]
#   VPC client            "OVN router", ECMP                gateways          "internet" + echo server
#
# Everything the lab creates is recorded under /run/vea-lab/PREFIX/ before it is created; `down`
# removes only what is recorded there and kills only pids from its own pid files.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly LAB_DIR LAB_TOOL=lab.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$LAB_DIR/common.sh"
readonly RUN_ROOT=/run/vea-lab
readonly BFDD=/usr/lib/frr/bfdd
readonly ECHO_PORT=8080
readonly BFD_DEFAULT_TX=100 BFD_DEFAULT_RX=100 BFD_DEFAULT_MULT=3

# Addressing plan (documentation/private ranges; they exist only inside the lab namespaces).
readonly INT_GW4=10.16.0.1 INT_GW6=fd00:10:16::1
readonly INT_PREFIX4=10.16.0 INT_PREFIX6=fd00:10:16:
readonly NOSNAT_GW4=10.20.0.1 NOSNAT_GW6=fd00:10:20::1
readonly NOSNAT_CIDR4=10.20.0.0/16 NOSNAT_CIDR6=fd00:10:20::/64
readonly INT_CIDR4=10.16.0.0/16 INT_CIDR6=fd00:10:16::/64
readonly CLIENT4=10.16.0.100 CLIENT6=fd00:10:16::100
readonly CLIENT_NOSNAT4=10.20.0.5 CLIENT_NOSNAT6=fd00:10:20::5
readonly BFD_PORT4=10.255.255.255 BFD_PORT6=fdff::1
readonly EXT_GW4=172.17.0.1 EXT_GW6=fd00:172:17::1
readonly EXT_PREFIX4=172.17.0 EXT_PREFIX6=fd00:172:17:
readonly SERVER4=198.51.100.10 SERVER6=2001:db8:100::10
readonly ECMP_TABLE=100 ECMP_RULE_PRIO=1000

usage() {
  cat >&2 <<'EOF'
usage: lab.sh COMMAND [-p PREFIX] [ARGS...]      (PREFIX default: vea; namespaces PREFIX-<node>)
  up [--replicas N] [--family 4|6|dual] [--ext-family 4|6|dual]
  down
  exec NODE CMD...                  NODE = vpc|ovn|ext|gw1|gw2...
  env gwN                           Kube-OVN environment of that replica (KEY=VALUE lines)
  info                              JSON description of the lab
  ecmp set gwN [gwM ...] | ecmp show | ecmp follow | ecmp unfollow   (follow: nexthops track bfdd)
  frr [--rt PRIO] up [TX RX MULT] | frr state PEER | frr json | frr wait PEER STATE TIMEOUT_S
      | frr events | frr transition PEER STATE SINCE_MS | frr kill | frr start | frr down | frr vtysh ARGS...
  curl [--from NODE] SRC_IP DST_IP [tcp|udp]   (NODE default vpc)
  (a replica's links: eth0's peer end is p-gwN in PREFIX-ovn, net1's is p-gwN in PREFIX-ext)
EOF
  exit 2
}


PREFIX=vea
ARGS=()
declare -A OPTS=()
parse_args() {
  parse_opts "--replicas --family --ext-family --from --rt" "$@"
  STATE=$RUN_ROOT/$PREFIX
  FRR_DIR=$STATE/frr
}

# ---------------------------------------------------------------------------------------------
# Small helpers

nsysctl() {
  local n=$1
  shift
  ip netns exec "$(ns "$n")" sysctl -q -w "$@" >/dev/null
}

join_by() {
  local IFS=$1
  shift
  echo "$*"
}

# Underlay family predicates (EXT_FAMILY; has4/has6 in common.sh are the internal side).
ext4() { [[ $EXT_FAMILY != 6 ]]; }
ext6() { [[ $EXT_FAMILY != 4 ]]; }

gw_eth0_4() { echo "$INT_PREFIX4.1$1"; }
gw_eth0_6() { echo "$INT_PREFIX6:1$1"; }
gw_net1_4() { echo "$EXT_PREFIX4.1$1"; }
gw_net1_6() { echo "$EXT_PREFIX6:1$1"; }

load_state() {
  load_lab_conf family=FAMILY ext_family=EXT_FAMILY replicas=REPLICAS
}

nodes() {
  local i
  echo vpc ovn ext
  for ((i = 1; i <= REPLICAS; i++)); do echo "gw$i"; done
}

check_node() {
  local n
  for n in $(nodes); do [[ $n == "$1" ]] && return 0; done
  die "unknown node '$1' (lab '$PREFIX' has: $(nodes | tr '\n' ' '))"
}

check_gw() {
  [[ $1 =~ ^gw([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= REPLICAS)) ||
    die "unknown gateway '$1' (lab '$PREFIX' has gw1..gw$REPLICAS)"
  echo "${BASH_REMATCH[1]}"
}

# ---------------------------------------------------------------------------------------------
# up / down


# veth_pair NODE_A IF_A NODE_B IF_B TMP: created as TMPa/TMPb (new_veth), then moved and renamed.
veth_pair() {
  local a=$1 ifa=$2 b=$3 ifb=$4 tmp=$5
  new_veth "$tmp"
  ip link set "${tmp}a" netns "$(ns "$a")" name "$ifa"
  ip link set "${tmp}b" netns "$(ns "$b")" name "$ifb"
  nip "$a" link set "$ifa" up
  nip "$b" link set "$ifb" up
}

add_bridge() {
  local n=$1 br=$2
  nip "$n" link add "$br" type bridge mcast_snooping 0
  nip "$n" link set "$br" up
}

# ecmp_apply NAME...: table 100's default = multipath over the named replicas' eth0 addresses.
ecmp_apply() {
  local g nh4=() nh6=()
  for g in "$@"; do
    g=$(check_gw "$g")
    nh4+=(nexthop via "$(gw_eth0_4 "$g")" dev br-vpc weight 1)
    nh6+=(nexthop via "$(gw_eth0_6 "$g")" dev br-vpc weight 1)
  done
  if has4; then nip ovn -4 route replace default table "$ECMP_TABLE" "${nh4[@]}"; fi
  if has6; then nip ovn -6 route replace default table "$ECMP_TABLE" "${nh6[@]}"; fi
}

setup_vpc() {
  # No redirects: ovn forwards out of the interface a packet came in on (br-vpc), and the client
  # must keep sending to the "OVN router" so `ecmp set` decides which gateway gets the flow.
  nsysctl vpc net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.default.accept_redirects=0 \
    net.ipv6.conf.all.accept_redirects=0 net.ipv6.conf.default.accept_redirects=0
  veth_pair vpc eth0 ovn p-vpc "$PREFIX-v"
  nip ovn link set p-vpc master br-vpc
  if has4; then
    nip vpc addr add "$CLIENT4/16" dev eth0
    nip vpc addr add "$CLIENT_NOSNAT4/16" dev eth0
    nip vpc -4 route add default via "$INT_GW4" dev eth0
  fi
  if has6; then
    nip vpc addr add "$CLIENT6/64" dev eth0 nodad
    nip vpc addr add "$CLIENT_NOSNAT6/64" dev eth0 nodad
    nip vpc -6 route add default via "$INT_GW6" dev eth0
  fi
}

setup_ovn() {
  nsysctl ovn net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
  add_bridge ovn br-vpc
  nsysctl ovn net.ipv4.conf.br-vpc.send_redirects=0
}

# OVN's reroute policy: VPC sources arriving on br-vpc go to table 100 (ECMP over the gateways);
# the VPC's own subnets stay connected there so gateway -> client traffic is delivered, not looped.
setup_ovn_routing() {
  if has4; then
    nip ovn addr add "$INT_GW4/16" dev br-vpc
    nip ovn addr add "$NOSNAT_GW4/16" dev br-vpc
    nip ovn addr add "$BFD_PORT4/32" dev lo
    nip ovn -4 route add "$INT_CIDR4" dev br-vpc table "$ECMP_TABLE"
    nip ovn -4 route add "$NOSNAT_CIDR4" dev br-vpc table "$ECMP_TABLE"
    nip ovn -4 rule add priority "$ECMP_RULE_PRIO" from "$INT_CIDR4" iif br-vpc lookup "$ECMP_TABLE"
    nip ovn -4 rule add priority "$ECMP_RULE_PRIO" from "$NOSNAT_CIDR4" iif br-vpc lookup "$ECMP_TABLE"
  fi
  if has6; then
    nip ovn addr add "$INT_GW6/64" dev br-vpc nodad
    nip ovn addr add "$NOSNAT_GW6/64" dev br-vpc nodad
    nip ovn addr add "$BFD_PORT6/128" dev lo nodad
    nip ovn -6 route add "$INT_CIDR6" dev br-vpc table "$ECMP_TABLE"
    nip ovn -6 route add "$NOSNAT_CIDR6" dev br-vpc table "$ECMP_TABLE"
    nip ovn -6 rule add priority "$ECMP_RULE_PRIO" from "$INT_CIDR6" iif br-vpc lookup "$ECMP_TABLE"
    nip ovn -6 rule add priority "$ECMP_RULE_PRIO" from "$NOSNAT_CIDR6" iif br-vpc lookup "$ECMP_TABLE"
  fi
  local gws=() i
  for ((i = 1; i <= REPLICAS; i++)); do gws+=("gw$i"); done
  ecmp_apply "${gws[@]}"
}

setup_ext() {
  nsysctl ext net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  add_bridge ext br-ext
  if ext4; then
    nip ext addr add "$EXT_GW4/16" dev br-ext
    nip ext addr add "$SERVER4/32" dev lo
  fi
  if ext6; then
    nip ext addr add "$EXT_GW6/64" dev br-ext nodad
    nip ext addr add "$SERVER6/128" dev lo nodad
  fi
}

# Return routes for the no-SNAT CIDRs over every replica's net1 (as Kube-OVN's e2e server has).
setup_ext_return_routes() {
  local i nh4=() nh6=()
  for ((i = 1; i <= REPLICAS; i++)); do
    nh4+=(nexthop via "$(gw_net1_4 "$i")" dev br-ext weight 1)
    nh6+=(nexthop via "$(gw_net1_6 "$i")" dev br-ext weight 1)
  done
  if has4 && ext4; then nip ext -4 route add "$NOSNAT_CIDR4" "${nh4[@]}"; fi
  if has6 && ext6; then nip ext -6 route add "$NOSNAT_CIDR6" "${nh6[@]}"; fi
}

# A gateway Pod as Kube-OVN's CNI leaves it: addresses and these routes only, no sysctls.
setup_gw() {
  local i=$1 gw=gw$1
  add_ns "$gw"
  veth_pair "$gw" eth0 ovn "p-$gw" "$PREFIX-i$i"
  nip ovn link set "p-$gw" master br-vpc
  veth_pair "$gw" net1 ext "p-$gw" "$PREFIX-x$i"
  nip ext link set "p-$gw" master br-ext
  if has4; then
    nip "$gw" addr add "$(gw_eth0_4 "$i")/16" dev eth0
    nip "$gw" -4 route add "$BFD_PORT4/32" via "$INT_GW4" dev eth0
    nip "$gw" -4 route add "$NOSNAT_CIDR4" via "$INT_GW4" dev eth0
  fi
  if has6; then
    nip "$gw" addr add "$(gw_eth0_6 "$i")/64" dev eth0 nodad
    nip "$gw" -6 route add "$BFD_PORT6/128" via "$INT_GW6" dev eth0
    nip "$gw" -6 route add "$NOSNAT_CIDR6" via "$INT_GW6" dev eth0
  fi
  if ext4; then
    nip "$gw" addr add "$(gw_net1_4 "$i")/16" dev net1
    nip "$gw" -4 route add default via "$EXT_GW4" dev net1
  fi
  if ext6; then
    nip "$gw" addr add "$(gw_net1_6 "$i")/64" dev net1 nodad
    nip "$gw" -6 route add default via "$EXT_GW6" dev net1
  fi
}

start_echo_server() {
  local pidfile=$STATE/echo-server.pid log=$STATE/echo-server.log addrs=() bg deadline node
  node=$(command -v node) || die "node not found in PATH"
  if ext4; then addrs+=("$SERVER4"); fi
  if ext6; then addrs+=("$SERVER6"); fi
  setsid ip netns exec "$(ns ext)" "$node" "$LAB_DIR/echo-server.mjs" --pidfile "$pidfile" \
    --port "$ECHO_PORT" "${addrs[@]}" </dev/null >>"$log" 2>&1 &
  bg=$!
  deadline=$(($(now_us) + 5000000))
  until [[ -s $pidfile ]]; do
    pid_alive "$bg" || die "echo server failed to start: $(tail -n 5 "$log")"
    (($(now_us) < deadline)) || die "echo server did not become ready within 5 s (log: $log)"
    sleep 0.02
  done
}

cmd_up() {
  only_opts --replicas --family --ext-family
  ((${#ARGS[@]} == 0)) || die "up takes no positional arguments (got: ${ARGS[*]})"
  REPLICAS=${OPTS[--replicas]:-2}
  FAMILY=${OPTS[--family]:-dual}
  EXT_FAMILY=${OPTS[--ext-family]:-$FAMILY}
  [[ $REPLICAS =~ ^[1-9][0-9]?$ ]] || die "--replicas must be 1..99, got '$REPLICAS'"
  [[ $FAMILY =~ ^(4|6|dual)$ ]] || die "--family must be 4, 6 or dual, got '$FAMILY'"
  [[ $EXT_FAMILY =~ ^(4|6|dual)$ ]] || die "--ext-family must be 4, 6 or dual, got '$EXT_FAMILY'"
  [[ -e $STATE ]] && die "lab '$PREFIX' already exists ($STATE); run: lab.sh down -p $PREFIX"
  local n
  for n in $(nodes); do
    ns_exists "$(ns "$n")" && die "namespace $(ns "$n") already exists and was not created by this lab"
  done

  mkdir -p "$STATE/netns" "$STATE/links"
  save_lab_conf family=FAMILY ext_family=EXT_FAMILY replicas=REPLICAS
  # Anything failing from here on (or an interrupt) undoes what was recorded so far.
  trap 'rc=$?; trap - EXIT; echo "lab.sh: up failed; removing what it created" >&2; teardown || true; exit "$rc"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  add_ns vpc
  add_ns ovn
  add_ns ext
  setup_ovn
  setup_ext
  setup_vpc
  setup_ovn_routing
  local i
  for ((i = 1; i <= REPLICAS; i++)); do setup_gw "$i"; done
  setup_ext_return_routes
  start_echo_server
  : >"$STATE/ready"
  trap - EXIT INT TERM
  echo "lab '$PREFIX' up: family $FAMILY, ext-family $EXT_FAMILY, $REPLICAS replicas"
}

# Remove everything recorded under $STATE; safe to run on a half-built lab. Keeps going past
# failures (and keeps the state directory, so `down` can be retried) rather than stopping half-way.
teardown() {
  [[ -d $STATE ]] || return 0
  local rc=0
  stop_pidfile "$FRR_DIR/bfdd.pid" || rc=1
  stop_pidfile "$STATE/echo-server.pid" || rc=1
  stop_pidfile "$STATE/ecmp-follow.pid" || rc=1
  remove_recorded "$rc"
}

cmd_down() { down_cmd lab; }

# ---------------------------------------------------------------------------------------------
# exec / env / info / ecmp / curl

cmd_env() {
  only_opts
  ((${#ARGS[@]} == 1)) || die "usage: lab.sh env [-p PREFIX] gwN"
  load_state
  local i pod_ips=() peers=()
  i=$(check_gw "${ARGS[0]}")
  if has4; then
    echo "INTERNAL_GATEWAY_IPV4=$INT_GW4"
    if ext4; then echo "EXTERNAL_GATEWAY_IPV4=$EXT_GW4"; else echo "EXTERNAL_GATEWAY_IPV4="; fi
    echo "NO_SNAT_SOURCES_IPV4=$NOSNAT_CIDR4"
    pod_ips+=("$(gw_eth0_4 "$i")")
    peers+=("$BFD_PORT4")
  fi
  if has6; then
    echo "INTERNAL_GATEWAY_IPV6=$INT_GW6"
    if ext6; then echo "EXTERNAL_GATEWAY_IPV6=$EXT_GW6"; else echo "EXTERNAL_GATEWAY_IPV6="; fi
    echo "NO_SNAT_SOURCES_IPV6=$NOSNAT_CIDR6"
    pod_ips+=("$(gw_eth0_6 "$i")")
    peers+=("$BFD_PORT6")
  fi
  echo "POD_IPS=$(join_by , "${pod_ips[@]}")"
  echo "BFD_PEER_IPS=$(join_by , "${peers[@]}")"
  echo "BFD_MIN_TX=$BFD_DEFAULT_TX"
  echo "BFD_MIN_RX=$BFD_DEFAULT_RX"
  echo "BFD_MULTI=$BFD_DEFAULT_MULT"
}

# json_family V: the per-family block of `info` (V = 4 or 6); internal keys only if the internal
# side has the family, external keys only if the underlay has it. JSON is built by jq, never by hand.
json_family() {
  local v=$1 int=false ext=false i gws='{}' gw
  if [[ $v == 4 ]]; then
    if has4; then int=true; fi
    if ext4; then ext=true; fi
  else
    if has6; then int=true; fi
    if ext6; then ext=true; fi
  fi
  for ((i = 1; i <= REPLICAS; i++)); do
    gw='{}'
    if $int; then gw=$(jq -c --arg a "$("gw_eth0_$v" "$i")" '.eth0 = $a' <<<"$gw"); fi
    if $ext; then gw=$(jq -c --arg a "$("gw_net1_$v" "$i")" '.net1 = $a' <<<"$gw"); fi
    gws=$(jq -c --arg k "gw$i" --argjson g "$gw" '.[$k] = $g' <<<"$gws")
  done
  local -n c=CLIENT$v cn=CLIENT_NOSNAT$v ig=INT_GW$v bp=BFD_PORT$v nc=NOSNAT_CIDR$v ic=INT_CIDR$v
  local -n eg=EXT_GW$v sv=SERVER$v
  jq -nc --argjson int "$int" --argjson ext "$ext" --argjson gws "$gws" \
    --arg c "$c" --arg cn "$cn" --arg ig "$ig" --arg bp "$bp" --arg ic "$ic" --arg nc "$nc" \
    --arg eg "$eg" --arg sv "$sv" '
    (if $int then {client: $c, noSnatClient: $cn, internalGateway: $ig, bfdPort: $bp,
                   internalCidr: $ic, noSnatSource: $nc} else {} end)
    + (if $ext then {externalGateway: $eg, server: $sv} else {} end)
    + {gateways: $gws}'
}

cmd_info() {
  only_opts
  ((${#ARGS[@]} == 0)) || die "info takes no positional arguments"
  load_state
  local n nss='{}' fam='{}'
  for n in $(nodes); do
    nss=$(jq -c --arg k "$n" --arg v "$(ns "$n")" '.[$k] = $v' <<<"$nss")
  done
  if has4 || ext4; then fam=$(jq -c --argjson f "$(json_family 4)" '.ipv4 = $f' <<<"$fam"); fi
  if has6 || ext6; then fam=$(jq -c --argjson f "$(json_family 6)" '.ipv6 = $f' <<<"$fam"); fi
  jq -nc --arg prefix "$PREFIX" --arg family "$FAMILY" --arg extFamily "$EXT_FAMILY" \
    --argjson replicas "$REPLICAS" --arg stateDir "$STATE" --argjson serverPort "$ECHO_PORT" \
    --argjson namespaces "$nss" --argjson fam "$fam" \
    '{prefix: $prefix, family: $family, extFamily: $extFamily, replicas: $replicas,
      stateDir: $stateDir, serverPort: $serverPort, namespaces: $namespaces} + $fam'
}

cmd_ecmp() {
  only_opts
  load_state
  case ${ARGS[0]:-} in
    set)
      ((${#ARGS[@]} >= 2)) || die "usage: lab.sh ecmp [-p PREFIX] set gwN [gwM ...]"
      local dup
      dup=$(printf '%s\n' "${ARGS[@]:1}" | sort | uniq -d | head -n 1)
      [[ -z $dup ]] || die "ecmp set: $dup given twice"
      ecmp_apply "${ARGS[@]:1}"
      ;;
    show)
      ((${#ARGS[@]} == 1)) || die "usage: lab.sh ecmp [-p PREFIX] show"
      if has4; then nip ovn -4 route show default table "$ECMP_TABLE"; fi
      if has6; then nip ovn -6 route show default table "$ECMP_TABLE"; fi
      ;;
    follow)
      # Nexthops follow bfdd's view of each replica from now on, as OVN's BFD-gated ECMP does.
      ((${#ARGS[@]} == 1)) || die "usage: lab.sh ecmp [-p PREFIX] follow"
      local g pairs=() pidfile=$STATE/ecmp-follow.pid
      [[ -f $FRR_DIR/bfdd.log ]] || die "ecmp follow needs bfdd (run: lab.sh frr -p $PREFIX up)"
      owned_pid "$pidfile" >/dev/null && die "ecmp follow is already running in lab '$PREFIX'"
      for ((g = 1; g <= REPLICAS; g++)); do
        if has4; then pairs+=("gw$g=$(gw_eth0_4 "$g")"); fi
        if has6; then pairs+=("gw$g=$(gw_eth0_6 "$g")"); fi
      done
      setsid node "$LAB_DIR/ecmp-follow.mjs" "$(ns ovn)" "$ECMP_TABLE" "$FRR_DIR/bfdd.log" br-vpc "${pairs[@]}" \
        --pidfile "$pidfile" >>"$STATE/ecmp-follow.log" 2>&1 </dev/null &
      echo $! >"$pidfile"
      ;;
    unfollow)
      stop_pidfile "$STATE/ecmp-follow.pid"
      ;;
    *) die "usage: lab.sh ecmp [-p PREFIX] set gwN [gwM ...] | show | follow | unfollow" ;;
  esac
}

cmd_curl() {
  only_opts --from
  ((${#ARGS[@]} == 2 || ${#ARGS[@]} == 3)) ||
    die "usage: lab.sh curl [-p PREFIX] [--from NODE] SRC_IP DST_IP [tcp|udp]"
  load_state
  local from=${OPTS[--from]:-vpc} proto=${ARGS[2]:-tcp}
  check_node "$from"
  [[ $proto == tcp || $proto == udp ]] || die "curl: protocol must be tcp or udp, got '$proto'"
  ip netns exec "$(ns "$from")" node "$LAB_DIR/echo-client.mjs" "${ARGS[0]}" "${ARGS[1]}" "$proto" "$ECHO_PORT"
}

# ---------------------------------------------------------------------------------------------
# frr: FRR bfdd in PREFIX-ovn playing OVN's BFD port (one peer per replica eth0 IP and family).

vtysh_bfdd() { vtysh --vty_socket "$FRR_DIR" -d bfdd "$@"; }

frr_running() { owned_pid "$FRR_DIR/bfdd.pid" >/dev/null; }
frr_require() { frr_running || die "bfdd is not running in $(ns ovn) (run: lab.sh frr -p $PREFIX up)"; }

frr_timers() {
  [[ -f $FRR_DIR/timers ]] || die "frr was never configured in lab '$PREFIX' (run: lab.sh frr up)"
  read -r TX RX MULT <"$FRR_DIR/timers"
}

# frr_peers: "PEER LOCAL" per replica and internal family.
frr_peers() {
  local i
  for ((i = 1; i <= REPLICAS; i++)); do
    if has4; then echo "$(gw_eth0_4 "$i") $BFD_PORT4"; fi
    if has6; then echo "$(gw_eth0_6 "$i") $BFD_PORT6"; fi
  done
}

frr_write_conf() {
  local peer local_ conf=$FRR_DIR/bfdd.conf
  {
    echo "log file $FRR_DIR/bfdd.log"
    echo "log timestamp precision 6"
    echo "debug bfd peer"
    echo "!"
    echo "bfd"
    while read -r peer local_; do
      echo " peer $peer local-address $local_"
      echo "  receive-interval $RX"
      echo "  transmit-interval $TX"
      echo "  detect-multiplier $MULT"
      echo " exit"
      echo " !"
    done < <(frr_peers)
    echo "exit"
  } >"$conf.tmp"
  mv "$conf.tmp" "$conf"
  chown frr:frr "$conf"
}

frr_start() {
  local deadline
  rm -f "$FRR_DIR/bfdd.pid" "$FRR_DIR/bfdd.vty" "$FRR_DIR/bfdd.sock"
  ip netns exec "$(ns ovn)" "$BFDD" -d -f "$FRR_DIR/bfdd.conf" -i "$FRR_DIR/bfdd.pid" \
    --vty_socket "$FRR_DIR" --bfdctl "$FRR_DIR/bfdd.sock" -z "$FRR_DIR/zserv.api" -P 0 \
    </dev/null >>"$FRR_DIR/bfdd.stderr" 2>&1 ||
    die "bfdd failed to start: $(tail -n 5 "$FRR_DIR/bfdd.stderr")"
  deadline=$(($(now_us) + 5000000))
  until frr_running && [[ -S $FRR_DIR/bfdd.vty ]]; do
    (($(now_us) < deadline)) || die "bfdd did not become ready within 5 s (see $FRR_DIR/bfdd.stderr)"
    sleep 0.02
  done
  frr_rt
}

# bfdd's scheduling as recorded by `frr --rt PRIO up` (0: the normal policy).
frr_rt() {
  local rt=0 pid
  [[ -f $FRR_DIR/rt ]] && read -r rt <"$FRR_DIR/rt"
  pid=$(owned_pid "$FRR_DIR/bfdd.pid") || die "frr: bfdd is not running"
  if ((rt > 0)); then
    chrt -f -a -p "$rt" "$pid" >/dev/null || die "frr: cannot set SCHED_FIFO $rt on bfdd"
  else
    chrt -o -a -p 0 "$pid" >/dev/null || die "frr: cannot reset bfdd's scheduling policy"
  fi
}

# Bring a running bfdd to the configured state: current timers (a live change, FRR runs a Poll
# sequence) and no peer left administratively down.
frr_apply_live() {
  local peer local_ cmds=(-c 'configure terminal' -c bfd)
  while read -r peer local_; do
    cmds+=(-c "peer $peer local-address $local_" -c "receive-interval $RX"
      -c "transmit-interval $TX" -c "detect-multiplier $MULT" -c 'no shutdown' -c exit)
  done < <(frr_peers)
  vtysh_bfdd "${cmds[@]}" >/dev/null
}

frr_json() { vtysh_bfdd -c 'show bfd peers json'; }

# frr_state PEER: state of the session with PEER from bfdd's JSON, or "absent".
frr_state() {
  local json
  json=$(frr_json) || die "vtysh failed to query bfdd in $(ns ovn)"
  jq -r --arg peer "$1" 'first(.[] | select(.peer == $peer) | .status) // "absent"' <<<"$json"
}

cmd_frr() {
  only_opts --rt
  load_state
  local sub=${ARGS[0]:-} rest=("${ARGS[@]:1}")
  case $sub in
    up)
      ((${#rest[@]} == 0 || ${#rest[@]} == 3)) || die "usage: lab.sh frr [-p PREFIX] [--rt PRIO] up [TX RX MULT]"
      TX=${rest[0]:-$BFD_DEFAULT_TX} RX=${rest[1]:-$BFD_DEFAULT_RX} MULT=${rest[2]:-$BFD_DEFAULT_MULT}
      [[ $TX =~ ^[0-9]+$ ]] && ((TX >= 10 && TX <= 60000)) || die "frr up: TX must be 10..60000 ms, got '$TX'"
      [[ $RX =~ ^[0-9]+$ ]] && ((RX >= 10 && RX <= 60000)) || die "frr up: RX must be 10..60000 ms, got '$RX'"
      [[ $MULT =~ ^[0-9]+$ ]] && ((MULT >= 2 && MULT <= 255)) || die "frr up: MULT must be 2..255, got '$MULT'"
      mkdir -p "$FRR_DIR"
      chown frr:frr "$FRR_DIR"
      echo "$TX $RX $MULT" >"$FRR_DIR/timers"
      # --rt PRIO: bfdd's threads run SCHED_FIFO, so a test of *our* scheduling is not decided by
      # the peer being descheduled on a loaded machine. Kept for `frr start`.
      local rt=${OPTS[--rt]:-0}
      [[ $rt =~ ^[0-9]+$ ]] && ((rt <= 99)) || die "frr up: --rt must be 0..99, got '$rt'"
      echo "$rt" >"$FRR_DIR/rt"
      frr_write_conf
      if frr_running; then frr_apply_live && frr_rt; else frr_start; fi
      ;;
    start)
      frr_timers
      if ! frr_running; then frr_start; fi
      ;;
    kill)
      frr_require
      stop_pidfile "$FRR_DIR/bfdd.pid" KILL
      ;;
    down)
      stop_pidfile "$FRR_DIR/bfdd.pid"
      rm -rf "$FRR_DIR"
      ;;
    state)
      ((${#rest[@]} == 1)) || die "usage: lab.sh frr [-p PREFIX] state PEER"
      frr_require
      frr_state "${rest[0]}"
      ;;
    json)
      frr_require
      frr_json
      ;;
    wait)
      ((${#rest[@]} == 3)) || die "usage: lab.sh frr [-p PREFIX] wait PEER STATE TIMEOUT_S"
      local peer=${rest[0]} want=${rest[1]} timeout=${rest[2]} t0 now s
      [[ $want =~ ^(up|down|init|shutdown|absent)$ ]] || die "frr wait: STATE must be up|down|init|shutdown|absent, got '$want'"
      [[ $timeout =~ ^[0-9]+([.][0-9]+)?$ ]] || die "frr wait: TIMEOUT_S must be a number of seconds, got '$timeout'"
      frr_require
      t0=$(now_us)
      local limit_us
      limit_us=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000000 }')
      while :; do
        s=$(frr_state "$peer")
        now=$(now_us)
        if [[ $s == "$want" ]]; then
          echo $(((now - t0) / 1000))
          return 0
        fi
        ((now - t0 < limit_us)) || die "frr wait: $peer not $want after ${timeout} s (last state: $s)"
        sleep 0.05
      done
      ;;
    events)
      [[ -f $FRR_DIR/bfdd.log ]] || die "no bfdd log in lab '$PREFIX' (run: lab.sh frr up)"
      grep -h 'state-change:' "$FRR_DIR/bfdd.log" || true
      ;;
    transition)
      ((${#rest[@]} == 3)) || die "usage: lab.sh frr [-p PREFIX] transition PEER STATE SINCE_MS"
      [[ -f $FRR_DIR/bfdd.log ]] || die "no bfdd log in lab '$PREFIX' (run: lab.sh frr up)"
      node "$LAB_DIR/frr-transition.mjs" "${rest[@]}" <"$FRR_DIR/bfdd.log" ||
        die "frr transition: bfdd logged no transition of ${rest[0]} to ${rest[1]} after ${rest[2]}"
      ;;
    vtysh)
      frr_require
      vtysh_bfdd "${rest[@]}"
      ;;
    *) die "usage: lab.sh frr [-p PREFIX] up [TX RX MULT]|state PEER|json|wait PEER STATE TIMEOUT_S|events|transition PEER STATE SINCE_MS|kill|start|down|vtysh ARGS..." ;;
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
    exec) cmd_exec ;;
    env) cmd_env ;;
    info) cmd_info ;;
    ecmp) cmd_ecmp ;;
    frr) cmd_frr ;;
    curl) cmd_curl ;;
    -h | --help | help) usage ;;
    *)
      echo "lab.sh: unknown command '$cmd'" >&2
      usage
      ;;
  esac
}

main "$@"
