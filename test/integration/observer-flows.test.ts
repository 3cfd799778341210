// Kube-OVN's observability sidecar (/kube-ovn/vpc-egress-gateway-observer, dist/agent/observer) in a
// lab gateway: `egress-agent init` applies the dataplane (MASQUERADE), the observer runs inside the
// gateway's namespace on the kernel's conntrack events, and real TCP/UDP flows over IPv4 and IPv6
// from the VPC client must show up as Kube-OVN's e2e expects (test/e2e/vpc-egress-gateway): metrics
// with the gateway's identity, schema-valid start and end records (the end forced, as the e2e does,
// with `conntrack -D`), interface counters growing, collector failure isolation, hot reload.
// Namespace prefix: vob (no other test uses it).
import t from 'tap';
import { execa, type ResultPromise } from 'execa';
import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureBuilt, ROOT, runInit } from '../helpers/dataplane.js';
import { withLab, type Lab } from '../helpers/lab.js';
import { runFlows, type FlowResult, type FlowSpec } from '../helpers/snat-agent.js';

t.setTimeout(240_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

const MAIN = join(ROOT, 'dist/agent/observer/main.js');
const POD = 'veg-a-5d8c7b9f4-x2x4k';
const NODE = 'kube-ovn-worker';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tuple { sourceIP: string; sourcePort?: number; destinationIP: string; destinationPort?: number }
interface FlowLine {
  schemaVersion: string; timestamp: string; event: string; conntrackID: number; zone: number; namespace: string; name: string; pod: string; node: string;
  addressFamily: string; protocol: string; protocolNumber: number; natType: string[]; original: Tuple; translated: Tuple;
  counters?: { originalPackets: number; originalBytes: number; replyPackets: number; replyBytes: number };
}

/** Kube-OVN's e2e validVpcEgressObserverFlowRecord. */
function validRecord(r: FlowLine): boolean {
  return r.schemaVersion === 'v1' && !Number.isNaN(Date.parse(r.timestamp)) && r.conntrackID > 0 && typeof r.zone === 'number'
    && r.namespace === 'ns1' && r.name === 'veg-a' && r.pod === POD && r.node !== '' && r.addressFamily !== '' && r.protocol !== '' && r.protocolNumber > 0
    && isIP(r.original.sourceIP) > 0 && isIP(r.original.destinationIP) > 0 && !!r.original.sourcePort && !!r.original.destinationPort
    && isIP(r.translated.sourceIP) > 0 && isIP(r.translated.destinationIP) > 0 && !!r.translated.sourcePort && !!r.translated.destinationPort
    && r.natType.includes('snat');
}

class ObserverProcess {
  readonly records: FlowLine[] = [];
  readonly stderr: string[] = [];
  constructor(readonly child: ResultPromise) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        this.records.push(JSON.parse(l) as FlowLine);
      } catch {
        this.stderr.push(`stdout (not JSON): ${l}`);
      }
    });
    createInterface({ input: child.stderr! }).on('line', (l) => this.stderr.push(l));
  }

  static start(lab: Lab, args: string[]): ObserverProcess {
    return new ObserverProcess(execa('ip', ['netns', 'exec', lab.ns('gw1'), process.execPath, MAIN, ...args], {
      reject: false, buffer: false, env: { POD_NAME: POD, NODE_NAME: NODE }, extendEnv: false,
    }));
  }

  async stop(): Promise<number | undefined> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return (await this.child).exitCode;
  }
}

