#!/bin/bash
# Kube-OVN G1/G2 startup probe (`bash /kube-ovn/bfdd-prestart.sh`): one try, 1 s after the
# container starts, 1 s timeout. OpenBFDD needed its configuration pushed here; the agent configures
# itself from the same environment, so this only checks it. An agent that is still starting (no
# socket yet: exit 3 from the probe, likely under a tight CPU limit) passes: failing here would
# restart the container forever, and the liveness probe (bfdd-control status) watches it from now on.
set -uo pipefail
egress-agent-probe live --wait --timeout "${BFDD_PRESTART_TIMEOUT_MS:-900}"
rc=$?
if [[ ${rc} -eq 3 ]]; then
  echo "bfdd-prestart: egress-agent is still starting; the liveness probe takes over" >&2
  exit 0
fi
exit "${rc}"
