// IPv4/IPv6 addresses and CIDRs without dependencies: parse with a reason on failure, canonical
// text, family, containment, and Buffer conversion (the netlink layer speaks Buffers).
//
// Canonical text follows glibc inet_ntop (what `ip`, `iptables-save` and `ipset` print): IPv4
// dotted quad; IPv6 lowercase, the longest run (>= 2) of zero groups compressed, the first run on
// a tie, and the IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d. That way strings we produce compare
// equal to the strings the kernel tools print back.

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  bytes: Buffer;
}

export interface Cidr {
  family: IpFamily;
  /** The address as written (host bits possibly set). */
  bytes: Buffer;
  prefix: number;
}

export type IpResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function parseIpv4Bytes(text: string): Buffer | string {
  const parts = text.split('.');
  if (parts.length !== 4) return 'an IPv4 address has 4 dot-separated numbers';
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return `"${p}" is not a decimal number 0-255`;
    // inet_pton rejects leading zeros: "010" could mean octal to some tools.
    if (p.length > 1 && p.startsWith('0')) return `"${p}" has a leading zero`;
    const n = Number(p);
    if (n > 255) return `${n} is greater than 255`;
    out[i] = n;
  }
  return out;
}

function parseIpv6Bytes(text: string): Buffer | string {
  if (text.includes('%')) return 'zone indexes (%...) are not supported';
  if (text.startsWith('[') || text.endsWith(']')) return 'write the address without brackets';
  const halves = text.split('::');
  if (halves.length > 2) return '"::" may appear only once';
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[] = [];
  const all = [...head, ...tail];
  let v4Tail: Buffer | undefined;
  const last = all[all.length - 1];
  // The dotted tail is only valid as the last thing written ("1.2.3.4::" is not an address).
  if (last !== undefined && last.includes('.') && (halves.length === 1 || tail.length > 0)) {
    const v4 = parseIpv4Bytes(last);
    if (typeof v4 === 'string') return `embedded IPv4 part: ${v4}`;
    v4Tail = v4;
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  for (const g of [...head, ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return g === '' ? 'empty group (stray ":")' : `"${g}" is not a 1-4 digit hex group`;
  }
  const explicit = head.length + tail.length + (v4Tail ? 2 : 0);
  if (halves.length === 2) {
    if (explicit > 7) return '"::" must stand for at least one group';
  } else if (explicit !== 8) {
    return `an IPv6 address has 8 groups, found ${explicit}`;
  }
  for (const g of head) words.push(parseInt(g, 16));
  const fillLen = 8 - explicit;
  for (let i = 0; i < fillLen; i++) words.push(0);
  for (const g of tail) words.push(parseInt(g, 16));
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  if (v4Tail) v4Tail.copy(out, 12);
  return out;
}

/** Parse an IPv4 or IPv6 address (no prefix). */
export function parseIp(text: string): IpResult<IpAddress> {
  if (typeof text !== 'string' || text.length === 0) return fail('empty');
  if (text !== text.trim()) return fail('surrounding whitespace');
  if (text.includes('/')) return fail('an address is expected here, not a CIDR');
  if (text.includes(':')) {
    const b = parseIpv6Bytes(text);
    return typeof b === 'string' ? fail(`not an IPv6 address: ${b}`) : { ok: true, value: { family: 6, bytes: b } };
  }
  if (/^[0-9.]+$/.test(text)) {
    const b = parseIpv4Bytes(text);
    return typeof b === 'string' ? fail(`not an IPv4 address: ${b}`) : { ok: true, value: { family: 4, bytes: b } };
  }
  return fail('not an IP address');
}

/**
 * Parse "address/prefix". With `bareIp`, an address without prefix means a host route
 * (/32 or /128), as iptables treats `-s 10.0.0.5`.
 */
export function parseCidr(text: string, opts: { bareIp?: boolean } = {}): IpResult<Cidr> {
  if (typeof text !== 'string' || text.length === 0) return fail('empty');
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (!opts.bareIp) return fail('a CIDR needs a prefix length ("/N")');
    const a = parseIp(text);
    return a.ok ? { ok: true, value: { family: a.value.family, bytes: a.value.bytes, prefix: familyBits(a.value.family) } } : a;
  }
  const a = parseIp(text.slice(0, slash));
  if (!a.ok) return a;
  const p = text.slice(slash + 1);
  const max = familyBits(a.value.family);
  if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p.startsWith('0'))) return fail(`prefix "${p}" is not a number 0-${max}`);
  const prefix = Number(p);
  if (prefix > max) return fail(`prefix /${prefix} is out of range for IPv${a.value.family} (0-${max})`);
  return { ok: true, value: { family: a.value.family, bytes: a.value.bytes, prefix } };
}

