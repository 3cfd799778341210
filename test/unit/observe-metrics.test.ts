import t, { type Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseConntrackStat } from '../../agent/observe/conntrack-usage.js';
import { readInterfaceStats } from '../../agent/observe/interface-stats.js';
import { registerObservabilityMetrics, type ObservabilitySources } from '../../agent/observe/metrics.js';
import type { SnatStatus } from '../../agent/snat/types.js';

// /proc/net/stat/nf_conntrack as kernel 6.18 prints it (two CPUs).
const STAT = `entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
0000002a  00000000 00000000 00000000 00000003 00000000 00000000 00000000 00000000 00000001 0000000a 00000002 00000000  00000000 00000000 00000000 00000000
0000002a  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000010 00000000 00000000  00000000 00000000 00000000 00000000
`;

function fakeKernel(t: Test) {
  const root = t.testdir();
  const sys = join(root, 'sys/class/net');
  const setIf = (name: string, values: Record<string, number | string>) => {
    const d = join(sys, name, 'statistics');
    mkdirSync(d, { recursive: true });
    for (const c of ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'rx_dropped', 'tx_dropped', 'rx_errors', 'tx_errors']) {
      writeFileSync(join(d, c), `${values[c] ?? 0}\n`);
    }
  };
  const proc = join(root, 'proc/sys');
  mkdirSync(join(proc, 'net/netfilter'), { recursive: true });
  const setConntrack = (count: number, max: number) => {
    writeFileSync(join(proc, 'net/netfilter/nf_conntrack_count'), `${count}\n`);
    writeFileSync(join(proc, 'net/netfilter/nf_conntrack_max'), `${max}\n`);
  };
  const stat = join(root, 'nf_conntrack');
  writeFileSync(stat, STAT);
  return { sys, proc, stat, setIf, setConntrack };
}

