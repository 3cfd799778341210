# vpc-egress-agent. `make demo` and `make test` are the two newcomer commands (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := build
NPM_STAMP := node_modules/.package-lock.json
ADDON := build/Release/egress_native.node
NATIVE_SRC := $(shell find native/src -name '*.cc' -o -name '*.h' 2>/dev/null) binding.gyp
TS_SRC := $(shell find agent scripts -name '*.ts' 2>/dev/null) tsconfig.json tsconfig.build.json

IMAGE ?= localhost/egress-agent:dev

.PHONY: image image-background build bundle startup setup deps test test-unit test-native test-integration test-e2e demo bench fuzz clean require-root

setup:
	bash scripts/setup-system.sh

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NPM_STAMP)

$(ADDON): $(NPM_STAMP) $(NATIVE_SRC)
	npm run build:native --silent

dist/.stamp: $(NPM_STAMP) $(TS_SRC)
	npx tsc -p tsconfig.build.json
	@touch $@

build: $(ADDON) dist/.stamp bundle startup probe lab-tools

# The agent as one CommonJS file (esbuild), what bin/egress-agent and the image run: Node.js reads one
# file instead of ~400 modules (execa alone is dozens), which takes hundreds of ms off every start,
# and so off a restarted gateway's way back into ECMP (BENCHMARKS.md, bfd: restart). CommonJS, not an
# ES module, so V8 can start it from a code cache. netlink (a native addon) and pino-pretty (loaded
# only for a person at a terminal) stay in node_modules.
BUNDLE := dist/egress-agent.cjs
$(BUNDLE): dist/.stamp
	npx esbuild dist/agent/main.js --bundle --platform=node --format=cjs --target=node20 --keep-names \
	  --external:netlink --external:pino-pretty --log-level=warning --outfile=$@ \
	  --define:import.meta.url=__agentModuleUrl \
	  --banner:js="const __agentModuleUrl = require('node:url').pathToFileURL(__filename).href;"

# The startup snapshot (Node.js's built-in modules, compiled) and the bundle's code cache, built by
# this machine's node with the agent's flags (agent/boot/startup-snapshot.ts says why).
BOOT := dist/egress-agent-boot.cjs
$(BOOT): dist/.stamp
	npx esbuild dist/agent/boot/startup-snapshot.js --bundle --platform=node --format=cjs --target=node20 \
	  --log-level=warning --outfile=$@
# The image builds these in its runtime stage, with the node that runs them (Dockerfile).
STARTUP := dist/egress-agent.blob dist/egress-agent.cjs.codecache
$(STARTUP) &: $(BUNDLE) $(BOOT) scripts/startup-cache.sh
	scripts/startup-cache.sh "$$(command -v node)" dist

bundle: $(BUNDLE) $(BOOT)
startup: $(STARTUP)

-include native/native.mk
-include native/probe/probe.mk

require-root:
	@if [ "$$(id -u)" -ne 0 ]; then echo "make: integration tests need root (network namespaces, iptables); run as root" >&2; exit 1; fi

test-unit: build
	npx tap run --disable-coverage --reporter=terse test/unit

test-integration: build require-root
	npx tap run --disable-coverage --reporter=terse --jobs=1 --timeout=300 test/integration

test-e2e: build require-root
	@if ls test/e2e/*.test.ts >/dev/null 2>&1; then npx tap run --disable-coverage --reporter=terse --jobs=1 --timeout=600 test/e2e test/faults; fi

# Everything, from a fresh clone: system packages (as root), npm, native, TypeScript, all tests.
# The image (minutes from cold: mmdebstrap bases, npm ci and the addon inside the build) is built in
# the background while the native and unit tests run; the container e2e's `make image` then waits
# for it (scripts/image/build.sh locks) and finds every layer cached.
test: setup build image-background test-native test-unit test-integration test-e2e
	@echo "make test: all suites passed"

image-background: require-root
	@mkdir -p build
	@if command -v podman >/dev/null && command -v mmdebstrap >/dev/null; then \
	  IMAGE=$(IMAGE) setsid bash scripts/image/build.sh >build/image.log 2>&1 </dev/null & \
	  echo "make: building the image $(IMAGE) in the background (log: build/image.log)"; \
	fi

demo: setup build require-root
	bash scripts/demo.sh

bench: setup build bench-floor require-root
	bash scripts/bench/run.sh

# The product image, with rootful podman (README.md: "The image"). Needs root, like podman here.
image: require-root
	IMAGE=$(IMAGE) bash scripts/image/build.sh

clean:
	rm -rf dist build native/out
