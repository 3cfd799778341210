#!/usr/bin/env bash
# `make demo`: the newcomer's first five minutes. Builds a lab of network namespaces (a VPC client,
# an "OVN router" running FRR's bfdd as the BFD peer, two gateway replicas, an external router with
# an echo server), runs the agent in each replica and shows, with real packets: BFD Up, SNAT,
# no-SNAT, a replica killed (detection time seen by the peer), and a SIGTERM drain.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${DEMO_PREFIX:-vdemo}
lab() { local c=$1; shift; bash scripts/lab/lab.sh "$c" -p "$P" "$@"; }
RUN=/run/vea-lab/$P-agents
declare -A PID
rows=()

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say() { printf '    %s\n' "$*"; }
row() { rows+=("$1|$2"); }
now_ms() { date +%s%3N; }

# Kill an agent like a crash would, without bash's job-control chatter.
crash() { { kill -9 "$1" && wait "$1"; } 2>/dev/null || true; }

cleanup() {
  set +e
  for gw in "${!PID[@]}"; do crash "${PID[$gw]}"; done
  lab ecmp unfollow >/dev/null 2>&1
  lab frr down >/dev/null 2>&1
  lab down >/dev/null 2>&1
  rm -rf "$RUN"
}
trap cleanup EXIT

start_agent() { # gw
  local gw=$1
  mkdir -p "$RUN/$gw"
  # shellcheck disable=SC2046
  env -i PATH="$PATH" $(lab env "$gw") \
    EGRESS_AGENT_SOCKET="$RUN/$gw/control.sock" EGRESS_AGENT_COMPAT_SOCKET="$RUN/$gw/compat.sock" \
    EGRESS_AGENT_BFD_STATE_PATH="$RUN/$gw/bfd-state.json" \
    ip netns exec "$P-$gw" bin/egress-agent run --log-level warn >"$RUN/$gw/agent.log" 2>&1 &
  PID[$gw]=$!
}

agent() { local gw=$1; shift; ip netns exec "$P-$gw" bin/egress-agent --socket "$RUN/$gw/control.sock" "$@"; }

step "Building the lab: VPC client, OVN router + FRR bfdd, 2 gateway replicas, external router"
lab down >/dev/null 2>&1 || true
lab up --replicas 2 --family dual
lab frr up 100 100 3
lab ecmp follow   # the router's nexthops follow BFD, as OVN's BFD-gated ECMP does
say "namespaces: $(ip netns list | awk '{print $1}' | grep "^$P-" | tr '\n' ' ')"

step "Starting egress-agent in each replica (Kube-OVN's environment, BFD 3 x 100 ms)"
for gw in gw1 gw2; do start_agent "$gw"; done
for gw in gw1 gw2; do
  for peer in 10.16.0.1${gw#gw} ; do
    ms=$(lab frr wait "$peer" up 20)
    say "$gw: BFD session with the OVN router is Up (FRR saw it after ${ms} ms)"
  done
done
row "BFD sessions Up (IPv4 + IPv6, 2 replicas)" "$(agent gw1 bfd --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.sessions.filter(x=>x.state==="Up").length+" up on gw1")})')"
agent gw1 bfd

step "SNAT: a VPC client's traffic leaves with a replica's external address (ECMP spreads flows)"
for i in 1 2 3; do
  for proto in tcp udp; do
    say "flow $i: client 10.16.0.100 -> server ($proto): server saw $(lab curl 10.16.0.100 198.51.100.10 "$proto")"
  done
done
row "SNAT (10.16.0.100 -> 198.51.100.10)" "server saw $(lab curl 10.16.0.100 198.51.100.10 tcp)"
seen6=$(lab curl fd00:10:16::100 2001:db8:100::10 tcp)
say "client fd00:10:16::100 -> server (tcp, IPv6): server saw $seen6"
row "SNAT IPv6" "server saw $seen6"

step "No-SNAT: a source in NO_SNAT_SOURCES leaves unchanged"
seen=$(lab curl 10.20.0.5 198.51.100.10 tcp)
say "client 10.20.0.5 -> server: server saw $seen"
row "no-SNAT (10.20.0.5)" "server saw $seen"

step "Failure: SIGKILL the agent in gw1; the OVN router's BFD must notice within 3 x 100 ms"
t0=$(now_ms); crash "${PID[gw1]}"; unset 'PID[gw1]'
lab frr wait 10.16.0.11 down 5 >/dev/null
read -r det reason < <(lab frr transition 10.16.0.11 down "$t0")
say "FRR declared gw1 Down ${det} ms after the kill, reason: $reason (configured detection time 300 ms)"
row "replica killed -> peer Down" "${det} ms (detect time 300 ms)"
sleep 0.1
say "the router dropped gw1 from ECMP; new flows take gw2: server saw $(lab curl 10.16.0.100 198.51.100.10 tcp)"

step "Restart gw1: the session returns"
start_agent gw1
ms=$(lab frr wait 10.16.0.11 up 20)
say "gw1 Up again after ${ms} ms"
row "restart -> Up" "${ms} ms"
sleep 0.1
say "gw1 carries traffic again: server saw $(lab curl 10.20.0.5 198.51.100.10 tcp) (no-SNAT flow) / $(lab curl 10.16.0.100 198.51.100.10 udp)"

step "Drain: SIGTERM gw2; BFD AdminDown tells the peer at once"
t0=$(now_ms); kill -TERM "${PID[gw2]}"
lab frr wait 10.16.0.12 down 5 >/dev/null
read -r drain reason < <(lab frr transition 10.16.0.12 down "$t0")
wait "${PID[gw2]}" && rc=0 || rc=$?
unset 'PID[gw2]'
say "FRR saw gw2 go down ${drain} ms after SIGTERM (reason: $reason); agent exit code $rc"
row "SIGTERM drain -> peer Down" "${drain} ms, agent exit $rc"

step "What the agent configured in gw1 (egress-agent dataplane)"
agent gw1 dataplane | sed 's/^/    /' | head -30

step "Summary"
printf '    %-45s %s\n' "what" "result"
for r in "${rows[@]}"; do printf '    %-45s %s\n' "${r%%|*}" "${r#*|}"; done
echo
say "demo took ${SECONDS} s; tearing the lab down"