t.test('the observer on a lab gateway answers Kube-OVN\'s e2e expectations', async (t) => {
  const lab = await withLab(t, { prefix: 'vob', replicas: 1, family: 'dual' });
  const info = await lab.info();
  const v4 = info.ipv4!;
  const v6 = info.ipv6!;
  await ensureBuilt();
  const init = await runInit(lab, 'gw1', await lab.env('gw1'));
  t.equal(init.exitCode, 0, `egress-agent init applied the dataplane: ${init.stderr}`);
  await lab.exec('gw1', ['sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1']);

  const dir = t.testdir();
  const configPath = join(dir, 'config.json');
  const writeConfig = (log: object) => writeFileSync(configPath, JSON.stringify({
    namespace: 'ns1', name: 'veg-a', externalNetwork: 'ns1/macvlan',
    observability: { resources: {}, interfaceMetrics: { enabled: true }, conntrack: { metrics: { enabled: true }, log }, serviceMonitor: {} },
  }));
  writeConfig({ enabled: true });
  const networkStatus = join(dir, 'network-status');
  writeFileSync(networkStatus, JSON.stringify([
    { name: 'kube-ovn', interface: 'eth0', ips: [v4.gateways.gw1!.eth0, v6.gateways.gw1!.eth0], default: true },
    { name: 'ns1/macvlan', interface: 'net1', ips: [v4.gateways.gw1!.net1, v6.gateways.gw1!.net1] },
  ]));

  const observer = ObserverProcess.start(lab, ['--config', configPath, '--network-status', networkStatus]);
  t.teardown(() => observer.stop());
  const scrape = async (port = 10666) => String((await lab.exec('gw1', ['curl', '-fsS', `http://127.0.0.1:${port}/metrics`], { reject: false })).stdout);
  const value = (text: string, name: string, ...labels: string[]) => text.split('\n').filter((l) => l.startsWith(name + '{') && labels.every((x) => l.includes(x))).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  async function until<T>(what: string, get: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await get();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms; observer stderr: ${observer.stderr.slice(-5).join('\n')}`);
      await sleep(250);
    }
  }

  const first = await until('metrics with both collectors up', async () => {
    const m = await scrape();
    return /collector="conntrack"} 1$/m.test(m) && /collector="interface"} 1$/m.test(m) ? m : undefined;
  });
  t.match(first, /^kube_ovn_vpc_egress_gateway_observability_collector_up\{namespace="ns1",name="veg-a",pod="veg-a-5d8c7b9f4-x2x4k",node="kube-ovn-worker",collector="conntrack"\} 1$/m, 'identity labels');
  t.match(first, /^kube_ovn_vpc_egress_gateway_interface_tx_packets_total\{.*interface="net1",type="external"\} \d+$/m);
  t.equal(value(first, 'kube_ovn_vpc_egress_gateway_observability_config_reload_total', 'result="success"'), 1, 'the initial load counts as a reload');
  const health = await lab.exec('gw1', [process.execPath, MAIN, '--health-check'], { reject: false });
  t.equal(health.exitCode, 0, `--health-check: ${health.stderr}`);
  const externalBefore = value(first, 'kube_ovn_vpc_egress_gateway_interface_rx_bytes_total', 'type="external"') + value(first, 'kube_ovn_vpc_egress_gateway_interface_tx_bytes_total', 'type="external"');

  const specs: FlowSpec[] = [
    { proto: 'tcp', src: v4.client!, sport: 42001, dst: v4.server!, dport: info.serverPort },
    { proto: 'udp', src: v4.client!, sport: 42002, dst: v4.server!, dport: info.serverPort },
    { proto: 'tcp', src: v6.client!, sport: 42003, dst: v6.server!, dport: info.serverPort },
    { proto: 'udp', src: v6.client!, sport: 42004, dst: v6.server!, dport: info.serverPort },
  ];
  const forwarded = await runFlows(lab, [{ proto: 'udp', src: v4.noSnatClient!, sport: 42005, dst: v4.server!, dport: info.serverPort }]);
  const flows = await runFlows(lab, specs);
  t.equal(flows.length, 4, 'every flow got its echo');
  const recordsOf = (f: FlowResult) => observer.records.filter((r) => r.original.sourceIP === f.src && r.original.sourcePort === f.sport && r.protocol === f.proto);

  await t.test('a schema-valid start record per SNAT flow, none for the forwarded one', async (t) => {
    for (const f of flows) {
      const start = await until(`start record of ${f.proto} ${f.src}:${f.sport}`, () => recordsOf(f).find((r) => r.event === 'start'));
      t.ok(validRecord(start), `${f.proto} ${f.src}: valid as Kube-OVN's e2e checks: ${JSON.stringify(start)}`);
      t.same([start.translated.sourceIP, start.translated.sourcePort], [f.seenIp, f.seenPort], 'translated source = what the server saw');
      t.same([start.addressFamily, start.protocolNumber], [isIP(f.src) === 4 ? 'ipv4' : 'ipv6', f.proto === 'tcp' ? 6 : 17]);
    }
    t.same(recordsOf(forwarded[0]!), [], 'an untranslated flow is no NAT flow');
  });

  await t.test('conntrack -D (as the e2e does) ends each flow: an end record with counters', async (t) => {
    for (const f of flows) {
      const start = recordsOf(f).find((r) => r.event === 'start')!;
      // Kube-OVN's deleteVpcEgressObserverConntrackFlow, from inside the gateway (a TCP flow may already be gone).
      await lab.exec('gw1', ['conntrack', '-D', '-w', String(start.zone), '-p', start.protocol, '-s', start.original.sourceIP, '-d', start.original.destinationIP,
        '--sport', String(start.original.sourcePort), '--dport', String(start.original.destinationPort)], { reject: false });
      const end = await until(`end record of ${f.proto} ${f.src}:${f.sport}`, () => recordsOf(f).find((r) => r.event === 'end'));
      t.ok(validRecord(end), `${f.proto} ${f.src}: valid end record`);
      t.equal(end.conntrackID, start.conntrackID, 'same conntrack id and zone as the start (the e2e\'s key)');
      t.ok(end.counters && end.counters.originalPackets > 0 && end.counters.replyBytes > 0, `counters (accounting on): ${JSON.stringify(end.counters)}`);
    }
  });

  await t.test('metrics: started, ended, bytes, interface growth; ended flows leave the active gauge', async (t) => {
    // The gateway's SNAT rules also MASQUERADE its own loopback connections (these scrapes: NAT
    // flows to the observer too). Their entries are removed first, so the active gauge may count
    // only the last scrape's own connection besides the test flows (all ended).
    await until('ended flows counted', async () => value(await scrape(), 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_ended_total') >= 4 || undefined);
    // The deletion's DESTROY events reach the observer asynchronously (its reader thread hands them
    // over in batches; CI once scraped before they were counted), so delete and scrape again until
    // the gauge settles. Each scrape is itself a new NAT flow, which the next round deletes.
    let m = '';
    const settled = Date.now() + 10_000;
    do {
      await lab.exec('gw1', ['conntrack', '-D', '-s', '127.0.0.1'], { reject: false });
      await sleep(300);
      m = await scrape();
    } while (value(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active') > 1 && Date.now() < settled);
    for (const [af, proto] of [['ipv4', 'tcp'], ['ipv4', 'udp'], ['ipv6', 'tcp'], ['ipv6', 'udp']]) {
      const l = [`address_family="${af}"`, `protocol="${proto}"`, 'nat_type="snat"'];
      t.ok(value(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_started_total', ...l) >= 1, `${af}/${proto} started`);
      t.ok(value(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_ended_total', ...l) >= 1, `${af}/${proto} ended`);
      t.ok(value(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_bytes_total', ...l, 'direction="reply"') > 0, `${af}/${proto} reply bytes`);
    }
    const table = String((await lab.exec('gw1', ['conntrack', '-L'], { reject: false })).stdout);
    t.ok(value(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active') <= 1, `no NAT flow left but the scrape's; conntrack -L:\n${table}`);
    t.equal(value(m, 'kube_ovn_vpc_egress_gateway_observability_conntrack_accounting_available'), 1);
    t.ok(value(m, 'kube_ovn_vpc_egress_gateway_observability_log_records_total', 'event="start"') >= 4);
    const externalAfter = value(m, 'kube_ovn_vpc_egress_gateway_interface_rx_bytes_total', 'type="external"') + value(m, 'kube_ovn_vpc_egress_gateway_interface_tx_bytes_total', 'type="external"');
    t.ok(externalAfter > externalBefore, `external interface bytes grew (${externalBefore} -> ${externalAfter})`);
  });

  await t.test('collector failure isolation: no network status -> interface 0, conntrack 1', async (t) => {
    const second = ObserverProcess.start(lab, ['--config', configPath, '--network-status', '/does-not-exist', '--listen-address', '127.0.0.1:10667']);
    t.teardown(() => second.stop());
    const m = await until('the second observer\'s metrics', async () => {
      const x = await scrape(10667);
      return /collector="conntrack"} 1$/m.test(x) && /collector="interface"} 0$/m.test(x) ? x : undefined;
    });
    t.match(m, /^kube_ovn_vpc_egress_gateway_observability_errors_total\{.*collector="interface",operation="collect"\} [1-9]/m, 'the failure is counted');
    t.equal(await second.stop(), 0, 'SIGTERM: exit 0');
  });

  await t.test('hot reload (the e2e\'s patch): only end records, at most 50/s', async (t) => {
    writeConfig({ enabled: true, events: ['end'], rateLimit: { recordsPerSecond: 50 } });
    await until('the reload counted', async () => value(await scrape(), 'kube_ovn_vpc_egress_gateway_observability_config_reload_total', 'result="success"') === 2 || undefined);
    const [f] = await runFlows(lab, [{ proto: 'udp', src: v4.client!, sport: 42010, dst: v4.server!, dport: info.serverPort }]);
    await lab.exec('gw1', ['conntrack', '-D', '-p', 'udp', '-s', f!.src, '--sport', String(f!.sport)], { reject: false });
    await until('the end record after the reload', () => recordsOf(f!).find((r) => r.event === 'end'));
    t.same(recordsOf(f!).map((r) => r.event), ['end'], 'no start record any more');
    // A bad edit is refused and counted; the running config stays.
    writeFileSync(configPath, '{"namespace": "ns1", "name": "veg-b", "externalNetwork": "x"}');
    await until('the identity change refused', async () => value(await scrape(), 'kube_ovn_vpc_egress_gateway_observability_config_reload_total', 'result="error"') >= 1 || undefined);
    t.ok(observer.stderr.some((l) => l.includes('gateway identity is immutable')), 'logged why');
  });

  await t.test('bad input: named, exit 2, nothing served', async (t) => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ namespace: 'ns1', name: 'veg-a', externalNetwork: 'x', observability: { conntrack: { log: { events: ['begin'] } } } }));
    const r = await lab.exec('gw1', [process.execPath, MAIN, '--config', bad, '--listen-address', '127.0.0.1:10668'], { reject: false });
    t.equal(r.exitCode, 2);
    t.match(String(r.stderr), /config file observability\.conntrack\.log\.events\[0\]="begin": expected one of start, end/);
  });

  t.equal(await observer.stop(), 0, 'SIGTERM: the observer exits 0');
});
