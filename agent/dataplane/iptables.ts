// iptables per family: read back with `iptables-save -t TABLE` (parsed by the planner's parser) and
// apply with ONE `iptables-restore --noflush` per family, content on stdin. The content comes from
// the planner's renderer: owned chains are declared (= flushed) and refilled, hook jumps in built-in
// chains are inserted only when missing and de-duplicated, nothing else is touched. We never use
// `iptables-restore --test` as validation: it returns 0 even for a missing chain.
import type { IpFamily } from '../lib/ip.js';
import { diffIptables, describeIptablesDrift, parseIptablesSave, renderIptablesRestore } from '../plan/index.js';
import type { DesiredIptables, IptablesDrift, ParsedIptables } from '../plan/types.js';
import type { Drift } from './drift.js';
import { run } from './exec.js';

const tool = (family: IpFamily, verb: 'save' | 'restore'): string => `${family === 6 ? 'ip6tables' : 'iptables'}-${verb}`;

/** Tables the desired content lives in (owned chains and hooks). */
export function tablesOf(desired: DesiredIptables): string[] {
  return [...new Set([...Object.keys(desired.chains), ...desired.hooks.map((h) => h.table)])].sort();
}

export async function readIptables(family: IpFamily, tables: string[]): Promise<ParsedIptables> {
  const merged: ParsedIptables = { tables: {} };
  for (const table of tables) {
    const r = await run(tool(family, 'save'), ['-t', table]);
    let parsed: ParsedIptables;
    try {
      parsed = parseIptablesSave(r.stdout);
    } catch (err) {
      throw new Error(`${tool(family, 'save')} -t ${table}: ${(err as Error).message}`, { cause: err });
    }
    Object.assign(merged.tables, parsed.tables);
  }
  return merged;
}

export function iptablesDrift(desired: DesiredIptables, present: ParsedIptables): Drift[] {
  return diffIptables(desired, present).map((d) => toDrift(d));
}

function toDrift(d: IptablesDrift): Drift {
  const object = `ip${d.family === 6 ? '6' : ''}tables -t ${d.table} ${d.chain}`;
  const base = { kind: 'iptables' as const, family: d.family, object };
  switch (d.kind) {
    case 'chain-missing':
      return { ...base, problem: 'missing', expected: 'owned chain' };
    case 'chain-stale':
      return { ...base, problem: 'extra', actual: 'owned chain no longer wanted' };
    case 'rule-missing':
      return { ...base, problem: 'missing', expected: `#${d.position + 1}: ${d.rule}` };
    case 'rule-extra':
      return { ...base, problem: 'extra', actual: d.rule };
    case 'rule-order':
      return { ...base, problem: 'different', expected: d.expected.join(' | '), actual: d.actual.join(' | ') };
    case 'hook-missing':
      return { ...base, problem: 'missing', expected: d.rule };
    case 'hook-duplicate':
      return { ...base, problem: 'extra', expected: `${d.rule} once`, actual: describeIptablesDrift(d) };
  }
}

/** One atomic `iptables-restore --noflush` for the family; returns the content it applied. */
export async function applyIptables(desired: DesiredIptables, present: ParsedIptables): Promise<string> {
  const input = renderIptablesRestore(desired, present);
  await run(tool(desired.family, 'restore'), ['--noflush', '--wait', '5'], { input });
  return input;
}
