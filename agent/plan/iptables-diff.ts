// Desired owned iptables content vs. parsed `iptables-save` output (pure). Only owned chains and our
// hook jumps are compared; every other rule in the table belongs to someone else and is ignored.
import { OWNED_CHAINS } from './names.js';
import type { DesiredIptables, IptablesDrift, ParsedIptables } from './types.js';

/** Occurrences of each string. */
function counts(items: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

export function diffIptables(desired: DesiredIptables, actual: ParsedIptables): IptablesDrift[] {
  const family = desired.family;
  const drift: IptablesDrift[] = [];
  for (const [table, chains] of Object.entries(desired.chains)) {
    for (const [chain, want] of Object.entries(chains)) {
      const have = actual.tables[table]?.chains[chain];
      if (have === undefined) {
        drift.push({ kind: 'chain-missing', family, table, chain });
        continue;
      }
      const haveLeft = counts(have);
      const missing: IptablesDrift[] = [];
      want.forEach((rule, position) => {
        const left = haveLeft.get(rule) ?? 0;
        if (left > 0) haveLeft.set(rule, left - 1);
        else missing.push({ kind: 'rule-missing', family, table, chain, rule, position });
      });
      const wantLeft = counts(want);
      const extra: IptablesDrift[] = [];
      for (const rule of have) {
        const left = wantLeft.get(rule) ?? 0;
        if (left > 0) wantLeft.set(rule, left - 1);
        else extra.push({ kind: 'rule-extra', family, table, chain, rule });
      }
      drift.push(...missing, ...extra);
      if (missing.length === 0 && extra.length === 0 && want.some((r, i) => have[i] !== r)) {
        drift.push({ kind: 'rule-order', family, table, chain, expected: [...want], actual: [...have] });
      }
    }
  }
  for (const hook of desired.hooks) {
    const have = actual.tables[hook.table]?.chains[hook.chain] ?? [];
    const count = have.filter((r) => r === hook.rule).length;
    if (count === 0) drift.push({ kind: 'hook-missing', family, ...hook });
    else if (count > 1) drift.push({ kind: 'hook-duplicate', family, ...hook, count });
  }
  for (const { table, chain } of staleOwnedChains(desired, actual)) drift.push({ kind: 'chain-stale', family, table, chain });
  return drift;
}

/** Owned chains present in `actual` that `desired` no longer wants. */
export function staleOwnedChains(desired: DesiredIptables, actual: ParsedIptables): { table: string; chain: string }[] {
  const stale: { table: string; chain: string }[] = [];
  for (const [table, { chains }] of Object.entries(actual.tables)) {
    for (const chain of Object.keys(chains)) {
      if (OWNED_CHAINS.includes(chain) && desired.chains[table]?.[chain] === undefined) stale.push({ table, chain });
    }
  }
  return stale;
}

/** One line per drift for logs and the CLI. */
export function describeIptablesDrift(d: IptablesDrift): string {
  const where = `ip${d.family === 6 ? '6' : ''}tables ${d.table} ${d.chain}`;
  switch (d.kind) {
    case 'chain-missing': return `${where}: owned chain missing`;
    case 'chain-stale': return `${where}: owned chain no longer wanted`;
    case 'rule-missing': return `${where}: rule #${d.position + 1} missing: ${d.rule}`;
    case 'rule-extra': return `${where}: unexpected rule: ${d.rule}`;
    case 'rule-order': return `${where}: rules out of order: expected [${d.expected.join(' | ')}], found [${d.actual.join(' | ')}]`;
    case 'hook-missing': return `${where}: jump missing: ${d.rule}`;
    case 'hook-duplicate': return `${where}: jump present ${d.count} times: ${d.rule}`;
  }
}
