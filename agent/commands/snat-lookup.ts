// `egress-agent snat lookup`: answers from the retained SNAT record files directly, so it works
// without the daemon (e.g. from a debug container sharing the record volume).
//   --translated IP:PORT [--at TIME]   which internal source was behind this address:port
//   --source IP [--from TIME] [--to TIME]   what this internal source did
// Exit: 0 = flows found, 1 = none found, 2 = bad input or unreadable records.
import type { GlobalOptions } from '../lib/program.js';
import { canonicalIp } from '../lib/ip.js';
import { DEFAULT_RECORD_DIR } from '../config/snat-records.js';
import { SnatRecordStore, type LookupResult, type SnatFlow } from '../snat/lookup.js';

export interface SnatLookupOptions {
  translated?: string;
  at?: string;
  source?: string;
  from?: string;
  to?: string;
  json?: boolean;
  records?: string;
  limit?: string;
}

class UsageError extends Error {}

/** "IP:PORT", IPv6 in brackets: "[fd00::1]:41234". */
export function parseAddressPort(text: string): { ip: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) throw new UsageError(`--translated "${text}": expected IP:PORT (IPv6 in brackets: [fd00::1]:41234)`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--translated "${text}": port ${port} is not 0-65535`);
  return { ip: checkIp('--translated', text, m[1]!), port };
}

function checkIp(flag: string, text: string, ip: string): string {
  try {
    return canonicalIp(ip);
  } catch (err) {
    throw new UsageError(`${flag} "${text}": ${(err as Error).message}`);
  }
}

/** ISO 8601 date-time; without a zone it is local time (UTC in a Pod). */
export function parseTime(flag: string, text: string): Date {
  const t = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text.replace(' ', 'T')) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`${flag} "${text}": not an ISO 8601 time (e.g. 2026-11-26T03:12:00Z)`);
  return new Date(t);
}

function endpoint(ip: string, port: number | null): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === null ? host : `${host}:${port}`;
}

function table(flows: SnatFlow[]): string {
  const header = ['START', 'END', 'PROTO', 'SOURCE', 'DESTINATION', 'TRANSLATED', 'BYTES O/R', 'PACKETS O/R'];
  const rows = flows.map((f) => [
    f.start ?? '-',
    f.end ?? (f.records.includes('end') ? '-' : 'open'),
    f.proto,
    endpoint(f.original.src, f.original.sport),
    endpoint(f.original.dst, f.original.dport),
    endpoint(f.translated.src, f.translated.sport),
    f.bytes ? `${f.bytes.orig}/${f.bytes.reply}` : '-',
    f.packets ? `${f.packets.orig}/${f.packets.reply}` : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function warnings(r: LookupResult, asked: Date | undefined): string[] {
  const out: string[] = [];
  if (r.filesRead === 0) out.push('no record files found');
  if (asked && r.retainedSince && asked.getTime() < Date.parse(r.retainedSince)) out.push(`records are retained only since ${r.retainedSince}`);
  if (r.gaps.length > 0) {
    const n = r.gaps.reduce((s, g) => s + g.count, 0);
    out.push(`events were lost ${n} time(s) between ${r.gaps[r.gaps.length - 1]!.start} and ${r.gaps[0]!.end} (${[...new Set(r.gaps.map((g) => g.reason))].join(', ')}): answers about those periods may be incomplete`);
  }
  if (r.truncated) out.push('more flows matched than shown (use --limit)');
  if (r.invalidLines > 0) out.push(`${r.invalidLines} unreadable record line(s) skipped`);
  return out;
}

export default async function snatLookup(_args: string[], opts: SnatLookupOptions, _global: GlobalOptions): Promise<number> {
  let result: LookupResult;
  let asked: Date | undefined;
  try {
    if ((opts.translated === undefined) === (opts.source === undefined)) throw new UsageError('give exactly one of --translated IP:PORT or --source IP');
    if (opts.translated !== undefined && (opts.from !== undefined || opts.to !== undefined)) throw new UsageError('--from/--to go with --source; use --at with --translated');
    if (opts.source !== undefined && opts.at !== undefined) throw new UsageError('--at goes with --translated; use --from/--to with --source');
    const limit = opts.limit === undefined ? 100 : Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit "${opts.limit}": expected a positive integer`);
    const store = new SnatRecordStore(opts.records ?? DEFAULT_RECORD_DIR);
    if (opts.translated !== undefined) {
      const { ip, port } = parseAddressPort(opts.translated);
      asked = opts.at === undefined ? undefined : parseTime('--at', opts.at);
      result = await store.lookupByTranslated(ip, port, asked, { limit });
    } else {
      const ip = checkIp('--source', opts.source!, opts.source!);
      const from = opts.from === undefined ? undefined : parseTime('--from', opts.from);
      const to = opts.to === undefined ? undefined : parseTime('--to', opts.to);
      if (from && to && from > to) throw new UsageError(`--from ${opts.from} is after --to ${opts.to}`);
      asked = from;
      result = await store.lookupBySource(ip, { from, to }, { limit });
    }
  } catch (err) {
    process.stderr.write(`egress-agent snat lookup: ${(err as Error).message}\n`);
    return 2;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    if (result.flows.length > 0) process.stdout.write(table(result.flows));
    else process.stdout.write('no matching flows in the retained records\n');
    for (const w of warnings(result, asked)) process.stderr.write(`warning: ${w}\n`);
  }
  return result.flows.length > 0 ? 0 : 1;
}
