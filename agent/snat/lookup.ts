// Answers "which internal source was behind this translated address:port at that time?" and "what
// did this source do?" from the retained record files. Files are read newest first, line by line
// (never a whole file in memory); the start and end records of one flow are merged into one answer.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { canonicalIp } from '../lib/ip.js';
import { listRecordFiles } from './record-files.js';
import { parseRecordLine } from './record.js';
import type { GapRecord, SnatRecord } from './types.js';

/** One flow as the records tell it. `end` null: no end record retained (still open, or its DESTROY was lost). */
export interface SnatFlow {
  proto: string;
  original: SnatRecord['original'];
  translated: SnatRecord['translated'];
  start: string | null;
  end: string | null;
  durationMs: number | null;
  bytes: SnatRecord['bytes'];
  packets: SnatRecord['packets'];
  id: number;
  /** Which records of the flow were found. */
  records: SnatRecord['event'][];
}

export interface LookupResult {
  flows: SnatFlow[];
  /** More flows matched than the limit; the oldest were left out. */
  truncated: boolean;
  /** Loss markers in the files read: answers about those periods may be incomplete. */
  gaps: GapRecord[];
  filesRead: number;
  /** Lines that are not valid records: lines cut by a crash, and malformed lines about the address asked for. */
  invalidLines: number;
  /** Creation time of the oldest retained file: nothing older can be answered. */
  retainedSince: string | null;
}

export interface LookupOptions {
  /** Most flows returned, newest first (default 100). */
  limit?: number;
  /** Slack around the asked time(s), for clocks and event delivery (default 1000 ms). */
  toleranceMs?: number;
}

const SAME_FLOW_MS = 5000;
const MAX_GAPS = 1000;

function flowKey(r: SnatRecord): string {
  const o = r.original;
  return `${r.id}|${r.proto}|${o.src}|${o.sport}|${o.dst}|${o.dport}|${r.translated.src}|${r.translated.sport}`;
}

function time(iso: string | null): number | null {
  return iso === null ? null : Date.parse(iso);
}

/** Groups records into flows: a start and an end record with the same key and nearby start times are one flow. */
function mergeRecords(records: SnatRecord[]): SnatFlow[] {
  const byKey = new Map<string, SnatFlow[]>();
  for (const r of records) {
    const key = flowKey(r);
    const list = byKey.get(key) ?? [];
    byKey.set(key, list);
    const rs = time(r.start);
    const match = list.find((f) => {
      if (f.records.includes(r.event)) return false;
      const fs = time(f.start);
      return fs === null || rs === null || Math.abs(fs - rs) <= SAME_FLOW_MS;
    });
    if (!match) {
      list.push({ proto: r.proto, original: r.original, translated: r.translated, start: r.start, end: r.end, durationMs: r.durationMs,
        bytes: r.bytes, packets: r.packets, id: r.id, records: [r.event] });
      continue;
    }
    match.records.push(r.event);
    if (r.event === 'end') {
      // The end record has the kernel's start time; the start record only the receive time.
      match.start = r.start ?? match.start;
      match.end = r.end;
      match.durationMs = r.durationMs;
      match.bytes = r.bytes;
      match.packets = r.packets;
    }
  }
  return [...byKey.values()].flat();
}

function overlaps(f: SnatFlow, from: number, to: number): boolean {
  const s = time(f.start) ?? -Infinity;
  const e = time(f.end) ?? Infinity;
  return s <= to && e >= from;
}

function newestFirst(a: SnatFlow, b: SnatFlow): number {
  const ta = time(a.start) ?? time(a.end) ?? 0;
  const tb = time(b.start) ?? time(b.end) ?? 0;
  return tb - ta;
}

export class SnatRecordStore {
  constructor(readonly dir: string) {}

  /** Flows whose source was translated to ip:port; with `at`, only those open at that time. */
  async lookupByTranslated(ip: string, port: number, at?: Date, opts: LookupOptions = {}): Promise<LookupResult> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port ${port} is not 0-65535`);
    const addr = canonicalIp(ip);
    const tol = opts.toleranceMs ?? 1000;
    const window = at ? ([at.getTime() - tol, at.getTime() + tol] as const) : undefined;
    return this.scan(
      `"${addr}"`,
      (r) => r.translated.src === addr && r.translated.sport === port,
      (f) => !window || overlaps(f, window[0], window[1]),
      opts,
    );
  }

  /** Flows from the internal source address ip, optionally only those overlapping [from, to]. */
  async lookupBySource(ip: string, range: { from?: Date; to?: Date } = {}, opts: LookupOptions = {}): Promise<LookupResult> {
    const addr = canonicalIp(ip);
    const tol = opts.toleranceMs ?? 1000;
    const from = range.from ? range.from.getTime() - tol : -Infinity;
    const to = range.to ? range.to.getTime() + tol : Infinity;
    if (from > to) throw new RangeError(`from (${range.from?.toISOString()}) is after to (${range.to?.toISOString()})`);
    return this.scan(`"${addr}"`, (r) => r.original.src === addr, (f) => overlaps(f, from, to), opts);
  }

  private async scan(needle: string, match: (r: SnatRecord) => boolean, keep: (f: SnatFlow) => boolean, opts: LookupOptions): Promise<LookupResult> {
    const limit = opts.limit ?? 100;
    const files = await listRecordFiles(this.dir);
    const records: SnatRecord[] = [];
    const gaps: GapRecord[] = [];
    let invalidLines = 0;
    let filesRead = 0;
    let truncated = false;
    let flows: SnatFlow[] = [];
    for (const file of files) {
      const lines = createInterface({ input: createReadStream(file.path, { encoding: 'utf8' }), crlfDelay: Infinity });
      try {
        for await (const line of lines) {
          if (line === '') continue;
          // Every record ends with "}": anything else was cut (a crash mid-write), whatever address it held.
          if (!line.endsWith('}')) {
            invalidLines++;
            continue;
          }
          const isGap = line.includes('"event":"gap"');
          // Cheap substring test first: most lines are about other addresses.
          if (!isGap && !line.includes(needle)) continue;
          const r = parseRecordLine(line);
          if (!r) invalidLines++;
          else if (r.event === 'gap') {
            if (gaps.length < MAX_GAPS) gaps.push(r);
          } else if (match(r)) records.push(r);
        }
      } catch (err) {
        // Rotation may delete the oldest file while we read it: what was read still counts.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`reading record file ${file.path}: ${(err as Error).message}`, { cause: err });
      }
      filesRead++;
      flows = mergeRecords(records).filter(keep);
      if (flows.length > limit && filesRead < files.length) {
        truncated = true;
        break;
      }
    }
    flows.sort(newestFirst);
    if (flows.length > limit) truncated = true;
    const oldest = files[files.length - 1];
    return {
      flows: flows.slice(0, limit),
      truncated,
      gaps,
      filesRead,
      invalidLines,
      retainedSince: oldest ? new Date(oldest.createdMs).toISOString() : null,
    };
  }
}
