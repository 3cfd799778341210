#!/usr/bin/env bash
# The gateway Pod exactly as Kube-OVN's controller writes it (BFD enabled, G3: v1.15.23+), run with
# podman in a network namespace (a lab replica's): the emptyDirs, the privileged init container,
# then the bfdd container as uid 65534 with the capabilities a CRI runtime gives a non-root
# container, the Pod's limits, and kubelet's probes. docs/container.md describes each choice.
#
# Also Kube-OVN v1.17's observability sidecar (`observer`): the restartable init container
# "observability" as the controller writes it when spec.observability is enabled.
#
# State: /run/vea-pod/POD (the emptyDirs and what `start` needs to recreate the bfdd container).
# Containers: POD-init, POD-bfdd, POD-observability, labelled vea-pod=POD; `rm` removes only those.
set -euo pipefail

readonly LAB_TOOL=pod.sh RUN_ROOT=/run/vea-pod
IMAGE=${IMAGE:-localhost/egress-agent:dev}
readonly SUPERVISOR_DIR=/var/run/kube-ovn/bfdd-supervisor
readonly METRICS_PORT=10669 NOBODY=65534
# The controller's init and bfdd commands (pkg/controller/vpc_egress_gateway.go, BFD enabled).
readonly INIT_CMD="chmod +t /usr/local/sbin && chmod 1777 $SUPERVISOR_DIR && bash /kube-ovn/init-vpc-egress-gateway.sh"
readonly BFDD_CMD=(/kube-ovn/kube-ovn-bfdd-supervisor run)
# Which variables each container gets (vpcEgressGatewayInitContainerEnv; the bfdd container's env).
readonly INIT_VARS='^(INTERNAL_GATEWAY_IPV[46]|EXTERNAL_GATEWAY_IPV[46]|NO_SNAT_SOURCES_IPV[46]|ENABLE_BGP|ENABLE_EVPN|VNI)='
readonly BFDD_VARS='^(POD_IPS|BFD_PEER_IPS|BFD_MIN_TX|BFD_MIN_RX|BFD_MULTI)='
# containerd/CRI-O for `runAsUser: 65534`, `capabilities: {drop: [ALL], add: [...]}`: these in the
# bounding set, nothing effective, inheritable or ambient (kubernetes/kubernetes#56374). podman
# makes added capabilities ambient for a non-root --user, so setpriv clears them and execs: the
# command becomes PID 1 with exactly the CRI's capability sets.
readonly BFDD_CAPS=NET_ADMIN,NET_BIND_SERVICE,NET_RAW
readonly CRI_CAPS=(setpriv --inh-caps=-all --ambient-caps=-all --)
# The observability sidecar (pkg/controller/vpc_egress_gateway_observability.go): its launcher and
# liveness command verbatim, uid/gid 65534, drop ALL + add NET_ADMIN, allowPrivilegeEscalation true
# (file capabilities work), readOnlyRootFilesystem, default limits 200m / 256Mi, the ConfigMap and
# the downward-API network status mounted read-only, env POD_NAME and NODE_NAME.
readonly OBSERVER_CMD='if [ -x /kube-ovn/vpc-egress-gateway-observer ]; then exec /kube-ovn/vpc-egress-gateway-observer --config /etc/kube-ovn-observer/config.json --network-status /etc/podinfo/network-status; fi; exec sleep infinity'
readonly OBSERVER_LIVENESS='if [ ! -x /kube-ovn/vpc-egress-gateway-observer ]; then exit 0; fi; exec /kube-ovn/vpc-egress-gateway-observer --health-check'
readonly OBSERVER_CAPS=NET_ADMIN
# This host's rootful podman: crun refuses the hybrid cgroup layout, raising rlimits is refused.
readonly PODMAN_RUN=(podman run --runtime runc --pull never --ulimit nofile=4096:4096 --ulimit nproc=1024:1024)

