// Drift and repair plans for policy routes and rules, against live state as the netlink dumps report it.
import t from 'tap';
import type { RouteInfo, RuleInfo, LinkInfo } from '../../agent/dataplane/netlink.js';
import { planRoutes } from '../../agent/dataplane/routes.js';
import { planRules } from '../../agent/dataplane/rules.js';
import type { DesiredRoute, DesiredRule } from '../../agent/plan/types.js';

const links: LinkInfo[] = [
  { index: 1, name: 'lo', up: true, carrier: true },
  { index: 3, name: 'eth0', up: true, carrier: true },
  { index: 4, name: 'net1', up: true, carrier: true },
];
const want: DesiredRoute = { family: 4, table: 1000, dst: 'default', gateway: '10.16.0.1', oif: 'eth0' };
const route = (r: Partial<RouteInfo>): RouteInfo => ({ family: 4, table: 1000, dst: 'default', gateway: '10.16.0.1', oif: 3, metric: 0, tos: 0, type: 'UNICAST', protocol: 'BOOT', ...r });
const live = (rs: RouteInfo[]) => new Map([['4/1000', rs]]);

t.test('planRoutes', async (t) => {
  const ok = planRoutes([want], live([route({})]), links);
  t.same(ok.drift, [], 'in sync: no drift');
  t.same(ok.replace, [], 'in sync: nothing to write');

  const missing = planRoutes([want], live([]), links);
  t.same(missing.drift, [{ kind: 'route', family: 4, object: 'table 1000 default via 10.16.0.1 dev eth0', problem: 'missing', expected: 'table 1000 default via 10.16.0.1 dev eth0' }]);
  t.same(missing.replace, [{ route: want, oif: 3 }]);

  const other = planRoutes([want], live([route({ gateway: '10.16.0.2', oif: 4 })]), links);
  t.same(other.drift, [{ kind: 'route', family: 4, object: 'table 1000 default via 10.16.0.1 dev eth0', problem: 'different', expected: 'table 1000 default via 10.16.0.1 dev eth0', actual: 'table 1000 default via 10.16.0.2 dev net1' }]);
  t.same(other.remove, [], 'the same key is overwritten by replace, not deleted');

  const shadow = planRoutes([want], live([route({}), route({ metric: 5, gateway: '10.16.0.9' })]), links);
  t.same(shadow.drift.map((d) => [d.problem, d.actual]), [['extra', 'table 1000 default via 10.16.0.9 dev eth0 metric 5']]);
  t.equal(shadow.remove.length, 1, 'a second default in table 1000 is removed');

  const unrelated = planRoutes([want], live([route({}), route({ dst: '192.0.2.0/24' })]), links);
  t.same(unrelated.drift, [], 'routes to other destinations in the table are not ours');

  const noLink = planRoutes([{ ...want, oif: 'eth9' }], live([]), links);
  t.same(noLink.blocked.map((d) => [d.kind, d.object]), [['link', 'interface eth9']], 'missing interface: reported, not attempted');
  t.same(noLink.replace, []);
});

const rules: DesiredRule[] = [
  { family: 4, priority: 1001, iif: 'eth0', table: 253 },
  { family: 4, priority: 1003, iif: 'lo', from: '10.16.0.11/32', table: 1000 },
];
const rule = (r: Partial<RuleInfo>): RuleInfo => ({ family: 4, priority: 1001, iif: 'eth0', table: 253, action: 'toTbl', selectors: [], ...r });
const foreign = rule({ priority: 999, iif: undefined, from: '192.0.2.1/32', table: 254 });

t.test('planRules', async (t) => {
  const inSync = [foreign, rule({}), rule({ priority: 1003, iif: 'lo', from: '10.16.0.11/32', table: 1000 })];
  t.same(planRules(rules, new Map([[4, inSync]])), { drift: [], resets: [] }, 'in sync: nothing to do');

  const missing = planRules(rules, new Map([[4, [foreign, rule({})]]]));
  t.same(missing.drift, [{ kind: 'rule', family: 4, object: 'rule 1003', problem: 'missing', expected: '1003: from 10.16.0.11 iif lo lookup 1000' }]);
  t.same(missing.resets, [{ family: 4, priority: 1003, present: 0, want: rules[1] }]);

  const different = planRules(rules, new Map([[4, [rule({}), rule({ priority: 1003, iif: undefined, from: '10.16.0.99/32', table: 1000 })]]]));
  t.same(different.drift, [{ kind: 'rule', family: 4, object: 'rule 1003', problem: 'different', expected: '1003: from 10.16.0.11 iif lo lookup 1000', actual: '1003: from 10.16.0.99 lookup 1000' }]);
  t.equal(different.resets[0]!.present, 1, 'the wrong rule at our priority is cleared first');

  const dup = planRules(rules, new Map([[4, [rule({}), rule({ iif: 'net1' }), rule({ priority: 1003, iif: 'lo', from: '10.16.0.11/32', table: 1000 })]]]));
  t.same(dup.drift, [{ kind: 'rule', family: 4, object: 'rule 1001', problem: 'extra', actual: '1001: from all iif net1 lookup default' }]);
  t.same(dup.resets.map((r) => [r.priority, r.present]), [[1001, 2]], 'all rules at the drifted priority cleared, ours re-added');

  const selectors = planRules(rules, new Map([[4, [rule({ selectors: ['fwmark', '0x1'] }), rule({ priority: 1003, iif: 'lo', from: '10.16.0.11/32', table: 1000 })]]]));
  t.equal(selectors.drift[0]!.problem, 'different', 'a rule with extra selectors is not ours');
  t.equal(planRules(rules, new Map([[4, [foreign]]])).resets.some((r) => r.priority === 999), false, 'other priorities are never touched');
});
