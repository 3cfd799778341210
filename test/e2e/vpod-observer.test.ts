// Kube-OVN v1.17's observability sidecar for real: the image (`make image`) run with podman as the
// controller writes the gateway Pod with spec.observability enabled (scripts/pod/pod.sh,
// docs/container.md): the init container applies the dataplane, then the restartable init container
// "observability" runs the controller's launcher as uid 65534 with NET_ADMIN only in the bounding
// set, read-only root, 200m / 256Mi, the ConfigMap and network-status volumes. Then Kube-OVN's own
// e2e expectations (test/e2e/vpc-egress-gateway: validateVpcEgressObservability and the hot reload)
// against it, from inside the container as its e2e runs them (curl, conntrack -D, the container log).
// Lab prefix vpob, Pod vpob-gw1 (containers vpob-gw1-init, -bfdd, -observability): used by no other test.
import t from 'tap';
import { isIP } from 'node:net';
import { withLab } from '../helpers/lab.js';
import { runFlows, type FlowResult, type FlowSpec } from '../helpers/snat-agent.js';
import { CAP, capMask, ensureImage, parseProcStatus, withPod } from '../../scripts/pod/pod.js';

t.setTimeout(480_000);
t.equal(process.getuid?.(), 0, 'e2e tests run as root (CI does); not skipping');
await ensureImage();

