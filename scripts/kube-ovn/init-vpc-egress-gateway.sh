#!/bin/bash
# Kube-OVN's init container runs `bash -exc "chmod +t /usr/local/sbin && bash /kube-ovn/init-vpc-egress-gateway.sh"`
# (privileged, root) with INTERNAL_GATEWAY_IPV4/6, EXTERNAL_GATEWAY_IPV4/6, NO_SNAT_SOURCES_IPV4/6.
# egress-agent validates every input first, applies the dataplane once, verifies it and exits 0;
# on bad input it names the variable and exits non-zero with nothing applied.
set -euo pipefail
exec "${EGRESS_AGENT_BIN:-/usr/local/bin/egress-agent}" init
