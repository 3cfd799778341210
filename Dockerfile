# egress-agent image: a drop-in for Kube-OVN's VPC egress gateway containers (init, bfdd/gateway).
# Build: docker build -t egress-agent .   Use: VpcEgressGateway spec.image, or deploy/*.yaml.
# `make image` builds it with podman from local stand-ins for the two node bases
# (scripts/image/bases.sh), for machines that reach only Debian's archive and the npm registry.
ARG BUILD_BASE=node:20-bookworm
ARG RUNTIME_BASE=node:20-bookworm-slim

# ---- build: native addon, exec-probe clients, TypeScript ----------------------------------------
FROM ${BUILD_BASE} AS build
WORKDIR /src
# The node image keeps its headers under /usr/local (the project's .npmrc says /usr for Debian's node).
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc binding.gyp Makefile ./
COPY native ./native
# `npm ci` builds the addon (install script: node-gyp-build) since the context carries no build/.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY agent ./agent
COPY scripts ./scripts
RUN make dist/.stamp bundle probe \
 && npm prune --omit=dev

# ---- runtime --------------------------------------------------------------------------------------
FROM ${RUNTIME_BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash iproute2 iptables ipset conntrack libcap2-bin curl \
 && rm -rf /var/lib/apt/lists/* \
 && update-alternatives --set iptables /usr/sbin/iptables-nft \
 && update-alternatives --set ip6tables /usr/sbin/ip6tables-nft

WORKDIR /opt/egress-agent
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/build/Release/egress_native.node ./build/Release/egress_native.node
COPY deploy/image/egress-agent /usr/local/bin/egress-agent
COPY --from=build /src/native/out/egress-agent-probe /src/native/out/bfdd-control /usr/local/bin/
# Kube-OVN's paths (docs/kube-ovn-contract.md §3).
COPY --from=build /src/native/out/kube-ovn-bfdd-supervisor /kube-ovn/kube-ovn-bfdd-supervisor
COPY scripts/kube-ovn/init-vpc-egress-gateway.sh scripts/kube-ovn/start-bfdd.sh scripts/kube-ovn/bfdd-prestart.sh scripts/kube-ovn/bfdd-healthcheck.sh /kube-ovn/
# Kube-OVN v1.17's observability sidecar (docs/observer.md); curl answers its liveness probe and
# Kube-OVN's e2e scrapes with it.
COPY deploy/image/vpc-egress-gateway-observer /kube-ovn/vpc-egress-gateway-observer

# The containers run as uid 65534 with NET_ADMIN/NET_RAW only in the bounding set: file
# capabilities make them effective for the agent's node and for the tools it runs. The node copy
# belongs to uid 65534 because the kernel pages out a file's pages (the agent's startup page
# release, MADV_PAGEOUT) only for its owner or a writer; it is chowned before setcap, which chown
# would clear, and read-only, so a write (which would drop the capabilities too) takes a chmod.
# The startup snapshot and code cache (agent/boot/startup-snapshot.ts), made by the node that runs
# them: Node.js refuses a snapshot built by another binary or with other flags.
COPY scripts/startup-cache.sh /usr/local/lib/egress-agent/startup-cache.sh
RUN /usr/local/lib/egress-agent/startup-cache.sh /usr/local/bin/node /opt/egress-agent/dist
RUN cp /usr/local/bin/node /opt/egress-agent/node \
 && chown 65534:65534 /opt/egress-agent/node \
 && chmod 0555 /opt/egress-agent/node \
 && setcap cap_net_admin,cap_net_raw+ep /opt/egress-agent/node \
 && cp /usr/local/bin/node /opt/egress-agent/observer-node \
 && chmod 0555 /opt/egress-agent/observer-node \
 && setcap cap_net_admin+ep /opt/egress-agent/observer-node \
 && setcap cap_net_admin,cap_net_raw+ep /usr/sbin/xtables-nft-multi \
 && setcap cap_net_admin+ep /usr/sbin/ipset \
 && setcap cap_net_admin+ep /usr/sbin/conntrack \
 && chmod 0755 /usr/local/bin/egress-agent /usr/local/bin/egress-agent-probe /usr/local/bin/bfdd-control /kube-ovn/* \
 && mkdir -p /run/egress-agent /run/kube-ovn/bfdd-supervisor /var/log/egress-agent/snat \
 && chown 65534:65534 /run/egress-agent /run/kube-ovn/bfdd-supervisor /var/log/egress-agent /var/log/egress-agent/snat \
 && chmod 0700 /run/egress-agent /run/kube-ovn/bfdd-supervisor

# No USER: Kube-OVN's controller runs the init container as root (privileged, no runAsUser; it
# chmods the root-owned emptyDirs first) and sets runAsUser 65534 on the bfdd/gateway containers.
EXPOSE 10669 10666
ENTRYPOINT ["/usr/local/bin/egress-agent", "run"]
