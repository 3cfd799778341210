#!/bin/bash
# Kube-OVN G2 liveness probe (`bash /kube-ovn/bfdd-healthcheck.sh`), same logic as Kube-OVN's:
# fail when the session table is empty and re-allow the configured peers. With egress-agent the
# table only empties when someone killed the sessions (bfdd-control); `allow` brings them back.
set -euo pipefail

output="$(bfdd-control status)"

if grep -q '^There are 0 sessions:' <<< "${output}"; then
  printf '%s\n' "${output}" >&2

  IFS=',' read -r -a peer_ips <<< "${BFD_PEER_IPS:-}"
  for peer_ip in "${peer_ips[@]}"; do
    if [[ -n "${peer_ip}" ]]; then
      bfdd-control allow "${peer_ip}"
    fi
  done

  exit 1
fi
