// The observer's flow handling without a kernel: NAT classification and the flow-log line's shape
// (upstream's schema v1), the filters, the rate limit, the collector's metrics and cache bound,
// the bounded log queue, and the metric names and labels against upstream's.
import t from 'tap';
import { PassThrough, Writable } from 'node:stream';
import { parseObserverConfig, type ObserverConfig } from '../../agent/observer/config.js';
import { ConntrackCollector, type RuntimeSettings } from '../../agent/observer/conntrack-collector.js';
import { compileFilter } from '../../agent/observer/filter.js';
import { FlowLog } from '../../agent/observer/flow-log.js';
import { flowLine, recordFromFlow, type CtFlow, type FlowRecord } from '../../agent/observer/flow.js';
import { ObserverMetrics } from '../../agent/observer/metrics.js';
import { TokenBucket, limiterFor } from '../../agent/observer/rate-limit.js';

const WHO = { namespace: 'ns1', name: 'veg-a', pod: 'veg-a-7d9f-x', node: 'node-1' };
const AT = new Date('2026-12-05T05:00:00.123Z');

/** A TCP flow 10.0.1.5:40000 -> 1.1.1.1:443 SNATed to 172.17.0.10:40000 (reply tuple shows the rewrite). */
function flow(over: Partial<CtFlow> = {}): CtFlow {
  return {
    type: 'new', family: 4, protoNumber: 6, zone: 0, status: undefined, id: 77,
    original: { src: '10.0.1.5', sport: 40000, dst: '1.1.1.1', dport: 443 },
    reply: { src: '1.1.1.1', sport: 443, dst: '172.17.0.10', dport: 40000 },
    ...over,
  };
}

function config(log: object = { enabled: true }, metrics = true): ObserverConfig {
  return parseObserverConfig(JSON.stringify({ namespace: 'ns1', name: 'veg-a', externalNetwork: 'ns1/ext', observability: { conntrack: { metrics: { enabled: metrics }, log } } }), '/c.json').config;
}

function settings(c: ObserverConfig, limiter = limiterFor(c.log.recordsPerSecond, c.log.burst)): RuntimeSettings {
  return { config: c, filter: compileFilter(c.log.include, c.log.exclude), limiter };
}

/** A metric's samples as "labels value" lines (without the identity labels). */
async function samples(m: ObserverMetrics, name: string): Promise<string[]> {
  const text = await m.render();
  const id = 'namespace="ns1",name="veg-a",pod="veg-a-7d9f-x",node="node-1"';
  return text.split('\n').filter((l) => l.startsWith(name + '{')).map((l) => l.slice(name.length).replace(id + ',', '').replace(id, ''));
}