usage() {
  cat >&2 <<'EOF'
usage: pod.sh COMMAND POD [ARGS...]      (POD: [a-z][a-z0-9-]{0,30}; IMAGE env, default localhost/egress-agent:dev)
  create POD --netns NS --env-file FILE   emptyDirs, init container (foreground), then the bfdd container;
                                          FILE: KEY=VALUE lines (e.g. lab.sh env gwN); each container gets its own keys
  init POD                 run the init container again (a Pod sandbox restart)
  start POD                recreate the bfdd container (kubelet after a crash: emptyDirs kept)
  kill POD [SIGNAL]        signal the bfdd container's PID 1 (default KILL)
  stop POD                 podman stop -t 30 (SIGTERM, terminationGracePeriodSeconds 30); prints the exit code
  probe POD live|ready|status   kubelet's exec probe (uid 65534, CRI capabilities)
  livez POD                kubelet's httpGet /livez on the Pod IP, port 10669: prints the HTTP status
  exec POD CMD...          run CMD in the bfdd container as kubectl exec would (uid 65534, CRI capabilities)
  inspect POD FORMAT       podman inspect --format FORMAT of the bfdd container
  logs POD                 the bfdd container's output
  observer POD --config FILE --network-status FILE [--node NAME]
                           (re)create the observability sidecar; FILE contents become its ConfigMap and
                           downward-API volumes (`observer-config` updates the ConfigMap as kubelet does)
  observer-config POD FILE replace the mounted config.json atomically (kubelet's ConfigMap update)
  observer-probe POD       the sidecar's liveness exec probe (uid 65534, CRI capabilities)
  observer-exec POD CMD... run CMD in the sidecar as kubectl exec -c observability would
  observer-kill POD [SIG]  signal the sidecar's PID 1 (default TERM); observer-logs POD: its output
  observer-inspect POD FORMAT   podman inspect --format FORMAT of the sidecar
  rm POD                   remove the Pod's containers and state
EOF
  exit 2
}

die() {
  echo "$LAB_TOOL: $*" >&2
  exit 1
}

check_pod() {
  [[ $1 =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "invalid pod name '$1': 1-31 characters [a-z0-9-], starting with a letter"
  POD=$1
  STATE=$RUN_ROOT/$POD
  BFDD=$POD-bfdd
  OBSERVER=$POD-observability
}

load_state() {
  [[ -f $STATE/netns && -f $STATE/image ]] || die "pod '$POD' does not exist (no $STATE; run: pod.sh create $POD ...)"
  NETNS=$(<"$STATE/netns")
  IMAGE=$(<"$STATE/image")
}

# Only this Pod's containers, by name and label.
owned() { [[ $(podman inspect --format '{{index .Config.Labels "vea-pod"}}' "$1" 2>/dev/null) == "$POD" ]]; }

remove_container() {
  if owned "$1"; then podman rm -f -t 0 "$1" >/dev/null; fi
}

common_args() {
  # podman's default seccomp profile is RuntimeDefault's equivalent; like containerd, it leaves
  # privileged containers unconfined.
  printf '%s\n' --label "vea-pod=$POD" --network "ns:/run/netns/$NETNS" -v "$STATE/usr-local-sbin:/usr/local/sbin"
}

# env_args FILE: --env KEY=VALUE per line, passed verbatim (podman's --env-file would parse values:
# Kube-OVN's NO_SNAT_SOURCES can be tens of KiB).
env_args() {
  local line
  while IFS= read -r line; do printf '%s\n' --env "$line"; done <"$1"
}

run_init() {
  remove_container "$POD-init"
  local args
  mapfile -t args < <(common_args && env_args "$STATE/init.env")
  # privileged, no runAsUser (root), the bfdd-supervisor-state emptyDir mounted too.
  "${PODMAN_RUN[@]}" --rm --name "$POD-init" "${args[@]}" --privileged --user 0:0 \
    -v "$STATE/bfdd-supervisor-state:$SUPERVISOR_DIR" --entrypoint '["bash"]' "$IMAGE" -exc "$INIT_CMD"
}

run_bfdd() {
  remove_container "$BFDD"
  local args entrypoint
  mapfile -t args < <(common_args && env_args "$STATE/bfdd.env")
  entrypoint=$(printf '"%s",' "${CRI_CAPS[@]}")
  # Pod: seccomp RuntimeDefault; container: uid 65534, caps drop ALL + add, limits cpu 300m and
  # memory 64Mi (no swap, like kubelet's cgroup), terminationGracePeriodSeconds 30 (see stop).
  "${PODMAN_RUN[@]}" -d --name "$BFDD" "${args[@]}" --user "$NOBODY:$NOBODY" \
    --cap-drop ALL --cap-add "$BFDD_CAPS" --memory 64m --memory-swap 64m --cpus 0.3 \
    --stop-timeout 30 -v "$STATE/bfdd-supervisor-state:$SUPERVISOR_DIR" --entrypoint "[${entrypoint%,}]" "$IMAGE" "${BFDD_CMD[@]}" >/dev/null
}

cmd_create() {
  local netns='' env_file=''
  while (($#)); do
    case $1 in
      --netns) netns=${2:?--netns needs a value} && shift 2 ;;
      --env-file) env_file=${2:?--env-file needs a value} && shift 2 ;;
      *) die "create: unknown argument '$1'" ;;
    esac
  done
  [[ -n $netns && -n $env_file ]] || die "usage: pod.sh create POD --netns NS --env-file FILE"
  [[ -e /run/netns/$netns ]] || die "network namespace '$netns' does not exist"
  [[ -r $env_file ]] || die "cannot read env file '$env_file'"
  podman image exists "$IMAGE" || die "image '$IMAGE' does not exist (build it: make image)"
  [[ -e $STATE ]] && die "pod '$POD' exists already ($STATE; run: pod.sh rm $POD)"
  mkdir -p "$STATE"
  echo "$netns" >"$STATE/netns"
  echo "$IMAGE" >"$STATE/image"
  NETNS=$netns
  grep -E "$INIT_VARS" "$env_file" >"$STATE/init.env" || true
  grep -E "$BFDD_VARS" "$env_file" >"$STATE/bfdd.env" || true
  # kubelet's emptyDirs: root-owned, mode 0777 (the init container adds the sticky bits).
  local d
  for d in usr-local-sbin bfdd-supervisor-state; do
    mkdir -m 0777 "$STATE/$d"
    chmod 0777 "$STATE/$d"
  done
  run_init || die "init container failed (exit $?): the Pod would be in Init:CrashLoopBackOff"
  run_bfdd
}

# As kubectl exec / kubelet's exec probe: the container's user and capability sets.
exec_in() {
  podman exec --user "$NOBODY:$NOBODY" "$BFDD" "${CRI_CAPS[@]}" "$@"
}

cmd_stop() {
  local rc=0
  podman stop -t 30 "$BFDD" >/dev/null
  podman wait "$BFDD" 2>/dev/null || rc=$?
  ((rc == 0)) || die "podman wait failed for $BFDD"
}

cmd_livez() {
  local ip
  ip=$(sed -n 's/^POD_IPS=\([^,]*\).*/\1/p' "$STATE/bfdd.env")
  [[ -n $ip ]] || die "pod '$POD' has no POD_IPS"
  [[ $ip == *:* ]] && ip="[$ip]"
  ip netns exec "$NETNS" curl -s -o /dev/null -m 10 -w '%{http_code}\n' "http://$ip:$METRICS_PORT/livez" || true
}

# kubelet's ConfigMap volume update: a new file renamed into place (readers never see half of it).
put_file() {
  install -m 0644 "$1" "$2.tmp" && mv -f "$2.tmp" "$2"
}

run_observer() {
  remove_container "$OBSERVER"
  local args entrypoint
  mapfile -t args < <(common_args)
  entrypoint=$(printf '"%s",' "${CRI_CAPS[@]}" /bin/sh)
  # No --security-opt no-new-privileges: allowPrivilegeEscalation is true. No podman tmpfs on /tmp
  # and /run: Kubernetes mounts none for readOnlyRootFilesystem.
  # restartPolicy Always (a sidecar): kubelet restarts it when it exits; so does podman here.
  "${PODMAN_RUN[@]}" -d --restart always --name "$OBSERVER" "${args[@]}" --user "$NOBODY:$NOBODY" \
    --cap-drop ALL --cap-add "$OBSERVER_CAPS" --read-only --read-only-tmpfs=false --memory 256m --memory-swap 256m --cpus 0.2 \
    --env "POD_NAME=$POD" --env "NODE_NAME=$(<"$STATE/observer-node")" \
    -v "$STATE/observability-config:/etc/kube-ovn-observer:ro" -v "$STATE/observability-podinfo:/etc/podinfo:ro" \
    --entrypoint "[${entrypoint%,}]" "$IMAGE" -ec "$OBSERVER_CMD" >/dev/null
}

cmd_observer() {
  local config='' status='' node=kube-ovn-worker
  while (($#)); do
    case $1 in
      --config) config=${2:?--config needs a value} && shift 2 ;;
      --network-status) status=${2:?--network-status needs a value} && shift 2 ;;
      --node) node=${2:?--node needs a value} && shift 2 ;;
      *) die "observer: unknown argument '$1'" ;;
    esac
  done
  [[ -r $config && -r $status ]] || die "usage: pod.sh observer POD --config FILE --network-status FILE [--node NAME] (readable files)"
  [[ $node =~ ^[a-z0-9.-]{1,63}$ ]] || die "invalid node name '$node'"
  mkdir -p "$STATE/observability-config" "$STATE/observability-podinfo"
  put_file "$config" "$STATE/observability-config/config.json"
  put_file "$status" "$STATE/observability-podinfo/network-status"
  echo "$node" >"$STATE/observer-node"
  run_observer
}

