// Thin wrapper around the `netlink` 0.3.0 package (rtnetlink), exposing only what the dataplane needs:
// links, addresses, route lookup/list/replace/delete, policy rules, and a change listener.
// It papers over the package's gaps (see docs/dependencies.md): errors carry a
// parsed errno code, dumps are filtered by table in JS. Change notifications do not come through the
// package (it aborts the process when they overflow): see ./rtnl-multicast.ts.
import { EventEmitter } from 'node:events';
import type { rt, RtNetlinkSocket } from 'netlink';
import { netlinkPackage } from '../lib/netlink-package.js';
import { ipFromBuffer, ipToBuffer, parseCidr, formatIp, networkOf, familyBits, type IpFamily } from '../lib/ip.js';
import { RtnlMulticast, type MulticastStats, type RtGroup } from './rtnl-multicast.js';

const { createRtNetlink, FlagsNew } = netlinkPackage;

const AF_INET = 2;
const AF_INET6 = 10;
/** RT_TABLE_COMPAT: what goes in the 8-bit header field when the real table id is >= 256. */
const RT_TABLE_COMPAT = 252;
const REQUEST_TIMEOUT_MS = 5000;
/** Replies to one request at a time; dumps are paced by the kernel to what we read. */
const RECV_BUFFER = 4 << 20;
const SEND_BUFFER = 1 << 20;

export const afOf = (family: IpFamily): number => (family === 4 ? AF_INET : AF_INET6);
const familyOfAf = (af: number | undefined): IpFamily | undefined => (af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined);

/** A rejected netlink request, with the errno name the package only puts in its message. */
export class NetlinkError extends Error {
  constructor(
    /** errno name, e.g. EEXIST, ESRCH, ENETUNREACH; TIMEOUT or UNKNOWN when there is none. */
    readonly code: string,
    /** What we were doing, e.g. "add rule 1002: from all iif net1 lookup 1000". */
    readonly operation: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    // An unrecognised failure keeps the package's own words: "UNKNOWN" alone loses the cause.
    super(`${operation}: ${code}${options?.detail ? ` (${options.detail})` : ''}`, options);
    this.name = 'NetlinkError';
  }
}

/** Turns whatever the package threw into a NetlinkError ("Request rejected: EEXIST" -> EEXIST). */
export function parseNetlinkError(err: unknown, operation: string): NetlinkError {
  if (err instanceof NetlinkError) return err;
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  let code = 'UNKNOWN';
  const rejected = /^Request rejected: (\S+)$/.exec(message);
  if (rejected) code = /^-?\d+$/.test(rejected[1]!) ? `ERRNO_${Math.abs(Number(rejected[1]))}` : rejected[1]!;
  else if (typeof e?.code === 'string' && e.code.length > 0) code = e.code; // ErrnoException from the raw socket
  else if (/Timeout has been reached/.test(message)) code = 'TIMEOUT';
  return new NetlinkError(code, operation, { cause: err, ...(code === 'UNKNOWN' ? { detail: message } : {}) });
}

export interface LinkInfo {
  index: number;
  name: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP / operstate UP). */
  carrier: boolean;
}

/** A link with what the EVPN devices are compared on (kind and its data, master). */
export interface LinkDetail extends LinkInfo {
  /** IFLA_INFO_KIND, e.g. vrf, bridge, vxlan, veth; undefined for a device without one. */
  kind?: string;
  /** Index of the master device (IFLA_MASTER). */
  master?: number;
  /** vrf: IFLA_VRF_TABLE. */
  vrfTable?: number;
  /** vxlan: IFLA_VXLAN_ID / _PORT / _LOCAL(6). */
  vxlan?: { id?: number; port?: number; local?: string };
}

/** What a created device is: kind vrf (table), bridge, or vxlan (id, port, local). */
export type LinkCreate =
  | { kind: 'vrf'; table: number }
  | { kind: 'bridge' }
  /** local: absent only for the kernel-support probe. */
  | { kind: 'vxlan'; id: number; port: number; local?: string };

/** One netlink attribute (native endianness, 4-byte aligned). */
function nla(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const h = Buffer.alloc(4);
  h.writeUInt16LE(len, 0);
  h.writeUInt16LE(type, 2);
  return Buffer.concat([h, payload, Buffer.alloc((4 - (len % 4)) % 4)]);
}

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
};

