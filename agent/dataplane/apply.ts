// Idempotent apply of a DesiredDataplane: read the live state, compute the drift, change only what
// differs, then read back and verify. Order: sysctls, ipsets, iptables (a set must exist before a
// rule references it), routes, rules. A step that fails is reported and the next steps still run:
// they are independent, and the read-back shows exactly what is still wrong.
import type { IpFamily } from '../lib/ip.js';
import type { DesiredDataplane, DesiredIptables, DesiredSysctl, ParsedIptables } from '../plan/types.js';
import type { Drift } from './drift.js';
import { applyIpset, ipsetDrift, readIpset, type LiveIpset } from './ipset.js';
import { applyIptables, iptablesDrift, readIptables, tablesOf } from './iptables.js';
import { applyLinks, checkLinkKinds, kindsToCreate, linkDrift } from './links.js';
import type { LinkDetail, LinkInfo, RouteInfo, RuleInfo, Rtnl } from './netlink.js';
import { applyRoutes, planRoutes, readRoutes } from './routes.js';
import { applyRules, planRules, readRules } from './rules.js';
import { readSysctl, writeSysctl } from './sysctl.js';

export interface LiveDataplane {
  links: LinkInfo[];
  /** With kind and master; read only when EVPN devices are desired. */
  linkDetails: LinkDetail[];
  sysctls: Map<string, string | undefined>;
  ipsets: Map<string, LiveIpset | undefined>;
  iptables: Map<IpFamily, ParsedIptables>;
  routes: Map<string, RouteInfo[]>;
  rules: Map<IpFamily, RuleInfo[]>;
}

/** Reads exactly the live objects the desired dataplane is about (independent reads run concurrently). */
export async function readLive(nl: Rtnl, desired: DesiredDataplane): Promise<LiveDataplane> {
  const [sysctls, ipsets, iptables, links, linkDetails, routes, rules] = await Promise.all([
    Promise.all(desired.sysctls.map(async (s) => [s.key, await readSysctl(s.key)] as const)),
    Promise.all(desired.ipsets.map(async (s) => [s.name, await readIpset(s.name)] as const)),
    Promise.all(desired.iptables.map(async (t) => [t.family, await readIptables(t.family, tablesOf(t))] as const)),
    nl.links(),
    desired.links?.length ? nl.linkDetails() : Promise.resolve([]),
    readRoutes(nl, desired.routes),
    readRules(nl, desired.rules),
  ]);
  return { links, linkDetails, sysctls: new Map(sysctls), ipsets: new Map(ipsets), iptables: new Map(iptables), routes, rules };
}

function sysctlDrift(s: DesiredSysctl, actual: string | undefined): Drift | undefined {
  if (actual === s.value) return undefined;
  if (actual === undefined) return { kind: 'sysctl', object: s.key, problem: 'missing', expected: s.value };
  return { kind: 'sysctl', object: s.key, problem: 'different', expected: s.value, actual };
}

const emptyIptables: ParsedIptables = { tables: {} };

/** Every difference between desired and live, in apply order. */
export function computeDrift(desired: DesiredDataplane, live: LiveDataplane): Drift[] {
  const drift: Drift[] = linkDrift(desired.links ?? [], live.linkDetails);
  for (const s of desired.sysctls) {
    const d = sysctlDrift(s, live.sysctls.get(s.key));
    if (d) drift.push(d);
  }
  for (const s of desired.ipsets) drift.push(...ipsetDrift(s, live.ipsets.get(s.name)));
  for (const t of desired.iptables) drift.push(...iptablesDrift(t, live.iptables.get(t.family) ?? emptyIptables));
  drift.push(...planRoutes(desired.routes, live.routes, live.links).drift);
  drift.push(...planRules(desired.rules, live.rules).drift);
  return drift;
}

export interface ApplyOutcome {
  /** What was wrong before (empty = nothing to do, nothing written). */
  drift: Drift[];
  changed: boolean;
  /** What is still wrong after the read-back. */
  remaining: Drift[];
  /** One message per failed step, naming the object. */
  errors: string[];
}

async function step(errors: string[], what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    errors.push(`${what}: ${(err as Error).message}`);
  }
}

function iptablesDrifted(t: DesiredIptables, live: LiveDataplane): boolean {
  return iptablesDrift(t, live.iptables.get(t.family) ?? emptyIptables).length > 0;
}

export async function applyDataplane(nl: Rtnl, desired: DesiredDataplane): Promise<ApplyOutcome> {
  const before = await readLive(nl, desired);
  const drift = computeDrift(desired, before);
  if (drift.length === 0) return { drift, changed: false, remaining: [], errors: [] };
  // A device type the kernel lacks (vrf here) fails the whole pass before anything is written.
  if (desired.links?.length) await checkLinkKinds(nl, kindsToCreate(desired.links, before.linkDetails));

  const errors: string[] = [];
  for (const s of desired.sysctls) {
    if (sysctlDrift(s, before.sysctls.get(s.key))) await step(errors, `sysctl ${s.key}`, () => writeSysctl(s.key, s.value));
  }
  for (const s of desired.ipsets) {
    await step(errors, `ipset ${s.name}`, () => applyIpset(s, before.ipsets.get(s.name)));
  }
  for (const t of desired.iptables) {
    if (iptablesDrifted(t, before)) {
      await step(errors, `ip${t.family === 6 ? '6' : ''}tables`, () => applyIptables(t, before.iptables.get(t.family) ?? emptyIptables));
    }
  }
  // Devices before routes: enslaving a device to a VRF cycles it, which flushes its routes.
  if (desired.links?.length && linkDrift(desired.links, before.linkDetails).length > 0) {
    await step(errors, 'devices', () => applyLinks(nl, desired.links!, before.linkDetails));
  }
  const after = desired.links?.length ? await readLive(nl, desired) : before;
  const routes = planRoutes(desired.routes, after.routes, after.links);
  for (const b of routes.blocked) errors.push(`${b.object}: ${b.problem} (${b.expected ?? ''})`);
  await step(errors, 'routes', () => applyRoutes(nl, routes));
  await step(errors, 'rules', () => applyRules(nl, planRules(desired.rules, after.rules)));

  const remaining = await verifyDataplane(nl, desired);
  return { drift, changed: true, remaining, errors };
}

/** Read-back: the drift that is left (empty when the live state matches). */
export async function verifyDataplane(nl: Rtnl, desired: DesiredDataplane): Promise<Drift[]> {
  return computeDrift(desired, await readLive(nl, desired));
}