t.test('flow records: upstream\'s schema v1, NAT types, omitted zero ports and counters', async (t) => {
  const r = recordFromFlow(flow(), WHO, AT)!;
  r.event = 'start';
  t.equal(flowLine(r), JSON.stringify({
    schemaVersion: 'v1', timestamp: '2026-12-05T05:00:00.123Z', event: 'start', conntrackID: 77, zone: 0,
    namespace: 'ns1', name: 'veg-a', pod: 'veg-a-7d9f-x', node: 'node-1', addressFamily: 'ipv4', protocol: 'tcp', protocolNumber: 6,
    natType: ['snat'],
    original: { sourceIP: '10.0.1.5', sourcePort: 40000, destinationIP: '1.1.1.1', destinationPort: 443 },
    translated: { sourceIP: '172.17.0.10', sourcePort: 40000, destinationIP: '1.1.1.1', destinationPort: 443 },
  }) + '\n', 'keys in upstream\'s order; the translated source is the reply tuple\'s destination');
  // The same source port after SNAT (MASQUERADE keeps it when free): the kernel's IPS_SRC_NAT says so.
  t.same(recordFromFlow(flow({ reply: { src: '1.1.1.1', sport: 443, dst: '10.0.1.5', dport: 40000 }, status: 1 << 4 }), WHO, AT)!.natType, ['snat']);
  t.equal(recordFromFlow(flow({ reply: { src: '1.1.1.1', sport: 443, dst: '10.0.1.5', dport: 40000 } }), WHO, AT), null, 'untranslated (forwarded or the gateway\'s own): no record');
  const both = recordFromFlow(flow({ reply: { src: '10.9.9.9', sport: 8443, dst: '172.17.0.10', dport: 1024 }, zone: 3 }), WHO, AT)!;
  t.same([both.natType, both.zone], [['dnat', 'snat'], 3], 'sorted as upstream');
  const icmp = recordFromFlow(flow({ family: 6, protoNumber: 58, original: { src: 'fd00::5', sport: null, dst: '2001:db8::1', dport: null }, reply: { src: '2001:db8::1', sport: null, dst: 'fd01::10', dport: null } }), WHO, AT)!;
  t.same([icmp.addressFamily, icmp.protocol, icmp.protocolNumber, icmp.original], ['ipv6', 'icmpv6', 58, { sourceIP: 'fd00::5', destinationIP: '2001:db8::1' }], 'ports omitted as Go\'s omitempty does');
  t.equal(recordFromFlow(flow({ protoNumber: 47 }), WHO, AT)!.protocol, 'other');
  t.notOk('counters' in r, 'no counters without accounting');
  const counted = recordFromFlow(flow({ type: 'destroy', counters: { orig: { packets: 3, bytes: 180 }, reply: { packets: 2, bytes: 120 } } }), WHO, AT)!;
  t.same(counted.counters, { originalPackets: 3, originalBytes: 180, replyPackets: 2, replyBytes: 120 });
});

t.test('filters: exclude wins, include selects, NAT types, CIDRs and ports per tuple', async (t) => {
  const rec = (over: Partial<CtFlow> = {}) => recordFromFlow(flow(over), WHO, AT)!;
  const f = (include: object[], exclude: object[] = []) => {
    const c = config({ enabled: true, filters: { include, exclude } });
    return compileFilter(c.log.include, c.log.exclude);
  };
  t.ok(f([]).match(rec()), 'no rules: everything');
  t.ok(f([{ protocols: ['tcp'], original: { sourceCIDRs: ['10.0.0.0/16'], destinationPorts: [{ start: 400, end: 500 }] } }]).match(rec()));
  t.notOk(f([{ protocols: ['udp'] }]).match(rec()), 'include by protocol');
  t.notOk(f([{ original: { sourceCIDRs: ['10.1.0.0/16'] } }]).match(rec()), 'original source outside');
  t.notOk(f([{ original: { sourceCIDRs: ['fd00::/8'] } }]).match(rec()), 'another family never matches');
  t.ok(f([{ translated: { sourceCIDRs: ['172.17.0.0/24'], sourcePorts: [{ start: 40000, end: 40000 }] } }]).match(rec()), 'translated tuple');
  t.notOk(f([], [{ translated: { sourceCIDRs: ['172.17.0.10/32'] } }]).match(rec()), 'exclude');
  t.notOk(f([{ protocols: ['tcp'] }], [{ addressFamilies: ['ipv4'] }]).match(rec()), 'exclude wins over include');
  const both = rec({ reply: { src: '10.9.9.9', sport: 8443, dst: '172.17.0.10', dport: 1024 } });
  t.ok(f([{ natTypes: ['dnat'] }]).match(both), 'a snat+dnat flow matches "dnat"');
  t.ok(f([{ natTypes: ['snat_dnat'] }]).match(both));
  t.notOk(f([{ natTypes: ['snat_dnat'] }]).match(rec()), '"snat_dnat" needs both');
  const icmp = rec({ protoNumber: 1, original: { src: '10.0.1.5', sport: null, dst: '1.1.1.1', dport: null }, reply: { src: '1.1.1.1', sport: null, dst: '172.17.0.10', dport: null } });
  t.ok(f([{ original: { sourcePorts: [{ start: 0, end: 0 }] } }]).match(icmp), 'no ports = port 0, as upstream');
});

