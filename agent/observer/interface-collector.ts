// Interface metrics (spec.observability.interfaceMetrics): the gateway's internal interface (the
// Multus network-status entry marked default) and external one (the entry named as the config's
// externalNetwork), their counters read from sysfs at every scrape and added as deltas to
// upstream's counters, as upstream does from /proc/net/dev. The network status is read until both
// interfaces are resolved; a missing or bad file is an error of this collector only.
import { readFile } from 'node:fs/promises';
import { readInterfaceStats, SYS_CLASS_NET, type InterfaceStats } from '../observe/interface-stats.js';
import type { ObserverMetrics } from './metrics.js';

interface NetworkStatusEntry {
  name?: unknown;
  interface?: unknown;
  default?: unknown;
}

export interface ResolvedInterfaces {
  internal: string;
  external: string;
}

/** Parses the Multus `k8s.v1.cni.cncf.io/network-status` annotation; throws naming what is missing. */
export function resolveInterfaces(text: string, externalNetwork: string, path: string): ResolvedInterfaces {
  let statuses: unknown;
  try {
    statuses = JSON.parse(text);
  } catch (err) {
    throw new Error(`decode Multus network status ${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(statuses)) throw new Error(`decode Multus network status ${path}: expected a JSON list`);
  let internal = '';
  let external = '';
  for (const s of statuses as NetworkStatusEntry[]) {
    if (s === null || typeof s !== 'object' || typeof s.interface !== 'string' || s.interface === '') continue;
    if (s.default === true) internal = s.interface;
    if (s.name === externalNetwork) external = s.interface;
  }
  if (internal === '' || external === '') {
    throw new Error(`could not resolve internal and external interfaces from Multus network status ${path} (external network ${JSON.stringify(externalNetwork)}): ${internal === '' ? 'no default network' : `no entry named ${JSON.stringify(externalNetwork)}`}`);
  }
  return { internal, external };
}

const delta = (prev: number, cur: number) => (cur >= prev ? cur - prev : cur);

export class InterfaceCollector {
  private resolved: ResolvedInterfaces | undefined;
  private previous = new Map<string, InterfaceStats>();

  constructor(private readonly networkStatusPath: string, private readonly sysClassNet = SYS_CLASS_NET) {}

  /** Adds the counters' growth since the last scrape; throws (the caller counts the error) on any failure. */
  async update(externalNetwork: string, metrics: ObserverMetrics): Promise<void> {
    if (!this.resolved) {
      let text: string;
      try {
        text = await readFile(this.networkStatusPath, 'utf8');
      } catch (err) {
        throw new Error(`read Multus network status: ${(err as Error).message}`);
      }
      this.resolved = resolveInterfaces(text, externalNetwork, this.networkStatusPath);
    }
    const { internal, external } = this.resolved;
    const read = await Promise.all([internal, external].map((name) => readInterfaceStats(name, this.sysClassNet)));
    for (const [i, type] of (['internal', 'external'] as const).entries()) {
      const name = i === 0 ? internal : external;
      const cur = read[i];
      if (!cur) throw new Error(`interface ${JSON.stringify(name)} (${type}) does not exist in this network namespace`);
      const prev = this.previous.get(name);
      const d = (k: keyof InterfaceStats) => delta(prev?.[k] ?? 0, cur[k]);
      const labels = metrics.labels({ interface: name, type });
      metrics.interfaceCounters.rx_bytes.inc(labels, d('rx_bytes'));
      metrics.interfaceCounters.tx_bytes.inc(labels, d('tx_bytes'));
      metrics.interfaceCounters.rx_packets.inc(labels, d('rx_packets'));
      metrics.interfaceCounters.tx_packets.inc(labels, d('tx_packets'));
      metrics.interfaceDrops.inc({ ...labels, direction: 'rx' }, d('rx_dropped'));
      metrics.interfaceDrops.inc({ ...labels, direction: 'tx' }, d('tx_dropped'));
      metrics.interfaceErrors.inc({ ...labels, direction: 'rx' }, d('rx_errors'));
      metrics.interfaceErrors.inc({ ...labels, direction: 'tx' }, d('tx_errors'));
      this.previous.set(name, cur);
    }
  }
}
