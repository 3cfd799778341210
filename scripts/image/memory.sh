#!/usr/bin/env bash
# Memory of a running container, sampled: the container's memory cgroup (usage, peak, the limit's
# failure count, OOM kills) and the agent's node process (RSS, and how much of it is file-backed).
#
#   memory.sh CONTAINER [SECONDS] [INTERVAL]     (defaults 60 and 5)
#
# One line per sample: t_s cgroup_usage_mib cgroup_rss_mib cgroup_cache_mib node_rss_mib
# node_file_mib; then a summary with the peak, failcnt and OOM kills. Works on cgroup v1 (this
# machine) and v2.
set -euo pipefail

die() { echo "memory.sh: $*" >&2; exit 1; }
(($# >= 1)) || die "usage: memory.sh CONTAINER [SECONDS] [INTERVAL]"
container=$1 seconds=${2:-60} interval=${3:-5}
[[ $seconds =~ ^[0-9]+$ && $interval =~ ^[1-9][0-9]*$ ]] || die "SECONDS and INTERVAL must be whole numbers"

pid1=$(podman inspect --format '{{.State.Pid}}' "$container" 2>/dev/null) || die "no container '$container'"
[[ $pid1 =~ ^[1-9][0-9]*$ ]] || die "container '$container' is not running"
# The agent: the node process among PID 1's descendants (the supervisor forks it).
node_pid() {
  local p
  for p in $(pgrep -P "$pid1") "$pid1"; do
    [[ $(readlink "/proc/$p/exe" 2>/dev/null) == */node ]] && { echo "$p"; return; }
  done
  return 1
}
npid=$(node_pid) || die "no node process in '$container'"

if cg=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' "/proc/$pid1/cgroup") && [[ -n $cg ]]; then
  dir=/sys/fs/cgroup/memory$cg
  usage() { echo $(($(<"$dir/memory.usage_in_bytes") / 1024)); }
  stat_kib() { awk -v k="$1" '$1 == k { print int($2 / 1024) }' "$dir/memory.stat"; }
  rss_key=rss cache_key=cache
  peak() { echo $(($(<"$dir/memory.max_usage_in_bytes") / 1024)); }
  failures() { echo "failcnt $(<"$dir/memory.failcnt") oom_kill $(awk '$1 == "oom_kill" { print $2 }' "$dir/memory.oom_control")"; }
else
  dir=/sys/fs/cgroup$(sed -n 's/^0::\(.*\)$/\1/p' "/proc/$pid1/cgroup")
  usage() { echo $(($(<"$dir/memory.current") / 1024)); }
  stat_kib() { awk -v k="$1" '$1 == k { print int($2 / 1024) }' "$dir/memory.stat"; }
  rss_key=anon cache_key=file
  peak() { echo $(($(cat "$dir/memory.peak" 2>/dev/null || echo 0) / 1024)); }
  failures() { echo "max $(awk '$1 == "max" { print $2 }' "$dir/memory.events") oom_kill $(awk '$1 == "oom_kill" { print $2 }' "$dir/memory.events")"; }
fi
[[ -d $dir ]] || die "no memory cgroup for '$container' ($dir)"

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$npid/status"; }

echo "# container $container (cgroup $dir), node pid $npid; MiB"
echo "# t_s cgroup_usage cgroup_rss cgroup_cache node_rss node_rss_file"
start=$(date +%s)
while :; do
  t=$(($(date +%s) - start))
  [[ -d /proc/$npid ]] || die "node (pid $npid) exited at ${t}s"
  echo "$t $(mib "$(usage)") $(mib "$(stat_kib $rss_key)") $(mib "$(stat_kib $cache_key)") $(mib "$(status_kib VmRSS)") $(mib "$(status_kib RssFile)")"
  ((t + interval <= seconds)) || break
  sleep "$interval"
done
echo "# peak $(mib "$(peak)") MiB; $(failures)"
