// iptables-save parser, desired-vs-actual diff and the --noflush render against present state
// (hooks not duplicated, duplicates repaired, stale owned chains removed, foreign rules untouched).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  plan, parseIptablesSave, diffIptables, describeIptablesDrift, renderIptablesRestore,
} from '../../agent/plan/index.js';
import type { GatewayConfig } from '../../agent/config/types.js';
import type { DesiredIptables, Facts, ParsedIptables } from '../../agent/plan/types.js';

const golden = (name: string): string => readFileSync(fileURLToPath(new URL(`../golden/${name}`, import.meta.url)), 'utf8');
const inputs = JSON.parse(golden('plan-inputs.json')) as Record<string, { config: GatewayConfig; facts: Facts }>;
const desiredV4 = (): DesiredIptables => plan(inputs['dual']!.config, inputs['dual']!.facts).iptables[0]!;
/** Real `iptables-save` of a netns holding our chains plus foreign raw/nat rules and a foreign chain. */
const savedV4 = (): ParsedIptables => parseIptablesSave(golden('iptables-save-dual-v4.txt'));

t.test('parse: tables, chains in order, rule text after "-A CHAIN ", quoted comments kept', async (t) => {
  const p = savedV4();
  t.same(Object.keys(p.tables), ['raw', 'nat']);
  t.same(p.tables['raw']!.chains, { PREROUTING: ['-p tcp -m tcp --dport 22 -j NOTRACK'], OUTPUT: [] });
  t.same(p.tables['nat']!.chains['POSTROUTING'], ['-j VEG-POSTROUTING', '-s 192.0.2.0/24 -o net1 -j MASQUERADE']);
  t.same(p.tables['nat']!.chains['FOREIGN'], ['-m comment --comment "not ours, two words" -j RETURN']);
  t.same(p.tables['nat']!.chains['INPUT'], [], 'declared empty chains exist');
});

t.test('parse: counters (-c), empty input, and errors with line numbers', async (t) => {
  const p = parseIptablesSave('*nat\n:POSTROUTING ACCEPT [5:300]\n[3:180] -A POSTROUTING -j VEG-POSTROUTING\nCOMMIT\n');
  t.same(p.tables['nat']!.chains['POSTROUTING'], ['-j VEG-POSTROUTING']);
  t.same(parseIptablesSave(''), { tables: {} });
  t.throws(() => parseIptablesSave('-A POSTROUTING -j X\n'), /line 1: .*outside a table/);
  t.throws(() => parseIptablesSave('*nat\n-I POSTROUTING 1 -j X\nCOMMIT\n'), /line 2: unexpected "-I POSTROUTING 1 -j X"/);
  t.throws(() => parseIptablesSave('*nat\n:BROKEN\nCOMMIT\n'), /line 2: bad chain declaration/);
  t.throws(() => parseIptablesSave('*nat\n-A POSTROUTING -j X\n'), /missing COMMIT/);
  t.throws(() => parseIptablesSave('COMMIT\n'), /line 1: COMMIT outside a table/);
});

t.test('diff: in sync with foreign rules and chains around is no drift', async (t) => {
  t.same(diffIptables(desiredV4(), savedV4()), []);
});

t.test('diff: flushed nat table reports every missing chain and hook', async (t) => {
  const flushed = parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n');
  const drift = diffIptables(desiredV4(), flushed);
  t.same(drift.map((d) => `${d.kind} ${d.table} ${d.chain}`), [
    'chain-missing nat VEG-PREROUTING',
    'chain-missing nat VEG-POSTROUTING',
    'chain-missing nat VEG-MASQUERADE',
    'hook-missing nat PREROUTING',
    'hook-missing nat POSTROUTING',
  ]);
  t.equal(describeIptablesDrift(drift[3]!), 'iptables nat PREROUTING: jump missing: -j VEG-PREROUTING');
});

t.test('diff: missing, extra and reordered rules in owned chains, precisely', async (t) => {
  const p = savedV4();
  const post = p.tables['nat']!.chains['VEG-POSTROUTING']!;
  post.splice(1, 1); // drop the src no-SNAT return
  p.tables['nat']!.chains['VEG-MASQUERADE']!.push('-j ACCEPT');
  t.same(diffIptables(desiredV4(), p), [
    { kind: 'rule-missing', family: 4, table: 'nat', chain: 'VEG-POSTROUTING', rule: '-m set --match-set VEG-NOSNAT4 src -j RETURN', position: 1 },
    { kind: 'rule-extra', family: 4, table: 'nat', chain: 'VEG-MASQUERADE', rule: '-j ACCEPT' },
  ]);
  const q = savedV4();
  q.tables['nat']!.chains['VEG-MASQUERADE']!.reverse();
  const [d] = diffIptables(desiredV4(), q);
  t.equal(d?.kind, 'rule-order');
  t.match(describeIptablesDrift(d!), /VEG-MASQUERADE: rules out of order: expected \[-j MARK .* \| -j MASQUERADE --random-fully\]/);
});