const lab = await withLab(t, { prefix: 'vpob', replicas: 1 });
const info = await lab.info();
const v4 = info.ipv4!;
const v6 = info.ipv6!;
const pod = await withPod(t, 'vpob-gw1');
const GATEWAY = { namespace: 'e2e-ns', name: 'veg-obs' };
const observability = (log: object) => ({
  resources: {}, interfaceMetrics: { enabled: true },
  conntrack: { metrics: { enabled: true }, log }, serviceMonitor: { labels: { e2e: 'vpc-egress-observability' } },
});
const config = (log: object) => ({ ...GATEWAY, externalNetwork: 'e2e-ns/macvlan', observability: observability(log) });
const NETWORK_STATUS = [
  { name: 'kube-ovn', interface: 'eth0', ips: [v4.gateways.gw1!.eth0, v6.gateways.gw1!.eth0], default: true },
  { name: 'e2e-ns/macvlan', interface: 'net1', ips: [v4.gateways.gw1!.net1, v6.gateways.gw1!.net1] },
];

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | undefined>, periodMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fn();
    if (r !== null && r !== undefined) return r;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; observer log:\n${(await pod.observerLogs()).stderr.slice(-3000)}`);
    await new Promise((res) => setTimeout(res, periodMs));
  }
}
/** Kube-OVN's scrapeVpcEgressObserverMetrics: curl inside the container. */
const scrape = async () => {
  const r = await pod.observerExec(['/bin/sh', '-c', 'curl -fsS http://127.0.0.1:10666/metrics']);
  return r.exitCode === 0 ? String(r.stdout) : '';
};
/** Kube-OVN's observerMetricValue/observerMetricSum: samples of `name` having every label. */
const metricSum = (text: string, name: string, ...labels: string[]) => text.split('\n')
  .filter((l) => l.startsWith(name + '{') && labels.every((x) => l.includes(x))).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
const externalBytes = (m: string) => metricSum(m, 'kube_ovn_vpc_egress_gateway_interface_rx_bytes_total', 'type="external"') + metricSum(m, 'kube_ovn_vpc_egress_gateway_interface_tx_bytes_total', 'type="external"');

interface Tuple { sourceIP: string; sourcePort?: number; destinationIP: string; destinationPort?: number }
interface Rec {
  schemaVersion: string; timestamp?: string; event: string; conntrackID?: number; zone?: number; namespace: string; name: string; pod: string; node: string;
  addressFamily: string; protocol: string; protocolNumber?: number; natType: string[]; original?: Tuple; translated?: Tuple;
}
/** Kube-OVN's validVpcEgressObserverFlowRecord. */
const valid = (r: Rec) => r.schemaVersion === 'v1' && !!r.timestamp && !Number.isNaN(Date.parse(r.timestamp)) && !!r.conntrackID && r.zone !== undefined
  && r.namespace === GATEWAY.namespace && r.name === GATEWAY.name && r.pod === 'vpob-gw1' && r.node !== '' && r.addressFamily !== '' && r.protocol !== '' && !!r.protocolNumber
  && !!r.original && !!r.translated && isIP(r.original.sourceIP) > 0 && isIP(r.original.destinationIP) > 0 && !!r.original.sourcePort && !!r.original.destinationPort
  && isIP(r.translated.sourceIP) > 0 && isIP(r.translated.destinationIP) > 0 && !!r.translated.sourcePort && !!r.translated.destinationPort && r.natType.includes('snat');
/** Kube-OVN's vpcEgressObserverFlowObservations: the container log's valid records (stdout; stderr lines never parse as records). */
async function records(): Promise<Rec[]> {
  const { stdout, stderr } = await pod.observerLogs();
  return `${stdout}\n${stderr}`.split('\n').flatMap((l) => {
    try {
      const r = JSON.parse(l) as Rec;
      return valid(r) ? [r] : [];
    } catch {
      return [];
    }
  });
}
const of = (rs: Rec[], f: FlowResult) => rs.filter((r) => r.original!.sourceIP === f.src && r.original!.sourcePort === f.sport && r.protocol === f.proto);

t.test('the Pod with observability enabled: init, then the sidecar as the controller writes it', async (t) => {
  await pod.create(lab.ns('gw1'), await lab.env('gw1'));
  await pod.observer(config({ enabled: true }), NETWORK_STATUS);
  // waitVpcEgressObserverMetrics: collector_up appears.
  const m = await until('observer metrics endpoint', 60_000, async () => ((await scrape()).includes('kube_ovn_vpc_egress_gateway_observability_collector_up') ? scrape() : null));
  t.match(m, 'kube_ovn_vpc_egress_gateway_interface_rx_bytes_total');
  t.match(m, 'kube_ovn_vpc_egress_gateway_interface_tx_packets_total');
  t.match(m, `namespace="${GATEWAY.namespace}"`);
  t.match(m, `name="${GATEWAY.name}"`);
  t.equal((await pod.observerProbe()).exitCode, 0, 'the controller\'s liveness command passes');
});

t.test('sidecar process: the observer is PID 1, uid 65534, NET_ADMIN from its file capability only', async (t) => {
  const status = parseProcStatus(String((await pod.observerExec(['cat', '/proc/1/status'])).stdout));
  const netAdmin = capMask(CAP.NET_ADMIN);
  t.match(status, { uid: /^65534\s/, eff: netAdmin, prm: netAdmin, inh: 0n, amb: 0n, bnd: netAdmin, noNewPrivs: '0' }, 'effective NET_ADMIN (conntrack netlink), nothing else');
  t.match(String((await pod.observerExec(['/bin/sh', '-c', "tr '\\0' ' ' </proc/1/cmdline"])).stdout), /^\/opt\/egress-agent\/observer-node .*dist\/agent\/observer\/main\.js --config \/etc\/kube-ovn-observer\/config\.json --network-status \/etc\/podinfo\/network-status/);
  t.not((await pod.observerExec(['touch', '/opt/x'])).exitCode, 0, 'read-only root filesystem');
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(String((await pod.observerExec(['cat', '/proc/1/status'])).stdout))?.[1]);
  t.ok(rss > 0 && rss < 256 * 1024, `RSS ${Math.round(rss / 1024)} MiB, inside the 256 MiB limit`);
});

const specs: FlowSpec[] = [
  { proto: 'tcp', src: v4.client!, sport: 43001, dst: v4.server!, dport: info.serverPort },
  { proto: 'udp', src: v6.client!, sport: 43002, dst: v6.server!, dport: info.serverPort },
];

t.test('Kube-OVN\'s validateVpcEgressObservability against the sidecar', async (t) => {
  const before = externalBytes(await scrape());
  const flows = await runFlows(lab, specs);
  t.equal(flows.length, 2, 'SNAT traffic through the gateway');

  // waitVpcEgressObserverInterfaceCounterGrowth
  await until('external interface counters grow', 30_000, async () => (externalBytes(await scrape()) > before ? true : null));
  t.pass('external interface counters grew');

  // validateVpcEgressObserverCollectorFailureIsolation, its script verbatim.
  const isolation = await pod.observerExec(['/bin/sh', '-ec', `
