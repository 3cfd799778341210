// Policy rules 1001-1004 (Kube-OVN's priorities). The priorities a family's desired rules use are
// ours, as in Kube-OVN's script (which deletes whatever sits there): when a priority drifted, every
// rule at it is deleted and the desired one added. Rules at any other priority are never touched,
// and a priority without drift is not touched at all (so a no-change pass writes nothing).
import type { DesiredRule } from '../plan/types.js';
import type { Drift } from './drift.js';
import { describeRule, type RuleInfo, type Rtnl } from './netlink.js';
import { normalizeCidr, type IpFamily } from '../lib/ip.js';

export interface PriorityReset {
  family: IpFamily;
  priority: number;
  /** How many rules sit at the priority now (each delete removes the first one). */
  present: number;
  want: DesiredRule;
}

export interface RulePlan {
  drift: Drift[];
  resets: PriorityReset[];
}

export async function readRules(nl: Rtnl, desired: DesiredRule[]): Promise<Map<IpFamily, RuleInfo[]>> {
  const out = new Map<IpFamily, RuleInfo[]>();
  for (const family of new Set(desired.map((r) => r.family))) out.set(family, await nl.rules(family));
  return out;
}

function matches(live: RuleInfo, want: DesiredRule): boolean {
  return (
    live.action === 'toTbl' &&
    live.selectors.length === 0 &&
    live.table === want.table &&
    (live.iif ?? '') === (want.iif ?? '') &&
    (live.from ?? '') === (want.from ? normalizeCidr(want.from) : '')
  );
}

export function planRules(desired: DesiredRule[], live: Map<IpFamily, RuleInfo[]>): RulePlan {
  const plan: RulePlan = { drift: [], resets: [] };
  for (const want of desired) {
    const here = (live.get(want.family) ?? []).filter((r) => r.priority === want.priority);
    if (here.length === 1 && matches(here[0]!, want)) continue;
    const object = `rule ${want.priority}`;
    const expected = describeRule(want);
    const ok = here.findIndex((r) => matches(r, want));
    if (ok >= 0) {
      for (const r of here.filter((_, i) => i !== ok)) plan.drift.push({ kind: 'rule', family: want.family, object, problem: 'extra', actual: describeRule(r) });
    } else if (here.length === 0) {
      plan.drift.push({ kind: 'rule', family: want.family, object, problem: 'missing', expected });
    } else {
      plan.drift.push({ kind: 'rule', family: want.family, object, problem: 'different', expected, actual: here.map((r) => describeRule(r)).join('; ') });
    }
    plan.resets.push({ family: want.family, priority: want.priority, present: here.length, want });
  }
  return plan;
}

export async function applyRules(nl: Rtnl, plan: RulePlan): Promise<void> {
  for (const reset of plan.resets) {
    for (let i = 0; i < reset.present; i++) await nl.deleteRuleAtPriority(reset.family, reset.priority);
    await nl.addRule(reset.want);
  }
}
