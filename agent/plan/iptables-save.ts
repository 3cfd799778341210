// Parser for `iptables-save` / `ip6tables-save` output (pure). Rules are kept as the exact text after
// "-A CHAIN ", which is the canonical form the planner writes, so verification compares strings.
import type { ParsedIptables } from './types.js';

export function parseIptablesSave(text: string): ParsedIptables {
  const parsed: ParsedIptables = { tables: {} };
  let chains: Record<string, string[]> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    let line = lines[i]!.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      const name = line.slice(1);
      if (!/^[a-z]+$/.test(name)) throw new Error(`iptables-save line ${n}: bad table name "${line}"`);
      chains = (parsed.tables[name] ??= { chains: {} }).chains;
      continue;
    }
    if (line === 'COMMIT') {
      if (!chains) throw new Error(`iptables-save line ${n}: COMMIT outside a table`);
      chains = undefined;
      continue;
    }
    if (!chains) throw new Error(`iptables-save line ${n}: "${line}" outside a table`);
    // `iptables-save -c` prefixes rules with "[packets:bytes] ".
    const counters = /^\[\d+:\d+\] /.exec(line);
    if (counters) line = line.slice(counters[0].length);
    if (line.startsWith(':')) {
      const m = /^:(\S+) \S+( \[\d+:\d+\])?$/.exec(line);
      if (!m) throw new Error(`iptables-save line ${n}: bad chain declaration "${line}"`);
      chains[m[1]!] ??= [];
      continue;
    }
    const rule = /^-A (\S+)(?: (.*))?$/.exec(line);
    if (!rule) throw new Error(`iptables-save line ${n}: unexpected "${line}"`);
    (chains[rule[1]!] ??= []).push(rule[2] ?? '');
  }
  if (chains) throw new Error('iptables-save: input ends inside a table (missing COMMIT)');
  return parsed;
}
