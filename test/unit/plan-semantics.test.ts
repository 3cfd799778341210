// Planner semantics that the goldens only show implicitly: Kube-OVN's numbers, the rp_filter
// decision, the BFD exemption, determinism, /0 handling and size behaviour with large lists.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { plan, renderIptablesRestore, GATEWAY_TABLE, DEFAULT_TABLE } from '../../agent/plan/index.js';
import type { GatewayConfig } from '../../agent/config/types.js';
import type { Facts } from '../../agent/plan/types.js';

const inputs = JSON.parse(readFileSync(fileURLToPath(new URL('../golden/plan-inputs.json', import.meta.url)), 'utf8')) as Record<
  string,
  { config: GatewayConfig; facts: Facts }
>;
const scenario = (name: string): { config: GatewayConfig; facts: Facts } => structuredClone(inputs[name]!);

t.test('rules 1001-1004 per family with Kube-OVN tables and host-prefix sources', async (t) => {
  const { config, facts } = scenario('dual');
  const rules = plan(config, facts).rules;
  for (const [family, intIp, extIp] of [[4, '10.16.0.12/32', '172.17.0.5/32'], [6, 'fd00:10:16::c/128', 'fd00:172:17::5/128']] as const) {
    t.same(rules.filter((r) => r.family === family), [
      { family, priority: 1001, iif: 'veg-int', table: DEFAULT_TABLE },
      { family, priority: 1002, iif: 'veg-ext', table: GATEWAY_TABLE },
      { family, priority: 1003, iif: 'lo', from: intIp, table: GATEWAY_TABLE },
      { family, priority: 1004, iif: 'lo', from: extIp, table: DEFAULT_TABLE },
    ], `IPv${family}`);
  }
  t.equal(DEFAULT_TABLE, 253);
  t.equal(GATEWAY_TABLE, 1000);
});

t.test('table 1000 default route via the internal gateway on the discovered internal interface', async (t) => {
  const { config, facts } = scenario('dual');
  t.same(plan(config, facts).routes, [
    { family: 4, table: 1000, dst: 'default', gateway: '10.16.0.1', oif: 'veg-int' },
    { family: 6, table: 1000, dst: 'default', gateway: 'fd00:10:16::1', oif: 'veg-int' },
  ]);
});

t.test('sysctls: forwarding per configured family, rp_filter on the internal interface', async (t) => {
  const v4 = scenario('v4');
  t.same(plan(v4.config, v4.facts).sysctls, [
    { key: 'net/ipv4/ip_forward', value: '1' },
    { key: 'net/ipv4/conf/eth0/rp_filter', value: '0' },
  ], 'IPv4 only: no IPv6 forwarding, all/rp_filter not owned when unknown');
  const v6 = scenario('v6');
  t.same(plan(v6.config, v6.facts).sysctls, [{ key: 'net/ipv6/conf/all/forwarding', value: '1' }],
    'IPv6 only: no rp_filter at all (IPv6 has none), even with all/rp_filter strict');
});

t.test('all/rp_filter is lowered to loose only when it is strict', async (t) => {
  const { config, facts } = scenario('v4');
  const allKey = (f: Facts): string[] =>
    plan(config, f).sysctls.filter((s) => s.key === 'net/ipv4/conf/all/rp_filter').map((s) => s.value);
  t.same(allKey({ ...facts, ipv4RpFilterAll: 1 }), ['2'], 'strict -> loose');
  t.same(allKey({ ...facts, ipv4RpFilterAll: 2 }), [], 'loose: left alone');
  t.same(allKey({ ...facts, ipv4RpFilterAll: 0 }), [], 'off: left alone');
});

