// EVPN devices (vrf-vpn, br-vpn, vxlan-vpn) and the internal interface's enslavement: drift against
// `ip -d link` read over rtnetlink, and repair. Before anything is created, every device type that
// has to be created is checked against the kernel (a throwaway device of that type, deleted at
// once), so a kernel without, say, vrf fails with an error naming it and nothing half-built.
import type { DesiredLink } from '../plan/types.js';
import type { Drift } from './drift.js';
import { NetlinkError, type LinkCreate, type LinkDetail, type Rtnl } from './netlink.js';

/** What a desired device is created as (undefined: an existing device, never created). */
function createSpec(d: DesiredLink): LinkCreate | undefined {
  if (d.kind === 'vrf') return { kind: 'vrf', table: d.table! };
  if (d.kind === 'bridge') return { kind: 'bridge' };
  if (d.kind === 'vxlan') return { kind: 'vxlan', ...d.vxlan! };
  return undefined;
}

/** Why a live device is not the desired one and must be re-created (kind or its data); undefined if it is. */
function mismatch(d: DesiredLink, live: LinkDetail): string | undefined {
  if (d.kind === undefined) return undefined;
  if (live.kind !== d.kind) return `kind ${live.kind ?? 'none'}`;
  if (d.kind === 'vrf' && live.vrfTable !== d.table) return `table ${live.vrfTable}`;
  if (d.kind === 'vxlan') {
    const w = d.vxlan!;
    const l = live.vxlan ?? {};
    if (l.id !== w.id || l.port !== w.port || l.local !== w.local) return `id ${l.id} dstport ${l.port} local ${l.local}`;
  }
  return undefined;
}

const describe = (d: DesiredLink): string => {
  const c = createSpec(d);
  const what = !c ? '' : c.kind === 'vrf' ? ` type vrf table ${c.table}` : c.kind === 'vxlan' ? ` type vxlan id ${c.id} dstport ${c.port} local ${c.local}` : ` type ${c.kind}`;
  return `${d.name}${what}${d.master ? ` master ${d.master}` : ''}${d.up ? ' up' : ''}`;
};

export function linkDrift(desired: DesiredLink[], live: LinkDetail[]): Drift[] {
  const drift: Drift[] = [];
  const byName = (n: string) => live.find((l) => l.name === n);
  for (const d of desired) {
    const l = byName(d.name);
    const object = `device ${d.name}`;
    if (!l) {
      drift.push({ kind: 'link', object, problem: 'missing', expected: describe(d) });
      continue;
    }
    const bad = mismatch(d, l);
    if (bad) {
      drift.push({ kind: 'link', object, problem: 'different', expected: describe(d), actual: bad });
      continue;
    }
    const master = d.master ? byName(d.master) : undefined;
    if (d.master && (!master || l.master !== master.index)) {
      const actual = l.master ? live.find((x) => x.index === l.master)?.name ?? `#${l.master}` : 'none';
      drift.push({ kind: 'link', object, problem: 'different', expected: `master ${d.master}`, actual: `master ${actual}` });
    }
    if (d.up && !l.up) drift.push({ kind: 'link', object, problem: 'different', expected: 'up', actual: 'down' });
  }
  return drift;
}

const unsupported = (err: unknown): boolean =>
  err instanceof NetlinkError && ['EOPNOTSUPP', 'ENOTSUP', 'ERRNO_95'].includes(err.code);

/** Throws, naming the device type, when the kernel cannot create one of `kinds`; creates nothing lasting. */
export async function checkLinkKinds(nl: Rtnl, kinds: Set<LinkCreate['kind']>): Promise<void> {
  const missing: string[] = [];
  for (const kind of kinds) {
    const name = `vea-probe-${kind}`.slice(0, 15);
    const spec: LinkCreate = kind === 'vrf' ? { kind, table: 2000 } : kind === 'vxlan' ? { kind, id: 1, port: 4789 } : { kind };
    try {
      await nl.createLink(name, spec);
    } catch (err) {
      if (unsupported(err)) {
        missing.push(kind);
        continue;
      }
      if (!(err instanceof NetlinkError && err.code === 'EEXIST')) throw err;
    }
    const made = (await nl.linkDetails()).find((l) => l.name === name);
    if (made) await nl.deleteLink(made.index, name);
  }
  if (missing.length > 0) {
    throw new Error(`this kernel has no ${missing.join(', ')} device type (EOPNOTSUPP; e.g. the ${missing.map((k) => k).join('/')} module is not available): EVPN needs ${missing.length === 1 ? 'it' : 'them'}; nothing was changed`);
  }
}

/** Device types the desired list would have to create (missing, or present with another kind/data). */
export function kindsToCreate(desired: DesiredLink[], live: LinkDetail[]): Set<LinkCreate['kind']> {
  const kinds = new Set<LinkCreate['kind']>();
  for (const d of desired) {
    const c = createSpec(d);
    const l = live.find((x) => x.name === d.name);
    if (c && (!l || mismatch(d, l))) kinds.add(c.kind);
  }
  return kinds;
}

/** Creates (or re-creates) the devices, then sets masters and up, in list order. */
export async function applyLinks(nl: Rtnl, desired: DesiredLink[], before: LinkDetail[]): Promise<void> {
  for (const d of desired) {
    const c = createSpec(d);
    const l = before.find((x) => x.name === d.name);
    if (!c) {
      if (!l) throw new Error(`device ${d.name} does not exist`);
      continue;
    }
    if (l && mismatch(d, l)) await nl.deleteLink(l.index, d.name);
    if (!l || mismatch(d, l)) await nl.createLink(d.name, c);
  }
  const live = await nl.linkDetails();
  for (const d of desired) {
    const l = live.find((x) => x.name === d.name)!;
    const master = d.master ? live.find((x) => x.name === d.master) : undefined;
    if (d.master && !master) throw new Error(`device ${d.master} (master of ${d.name}) does not exist`);
    const change: { master?: number; up?: true } = {};
    if (master && l.master !== master.index) change.master = master.index;
    if (d.up && !l.up) change.up = true;
    if (change.master !== undefined || change.up) await nl.setLink(l.index, d.name, change);
  }
}
