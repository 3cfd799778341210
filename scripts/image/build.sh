#!/usr/bin/env bash
# `make image`: the product image, built with rootful podman from the repository's Dockerfile on
# local stand-ins for its node bases (bases.sh; pass BUILD_BASE/RUNTIME_BASE to use others, e.g.
# the upstream node:20 images where a registry is reachable).
#
#   IMAGE=localhost/egress-agent:dev bash scripts/image/build.sh
#
# The image is labelled org.opencontainers.image.revision=<git HEAD> (with -dirty for a work tree
# that differs from it). --network host: the build stages fetch from npm and Debian; --runtime runc:
# crun refuses this machine's hybrid cgroup layout.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=${IMAGE:-localhost/egress-agent:dev}

# One build at a time: `make test` starts one in the background (make image-background); the
# container e2e's `make image` waits here, then finds every layer cached.
exec 8>"${EGRESS_AGENT_IMAGE_LOCK:-/run/lock/egress-agent-image.lock}"
flock 8

if [[ -z ${BUILD_BASE:-} || -z ${RUNTIME_BASE:-} ]]; then
  eval "$(bash "$root/scripts/image/bases.sh" | grep -E '^(BUILD|RUNTIME)_BASE=localhost/[a-z0-9./:_-]+$')"
fi
[[ -n ${BUILD_BASE:-} && -n ${RUNTIME_BASE:-} ]] || { echo "build.sh: no base images" >&2; exit 1; }

revision=$(git -C "$root" rev-parse HEAD)
git -C "$root" diff --quiet HEAD -- 2>/dev/null || revision+=-dirty

# Where the npm registry is reached through a TLS-inspecting proxy, its CA is in the host's bundle
# only: the build borrows that bundle and an npmrc naming it (npm's global config under the node
# prefix). Both are mounted for the build's RUN steps, not copied into any layer. Set
# EGRESS_AGENT_BUILD_CA= (empty) to build with the bases' own bundle.
ca=${EGRESS_AGENT_BUILD_CA-/etc/ssl/certs/ca-certificates.crt}
mounts=()
if [[ -n $ca ]]; then
  [[ -r $ca ]] || { echo "build.sh: cannot read CA bundle $ca (EGRESS_AGENT_BUILD_CA)" >&2; exit 1; }
  npmrc=$(mktemp)
  trap 'rm -f "$npmrc"' EXIT
  printf '%s\n' cafile=/etc/ssl/certs/ca-certificates.crt update-notifier=false fund=false audit=false >"$npmrc"
  chmod 0644 "$npmrc"
  mounts=(-v "$ca:/etc/ssl/certs/ca-certificates.crt:ro" -v "$npmrc:/usr/local/etc/npmrc:ro")
fi

echo "build.sh: $IMAGE from $BUILD_BASE + $RUNTIME_BASE at $revision" >&2
podman build --runtime runc --network host "${mounts[@]}" \
  --build-arg "BUILD_BASE=$BUILD_BASE" --build-arg "RUNTIME_BASE=$RUNTIME_BASE" \
  --label "org.opencontainers.image.revision=$revision" \
  --tag "$IMAGE" --file "$root/Dockerfile" "$root"