t.test('rate limit: starts full at burst, refills at the rate (golang.org/x/time/rate)', async (t) => {
  let now = 0;
  const b = new TokenBucket(50, 3, () => now);
  t.same([b.allow(), b.allow(), b.allow(), b.allow()], [true, true, true, false]);
  now += 20; // 50/s: one token per 20 ms
  t.same([b.allow(), b.allow()], [true, false]);
  now += 10_000;
  t.same([b.allow(), b.allow(), b.allow(), b.allow()], [true, true, true, false], 'refill caps at burst');
  const d = limiterFor(0, 0);
  t.same([d.perSecond, d.burst], [100, 1000], 'upstream\'s defaults when unset');
});

t.test('collector: upstream\'s metrics, start/end records, rate-limit drops, cache bound', async (t) => {
  const m = new ObserverMetrics(WHO);
  let s = settings(config({ enabled: true, rateLimit: { recordsPerSecond: 1, burst: 2 } }));
  const out: FlowRecord[] = [];
  const c = new ConntrackCollector(m, WHO, () => s, (r) => out.push(r), 3, () => AT);
  c.initialize([flow({ type: 'entry', id: 1 }), flow({ type: 'entry', id: 2, original: { src: '10.0.1.5', sport: 1, dst: '1.1.1.1', dport: 443 }, reply: { src: '1.1.1.1', sport: 443, dst: '10.0.1.5', dport: 1 } })]);
  t.equal(c.size(), 1, 'the dump\'s NAT flows only');
  c.process(flow({ id: 10 }));
  c.process(flow({ id: 10, type: 'update' }));
  c.process(flow({ id: 10, type: 'destroy', counters: { orig: { packets: 3, bytes: 180 }, reply: { packets: 2, bytes: 120 } } }));
  c.process(flow({ id: 11 }));
  t.same(out.map((r) => [r.event, r.conntrackID]), [['start', 10], ['end', 10]], 'the third record found no token');
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_observability_log_drops_total'), ['{reason="rate_limit"} 1']);
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_observability_conntrack_events_total'), ['{event="new"} 2', '{event="update"} 1', '{event="end"} 1']);
  const fl = '{address_family="ipv4",protocol="tcp",nat_type="snat"}';
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active'), [`${fl} 2`], 'the dumped flow and id 11');
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_started_total'), [`${fl} 2`]);
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_ended_total'), [`${fl} 1`]);
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_bytes_total'), [
    '{address_family="ipv4",protocol="tcp",nat_type="snat",direction="original"} 180',
    '{address_family="ipv4",protocol="tcp",nat_type="snat",direction="reply"} 120',
  ]);
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_observability_conntrack_accounting_available'), ['{} 1'], 'accounting seen');

  // Bounded: capacity 3, the least recently seen flow goes first.
  for (const id of [20, 21, 22]) c.process(flow({ id }));
  t.equal(c.size(), 3);
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_observability_conntrack_cache_evictions_total'), ['{} 2'], 'two flows evicted');
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active'), [`${fl} 3`], 'evicted flows leave the gauge');

  // A reload that logs only end events (the e2e's hot reload): starts are no longer written.
  s = settings(config({ enabled: true, events: ['end'] }));
  out.length = 0;
  c.process(flow({ id: 30 }));
  c.process(flow({ id: 30, type: 'destroy' }));
  t.same(out.map((r) => r.event), ['end']);
});

