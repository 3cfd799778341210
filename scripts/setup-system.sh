#!/usr/bin/env bash
# Installs the Debian packages the lab, the tests and the demo use. Needs root. Idempotent.
set -euo pipefail
# openvswitch-switch, ovn-central, ovn-host: a real OVN as the BFD peer (scripts/lab/ovn.sh);
# ethtool: checksum offload off on its veths (the userspace datapath does not complete checksums).
# podman, runc, mmdebstrap: `make image` and the container e2e (rootful podman needs runc here).
PACKAGES=(iproute2 iptables ipset frr tcpdump conntrack iperf3 clang libclang-rt-14-dev llvm
          stress-ng hyperfine iputils-ping procps libcap2-bin socat netcat-openbsd jq curl make g++ python3 time
          openvswitch-switch ovn-central ovn-host ethtool
          podman runc mmdebstrap)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing packages: ${missing[*]}" >&2
  echo "setup-system: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "setup-system: installing ${missing[*]}"
# Keep package postinst scripts from starting daemons (frr, openvswitch, ovn) on the host.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
