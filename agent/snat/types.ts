// Domain types of the SNAT mapping records: what the kernel tells us about a flow (a conntrack
// event), how we classify it, and the JSON record we retain for lookups.
import type { PortUsage } from './port-capacity.js';

/** One direction of a conntrack tuple. Ports are null for protocols without ports (ICMP, GRE...). */
export interface TupleSide {
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
}

export interface Counters {
  packets: number;
  bytes: number;
}

/**
 * A conntrack NEW, UPDATE (only for a reader subscribed to the update group) or DESTROY event, or one
 * entry of a table dump, from the addon's reader or `conntrack -o xml`.
 */
export interface ConntrackEvent {
  type: 'new' | 'destroy' | 'update' | 'entry';
  family: 4 | 6;
  /** Protocol name as conntrack prints it ("tcp", "udp", "icmp", "icmpv6", "sctp", ...). */
  proto: string;
  original: TupleSide;
  reply: TupleSide;
  /** Present when net.netfilter.nf_conntrack_acct was 1 when the flow was created. */
  counters?: { orig: Counters; reply: Counters };
  /**
   * Kernel timestamps, ns since the epoch as decimal text (they exceed 2^53). Present on DESTROY
   * when net.netfilter.nf_conntrack_timestamp was 1 when the flow was created.
   */
  startNs?: string;
  stopNs?: string;
  /** Kernel conntrack id (stable for the life of the entry, reused afterwards). */
  id: number;
  /** Conntrack zone id (CTA_ZONE; the kernel omits the default zone 0). Set by the addon's reader. */
  zone?: number;
  /** Connection mark (CTA_MARK; the kernel omits a zero mark on events). Set by the addon's reader. */
  mark?: number;
  /** IPS_* status bits (CTA_STATUS), when the kernel sent them. */
  status?: number;
}

/**
 * snat: the reply tuple's destination differs from the original source (address or port), i.e. the
 * gateway rewrote the source. forwarded: passed through untranslated (no-SNAT sources).
 * local: the gateway itself is an endpoint (BFD, probes): neither a record nor a forwarded flow.
 */
export type FlowClass = 'snat' | 'forwarded' | 'local';

export const RECORD_SCHEMA_VERSION = 1;

/** One retained JSON line. "start" at NEW, "end" at DESTROY (with counters and kernel times). */
export interface SnatRecord {
  schemaVersion: typeof RECORD_SCHEMA_VERSION;
  event: 'start' | 'end';
  proto: string;
  original: { src: string; sport: number | null; dst: string; dport: number | null };
  translated: { src: string; sport: number | null };
  /** ISO 8601. end records: kernel start time; start records: when the agent received the event. */
  start: string | null;
  /** ISO 8601; null on start records. */
  end: string | null;
  durationMs: number | null;
  bytes: { orig: number; reply: number } | null;
  packets: { orig: number; reply: number } | null;
  id: number;
  /**
   * A start record written from a table dump after events were lost (its NEW event was among them):
   * `start` is the kernel's start time when timestamps were on, else the dump's time.
   */
  recovered?: true;
}

/**
 * A marker written where events were lost, so the files (and a log shipper reading stdout) show
 * the gap: the kernel's event queue overflowed, or the event process had to be restarted.
 */
export interface GapRecord {
  schemaVersion: typeof RECORD_SCHEMA_VERSION;
  event: 'gap';
  reason: 'overflow' | 'restart';
  /** First and last loss report covered by this marker (ISO 8601). */
  start: string;
  end: string;
  /** Loss reports covered (each ENOBUFS report may stand for many lost events). */
  count: number;
}

export type RecordLine = SnatRecord | GapRecord;

/** What the recorder reports to /status and metrics. */
export interface SnatStatus {
  running: boolean;
  dir: string;
  currentFile: string | null;
  /** Receive buffer of the kernel's event socket as the kernel reports it (null: unknown). */
  socketBufferBytes: number | null;
  /** Events the kernel could not queue on the event socket (its drop counter); null: unknown. */
  eventsDropped: number | null;
  eventsReceived: number;
  recordsWritten: number;
  /** Records lost because the file could not be written (disk full, ...). */
  recordsDropped: number;
  /** ENOBUFS reports: the kernel's event queue overflowed and events were lost (each report may cover many). */
  overflows: number;
  lastOverflowAt: string | null;
  parseErrors: number;
  /** Unexpected exits of the conntrack event process (it is restarted). */
  restarts: number;
  lastError: string | null;
  /** Current flows by class (tracked from events; resynchronised from a table dump). */
  flows: { snat: number; forwarded: number };
  /** Flows seen starting since the agent started, by class. */
  flowsStarted: { snat: number; forwarded: number };
  /** Start records recovered from table dumps after losses, whose NEW event never came (it was lost). */
  recovered: number;
  /** SNAT source-port capacity: the NAT rule's range per key, the warning ratio, and the tightest keys. */
  ports: { range: number; warnRatio: number; warnings: number; tightest: PortUsage[] };
}