t.test('metric names and labels are upstream\'s', async (t) => {
  // pkg/vegobserver/metrics.go: name -> labels beyond namespace, name, pod, node.
  const UPSTREAM: Record<string, string[]> = {
    kube_ovn_vpc_egress_gateway_observability_collector_up: ['collector'],
    kube_ovn_vpc_egress_gateway_observability_config_reload_total: ['result'],
    kube_ovn_vpc_egress_gateway_observability_conntrack_events_total: ['event'],
    kube_ovn_vpc_egress_gateway_observability_errors_total: ['collector', 'operation'],
    kube_ovn_vpc_egress_gateway_observability_conntrack_cache_entries: [],
    kube_ovn_vpc_egress_gateway_observability_conntrack_cache_capacity: [],
    kube_ovn_vpc_egress_gateway_observability_conntrack_cache_evictions_total: [],
    kube_ovn_vpc_egress_gateway_observability_log_records_total: ['event'],
    kube_ovn_vpc_egress_gateway_observability_log_drops_total: ['reason'],
    kube_ovn_vpc_egress_gateway_observability_conntrack_accounting_available: [],
    kube_ovn_vpc_egress_gateway_interface_rx_bytes_total: ['interface', 'type'],
    kube_ovn_vpc_egress_gateway_interface_tx_bytes_total: ['interface', 'type'],
    kube_ovn_vpc_egress_gateway_interface_rx_packets_total: ['interface', 'type'],
    kube_ovn_vpc_egress_gateway_interface_tx_packets_total: ['interface', 'type'],
    kube_ovn_vpc_egress_gateway_interface_drops_total: ['interface', 'type', 'direction'],
    kube_ovn_vpc_egress_gateway_interface_errors_total: ['interface', 'type', 'direction'],
    kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active: ['address_family', 'protocol', 'nat_type'],
    kube_ovn_vpc_egress_gateway_conntrack_nat_flows_started_total: ['address_family', 'protocol', 'nat_type'],
    kube_ovn_vpc_egress_gateway_conntrack_nat_flows_ended_total: ['address_family', 'protocol', 'nat_type'],
    kube_ovn_vpc_egress_gateway_conntrack_nat_packets_total: ['address_family', 'protocol', 'nat_type', 'direction'],
    kube_ovn_vpc_egress_gateway_conntrack_nat_bytes_total: ['address_family', 'protocol', 'nat_type', 'direction'],
  };
  const m = new ObserverMetrics(WHO);
  const ours = Object.fromEntries((await m.registry.getMetricsAsJSON()).map((x) => [x.name, (m.registry.getSingleMetric(x.name) as unknown as { labelNames: string[] }).labelNames]));
  t.same(Object.keys(ours).sort(), Object.keys(UPSTREAM).sort(), 'the same metrics, no others (no process metrics, as upstream)');
  for (const [name, labels] of Object.entries(UPSTREAM)) t.same(ours[name], ['namespace', 'name', 'pod', 'node', ...labels], name);
});

t.test('flow log: JSON Lines in one write per turn, bounded queue, counted', async (t) => {
  const m = new ObserverMetrics(WHO);
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d) => { text += d; });
  const log = new FlowLog(sink, m, 2);
  const r = recordFromFlow(flow(), WHO, AT)!;
  t.same([log.push({ ...r, event: 'start' }), log.push({ ...r, event: 'end' }), log.push({ ...r, event: 'end' })], [true, true, false], 'the third finds the queue full');
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(text.trim().split('\n').map((l) => JSON.parse(l).event), ['start', 'end']);
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_observability_log_records_total'), ['{event="start"} 1', '{event="end"} 1']);
  t.same(await samples(m, 'kube_ovn_vpc_egress_gateway_observability_log_drops_total'), ['{reason="queue_full"} 1']);
  // A stuck reader holds records in flight: they count against the bound until written.
  const stuck = new Writable({ highWaterMark: 1, write: () => undefined });
  const held = new FlowLog(stuck, m, 2);
  held.push({ ...r, event: 'start' });
  await new Promise((resolve) => setImmediate(resolve));
  held.push({ ...r, event: 'start' });
  t.equal(held.push({ ...r, event: 'start' }), false, 'in-flight records count');
  t.equal(held.backlog(), 2);
});