t.test('diff: duplicate hook and stale owned chain', async (t) => {
  const p = savedV4();
  p.tables['nat']!.chains['POSTROUTING']!.push('-j VEG-POSTROUTING');
  const reduced: DesiredIptables = { ...desiredV4(), chains: { nat: { ...desiredV4().chains['nat'] } }, hooks: desiredV4().hooks.slice(1) };
  delete reduced.chains['nat']!['VEG-PREROUTING'];
  t.same(diffIptables(reduced, p), [
    { kind: 'hook-duplicate', family: 4, table: 'nat', chain: 'POSTROUTING', rule: '-j VEG-POSTROUTING', count: 2 },
    { kind: 'chain-stale', family: 4, table: 'nat', chain: 'VEG-PREROUTING' },
  ]);
  const foreign = savedV4();
  foreign.tables['nat']!.chains['VEG-SOMEONE-ELSE'] = ['-j RETURN'];
  t.same(diffIptables(desiredV4(), foreign), [], 'a VEG- chain we never created is not ours');
});

t.test('render: re-apply on an in-sync table adds no hook (idempotent)', async (t) => {
  const text = renderIptablesRestore(desiredV4(), savedV4());
  t.notMatch(text, /^-[IDX] /m, 'no -I/-D/-X lines');
  t.match(text, /^:VEG-POSTROUTING - \[0:0\]$/m, 'owned chain flushed and refilled');
  t.notMatch(text, /^:(PRE|POST)ROUTING/m, 'built-in chains are never declared (that would flush them)');
  t.notMatch(text, /FOREIGN|192\.0\.2\.0|NOTRACK|\*raw/, 'foreign rules and tables are not in the input');
});

t.test('render: missing hooks are inserted at the top; duplicates deleted and one re-inserted', async (t) => {
  const p = savedV4();
  p.tables['nat']!.chains['PREROUTING'] = [];
  p.tables['nat']!.chains['POSTROUTING'] = ['-s 192.0.2.0/24 -o net1 -j MASQUERADE', '-j VEG-POSTROUTING', '-j VEG-POSTROUTING'];
  const lines = renderIptablesRestore(desiredV4(), p).split('\n').filter((l) => /^-[IDX] /.test(l));
  t.same(lines, [
    '-I PREROUTING 1 -j VEG-PREROUTING',
    '-D POSTROUTING -j VEG-POSTROUTING',
    '-D POSTROUTING -j VEG-POSTROUTING',
    '-I POSTROUTING 1 -j VEG-POSTROUTING',
  ]);
});

t.test('render: a stale owned chain is flushed, jumps into it deleted, then removed', async (t) => {
  const p = savedV4();
  p.tables['nat']!.chains['OUTPUT'] = ['-o eth9 -j VEG-PREROUTING', '-j RETURN'];
  const reduced: DesiredIptables = { ...desiredV4(), chains: { nat: { ...desiredV4().chains['nat'] } }, hooks: desiredV4().hooks.slice(1) };
  delete reduced.chains['nat']!['VEG-PREROUTING'];
  const lines = renderIptablesRestore(reduced, p).split('\n');
  t.ok(lines.includes(':VEG-PREROUTING - [0:0]'), 'flushed');
  t.same(lines.filter((l) => /^-[DX] /.test(l)), ['-D PREROUTING -j VEG-PREROUTING', '-D OUTPUT -o eth9 -j VEG-PREROUTING', '-X VEG-PREROUTING']);
  t.equal(lines.indexOf('-X VEG-PREROUTING'), lines.length - 3, '-X comes last, before COMMIT');
  t.notOk(lines.includes('-D OUTPUT -j RETURN'), 'rules that do not reference the chain stay');
});

t.test('render: one block per table, each committed', async (t) => {
  const text = renderIptablesRestore(desiredV4(), { tables: {} });
  t.equal(text.match(/^\*nat$/gm)?.length, 1);
  t.ok(text.endsWith('COMMIT\n'));
});
