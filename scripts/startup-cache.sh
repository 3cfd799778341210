#!/bin/sh
# Builds the agent's startup snapshot (DIR/egress-agent.blob) and code cache
# (DIR/egress-agent.cjs.codecache) with NODE, the binary that will run them: Node.js refuses a
# snapshot made by another binary or with other V8 flags, and V8 a code cache made with other flags.
# The flags are bin/egress-agent's and the image's (test/unit/startup-cache.test.ts checks all agree).
# Usage: startup-cache.sh NODE DIR   (make startup; the image's Dockerfile)
set -eu
node=$1 dir=$2
flags="--max-semi-space-size=1 --lite-mode --no-expose-wasm"
# --no-warnings: the builder warns that some built-in modules are "not yet fully verified" in
# snapshots; the tests run the agent through this snapshot (bin/egress-agent, the image).
$node $flags --no-warnings --snapshot-blob "$dir/egress-agent.blob" --build-snapshot "$dir/egress-agent-boot.cjs"
# The cache holds what the writing process compiled, so it runs what a start runs, as far as input
# validation: `run` with one bad setting (a multiplier of 0) loads the daemon, builds its config
# and logger, and exits 2 before it touches anything (invalid input changes nothing).
rc=0
EGRESS_AGENT_WRITE_CODE_CACHE="$(cd "$dir" && pwd)/egress-agent.cjs.codecache" timeout 60 \
  $node $flags --snapshot-blob "$dir/egress-agent.blob" "$dir/egress-agent.cjs" run --handoff none \
  --ipv4-internal-gateway 192.0.2.1 --ipv4-external-gateway 198.51.100.1 --ipv4-no-snat-sources 192.0.2.0/24 \
  --bfd-local-ips 192.0.2.10 --bfd-peer-ips 192.0.2.254 --bfd-multiplier 0 >/dev/null 2>&1 || rc=$?
if [ "$rc" -ne 2 ]; then
  echo "startup-cache.sh: the cache writer's run should have refused its input (exit 2), got $rc" >&2
  exit 1
fi