set -eu
observer_pid=
cleanup() {
  if [ -n "$observer_pid" ]; then
    kill "$observer_pid" 2>/dev/null || true
    wait "$observer_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
/kube-ovn/vpc-egress-gateway-observer --config /etc/kube-ovn-observer/config.json --network-status /does-not-exist --listen-address 127.0.0.1:10667 >/dev/null 2>/dev/null &
observer_pid=$!
attempt=0
while [ "$attempt" -lt 30 ]; do
  metrics="$(curl -fsS http://127.0.0.1:10667/metrics 2>/dev/null || true)"
  if printf '%s\\n' "$metrics" | grep -q '^kube_ovn_vpc_egress_gateway_observability_collector_up{.*collector="interface".*} 0$' &&
     printf '%s\\n' "$metrics" | grep -q '^kube_ovn_vpc_egress_gateway_observability_collector_up{.*collector="conntrack".*} 1$'; then
    printf '%s\\n' "$metrics"
    exit 0
  fi
  attempt=$((attempt + 1))
  sleep 1
done
exit 1
`]);
  t.equal(isolation.exitCode, 0, `collector failure isolation: interface 0, conntrack 1 (${String(isolation.stderr)})`);

  // waitVpcEgressObserverConntrackMetrics
  await until('conntrack NAT metrics', 60_000, async () => ((await scrape()).includes('kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active') ? true : null));
  t.pass('kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active present');

  // waitVpcEgressObserverFlowLog: a start record, then the flow deleted from inside the sidecar
  // with the e2e's own conntrack command, then its end record with the same (zone, conntrackID).
  for (const f of flows) {
    const start = await until(`start record of ${f.proto} ${f.src}:${f.sport}`, 60_000, async () => of(await records(), f).find((r) => r.event === 'start'));
    t.same([start.translated!.sourceIP, start.translated!.sourcePort], [f.seenIp, f.seenPort], `${f.proto}: translated source = what the server saw`);
    const del = await pod.observerExec(['conntrack', '-D', '-w', String(start.zone), '-p', start.protocol, '-s', start.original!.sourceIP, '-d', start.original!.destinationIP,
      '--sport', String(start.original!.sourcePort), '--dport', String(start.original!.destinationPort)]);
    const end = await until(`end record of ${f.proto} ${f.src}:${f.sport}`, 60_000, async () => of(await records(), f).find((r) => r.event === 'end' && r.conntrackID === start.conntrackID && r.zone === start.zone));
    t.ok(end, `${f.proto}: start and end records for (zone ${start.zone}, id ${start.conntrackID}); conntrack -D exit ${del.exitCode}`);
  }
});

t.test('Kube-OVN\'s hot reload: events [end], 50 records/s; then kill 1 restarts the sidecar', async (t) => {
  const reloads = async () => metricSum(await scrape(), 'kube_ovn_vpc_egress_gateway_observability_config_reload_total', 'result="success"');
  const initial = await reloads();
  await pod.observerConfig(config({ enabled: true, events: ['end'], rateLimit: { recordsPerSecond: 50 } }));
  t.match(String((await pod.observerExec(['cat', '/etc/kube-ovn-observer/config.json'])).stdout), '"events":["end"]', 'waitVpcEgressObserverConfigProjection');
  await until('the reload applied', 30_000, async () => ((await reloads()) > initial ? true : null));
  t.pass(`config_reload_total{result="success"} grew from ${initial}`);
  const [f] = await runFlows(lab, [{ proto: 'udp', src: v4.client!, sport: 43010, dst: v4.server!, dport: info.serverPort }]);
  await pod.observerExec(['conntrack', '-D', '-p', 'udp', '-s', f!.src, '--sport', String(f!.sport)]);
  await until('the end record after the reload', 60_000, async () => of(await records(), f!).find((r) => r.event === 'end'));
  t.same(of(await records(), f!).map((r) => r.event), ['end'], 'no start record after the reload');

  // The e2e's `kill 1`: the observer (PID 1) exits on SIGTERM and the runtime restarts it.
  const restarts = Number(await pod.observerInspect('{{.RestartCount}}'));
  const stops = async () => ((await pod.observerLogs()).stderr.match(/"signal":"SIGTERM".*"msg":"observer stopping"|"msg":"observer stopping".*"signal":"SIGTERM"/g) ?? []).length;
  const stopsBefore = await stops();
  const killed = await pod.observerExec(['/bin/sh', '-c', 'kill 1']);
  // The runtime ends every exec session when PID 1 exits, so the shell may not outlive the
  // observer it signalled: 137 (SIGKILLed) or 255 (podman lost the session; podman#10825). What
  // shows that kill 1 worked is the observer's own stop on SIGTERM and the restart below.
  t.ok([0, 137, 255].includes(killed.exitCode ?? -1), `kill 1 in the sidecar ran (exit ${killed.exitCode}: ${String(killed.stderr).trim()})`);
  await until('the sidecar restarted', 60_000, async () => (Number(await pod.observerInspect('{{.RestartCount}}')) > restarts ? true : null));
  t.ok((await stops()) > stopsBefore, 'the observer stopped on kill 1\'s SIGTERM');
  await until('metrics again after the restart', 60_000, async () => ((await scrape()).includes('kube_ovn_vpc_egress_gateway_observability_collector_up') ? true : null));
  t.pass('restarted and serving');
});