t.test('BFD on: local BFD control packets are exempt from MASQUERADE, before the no-SNAT returns', async (t) => {
  const on = scenario('v6');
  const post = plan(on.config, on.facts).iptables[0]!.chains['nat']!['VEG-POSTROUTING']!;
  t.equal(post[0], '-p udp -m addrtype --src-type LOCAL -m udp --dport 3784 -j RETURN');
  t.equal(post[post.length - 1], '-j VEG-MASQUERADE', 'masquerade jump is last');
  const off = scenario('v6');
  off.config.bfd.enabled = false;
  const postOff = plan(off.config, off.facts).iptables[0]!.chains['nat']!['VEG-POSTROUTING']!;
  t.notOk(postOff.some((r) => r.includes('3784')), 'BFD off: exactly Kube-OVN\'s rule set');
  t.equal(postOff.length, 3);
});

t.test('masquerade on any output interface (no -o), SNAT to a chosen address with --random-fully', async (t) => {
  const { config, facts } = scenario('v4');
  const masq = plan(config, facts).iptables[0]!.chains['nat']!['VEG-MASQUERADE']!;
  t.same(masq, ['-j MARK --set-xmark 0x0/0xffffffff', '-j MASQUERADE --random-fully']);
  t.notOk(JSON.stringify(plan(config, facts).iptables).includes(' -o '), 'no output-interface match anywhere');
  config.families[0]!.snatTo = '172.17.0.100';
  t.equal(plan(config, facts).iptables[0]!.chains['nat']!['VEG-MASQUERADE']![1], '-j SNAT --to-source 172.17.0.100 --random-fully');
});

t.test('the no-SNAT set always exists, empty or not; /0 becomes two halves; duplicates merge', async (t) => {
  const { config, facts } = scenario('dual');
  const sets = plan(config, facts).ipsets;
  t.same(sets.map((s) => [s.name, s.family, s.members.length]), [['VEG-NOSNAT4', 4, 1], ['VEG-NOSNAT6', 6, 0]]);
  config.families[0]!.noSnatSources = ['::/0', 'fd00::/8'];
  config.families[1]!.noSnatSources = ['10.0.0.0/8', '10.0.0.0/8', '0.0.0.0/0'];
  const again = plan(config, facts).ipsets;
  t.same(again[0]!.members, ['10.0.0.0/8', '0.0.0.0/1', '128.0.0.0/1']);
  t.same(again[1]!.members, ['::/1', '8000::/1', 'fd00::/8']);
});

t.test('deterministic and does not mutate its inputs', async (t) => {
  const { config, facts } = scenario('dual');
  const before = JSON.stringify({ config, facts });
  const a = plan(config, facts);
  const b = plan(structuredClone(config), structuredClone(facts));
  t.same(a, b);
  t.equal(JSON.stringify({ config, facts }), before);
  t.same(a.iptables.map((i) => i.family), [4, 6], 'families ordered 4, 6 regardless of config order');
});

t.test('a configured family without facts is a programming error, named', async (t) => {
  const { config, facts } = scenario('dual');
  facts.families = facts.families.filter((f) => f.family === 4);
  t.throws(() => plan(config, facts), /IPv6 is configured but discovery returned no facts/);
});

t.test('zero families (BFD-only mode) plans nothing', async (t) => {
  const { config } = scenario('v4');
  config.families = [];
  t.same(plan(config, { families: [] }), { sysctls: [], routes: [], rules: [], ipsets: [], iptables: [] });
});

t.test('size: 10 000 CIDRs go into the set; the iptables text does not grow', async (t) => {
  const { config, facts } = scenario('v4');
  const small = renderIptablesRestore(plan(config, facts).iptables[0]!, { tables: {} });
  config.families[0]!.noSnatSources = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  const big = plan(config, facts);
  t.equal(big.ipsets[0]!.members.length, 10_000);
  t.equal(big.ipsets[0]!.maxelem, 65536);
  t.equal(renderIptablesRestore(big.iptables[0]!, { tables: {} }), small, 'same restore text with 2 or 10 000 CIDRs');
  t.ok(JSON.stringify(big).length < 300_000, 'plan stays small (about 20 bytes per CIDR)');
  config.families[0]!.noSnatSources = Array.from({ length: 70_000 }, (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
  t.equal(plan(config, facts).ipsets[0]!.maxelem, 131072, 'more than 65536 members raise maxelem');
});
