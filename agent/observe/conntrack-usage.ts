// Conntrack table usage of this network namespace. A full table makes the kernel drop packets that
// would create new entries: new egress flows fail silently, so usage is exported to alert on early.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PROC_SYS = '/proc/sys';
export const CONNTRACK_STAT = '/proc/net/stat/nf_conntrack';

export interface ConntrackUsage {
  count: number;
  max: number;
}

/** Per-namespace drop counters, summed over CPUs. */
export interface ConntrackDrops {
  /** Packets dropped because the table was full. */
  drop: number;
  /** Entries evicted early to make room for new ones. */
  early_drop: number;
  insert_failed: number;
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (!/^[0-9]+$/.test(text)) throw new Error(`${path}: "${text}" is not a number`);
    return Number(text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Undefined when conntrack is not loaded in this kernel/namespace. */
export async function readConntrackUsage(procSys = PROC_SYS): Promise<ConntrackUsage | undefined> {
  const [count, max] = await Promise.all([
    readNumber(join(procSys, 'net/netfilter/nf_conntrack_count')),
    readNumber(join(procSys, 'net/netfilter/nf_conntrack_max')),
  ]);
  return count === undefined || max === undefined ? undefined : { count, max };
}

/** Parses /proc/net/stat/nf_conntrack: a header line, then one line of hex counters per CPU. */
export function parseConntrackStat(text: string): ConntrackDrops {
  const [header, ...rows] = text.trim().split('\n');
  const cols = (header ?? '').trim().split(/\s+/);
  const sum = (name: keyof ConntrackDrops): number => {
    const i = cols.indexOf(name);
    if (i < 0) return 0;
    return rows.reduce((s, row) => {
      const v = row.trim().split(/\s+/)[i];
      const n = v === undefined ? NaN : parseInt(v, 16);
      if (Number.isNaN(n)) throw new Error(`nf_conntrack stat: column ${name} is not hex in "${row}"`);
      return s + n;
    }, 0);
  };
  return { drop: sum('drop'), early_drop: sum('early_drop'), insert_failed: sum('insert_failed') };
}

export async function readConntrackDrops(path = CONNTRACK_STAT): Promise<ConntrackDrops | undefined> {
  try {
    return parseConntrackStat(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