function maskBytes(bytes: Buffer, prefix: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** The network of a CIDR: host bits cleared. */
export function networkOf(c: Cidr): Cidr {
  return { family: c.family, bytes: maskBytes(c.bytes, c.prefix), prefix: c.prefix };
}

export function hasHostBits(c: Cidr): boolean {
  return !maskBytes(c.bytes, c.prefix).equals(c.bytes);
}

function formatIpv6(b: Buffer): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(b.readUInt16BE(i * 2));
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestBase = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  if (bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    const v4 = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    return bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  const hex = (w: number): string => w.toString(16);
  if (bestBase < 0) return words.map(hex).join(':');
  const left = words.slice(0, bestBase).map(hex).join(':');
  const right = words.slice(bestBase + bestLen).map(hex).join(':');
  return `${left}::${right}`;
}

export function formatIp(a: IpAddress): string {
  return a.family === 4 ? `${a.bytes[0]}.${a.bytes[1]}.${a.bytes[2]}.${a.bytes[3]}` : formatIpv6(a.bytes);
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c)}/${c.prefix}`;
}

function mustIp(text: string): IpAddress {
  const r = parseIp(text);
  if (!r.ok) throw new TypeError(`invalid IP address "${text}": ${r.reason}`);
  return r.value;
}

function mustCidr(text: string): Cidr {
  const r = parseCidr(text, { bareIp: true });
  if (!r.ok) throw new TypeError(`invalid CIDR "${text}": ${r.reason}`);
  return r.value;
}

/** Family of an address or CIDR text, undefined when it is neither. */
export function ipFamily(text: string): IpFamily | undefined {
  const r = parseCidr(text, { bareIp: true });
  return r.ok ? r.value.family : undefined;
}

/** Canonical text of an address; throws TypeError on invalid input. */
export function canonicalIp(text: string): string {
  return formatIp(mustIp(text));
}

/**
 * Canonical "network/prefix" of a CIDR or bare address (host route); host bits are cleared.
 * Throws TypeError on invalid input. Reads `ipset save` members, which omit /32 and /128.
 */
export function normalizeCidr(text: string): string {
  return formatCidr(networkOf(mustCidr(text)));
}

/** Host prefix of an address: "10.0.0.1" -> "10.0.0.1/32", "fd00::1" -> "fd00::1/128". */
export function hostCidr(ip: string): string {
  const a = mustIp(ip);
  return `${formatIp(a)}/${familyBits(a.family)}`;
}

/** Whether `inner` (address or CIDR) lies inside `outer` (CIDR). Different families: false. */
export function contains(outer: string, inner: string): boolean {
  const o = mustCidr(outer);
  const i = mustCidr(inner);
  if (o.family !== i.family || i.prefix < o.prefix) return false;
  return maskBytes(i.bytes, o.prefix).equals(maskBytes(o.bytes, o.prefix));
}

export function ipToBuffer(text: string): Buffer {
  return Buffer.from(mustIp(text).bytes);
}

export function ipFromBuffer(buf: Uint8Array): string {
  if (buf.length === 4) return formatIp({ family: 4, bytes: Buffer.from(buf) });
  if (buf.length === 16) return formatIp({ family: 6, bytes: Buffer.from(buf) });
  throw new TypeError(`an IP address buffer has 4 or 16 bytes, got ${buf.length}`);
}

/** Address classes the config validation refuses for gateways and local addresses. */
export function addressClass(a: IpAddress): 'unspecified' | 'loopback' | 'multicast' | 'broadcast' | 'ipv4-mapped' | 'link-local' | 'unicast' {
  const b = a.bytes;
  if (a.family === 4) {
    if (b.readUInt32BE(0) === 0) return 'unspecified';
    if (b[0] === 127) return 'loopback';
    if (b[0]! >= 224 && b[0]! <= 239) return 'multicast';
    if (b.readUInt32BE(0) === 0xffffffff) return 'broadcast';
    if (b[0] === 169 && b[1] === 254) return 'link-local';
    return 'unicast';
  }
  if (b.every((x) => x === 0)) return 'unspecified';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
  if (b[0] === 0xff) return 'multicast';
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return 'ipv4-mapped';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local';
  return 'unicast';
}
