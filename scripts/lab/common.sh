# Shared by lab.sh and ovn.sh (sourced, not run): messages, options, ownership-recorded namespaces
# and veths, pid-file daemons, the teardown of what was recorded, and the `exec` and `down`
# commands. The caller sets LAB_TOOL (its name, for messages), PREFIX, STATE (the record
# directory), OPTS and ARGS, and defines load_state, check_node and teardown.
# shellcheck shell=bash

die() {
  echo "$LAB_TOOL: $*" >&2
  exit 1
}

# parse_opts "VALUED_OPTION..." ARG...: -p/--prefix sets PREFIX (checked), the listed options
# (each taking a value) go to OPTS for the command to validate, the rest to ARGS. Options come
# before the first positional argument (so `exec NODE CMD -p ...` passes -p to CMD).
parse_opts() {
  local valued=" $1 "
  shift
  while (($#)); do
    case $1 in
      -p | --prefix)
        (($# >= 2)) || die "$1 needs a value"
        PREFIX=$2
        shift 2
        ;;
      --)
        shift
        break
        ;;
      -*)
        [[ $valued == *" $1 "* ]] || die "unknown option: $1"
        (($# >= 2)) || die "$1 needs a value"
        OPTS[$1]=$2
        shift 2
        ;;
      *) break ;;
    esac
  done
  ARGS=("$@")
  [[ $PREFIX =~ ^[a-z][a-z0-9]{0,8}$ ]] ||
    die "invalid prefix '$PREFIX': 1-9 characters [a-z0-9], starting with a letter"
}

# only_opts OPTION...: refuses any option the command does not take (`down` takes none).
# shellcheck disable=SC2120
only_opts() {
  local k allowed=" $* "
  for k in "${!OPTS[@]}"; do
    [[ $allowed == *" $k "* ]] || die "option $k is not valid for this command"
  done
}

# The lab's address families (FAMILY = 4, 6 or dual).
has4() { [[ $FAMILY != 6 ]]; }
has6() { [[ $FAMILY != 4 ]]; }

# What `up` chose, recorded in STATE/lab.conf as KEY=VALUE lines so later commands build on the
# same lab. save_lab_conf KEY=VAR... writes each VAR's value under KEY; load_lab_conf KEY=VAR...
# sets each VAR from its KEY, and dies when the lab is not up or a key is missing or empty.
save_lab_conf() {
  local kv var
  for kv in "$@"; do
    var=${kv#*=}
    printf '%s=%s\n' "${kv%%=*}" "${!var}"
  done >"$STATE/lab.conf"
}

load_lab_conf() {
  [[ -f $STATE/ready ]] || die "lab '$PREFIX' is not up (no $STATE/ready; run: $LAB_TOOL up -p $PREFIX)"
  local -A conf=()
  local k v kv
  while IFS='=' read -r k v; do conf[$k]=$v; done <"$STATE/lab.conf"
  for kv in "$@"; do
    k=${kv%%=*}
    [[ -n ${conf[$k]:-} ]] || die "corrupt $STATE/lab.conf: no $k"
    printf -v "${kv#*=}" '%s' "${conf[$k]}"
  done
}

ns() { echo "$PREFIX-$1"; }
nip() {
  local n=$1
  shift
  ip -n "$(ns "$n")" "$@"
}
ns_exists() { [[ -e /run/netns/$1 ]]; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

# Live = exists and is not a zombie (killed daemons stay zombies until PID 1 reaps them).
pid_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# Pid from PIDFILE if that process is alive and was started by us (its command line names the
# pid file, so a recycled pid is never mistaken for ours).
owned_pid() {
  local pidfile=$1 pid cmdline
  [[ -s $pidfile ]] || return 1
  read -r pid <"$pidfile" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$pidfile"* ]] || return 1
  echo "$pid"
}

# stop_pidfile PIDFILE [SIGNAL]: SIGNAL (default TERM), SIGKILL after 2 s; waits until it is gone.
stop_pidfile() {
  local pidfile=$1 sig=${2:-TERM} pid deadline
  if pid=$(owned_pid "$pidfile"); then
    kill "-$sig" "$pid" 2>/dev/null || true
    deadline=$(($(now_us) + 2000000))
    while pid_alive "$pid"; do
      if (($(now_us) > deadline)); then
        if [[ $sig == KILL ]]; then
          echo "$LAB_TOOL: pid $pid (from $pidfile) survives SIGKILL" >&2
          return 1
        fi
        sig=KILL
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$(($(now_us) + 2000000))
      fi
      sleep 0.02
    done
  fi
  rm -f "$pidfile"
}

# Create a namespace and record ownership. The marker is written first so that even a SIGKILL
# right after creation leaves nothing `down` does not know about; if the name turns out to be
# taken (`ip netns add` refuses existing names), the marker is withdrawn and the foreign
# namespace is left alone.
add_ns() {
  local name
  name=$(ns "$1")
  ns_exists "$name" && die "namespace $name already exists and was not created by this lab"
  : >"$STATE/netns/$name"
  if ! ip netns add "$name"; then
    rm -f "$STATE/netns/$name"
    die "cannot create namespace $name"
  fi
  nip "$1" link set lo up
}

# new_veth TMP: the veth pair TMPa/TMPb in the root namespace (prefixed names, so they cannot
# collide with another lab), recorded first as in add_ns; the caller moves and renames the ends.
new_veth() {
  local tmp=$1
  link_exists "${tmp}a" && die "link ${tmp}a already exists in the root namespace"
  link_exists "${tmp}b" && die "link ${tmp}b already exists in the root namespace"
  : >"$STATE/links/${tmp}a"
  if ! ip link add "${tmp}a" type veth peer name "${tmp}b"; then
    rm -f "$STATE/links/${tmp}a"
    die "cannot create veth pair ${tmp}a/${tmp}b"
  fi
}

# remove_recorded: deletes the recorded namespaces and links (what still exists of them), then the
# state directory. Keeps going past failures; with RC (earlier failures) or its own, it keeps the
# state so `down` can be retried, and says so.
remove_recorded() {
  local rc=$1 f name
  for f in "$STATE"/netns/* "$STATE"/links/*; do
    [[ -e $f ]] || continue
    name=${f##*/}
    case ${f%/*} in
      */netns) if ns_exists "$name" && ! ip netns del "$name"; then rc=1 && continue; fi ;;
      */links) if link_exists "$name" && ! ip link del "$name"; then rc=1 && continue; fi ;;
    esac
    rm -f "$f"
  done
  if ((rc == 0)); then rm -rf "$STATE"; else echo "$LAB_TOOL: teardown of '$PREFIX' incomplete; state kept in $STATE" >&2; fi
  return "$rc"
}

# The `exec NODE CMD...` command; load_state and check_node are the caller's.
cmd_exec() {
  only_opts
  ((${#ARGS[@]} >= 2)) || die "usage: $LAB_TOOL exec [-p PREFIX] NODE CMD..."
  load_state
  check_node "${ARGS[0]}"
  exec ip netns exec "$(ns "${ARGS[0]}")" "${ARGS[@]:1}"
}

# down_cmd WHAT: the `down` command (WHAT names the lab in messages); teardown is the caller's.
down_cmd() {
  # shellcheck disable=SC2119
  only_opts
  ((${#ARGS[@]} == 0)) || die "down takes no positional arguments (got: ${ARGS[*]})"
  if [[ ! -d $STATE ]]; then
    echo "$1 '$PREFIX' is not up; nothing to do"
    return 0
  fi
  teardown
  echo "$1 '$PREFIX' down"
}
