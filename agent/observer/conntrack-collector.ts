// Conntrack metrics and flow-log records from the kernel's events, with upstream's semantics
// (pkg/vegobserver): a bounded cache of NAT flows keyed by (zone, conntrack id) in least recently
// seen order, the active/started/ended gauges and counters, packet and byte deltas when accounting
// is on, and a start record at NEW / an end record at DESTROY through the filters and the rate
// limit. Pure: events in, metrics and records out; the socket is conntrack-source.ts.
import type { ObserverConfig, FlowEvent } from './config.js';
import type { FlowFilter } from './filter.js';
import { accountingAvailable, metricNatType, recordFromFlow, type CtFlow, type FlowRecord, type Identity } from './flow.js';
import type { ObserverMetrics } from './metrics.js';
import type { TokenBucket } from './rate-limit.js';

/** Upstream's cache capacity (DefaultCacheCapacity): ~200 bytes an entry here, ~13 MiB when full. */
export const DEFAULT_CACHE_CAPACITY = 65536;

/** What the collector reads at each event; replaced as a whole on a config reload. */
export interface RuntimeSettings {
  config: ObserverConfig;
  filter: FlowFilter;
  limiter: TokenBucket;
}

interface Totals {
  op: number;
  ob: number;
  rp: number;
  rb: number;
}

interface CacheEntry {
  /** Interned flow labels (identity + family, protocol, NAT type). */
  labels: Record<string, string>;
  totals: Totals;
  /** A NEW event was seen (so a later NEW for the same key does not start it twice). */
  observedStart: boolean;
}

const ZERO: Totals = { op: 0, ob: 0, rp: 0, rb: 0 };

/** Go's counterDelta: a counter that went back (a new flow under a reused id) counts from zero. */
const delta = (prev: number, cur: number) => (cur >= prev ? cur - prev : cur);

function totalsOf(f: CtFlow): Totals {
  const c = f.counters!;
  return { op: c.orig.packets, ob: c.orig.bytes, rp: c.reply.packets, rb: c.reply.bytes };
}

export class ConntrackCollector {
  /** Map iteration order is insertion order: re-inserting on every event makes the first key the least recently seen. */
  private cache = new Map<string, CacheEntry>();
  private readonly interned = new Map<string, Record<string, string>>();
  /** Label objects made once (prom-client hashes them on every update; building them each time cost more). */
  private readonly eventLabels: Record<'new' | 'update' | 'end', Record<string, string>>;
  private accountingSeen = false;

  constructor(
    private readonly metrics: ObserverMetrics,
    private readonly identity: Identity,
    private readonly settings: () => RuntimeSettings,
    /** Takes a record that passed the filters and the rate limit (the bounded log queue). */
    private readonly emit: (record: FlowRecord) => void,
    private readonly capacity = DEFAULT_CACHE_CAPACITY,
    private readonly now: () => Date = () => new Date(),
  ) {
    metrics.cacheCapacity.set(metrics.labels(), capacity);
    this.eventLabels = { new: metrics.labels({ event: 'new' }), update: metrics.labels({ event: 'update' }), end: metrics.labels({ event: 'end' }) };
  }

  size(): number {
    return this.cache.size;
  }

  /** The cache gauge, set when scraped rather than on every event. */
  publish(): void {
    this.metrics.cacheEntries.set(this.metrics.labels(), this.cache.size);
  }

  /**
   * Starts from a table dump (session start, or after lost events): the cache becomes the dump's
   * NAT flows. Flows already known keep their totals (only the growth is counted); flows that
   * ended while events were lost leave the active gauge. No records are written for dump entries.
   */
  initialize(flows: Iterable<CtFlow>): void {
    const metricsOn = this.settings().config.conntrackMetrics;
    const previous = this.cache;
    this.cache = new Map();
    for (const f of flows) {
      const record = recordFromFlow(f, this.identity, this.now());
      if (!record) continue;
      const key = `${f.zone}/${f.id}`;
      const old = previous.get(key);
      const labels = this.labelsOf(record);
      if (old) previous.delete(key);
      if (this.cache.size >= this.capacity) this.evictOldest(metricsOn);
      this.cache.set(key, { labels, totals: old?.totals ?? ZERO, observedStart: old?.observedStart ?? false });
      if (metricsOn) {
        if (old) this.metrics.activeFlows.dec(old.labels);
        this.metrics.activeFlows.inc(labels);
        this.addCounters(this.cache.get(key)!, f);
      }
    }
    if (metricsOn) for (const gone of previous.values()) this.metrics.activeFlows.dec(gone.labels);
  }

