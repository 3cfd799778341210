// The dataplane state an agent owns in its replica (nat tables, policy rules, table 1000, ipsets),
// read with the system tools and normalised for comparison, and the duplicate check on it.
import type { Lab, LabNode } from './lab.js';

export interface OwnedState {
  /** nat table lines (iptables-save, counters dropped) per family. */
  nat4: string[];
  nat6: string[];
  rules4: string[];
  rules6: string[];
  /** `ip route show table 1000`. */
  table1000v4: string[];
  table1000v6: string[];
  ipsets: string[];
}

const nonEmpty = (s: string): string[] => s.split('\n').map((l) => l.trim()).filter(Boolean);

/** Reads the replica's nat tables, policy rules, table 1000 and ipsets. */
export async function ownedState(lab: Lab, gw: LabNode): Promise<OwnedState> {
  // `ip route show table 1000` fails once the table is gone (its last route deleted): that is "empty".
  const run = async (argv: string[]) => String((await lab.exec(gw, argv, { reject: argv.includes('table') ? false : true })).stdout);
  const nat = (s: string) => nonEmpty(s).filter((l) => !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, ''));
  return {
    nat4: nat(await run(['iptables-save', '-t', 'nat'])),
    nat6: nat(await run(['ip6tables-save', '-t', 'nat'])),
    rules4: nonEmpty(await run(['ip', '-4', 'rule'])),
    rules6: nonEmpty(await run(['ip', '-6', 'rule'])),
    table1000v4: nonEmpty(await run(['ip', '-4', 'route', 'show', 'table', '1000'])),
    table1000v6: nonEmpty(await run(['ip', '-6', 'route', 'show', 'table', '1000'])),
    // initval is the hash seed, chosen by the kernel at creation: not state anyone configures.
    ipsets: nonEmpty(await run(['ipset', 'save'])).map((l) => l.replace(/ initval 0x[0-9a-f]+/, '')),
  };
}

/** Lines that occur more than once (a duplicated rule, route or set member). */
export function duplicates(lines: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const l of lines) (seen.has(l) ? dup : seen).add(l);
  return [...dup];
}

/** Duplicated lines per part of the owned state; {} when nothing is duplicated. */
export function stateDuplicates(st: OwnedState): Partial<Record<keyof OwnedState, string[]>> {
  const out: Partial<Record<keyof OwnedState, string[]>> = {};
  for (const [k, lines] of Object.entries(st) as [keyof OwnedState, string[]][]) {
    const d = duplicates(lines);
    if (d.length) out[k] = d;
  }
  return out;
}