const SNAT: SnatStatus = {
  running: true, dir: '/r', currentFile: null, socketBufferBytes: 1, eventsDropped: 42, eventsReceived: 10, recordsWritten: 7, recordsDropped: 1,
  overflows: 3, lastOverflowAt: '2026-11-26T03:12:00.000Z', parseErrors: 2, restarts: 1, lastError: null,
  flows: { snat: 5, forwarded: 2 }, flowsStarted: { snat: 50, forwarded: 20 }, recovered: 4,
  ports: {
    range: 1000, warnRatio: 0.8, warnings: 1,
    tightest: [
      { proto: 'udp', snat: '172.17.0.11', dst: '198.51.100.10', dport: 53, inUse: 850, available: 150, ratio: 0.85 },
      { proto: 'tcp', snat: '172.17.0.11', dst: '198.51.100.10', dport: 443, inUse: 10, available: 990, ratio: 0.01 },
    ],
  },
};

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('interface, conntrack, flow and recorder metrics are read at scrape time', async (t) => {
  const k = fakeKernel(t);
  k.setIf('eth0', { rx_bytes: 1000, tx_bytes: 2000, rx_packets: 10, tx_packets: 20, rx_dropped: 1, tx_dropped: 2, rx_errors: 3, tx_errors: 4 });
  k.setIf('net1', { rx_bytes: 5000, tx_bytes: 6000 });
  k.setConntrack(200, 1000);
  const errors: string[] = [];
  const registry = new Registry();
  const sources: ObservabilitySources = {
    interfaces: () => [{ name: 'eth0', role: 'internal' }, { name: 'net1', role: 'external' }, { name: 'eth0', role: 'internal' }],
    snat: () => SNAT,
    onError: (source, err) => errors.push(`${source}: ${err.message}`),
    sysClassNet: k.sys, procSys: k.proc, conntrackStat: k.stat,
  };
  registerObservabilityMetrics(registry, sources);
  let text = await registry.metrics();
  t.equal(value(text, 'egress_agent_interface_receive_bytes_total{interface="eth0",role="internal"}'), 1000);
  t.equal(value(text, 'egress_agent_interface_transmit_bytes_total{interface="net1",role="external"}'), 6000);
  t.equal(value(text, 'egress_agent_interface_receive_packets_total{interface="eth0",role="internal"}'), 10);
  t.equal(value(text, 'egress_agent_interface_transmit_packets_total{interface="eth0",role="internal"}'), 20);
  t.equal(value(text, 'egress_agent_interface_receive_drops_total{interface="eth0",role="internal"}'), 1);
  t.equal(value(text, 'egress_agent_interface_transmit_drops_total{interface="eth0",role="internal"}'), 2);
  t.equal(value(text, 'egress_agent_interface_receive_errors_total{interface="eth0",role="internal"}'), 3);
  t.equal(value(text, 'egress_agent_interface_transmit_errors_total{interface="eth0",role="internal"}'), 4);
  t.equal(text.split('\n').filter((l) => l.startsWith('egress_agent_interface_receive_bytes_total{')).length, 2, 'a repeated interface is reported once');
  t.equal(value(text, 'egress_agent_conntrack_entries'), 200);
  t.equal(value(text, 'egress_agent_conntrack_entries_limit'), 1000);
  t.equal(value(text, 'egress_agent_conntrack_usage_ratio'), 0.2);
  t.equal(value(text, 'egress_agent_conntrack_drops_total{reason="drop"}'), 26);
  t.equal(value(text, 'egress_agent_conntrack_drops_total{reason="early_drop"}'), 2);
  t.equal(value(text, 'egress_agent_conntrack_drops_total{reason="insert_failed"}'), 1);
  t.equal(value(text, 'egress_agent_flows{class="snat"}'), 5);
  t.equal(value(text, 'egress_agent_flows{class="forwarded"}'), 2);
  t.equal(value(text, 'egress_agent_flows_started_total{class="snat"}'), 50);
  t.equal(value(text, 'egress_agent_snat_recorder_up'), 1);
  t.equal(value(text, 'egress_agent_snat_records_written_total'), 7);
  t.equal(value(text, 'egress_agent_snat_records_dropped_total'), 1);
  t.equal(value(text, 'egress_agent_snat_event_overflows_total'), 3);
  t.equal(value(text, 'egress_agent_snat_events_dropped_total'), 42);
  t.equal(value(text, 'egress_agent_snat_last_overflow_timestamp_seconds'), Date.parse('2026-11-26T03:12:00Z') / 1000);
  t.equal(value(text, 'egress_agent_snat_parse_errors_total'), 2);
  t.equal(value(text, 'egress_agent_snat_recorder_restarts_total'), 1);
  t.equal(value(text, 'egress_agent_snat_records_recovered_total'), 4);
  const dns = '{proto="udp",snat_address="172.17.0.11",destination="198.51.100.10",destination_port="53"}';
  t.equal(value(text, `egress_agent_snat_ports_in_use${dns}`), 850);
  t.equal(value(text, `egress_agent_snat_ports_available${dns}`), 150);
  t.equal(value(text, `egress_agent_snat_port_usage_ratio${dns}`), 0.85);
  t.equal(value(text, 'egress_agent_snat_ports_in_use{proto="tcp",snat_address="172.17.0.11",destination="198.51.100.10",destination_port="443"}'), 10);
  t.equal(value(text, 'egress_agent_snat_port_usage_max_ratio'), 0.85, 'the tightest key');
  t.equal(value(text, 'egress_agent_snat_port_usage_warn_ratio'), 0.8);
  t.equal(value(text, 'egress_agent_snat_port_range_size'), 1000);
  t.equal(value(text, 'egress_agent_snat_port_warnings_total'), 1);
  t.match(text, /# TYPE egress_agent_interface_receive_bytes_total counter/);
  t.match(text, /# TYPE egress_agent_conntrack_usage_ratio gauge/);
  t.same(errors, []);

  // Values change between scrapes (the snapshot lives one second).
  k.setConntrack(900, 1000);
  await new Promise((r) => setTimeout(r, 1100));
  text = await registry.metrics();
  t.equal(value(text, 'egress_agent_conntrack_usage_ratio'), 0.9);
});

t.test('missing sources leave their metrics out; bad kernel values are reported, not thrown', async (t) => {
  const k = fakeKernel(t);
  k.setIf('eth0', { rx_bytes: 'garbage' });
  const errors: string[] = [];
  const registry = new Registry();
  registerObservabilityMetrics(registry, {
    interfaces: () => [{ name: 'eth0', role: 'internal' }, { name: 'gone0', role: 'external' }],
    onError: (source, err) => errors.push(`${source}: ${err.message}`),
    sysClassNet: k.sys, procSys: join(k.proc, 'nowhere'), conntrackStat: join(k.proc, 'nowhere'),
  });
  const text = await registry.metrics();
  t.notMatch(text, /^egress_agent_interface_receive_bytes_total\{/m);
  t.notMatch(text, /^egress_agent_conntrack_usage_ratio /m);
  t.notMatch(text, /^egress_agent_flows\{/m);
  t.notMatch(text, /^egress_agent_snat_recorder_up /m);
  t.same(errors.length, 1);
  t.match(errors[0], /interface eth0: .*rx_bytes: "garbage" is not a counter/);
});

t.test('parsers', async (t) => {
  t.same(parseConntrackStat(STAT), { drop: 26, early_drop: 2, insert_failed: 1 });
  t.throws(() => parseConntrackStat('entries drop\n0000 zz\n'), /column drop is not hex/);
  await t.rejects(readInterfaceStats('../etc'), /not a plain name/);
  t.equal(await readInterfaceStats('no-such-if', t.testdir()), undefined);
});