  process(f: CtFlow): void {
    if (f.type === 'entry') return;
    const record = recordFromFlow(f, this.identity, this.now());
    if (!record) return;
    const s = this.settings();
    const metricsOn = s.config.conntrackMetrics;
    const key = `${f.zone}/${f.id}`;
    const entry = this.cache.get(key);
    const labels = this.labelsOf(record);
    if (f.type === 'destroy') {
      this.metrics.conntrackEvents.inc(this.eventLabels.end);
      if (entry) {
        if (metricsOn) {
          this.addCounters(entry, f);
          this.metrics.activeFlows.dec(entry.labels);
        }
        this.cache.delete(key);
      }
      if (metricsOn) this.metrics.endedFlows.inc(labels);
      this.log(record, 'end', s);
    } else {
      const isNew = entry === undefined;
      let current: CacheEntry;
      if (isNew) {
        if (this.cache.size >= this.capacity) this.evictOldest(metricsOn);
        current = { labels, totals: ZERO, observedStart: f.type === 'new' };
        if (metricsOn) this.metrics.activeFlows.inc(labels);
      } else {
        current = entry;
        this.cache.delete(key); // re-inserted below: now the most recently seen
        if (metricsOn && current.labels !== labels) {
          this.metrics.activeFlows.dec(current.labels);
          this.metrics.activeFlows.inc(labels);
        }
        current.labels = labels;
      }
      if (metricsOn) this.addCounters(current, f);
      this.cache.set(key, current);
      this.metrics.conntrackEvents.inc(this.eventLabels[f.type]);
      if (f.type === 'new' && (isNew || !current.observedStart)) {
        current.observedStart = true;
        if (metricsOn) this.metrics.startedFlows.inc(labels);
        this.log(record, 'start', s);
      }
    }
  }

  /** Forgets every flow (collector stopped, or conntrack metrics switched). */
  clear(): void {
    this.cache = new Map();
    this.accountingSeen = false;
    this.metrics.accounting.set(this.metrics.labels(), 0);
    this.metrics.activeFlows.reset();
  }

  private evictOldest(metricsOn: boolean): void {
    const [oldKey, old] = this.cache.entries().next().value!;
    this.cache.delete(oldKey);
    if (metricsOn) this.metrics.activeFlows.dec(old.labels);
    this.metrics.cacheEvictions.inc(this.metrics.labels());
  }

  private log(record: FlowRecord, event: FlowEvent, s: RuntimeSettings): void {
    const log = s.config.log;
    if (!log.enabled || (log.events.length > 0 && !log.events.includes(event))) return;
    record.event = event;
    if (!s.filter.match(record)) return;
    if (!s.limiter.allow()) {
      this.metrics.logDrops.inc(this.metrics.labels({ reason: 'rate_limit' }));
      return;
    }
    this.emit(record);
  }

  private addCounters(entry: CacheEntry, f: CtFlow): void {
    if (!accountingAvailable(f)) return;
    if (!this.accountingSeen) {
      this.accountingSeen = true;
      this.metrics.accounting.set(this.metrics.labels(), 1);
    }
    const cur = totalsOf(f);
    const prev = entry.totals;
    const orig = { ...entry.labels, direction: 'original' };
    const reply = { ...entry.labels, direction: 'reply' };
    this.metrics.packets.inc(orig, delta(prev.op, cur.op));
    this.metrics.bytes.inc(orig, delta(prev.ob, cur.ob));
    this.metrics.packets.inc(reply, delta(prev.rp, cur.rp));
    this.metrics.bytes.inc(reply, delta(prev.rb, cur.rb));
    entry.totals = cur;
  }

  private labelsOf(r: FlowRecord): Record<string, string> {
    const nat = metricNatType(r.natType);
    const k = `${r.addressFamily}|${r.protocol}|${nat}`;
    let l = this.interned.get(k);
    if (!l) {
      l = this.metrics.labels({ address_family: r.addressFamily, protocol: r.protocol, nat_type: nat });
      this.interned.set(k, l);
    }
    return l;
  }
}
