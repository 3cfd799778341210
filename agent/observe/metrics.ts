// Traffic observability metrics: interface counters of the internal and external interfaces,
// conntrack table usage and drops, current SNAT/forwarded flows and the SNAT recorder's counters.
// Everything is read at scrape time (in the metrics' get callbacks); one read of the kernel per scrape
// serves every metric (the snapshot is shared for a second).
import type { Registry } from 'prom-client';
import type { SnatStatus } from '../snat/types.js';
import { readConntrackDrops, readConntrackUsage, CONNTRACK_STAT, PROC_SYS, type ConntrackDrops, type ConntrackUsage } from './conntrack-usage.js';
import { readInterfaceStats, SYS_CLASS_NET, type InterfaceCounter, type InterfaceStats } from './interface-stats.js';

export type InterfaceRole = 'internal' | 'external';

export interface ObservabilitySources {
  /** The gateway's interfaces (from the discovered facts), asked at every scrape. */
  interfaces(): { name: string; role: InterfaceRole }[];
  /** The SNAT recorder's status; undefined/null when records are disabled. */
  snat?(): SnatStatus | null | undefined;
  /** A kernel read failed (the metric is left out of that scrape). */
  onError?(source: string, err: Error): void;
  /** Overridable for tests. */
  sysClassNet?: string;
  procSys?: string;
  conntrackStat?: string;
}

interface Snapshot {
  interfaces: { name: string; role: string; stats: InterfaceStats }[];
  usage?: ConntrackUsage;
  drops?: ConntrackDrops;
}

type Labels = Record<string, string>;
type Sample = [Labels, number];

const SNAPSHOT_TTL_MS = 1000;

const INTERFACE_METRICS: [InterfaceCounter, string, string][] = [
  ['rx_bytes', 'egress_agent_interface_receive_bytes_total', 'Bytes received on the gateway interface.'],
  ['tx_bytes', 'egress_agent_interface_transmit_bytes_total', 'Bytes transmitted on the gateway interface.'],
  ['rx_packets', 'egress_agent_interface_receive_packets_total', 'Packets received on the gateway interface.'],
  ['tx_packets', 'egress_agent_interface_transmit_packets_total', 'Packets transmitted on the gateway interface.'],
  ['rx_dropped', 'egress_agent_interface_receive_drops_total', 'Received packets dropped on the gateway interface.'],
  ['tx_dropped', 'egress_agent_interface_transmit_drops_total', 'Packets dropped while transmitting on the gateway interface.'],
  ['rx_errors', 'egress_agent_interface_receive_errors_total', 'Receive errors on the gateway interface.'],
  ['tx_errors', 'egress_agent_interface_transmit_errors_total', 'Transmit errors on the gateway interface.'],
];

