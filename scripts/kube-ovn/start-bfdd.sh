#!/bin/bash
# Kube-OVN G1/G2 bfdd container command (`bash /kube-ovn/start-bfdd.sh`, env POD_IPS, BFD_PEER_IPS,
# BFD_MIN_TX, BFD_MIN_RX, BFD_MULTI). Where OpenBFDD's beacon ran, the agent now runs BFD in its
# native engine, under the same launcher as G3 (signal forwarding, child reaping).
set -euo pipefail
exec "${KUBE_OVN_BFDD_SUPERVISOR:-/kube-ovn/kube-ovn-bfdd-supervisor}" run