observer_exec() {
  podman exec --user "$NOBODY:$NOBODY" "$OBSERVER" "${CRI_CAPS[@]}" "$@"
}

cmd_rm() {
  remove_container "$OBSERVER"
  remove_container "$BFDD"
  remove_container "$POD-init"
  rm -rf "$STATE"
}

main() {
  (($# >= 2)) || usage
  local cmd=$1
  check_pod "$2"
  shift 2
  case $cmd in
    create) cmd_create "$@" ;;
    rm) (($# == 0)) || usage && cmd_rm ;;
    *)
      load_state
      case $cmd in
        init) run_init ;;
        start) run_bfdd ;;
        kill) podman kill -s "${1:-KILL}" "$BFDD" >/dev/null ;;
        stop) cmd_stop ;;
        probe)
          [[ ${1:-} =~ ^(live|ready|status)$ ]] || usage
          exec_in /kube-ovn/kube-ovn-bfdd-supervisor "$1"
          ;;
        livez) cmd_livez ;;
        exec) (($#)) || usage && exec_in "$@" ;;
        inspect) (($# == 1)) || usage && podman inspect --format "$1" "$BFDD" ;;
        logs) podman logs "$BFDD" ;;
        observer) cmd_observer "$@" ;;
        observer-config) (($# == 1)) && [[ -r $1 ]] || usage && put_file "$1" "$STATE/observability-config/config.json" ;;
        observer-probe) observer_exec /bin/sh -ec "$OBSERVER_LIVENESS" ;;
        observer-exec) (($#)) || usage && observer_exec "$@" ;;
        observer-kill) podman kill -s "${1:-TERM}" "$OBSERVER" >/dev/null ;;
        observer-logs) podman logs "$OBSERVER" ;;
        observer-inspect) (($# == 1)) || usage && podman inspect --format "$1" "$OBSERVER" ;;
        *) usage ;;
      esac
      ;;
  esac
}

main "$@"