export function registerObservabilityMetrics(registry: Registry, sources: ObservabilitySources): void {
  const fail = (source: string, err: unknown): undefined => {
    sources.onError?.(source, err as Error);
    return undefined;
  };

  async function readSnapshot(): Promise<Snapshot> {
    // One interface may serve both families: report it once (internal wins the label).
    const seen = new Map<string, InterfaceRole>();
    for (const i of sources.interfaces()) if (!seen.has(i.name) || i.role === 'internal') seen.set(i.name, i.role);
    const interfaces = (await Promise.all([...seen].map(async ([name, role]) => {
      const stats = await readInterfaceStats(name, sources.sysClassNet ?? SYS_CLASS_NET).catch((e) => fail(`interface ${name}`, e));
      return stats ? { name, role, stats } : undefined;
    }))).filter((x) => x !== undefined);
    const [usage, drops] = await Promise.all([
      readConntrackUsage(sources.procSys ?? PROC_SYS).catch((e) => fail('conntrack usage', e)),
      readConntrackDrops(sources.conntrackStat ?? CONNTRACK_STAT).catch((e) => fail('conntrack stat', e)),
    ]);
    return { interfaces, usage, drops };
  }

  let cached: { at: number; value: Promise<Snapshot> } | null = null;
  const snapshot = (): Promise<Snapshot> => {
    const now = performance.now();
    if (!cached || now - cached.at > SNAPSHOT_TTL_MS) cached = { at: now, value: readSnapshot() };
    return cached.value;
  };
  const snat = (): SnatStatus | undefined => sources.snat?.() ?? undefined;

  // Registered as plain collected metrics rather than prom-client Gauge/Counter objects: those
  // always print an unlabelled series (as 0) even when there is nothing to report, and an
  // unknown conntrack usage must be absent, not 0.
  function collected(type: 'gauge' | 'counter', name: string, help: string, samples: () => Promise<Sample[]> | Sample[]): void {
    const metric = {
      name, help, type, aggregator: 'sum',
      async get() {
        const values = (await samples()).map(([labels, value]) => ({ labels, value }));
        return { name, help, type, aggregator: 'sum', values };
      },
    };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
  const gauge = (name: string, help: string, samples: () => Promise<Sample[]> | Sample[]) => collected('gauge', name, help, samples);
  const counter = (name: string, help: string, samples: () => Promise<Sample[]> | Sample[]) => collected('counter', name, help, samples);
  const one = (v: number | undefined): Sample[] => (v === undefined ? [] : [[{}, v]]);

  for (const [key, name, help] of INTERFACE_METRICS) {
    counter(name, help, async () => (await snapshot()).interfaces.map((i) => [{ interface: i.name, role: i.role }, i.stats[key]]));
  }

  gauge('egress_agent_conntrack_entries', 'Entries in the conntrack table of the gateway\'s network namespace.', async () => one((await snapshot()).usage?.count));
  gauge('egress_agent_conntrack_entries_limit', 'Size limit of the conntrack table (net.netfilter.nf_conntrack_max).', async () => one((await snapshot()).usage?.max));
  gauge('egress_agent_conntrack_usage_ratio', 'Conntrack table usage (entries / limit). At 1 new flows are dropped: alert well before (e.g. > 0.8).', async () => {
    const u = (await snapshot()).usage;
    return one(u && u.max > 0 ? u.count / u.max : undefined);
  });
  counter('egress_agent_conntrack_drops_total', 'Conntrack drops: drop = packet dropped, early_drop = entry evicted for room, insert_failed = ' +
    'the entry could not be inserted (a clash; SNAT source-port exhaustion shows here, the kernel has no separate NAT counter).', async () => {
    const d = (await snapshot()).drops;
    return d ? Object.entries(d).map(([reason, n]): Sample => [{ reason }, n]) : [];
  });

  gauge('egress_agent_flows', 'Current flows through the gateway by class: snat (source translated) or forwarded (no-SNAT sources).', () => {
    const s = snat();
    return s ? [[{ class: 'snat' }, s.flows.snat], [{ class: 'forwarded' }, s.flows.forwarded]] : [];
  });
  counter('egress_agent_flows_started_total', 'Flows started through the gateway, by class.', () => {
    const s = snat();
    return s ? [[{ class: 'snat' }, s.flowsStarted.snat], [{ class: 'forwarded' }, s.flowsStarted.forwarded]] : [];
  });
  gauge('egress_agent_snat_recorder_up', 'Whether the SNAT record source (conntrack events) is running.', () => {
    const s = snat();
    return s ? one(s.running ? 1 : 0) : [];
  });
  counter('egress_agent_snat_records_written_total', 'SNAT record lines written to the record files.', () => one(snat()?.recordsWritten));
  counter('egress_agent_snat_records_dropped_total', 'SNAT record lines lost because the record file could not be written.', () => one(snat()?.recordsDropped));
  counter('egress_agent_snat_event_overflows_total', 'Kernel conntrack event queue overflows (ENOBUFS): events, so records, were lost.', () => one(snat()?.overflows));
  counter('egress_agent_snat_events_dropped_total', 'conntrack events the kernel dropped on the event socket (its drop counter): each is a lost start or end record.', () => {
    const d = snat()?.eventsDropped;
    return one(d === null ? undefined : d);
  });
  gauge('egress_agent_snat_last_overflow_timestamp_seconds', 'When the conntrack event queue last overflowed (Unix time).', () => {
    const at = snat()?.lastOverflowAt;
    return at ? one(Date.parse(at) / 1000) : [];
  });
  const portLabels = (u: SnatStatus['ports']['tightest'][number]): Labels => ({ proto: u.proto, snat_address: u.snat, destination: u.dst, destination_port: String(u.dport) });
  const portSeries = (f: (u: SnatStatus['ports']['tightest'][number]) => number) => (): Sample[] => (snat()?.ports.tightest ?? []).map((u) => [portLabels(u), f(u)]);
  gauge('egress_agent_snat_ports_in_use', 'SNAT source ports in use per SNAT address x destination address:port x protocol (the tightest keys only).', portSeries((u) => u.inUse));
  gauge('egress_agent_snat_ports_available', 'SNAT source ports still free for that key: new flows to it fail (insert_failed) near 0.', portSeries((u) => u.available));
  gauge('egress_agent_snat_port_usage_ratio', 'SNAT source ports in use / the SNAT rule\'s port range, per key (the tightest keys only).', portSeries((u) => u.ratio));
  gauge('egress_agent_snat_port_usage_max_ratio', 'The tightest key\'s ports in use / port range (0 without SNAT flows): alert above egress_agent_snat_port_usage_warn_ratio.', () => {
    const p = snat()?.ports;
    return p ? one(p.tightest[0]?.ratio ?? 0) : [];
  });
  gauge('egress_agent_snat_port_usage_warn_ratio', 'The configured warning threshold of egress_agent_snat_port_usage_max_ratio (snatRecords.portWarnPercent / 100).', () => one(snat()?.ports.warnRatio));
  gauge('egress_agent_snat_port_range_size', 'Source ports the SNAT rule can allocate per key (its --to-ports range, else the kernel\'s 1024-65535).', () => one(snat()?.ports.range));
  counter('egress_agent_snat_port_warnings_total', 'Warnings logged because a key\'s SNAT ports in use crossed the warning ratio.', () => one(snat()?.ports.warnings));
  counter('egress_agent_snat_records_recovered_total', 'Start records recovered from a conntrack table dump after events were lost (marked "recovered").', () => one(snat()?.recovered));
  counter('egress_agent_snat_parse_errors_total', 'conntrack events that could not be parsed.', () => one(snat()?.parseErrors));
  counter('egress_agent_snat_recorder_restarts_total', 'Restarts of the conntrack event source after it ended unexpectedly.', () => one(snat()?.restarts));
}