/** Attributes of a nested block, by type (the NLA_F_NESTED / NET_BYTEORDER bits dropped). */
function parseNlas(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

// IFLA_INFO_KIND / _DATA; IFLA_VRF_TABLE; IFLA_VXLAN_ID / _LOCAL / _PORT / _LOCAL6 (linux/if_link.h).
const INFO_KIND = 1;
const INFO_DATA = 2;
const VRF_TABLE = 1;
const VXLAN_ID = 1;
const VXLAN_LOCAL = 4;
const VXLAN_PORT = 15;
const VXLAN_LOCAL6 = 17;

export function encodeLinkInfo(c: LinkCreate): Buffer {
  const kind = nla(INFO_KIND, Buffer.from(`${c.kind}\0`));
  if (c.kind === 'bridge') return kind;
  if (c.kind === 'vrf') return Buffer.concat([kind, nla(INFO_DATA, nla(VRF_TABLE, u32(c.table)))]);
  const local = c.local !== undefined ? ipToBuffer(c.local) : undefined;
  const port = Buffer.alloc(2);
  port.writeUInt16BE(c.port, 0); // network byte order
  const data = Buffer.concat([
    nla(VXLAN_ID, u32(c.id)),
    ...(local ? [nla(local.length === 4 ? VXLAN_LOCAL : VXLAN_LOCAL6, local)] : []),
    nla(VXLAN_PORT, port),
  ]);
  return Buffer.concat([kind, nla(INFO_DATA, data)]);
}

export function decodeLinkInfo(buf: Buffer): Pick<LinkDetail, 'kind' | 'vrfTable' | 'vxlan'> {
  const info = parseNlas(buf);
  const kindRaw = info.get(INFO_KIND);
  const kind = kindRaw ? kindRaw.toString('utf8').replace(/\0.*$/s, '') : undefined;
  const data = info.get(INFO_DATA) ? parseNlas(info.get(INFO_DATA)!) : new Map<number, Buffer>();
  if (kind === 'vrf') {
    const t = data.get(VRF_TABLE);
    return { kind, ...(t && t.length >= 4 ? { vrfTable: t.readUInt32LE(0) } : {}) };
  }
  if (kind === 'vxlan') {
    const id = data.get(VXLAN_ID);
    const port = data.get(VXLAN_PORT);
    const local = data.get(VXLAN_LOCAL) ?? data.get(VXLAN_LOCAL6);
    return {
      kind,
      vxlan: {
        ...(id && id.length >= 4 ? { id: id.readUInt32LE(0) } : {}),
        ...(port && port.length >= 2 ? { port: port.readUInt16BE(0) } : {}),
        ...(local && (local.length === 4 || local.length === 16) ? { local: ipFromBuffer(local) } : {}),
      },
    };
  }
  return kind !== undefined ? { kind } : {};
}

export interface AddressInfo {
  family: IpFamily;
  index: number;
  address: string;
  prefixLen: number;
}

export interface RouteLookup {
  oif: number;
  prefsrc?: string;
  gateway?: string;
}

export interface RouteInfo {
  family: IpFamily;
  table: number;
  /** "default" or a canonical CIDR. */
  dst: string;
  gateway?: string;
  oif?: number;
  metric: number;
  tos: number;
  type: string;
  protocol: string;
}

export interface RouteSpec {
  family: IpFamily;
  table: number;
  dst: string;
  gateway: string;
  oif: number;
}

/** A policy rule as the kernel reports it; `selectors` lists match keys this wrapper does not model. */
export interface RuleInfo {
  family: IpFamily;
  priority: number;
  iif?: string;
  /** Source as canonical CIDR; absent = from all. */
  from?: string;
  table: number;
  action: string;
  /** Other selectors present (dst, fwmark, oif, ...), in `ip rule` words; empty for our rules. */
  selectors: string[];
}

export interface RuleSpec {
  family: IpFamily;
  priority: number;
  iif?: string;
  from?: string;
  table: number;
}

const bufOf = (v: unknown): Buffer | undefined => (Buffer.isBuffer(v) ? v : undefined);

function cidrParts(text: string): { bytes: Buffer; prefix: number; family: IpFamily } {
  const r = parseCidr(text, { bareIp: true });
  if (!r.ok) throw new TypeError(`invalid CIDR "${text}": ${r.reason}`);
  return networkOf(r.value);
}

/** "default" or canonical "net/len" of a route/rule dst as the kernel reports it. */
function prefixText(family: IpFamily, addr: Buffer | undefined, len: number): string {
  if (len === 0) return 'default';
  const bytes = addr ?? Buffer.alloc(family === 4 ? 4 : 16);
  return `${formatIp({ family, bytes })}/${len}`;
}

/** `ip route` wording, e.g. "table 1000 default via 10.16.0.1 dev eth0". */
export function describeRoute(r: { table: number; dst: string; gateway?: string; dev?: string }): string {
  return `table ${r.table} ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`;
}

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

/** `ip rule` wording, e.g. "1002: from all iif net1 lookup 1000". */
export function describeRule(r: Pick<RuleInfo, 'priority' | 'iif' | 'from' | 'table'> & { selectors?: string[]; action?: string }): string {
  const from = r.from ? r.from.replace(/\/(32|128)$/, '') : 'all';
  const parts = [`${r.priority}:`, 'from', from, ...(r.iif ? ['iif', r.iif] : []), ...(r.selectors ?? [])];
  if (r.action && r.action !== 'toTbl') parts.push(r.action);
  else parts.push('lookup', TABLE_NAMES[r.table] ?? String(r.table));
  return parts.join(' ');
}

function toLinkInfo(m: rt.LinkMessage): LinkInfo | undefined {
  if (m.data.index === undefined || m.attrs.ifname === undefined) return undefined;
  const flags = m.data.flags ?? {};
  const IF_OPER_UP = 6;
  return {
    index: m.data.index,
    name: m.attrs.ifname,
    up: flags.up === true,
    carrier: (flags as { lowerUp?: true }).lowerUp === true || m.attrs.carrier === 1 || m.attrs.operstate === IF_OPER_UP,
  };
}

function toRouteInfo(m: rt.RouteMessage): RouteInfo | undefined {
  const family = familyOfAf(m.data.family);
  if (!family) return undefined;
  const gw = bufOf(m.attrs.gateway);
  return {
    family,
    table: m.attrs.table ?? m.data.table ?? 0,
    dst: prefixText(family, bufOf(m.attrs.dst), m.data.dstLen ?? 0),
    gateway: gw ? ipFromBuffer(gw) : undefined,
    oif: m.attrs.oif,
    metric: m.attrs.priority ?? 0,
    tos: m.data.tos ?? 0,
    type: String(m.data.type ?? 'UNSPEC'),
    protocol: String(m.data.protocol ?? 'UNSPEC'),
  };
}

function toRuleInfo(m: rt.RuleMessage): RuleInfo | undefined {
  const family = familyOfAf(m.data.family);
  if (!family) return undefined;
  const a = m.attrs;
  const selectors: string[] = [];
  if ((m.data.dstLen ?? 0) > 0) selectors.push('to', prefixText(family, bufOf(a.dst), m.data.dstLen!));
  if (a.fwmark !== undefined) selectors.push('fwmark', `0x${a.fwmark.toString(16)}${a.fwmask !== undefined ? `/0x${a.fwmask.toString(16)}` : ''}`);
  if (a.oifname !== undefined) selectors.push('oif', a.oifname);
  if ((m.data.tos ?? 0) !== 0) selectors.push('tos', String(m.data.tos));
  if (m.data.flags?.invert) selectors.unshift('not');
  if (a.ipProto !== undefined) selectors.push('ipproto', String(a.ipProto));
  if (a.sportRange !== undefined) selectors.push('sport', `${a.sportRange.start}-${a.sportRange.end}`);
  if (a.dportRange !== undefined) selectors.push('dport', `${a.dportRange.start}-${a.dportRange.end}`);
  if (a.uidRange !== undefined) selectors.push('uidrange', `${a.uidRange.start}-${a.uidRange.end}`);
  if (a.l3Mdev !== undefined) selectors.push('l3mdev');
  if (a.goto !== undefined) selectors.push('goto', String(a.goto));
  const srcLen = m.data.srcLen ?? 0;
  return {
    family,
    priority: a.priority ?? 0,
    iif: a.iifname,
    from: srcLen > 0 ? prefixText(family, bufOf(a.src), srcLen) : undefined,
    table: a.table ?? m.data.table ?? 0,
    action: String(m.data.action ?? 'unspec'),
    selectors,
  };
}

/** Request/response rtnetlink socket. One per process is enough; close() when done. */
export class Rtnl {
  private busy: Promise<unknown> = Promise.resolve();

  private constructor(private readonly sock: RtNetlinkSocket) {}

  static open(): Rtnl {
    const sock = createRtNetlink({ ref: false, recvBufferSize: RECV_BUFFER, sendBufferSize: SEND_BUFFER });
    // The package leaves socket errors unhandled; requests fail through their own promise.
    sock.socket.on('error', () => {});
    return new Rtnl(sock);
  }

  close(): void {
    this.sock.socket.close();
  }

  /**
   * One request at a time: the package cannot tell two dumps on one socket apart (their multipart
   * replies interleave: "Multipart message not terminated properly"), so requests are queued.
   */
  private async call<T>(operation: string, fn: (opts: { timeout: number; flags?: number }) => Promise<T>, flags?: number): Promise<T> {
    const turn = this.busy.then(() => fn({ timeout: REQUEST_TIMEOUT_MS, ...(flags !== undefined ? { flags } : {}) }));
    this.busy = turn.catch(() => undefined);
    try {
      return await turn;
    } catch (err) {
      throw parseNetlinkError(err, operation);
    }
  }

  async links(): Promise<LinkInfo[]> {
    const msgs = await this.call('list links', (o) => this.sock.getLinks({}, {}, o));
    return msgs.map(toLinkInfo).filter((l): l is LinkInfo => l !== undefined);
  }

  /** Links with kind, master and the vrf/vxlan data (`ip -d link`). */
  async linkDetails(): Promise<LinkDetail[]> {
    const msgs = await this.call('list links', (o) => this.sock.getLinks({}, {}, o));
    const out: LinkDetail[] = [];
    for (const m of msgs) {
      const base = toLinkInfo(m);
      if (!base) continue;
      const info = bufOf(m.attrs.linkinfo);
      out.push({ ...base, ...(info ? decodeLinkInfo(info) : {}), ...(m.attrs.master ? { master: m.attrs.master } : {}) });
    }
    return out;
  }

  /** `ip link add NAME type KIND ...`; EOPNOTSUPP when the kernel lacks the device type. */
  async createLink(name: string, c: LinkCreate): Promise<void> {
    await this.call(`create ${c.kind} device ${name}`, (o) => this.sock.newLink({}, { ifname: name, linkinfo: encodeLinkInfo(c) }, o), FlagsNew.CREATE | FlagsNew.EXCL);
  }

  async deleteLink(index: number, label: string): Promise<void> {
    await this.call(`delete device ${label}`, (o) => this.sock.delLink({ index }, {}, o));
  }

  /** `ip link set dev LABEL [master M] [up]`. */
  async setLink(index: number, label: string, change: { master?: number; up?: true }): Promise<void> {
    const data: rt.Link = { index, ...(change.up ? { flags: { up: true }, change: { up: true } } : {}) };
    const attrs = change.master !== undefined ? { master: change.master } : {};
    await this.call(`set device ${label}${change.master !== undefined ? ` master #${change.master}` : ''}${change.up ? ' up' : ''}`, (o) => this.sock.newLink(data, attrs, o));
  }

  async linkByName(name: string): Promise<LinkInfo | undefined> {
    return (await this.links()).find((l) => l.name === name);
  }

  async addresses(family?: IpFamily): Promise<AddressInfo[]> {
    const msgs = await this.call('list addresses', (o) => this.sock.getAddresses(family ? { family: afOf(family) } : {}, {}, o));
    const out: AddressInfo[] = [];
    for (const m of msgs) {
      const fam = familyOfAf(m.data.family);
      const raw = bufOf(m.attrs.local) ?? bufOf(m.attrs.address);
      if (!fam || !raw || m.data.index === undefined) continue;
      if (family && fam !== family) continue;
      out.push({ family: fam, index: m.data.index, address: ipFromBuffer(raw), prefixLen: m.data.prefixlen ?? familyBits(fam) });
    }
    return out;
  }

  /** Like `ip route get DST`: the kernel's route decision for a destination; undefined when unreachable. */
  async lookupRoute(dst: string): Promise<RouteLookup | undefined> {
    const bytes = ipToBuffer(dst);
    const family: IpFamily = bytes.length === 4 ? 4 : 6;
    try {
      const msgs = await this.call(`route get ${dst}`, (o) =>
        this.sock.getRoute({ family: afOf(family), dstLen: familyBits(family) }, { dst: bytes }, o),
      );
      const m = msgs[0];
      if (!m || m.attrs.oif === undefined) return undefined;
      const type = String(m.data.type ?? '');
      if (type !== 'UNICAST' && type !== 'LOCAL') return undefined;
      const prefsrc = bufOf(m.attrs.prefsrc);
      const gw = bufOf(m.attrs.gateway);
      return { oif: m.attrs.oif, prefsrc: prefsrc ? ipFromBuffer(prefsrc) : undefined, gateway: gw ? ipFromBuffer(gw) : undefined };
    } catch (err) {
      if (err instanceof NetlinkError && ['ENETUNREACH', 'EHOSTUNREACH', 'EINVAL', 'ENODEV'].includes(err.code)) return undefined;
      throw err;
    }
  }

  /** Routes of one family in one table (dumps are not filtered by the kernel: filter here). */
  async routes(family: IpFamily, table: number): Promise<RouteInfo[]> {
    const msgs = await this.call(`list IPv${family} routes`, (o) => this.sock.getRoutes({ family: afOf(family) }, {}, o));
    return msgs.map(toRouteInfo).filter((r): r is RouteInfo => r !== undefined && r.family === family && r.table === table);
  }

  /** `ip route replace DST via GW dev OIF table T` (proto boot, as `ip` uses). */
  async replaceRoute(spec: RouteSpec, label = describeRoute({ ...spec, dev: `#${spec.oif}` })): Promise<void> {
    const { data, attrs } = routeMessage(spec);
    await this.call(`replace route ${label}`, (o) => this.sock.newRoute(data, { ...attrs, gateway: ipToBuffer(spec.gateway), oif: spec.oif }, o), FlagsNew.CREATE | FlagsNew.REPLACE);
  }

  /** Deletes exactly this route (matched on table, dst, tos, metric, gateway, oif). ESRCH is not an error. */
  async deleteRoute(r: RouteInfo): Promise<void> {
    const { data, attrs } = routeMessage(r);
    // As `ip route del`: scope NOWHERE and no type/protocol, so the kernel matches on the keys given.
    const match: rt.Route = { family: data.family, table: data.table, dstLen: data.dstLen, tos: r.tos, scope: 'NOWHERE' };
    const extra: rt.RouteAttrs = { priority: r.metric };
    if (r.gateway) extra.gateway = ipToBuffer(r.gateway);
    if (r.oif !== undefined) extra.oif = r.oif;
    try {
      await this.call(`delete route ${describeRoute({ ...r, dev: r.oif !== undefined ? `#${r.oif}` : undefined })}`, (o) => this.sock.delRoute(match, { ...attrs, ...extra }, o));
    } catch (err) {
      if (!(err instanceof NetlinkError && err.code === 'ESRCH')) throw err;
    }
  }

  async rules(family: IpFamily): Promise<RuleInfo[]> {
    const msgs = await this.call(`list IPv${family} rules`, (o) => this.sock.getRules({ family: afOf(family) }, {}, o));
    return msgs.map(toRuleInfo).filter((r): r is RuleInfo => r !== undefined && r.family === family);
  }

  async addRule(spec: RuleSpec): Promise<void> {
    const { data, attrs } = ruleMessage(spec);
    await this.call(`add rule ${describeRule(spec)}`, (o) => this.sock.newRule(data, attrs, o), FlagsNew.CREATE | FlagsNew.EXCL);
  }

  /**
   * Deletes the first rule at this priority (the kernel treats attributes left out of a delete as
   * wildcards, so an "exact" delete of a less specific rule could hit a more specific one; callers
   * that own a priority clear it this way, as `ip rule del priority N` does). ENOENT is not an error.
   */
  async deleteRuleAtPriority(family: IpFamily, priority: number): Promise<void> {
    try {
      await this.call(`delete IPv${family} rule at priority ${priority}`, (o) => this.sock.delRule({ family: afOf(family) }, { priority }, o));
    } catch (err) {
      if (!(err instanceof NetlinkError && (err.code === 'ENOENT' || err.code === 'ESRCH'))) throw err;
    }
  }
}

function routeMessage(r: { family: IpFamily; table: number; dst: string }): { data: rt.Route; attrs: rt.RouteAttrs } {
  const data: rt.Route = {
    family: afOf(r.family),
    table: r.table < 256 ? r.table : RT_TABLE_COMPAT,
    protocol: 'BOOT',
    scope: 'UNIVERSE',
    type: 'UNICAST',
    dstLen: 0,
  };
  const attrs: rt.RouteAttrs = { table: r.table };
  if (r.dst !== 'default') {
    const c = cidrParts(r.dst);
    data.dstLen = c.prefix;
    attrs.dst = c.bytes;
  }
  return { data, attrs };
}

function ruleMessage(r: RuleSpec): { data: rt.Rule; attrs: rt.RuleAttrs } {
  const data: rt.Rule = { family: afOf(r.family), table: r.table < 256 ? r.table : RT_TABLE_COMPAT, action: 'toTbl', srcLen: 0 };
  const attrs: rt.RuleAttrs = { priority: r.priority, table: r.table };
  if (r.iif) attrs.iifname = r.iif;
  if (r.from) {
    const c = cidrParts(r.from);
    data.srcLen = c.prefix;
    attrs.src = c.bytes;
  }
  return { data, attrs };
}

export type ChangeKind = 'link' | 'address' | 'route' | 'rule';

export interface NetlinkChange {
  /** Raw message type name, e.g. NEWLINK, DELADDR, DELROUTE, NEWRULE. */
  type: string;
  kind: ChangeKind;
  op: 'new' | 'del';
  family?: IpFamily;
  /** Route/rule table, link/address interface index. */
  table?: number;
  ifindex?: number;
}

interface WatcherEvents {
  change: [NetlinkChange];
  /** Notifications were lost (the receive queue overflowed, or a message could not be read): re-read everything. */
  resync: [reason: string];
}

const WATCH_GROUPS: readonly RtGroup[] = ['LINK', 'IPV4_IFADDR', 'IPV6_IFADDR', 'IPV4_ROUTE', 'IPV6_ROUTE', 'IPV4_RULE', 'IPV6_RULE'];

/** Classifies a raw rtnetlink message; undefined for types we do not watch. */
export function classifyChange(type: number, payload: Buffer): NetlinkChange | undefined {
  const name = netlinkPackage.rt.MessageType[type] as string | undefined;
  const m = /^(NEW|DEL)(LINK|ADDR|ROUTE|RULE)$/.exec(name ?? '');
  if (!m) return undefined;
  const op = m[1] === 'NEW' ? 'new' : 'del';
  const msg = netlinkPackage.rt.parseMessage(type, payload);
  switch (msg.kind) {
    case 'link':
      return { type: name!, kind: 'link', op, ifindex: msg.data.index };
    case 'address':
      return { type: name!, kind: 'address', op, family: familyOfAf(msg.data.family), ifindex: msg.data.index };
    case 'route':
      return { type: name!, kind: 'route', op, family: familyOfAf(msg.data.family), table: msg.attrs.table ?? msg.data.table };
    case 'rule':
      return { type: name!, kind: 'rule', op, family: familyOfAf(msg.data.family), table: msg.attrs.table ?? msg.data.table };
    default:
      return undefined;
  }
}

/** Multicast listener for link/address/route/rule changes. Emits 'change' per message and 'resync' on loss. */
export class RtnlWatcher extends EventEmitter<WatcherEvents> {
  private listener: RtnlMulticast | undefined;

  /** Throws when the socket cannot be opened. */
  start(): void {
    if (this.listener) return;
    const listener = new RtnlMulticast(WATCH_GROUPS);
    listener.on('message', (type, payload) => {
      let change: NetlinkChange | undefined;
      try {
        change = classifyChange(type, payload);
      } catch (err) {
        this.emit('resync', `unparseable rtnetlink message type ${type}: ${(err as Error).message}`);
        return;
      }
      if (change) this.emit('change', change);
    });
    listener.on('loss', (reason) => this.emit('resync', reason));
    listener.start();
    this.listener = listener;
  }

  stop(): void {
    this.listener?.stop();
    this.listener = undefined;
  }

  /** Overflows and the receive buffer of the socket; undefined when not started. */
  stats(): MulticastStats | undefined {
    return this.listener?.stats();
  }
}
