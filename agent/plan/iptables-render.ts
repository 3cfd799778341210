// Renders the `iptables-restore --noflush` input for one family (pure). With --noflush only what the
// input names is touched:
//   - `:CHAIN - [0:0]` creates an owned chain or flushes it, then `-A` lines refill it. The whole
//     input is one transaction, so the chains are never seen half-filled.
//   - hook jumps in built-in chains are NOT flushable (the chains are not ours), so they are
//     reconciled against what `iptables-save` shows: a missing jump is inserted at the top (`-I ... 1`,
//     as Kube-OVN's RETURN rules sat at the top of POSTROUTING); duplicates are all deleted (`-D`)
//     and one is inserted at the top; a single jump is left where it is, even below foreign rules
//     (those belong to their owner). Appending unconditionally would add a jump on every apply.
//   - owned chains that are no longer desired are flushed, jumps into them deleted, then removed.
// Rules of chains we do not own are never flushed, rewritten or reordered.
import { staleOwnedChains } from './iptables-diff.js';
import type { DesiredIptables, ParsedIptables } from './types.js';

/** Whether a rule spec jumps or goes to `chain`. */
function targets(rule: string, chain: string): boolean {
  const t = rule.split(' ');
  return t.some((tok, i) => (tok === '-j' || tok === '-g') && t[i + 1] === chain);
}

/**
 * @param present the same family's current `iptables-save`, parsed; pass `{ tables: {} }` only when
 * the tables are known to be empty. It decides which hook jumps to insert or delete.
 */
export function renderIptablesRestore(desired: DesiredIptables, present: ParsedIptables): string {
  const stale = staleOwnedChains(desired, present);
  const tables = [
    ...new Set([...Object.keys(desired.chains), ...desired.hooks.map((h) => h.table), ...stale.map((s) => s.table)]),
  ];
  const out: string[] = [];
  for (const table of tables) {
    const owned = desired.chains[table] ?? {};
    const staleHere = stale.filter((s) => s.table === table).map((s) => s.chain);
    const presentChains = present.tables[table]?.chains ?? {};
    out.push(`*${table}`);
    for (const chain of [...Object.keys(owned), ...staleHere]) out.push(`:${chain} - [0:0]`);
    for (const [chain, rules] of Object.entries(owned)) for (const rule of rules) out.push(`-A ${chain} ${rule}`);
    for (const hook of desired.hooks.filter((h) => h.table === table)) {
      const count = (presentChains[hook.chain] ?? []).filter((r) => r === hook.rule).length;
      if (count === 1) continue;
      // `-D` by spec removes the first copy, which would leave a later one, possibly below foreign
      // rules; deleting every copy and inserting one at the top keeps the jump where we put it.
      // (Deleting by rule number could hit a foreign rule if the chain changed since iptables-save.)
      for (let i = 0; i < count; i++) out.push(`-D ${hook.chain} ${hook.rule}`);
      out.push(`-I ${hook.chain} 1 ${hook.rule}`);
    }
    for (const gone of staleHere) {
      for (const [chain, rules] of Object.entries(presentChains)) {
        if (owned[chain] !== undefined || staleHere.includes(chain)) continue; // flushed above anyway
        for (const rule of rules) if (targets(rule, gone)) out.push(`-D ${chain} ${rule}`);
      }
    }
    for (const gone of staleHere) out.push(`-X ${gone}`);
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}
