// Discovers the Facts the planner needs from the kernel: which interface reaches each gateway and the
// source address the kernel would use toward it (rtnetlink RTM_GETROUTE, i.e. `ip route get <gw>`,
// as Kube-OVN's script does), or the explicitly configured interfaces. Problems with the inputs are
// InputErrors naming the setting, so nothing is applied.
import type { FamilyConfig, GatewayConfig } from '../config/types.js';
import { InputError, type ConfigError, type ConfigSource } from '../config/errors.js';
import { settingById } from '../config/settings.js';
import { contains } from '../lib/ip.js';
import type { Facts, FamilyFacts, InterfaceFact } from '../plan/types.js';
import type { AddressInfo, LinkInfo, Rtnl } from './netlink.js';
import { readSysctl } from './sysctl.js';

type OriginOf = (settingId: string) => { source: ConfigSource; key: string };

/** The input a setting came from (config.origins), else its first environment variable (Kube-OVN's contract). */
function originFrom(config: GatewayConfig): OriginOf {
  return (id) => {
    const known = config.origins?.[id];
    if (known) return known;
    const s = settingById(id);
    return s.env[0] ? { source: 'env', key: s.env[0] } : { source: 'flag', key: `--${s.flag}` };
  };
}

type Side = 'internal' | 'external';

interface Ctx {
  nl: Rtnl;
  links: LinkInfo[];
  addresses: AddressInfo[];
  origin: OriginOf;
  errors: ConfigError[];
  evpn: boolean;
}

function report(ctx: Ctx, settingId: string, value: string, message: string): void {
  ctx.errors.push({ ...ctx.origin(settingId), value, message });
}

/** Global-scope addresses of the family on the interface, in kernel order. */
function addressesOn(ctx: Ctx, index: number, fam: FamilyConfig): AddressInfo[] {
  return ctx.addresses.filter((a) => a.index === index && a.family === fam.family && !a.address.startsWith('fe80:'));
}

async function discoverSide(ctx: Ctx, fam: FamilyConfig, side: Side, explicit: string | undefined): Promise<InterfaceFact | undefined> {
  const gwId = `ipv${fam.family}.${side}Gateway`;
  const gw = side === 'internal' ? fam.internalGateway : fam.externalGateway;
  const lookup = await ctx.nl.lookupRoute(gw);
  if (explicit !== undefined) {
    const ifId = `${side}Interface`;
    const link = ctx.links.find((l) => l.name === explicit);
    if (!link) {
      report(ctx, ifId, explicit, 'interface does not exist');
      return undefined;
    }
    const onLink = addressesOn(ctx, link.index, fam);
    if (onLink.length === 0) {
      report(ctx, ifId, explicit, `interface has no IPv${fam.family} address`);
      return undefined;
    }
    // The table-1000 route and the SNAT need the gateway on-link through this interface.
    const connected = onLink.find((a) => contains(`${a.address}/${a.prefixLen}`, gw));
    if (lookup?.oif !== link.index && !connected) {
      report(ctx, gwId, gw, `not reachable through interface ${explicit} (set by ${ctx.origin(ifId).key})`);
      return undefined;
    }
    const address = lookup?.oif === link.index && lookup.prefsrc ? lookup.prefsrc : (connected ?? onLink[0]!).address;
    return { name: link.name, index: link.index, up: link.up && link.carrier, address };
  }
  // EVPN: once the internal interface is enslaved to vrf-vpn, its connected route lives in table
  // 2000 and a main-table lookup no longer finds the gateway there; the on-link address still does.
  const connected = ctx.evpn && side === 'internal' ? connectedLink(ctx, fam, gw) : undefined;
  if (connected) return connected;
  if (!lookup) {
    report(ctx, gwId, gw, 'not reachable from any interface (no route to it)');
    return undefined;
  }
  const link = ctx.links.find((l) => l.index === lookup.oif);
  if (!link) {
    report(ctx, gwId, gw, `route lookup returned interface #${lookup.oif}, which does not exist`);
    return undefined;
  }
  if (link.name === 'lo') {
    report(ctx, gwId, gw, 'is an address of this host, not a gateway');
    return undefined;
  }
  if (lookup.gateway) {
    report(ctx, gwId, gw, `not directly reachable: the kernel routes it via ${lookup.gateway} dev ${link.name}; the gateway must be on-link`);
    return undefined;
  }
  if (!lookup.prefsrc) {
    report(ctx, gwId, gw, `interface ${link.name} has no IPv${fam.family} source address toward it`);
    return undefined;
  }
  return { name: link.name, index: link.index, up: link.up && link.carrier, address: lookup.prefsrc };
}

/** The interface with an address whose prefix holds the gateway (first in kernel order). */
function connectedLink(ctx: Ctx, fam: FamilyConfig, gw: string): InterfaceFact | undefined {
  for (const link of ctx.links) {
    if (link.name === 'lo') continue;
    const a = addressesOn(ctx, link.index, fam).find((x) => contains(`${x.address}/${x.prefixLen}`, gw));
    if (a) return { name: link.name, index: link.index, up: link.up && link.carrier, address: a.address };
  }
  return undefined;
}

/** The VXLAN local address as Kube-OVN picks it: the interface's first IPv4 address, else its first IPv6. */
function firstAddress(ctx: Ctx, index: number): string | undefined {
  const on = ctx.addresses.filter((a) => a.index === index && !a.address.startsWith('fe80:'));
  return (on.find((a) => a.family === 4) ?? on.find((a) => a.family === 6))?.address;
}

export async function discover(nl: Rtnl, config: GatewayConfig): Promise<Facts> {
  const ctx: Ctx = { nl, links: await nl.links(), addresses: await nl.addresses(), origin: originFrom(config), errors: [], evpn: config.evpn !== undefined };
  const families: FamilyFacts[] = [];
  for (const fam of config.families) {
    const internal = await discoverSide(ctx, fam, 'internal', config.internalInterface);
    const external = await discoverSide(ctx, fam, 'external', config.externalInterface);
    if (internal && external && internal.index === external.index) {
      report(ctx, `ipv${fam.family}.externalGateway`, fam.externalGateway,
        `reached through ${external.name}, the same interface as the internal gateway ${fam.internalGateway}; the gateways must sit on different interfaces`);
    }
    if (internal && external) families.push({ family: fam.family, internal, external });
  }
  if (config.evpn && families[0]) {
    const ext = families[0].external;
    const local = firstAddress(ctx, ext.index);
    if (local === undefined) report(ctx, 'enableEvpn', 'true', `the external interface ${ext.name} has no address for the VXLAN device vxlan-vpn`);
  }
  if (ctx.errors.length > 0) throw new InputError(ctx.errors);
  const facts: Facts = { families };
  if (config.evpn && families[0]) facts.evpnLocal = firstAddress(ctx, families[0].external.index);
  if (config.families.some((f) => f.family === 4)) {
    const all = await readSysctl('net/ipv4/conf/all/rp_filter');
    if (all !== undefined && /^[0-2]$/.test(all)) facts.ipv4RpFilterAll = Number(all);
  }
  return facts;
}
