// The retained record format (one JSON object per line) and its reverse, used by lookups.
import { RECORD_SCHEMA_VERSION, type ConntrackEvent, type GapRecord, type RecordLine, type SnatRecord } from './types.js';

// Per-event costs matter at 80,000 events/s: no BigInt arithmetic (µs since the epoch fit a double
// exactly), and Date#toISOString only once per second of time (the rest is the milliseconds).
let lastSecond = NaN;
let lastPrefix = '';
function iso(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "2026-11-26T14:17:10."
  }
  const frac = ms - second * 1000;
  return `${lastPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

/** Nanoseconds since the epoch (decimal text) to whole µs. */
function usFromNs(ns: string): number {
  return ns.length > 3 ? Number(ns.slice(0, -3)) : 0;
}

function isoFromNs(ns: string): string {
  return iso(Math.floor(usFromNs(ns) / 1000));
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
    end = ev.stopNs !== undefined ? isoFromNs(ev.stopNs) : iso(receivedAtMs);
    if (ev.startNs !== undefined && ev.stopNs !== undefined) durationMs = (usFromNs(ev.stopNs) - usFromNs(ev.startNs)) / 1000; // µs precision
  } else {
    // NEW events carry no kernel time; dump entries (recovered starts) do.
    start = ev.startNs !== undefined ? isoFromNs(ev.startNs) : iso(receivedAtMs);
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

const str = (v: string | null): string => (v === null ? 'null' : `"${v}"`);
const pair = (v: { orig: number; reply: number } | null): string => (v === null ? 'null' : `{"orig":${v.orig},"reply":${v.reply}}`);

/**
 * One JSON line. SNAT records are written field by field (JSON.stringify was the recorder's largest
 * cost at 40,000 flows/s): their strings are addresses, ISO times and protocol names, which need no
 * escaping; the key order is JSON.stringify's, so the lines are the same.
 */
export function formatRecord(r: RecordLine): string {
  if (r.event === 'gap') return `${JSON.stringify(r)}\n`;
  const o = r.original;
  return `{"schemaVersion":${r.schemaVersion},"event":"${r.event}","proto":"${r.proto}",` +
    `"original":{"src":"${o.src}","sport":${o.sport},"dst":"${o.dst}","dport":${o.dport}},"translated":{"src":"${r.translated.src}","sport":${r.translated.sport}},` +
    `"start":${str(r.start)},"end":${str(r.end)},"durationMs":${r.durationMs},"bytes":${pair(r.bytes)},"packets":${pair(r.packets)},"id":${r.id}` +
    `${r.recovered ? ',"recovered":true' : ''}}\n`;
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
