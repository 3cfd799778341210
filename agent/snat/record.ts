// The retained record format (one JSON object per line) and its reverse, used by lookups.
import { RECORD_SCHEMA_VERSION, type ConntrackEvent, type GapRecord, type RecordLine, type SnatRecord } from './types.js';

function isoFromNs(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

/**
 * The record for a SNAT flow event. Start records carry the time the agent received the NEW event
 * (the kernel does not timestamp NEW events); end records carry the kernel's start/stop times,
 * falling back to the receive time for the end when nf_conntrack_timestamp was off for the flow.
 */
export function toRecord(ev: ConntrackEvent, receivedAtMs: number): SnatRecord {
  const isEnd = ev.type === 'destroy';
  let start: string | null;
  let end: string | null = null;
  let durationMs: number | null = null;
  if (isEnd) {
    start = ev.startNs !== undefined ? isoFromNs(ev.startNs) : null;
    end = ev.stopNs !== undefined ? isoFromNs(ev.stopNs) : new Date(receivedAtMs).toISOString();
    if (ev.startNs !== undefined && ev.stopNs !== undefined) {
      // µs precision; BigInt because ns since the epoch exceed 2^53.
      durationMs = Number((BigInt(ev.stopNs) - BigInt(ev.startNs)) / 1000n) / 1000;
    }
  } else {
    // NEW events carry no kernel time; dump entries (recovered starts) do.
    start = ev.startNs !== undefined ? isoFromNs(ev.startNs) : new Date(receivedAtMs).toISOString();
  }
  const c = isEnd ? ev.counters : undefined;
  return {
    schemaVersion: RECORD_SCHEMA_VERSION,
    event: isEnd ? 'end' : 'start',
    proto: ev.proto,
    original: { src: ev.original.src, sport: ev.original.sport, dst: ev.original.dst, dport: ev.original.dport },
    translated: { src: ev.reply.dst, sport: ev.reply.dport },
    start,
    end,
    durationMs,
    bytes: c ? { orig: c.orig.bytes, reply: c.reply.bytes } : null,
    packets: c ? { orig: c.orig.packets, reply: c.reply.packets } : null,
    id: ev.id,
  };
}

export function gapRecord(reason: GapRecord['reason'], firstMs: number, lastMs: number, count: number): GapRecord {
  return { schemaVersion: RECORD_SCHEMA_VERSION, event: 'gap', reason, start: new Date(firstMs).toISOString(), end: new Date(lastMs).toISOString(), count };
}

export function formatRecord(r: RecordLine): string {
  return `${JSON.stringify(r)}\n`;
}

const isPort = (v: unknown): v is number | null => v === null || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535);
const isTime = (v: unknown): v is string | null => v === null || (typeof v === 'string' && !Number.isNaN(Date.parse(v)));
const isPair = (v: unknown): boolean => v === null || (typeof v === 'object' && Number.isFinite((v as Record<string, unknown>).orig) && Number.isFinite((v as Record<string, unknown>).reply));

/** A record line read back from a file; undefined when the line is not a valid version-1 record. */
export function parseRecordLine(line: string): RecordLine | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (r.event === 'gap') {
    const gapOk = r.schemaVersion === RECORD_SCHEMA_VERSION && (r.reason === 'overflow' || r.reason === 'restart') &&
      isTime(r.start) && isTime(r.end) && r.start !== null && r.end !== null && Number.isInteger(r.count);
    return gapOk ? (v as GapRecord) : undefined;
  }
  const o = r.original as Record<string, unknown> | undefined;
  const t = r.translated as Record<string, unknown> | undefined;
  const ok =
    r.schemaVersion === RECORD_SCHEMA_VERSION &&
    (r.event === 'start' || r.event === 'end') &&
    typeof r.proto === 'string' &&
    typeof o === 'object' && o !== null && typeof o.src === 'string' && typeof o.dst === 'string' && isPort(o.sport) && isPort(o.dport) &&
    typeof t === 'object' && t !== null && typeof t.src === 'string' && isPort(t.sport) &&
    isTime(r.start) && isTime(r.end) &&
    (r.durationMs === null || Number.isFinite(r.durationMs)) &&
    isPair(r.bytes) && isPair(r.packets) &&
    Number.isInteger(r.id);
  return ok ? (v as SnatRecord) : undefined;
}
