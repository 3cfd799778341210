// Policy routes (table 1000 `default via <internal gw> dev <internal>`): drift against the live table
// read by a netlink dump, and repair with route replace. Only routes with a desired (family, table,
// dst) are looked at; other routes in the table, and other tables, are not ours.
import type { IpFamily } from '../lib/ip.js';
import type { DesiredRoute } from '../plan/types.js';
import type { Drift } from './drift.js';
import { describeRoute, type LinkInfo, type RouteInfo, type Rtnl } from './netlink.js';

/** Metric the kernel gives a route added without one (`ip route` prints no metric for IPv4). */
const defaultMetric = (family: IpFamily): number => (family === 4 ? 0 : 1024);

export interface RoutePlan {
  drift: Drift[];
  /** Routes to replace (desired, with the interface index resolved). */
  replace: { route: DesiredRoute; oif: number }[];
  /** Live routes with a desired key that are not the desired route (other metric/gateway/device). */
  remove: RouteInfo[];
  /** Desired routes that cannot be installed now (interface missing). */
  blocked: Drift[];
}

const key = (r: { family: IpFamily; table: number }): string => `${r.family}/${r.table}`;

/** Reads every table a desired route lives in, per family. */
export async function readRoutes(nl: Rtnl, desired: DesiredRoute[]): Promise<Map<string, RouteInfo[]>> {
  const out = new Map<string, RouteInfo[]>();
  for (const r of desired) {
    if (!out.has(key(r))) out.set(key(r), await nl.routes(r.family, r.table));
  }
  return out;
}

export function planRoutes(desired: DesiredRoute[], live: Map<string, RouteInfo[]>, links: LinkInfo[]): RoutePlan {
  const plan: RoutePlan = { drift: [], replace: [], remove: [], blocked: [] };
  const nameOf = (index: number | undefined): string | undefined => links.find((l) => l.index === index)?.name;
  for (const want of desired) {
    const object = describeRoute({ ...want, dev: want.oif });
    const link = links.find((l) => l.name === want.oif);
    const sameDst = (live.get(key(want)) ?? []).filter((r) => r.dst === want.dst);
    const exact = link
      ? sameDst.find((r) => r.gateway === want.gateway && r.oif === link.index && r.type === 'UNICAST' && r.tos === 0 && r.metric === defaultMetric(want.family))
      : undefined;
    const others = sameDst.filter((r) => r !== exact);
    const show = (r: RouteInfo): string => `${describeRoute({ ...r, dev: nameOf(r.oif) ?? (r.oif !== undefined ? `#${r.oif}` : undefined) })}${r.metric !== defaultMetric(r.family) ? ` metric ${r.metric}` : ''}${r.type !== 'UNICAST' ? ` type ${r.type}` : ''}`;
    if (!link) {
      const drift: Drift = { kind: 'link', family: want.family, object: `interface ${want.oif}`, problem: 'missing', expected: `present (for route ${object})` };
      plan.drift.push(drift);
      plan.blocked.push(drift);
      continue;
    }
    if (exact) {
      for (const r of others) {
        plan.drift.push({ kind: 'route', family: want.family, object, problem: 'extra', actual: show(r) });
        plan.remove.push(r);
      }
      continue;
    }
    // replace overwrites the route with the same (table, dst, tos, metric); others are removed.
    const replaced = others.find((r) => r.tos === 0 && r.metric === defaultMetric(want.family));
    for (const r of others) {
      if (r === replaced) plan.drift.push({ kind: 'route', family: want.family, object, problem: 'different', expected: object, actual: show(r) });
      else {
        plan.drift.push({ kind: 'route', family: want.family, object, problem: 'extra', actual: show(r) });
        plan.remove.push(r);
      }
    }
    if (!replaced) plan.drift.push({ kind: 'route', family: want.family, object, problem: 'missing', expected: object });
    plan.replace.push({ route: want, oif: link.index });
  }
  return plan;
}

export async function applyRoutes(nl: Rtnl, plan: RoutePlan): Promise<void> {
  for (const { route, oif } of plan.replace) {
    await nl.replaceRoute({ family: route.family, table: route.table, dst: route.dst, gateway: route.gateway, oif }, describeRoute({ ...route, dev: route.oif }));
  }
  for (const r of plan.remove) await nl.deleteRoute(r);
}
