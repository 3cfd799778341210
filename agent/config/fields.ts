// Field parsers used by the schema: raw input (string from env/flags, JSON value from the file)
// -> typed, canonical value, or a reason. Each reports every problem it finds, with the offending
// entry, so one run shows all mistakes.
import { addressClass, formatCidr, formatIp, hasHostBits, networkOf, parseCidr, parseIp, type IpFamily } from '../lib/ip.js';
import { parseListenAddress } from '../lib/listen-address.js';
import { parseProbeFlag, UpstreamOptionsError, type ProbeTargetInput } from '../upstream/options.js';

/** Reports one problem; `value` is the offending part when it is narrower than the whole input. */
export type Report = (message: string, value?: string) => void;
/** Reports something corrected on the way in (the value is accepted; the agent logs a warning). */
export type Note = Report;

function asText(v: unknown, report: Report): string | undefined {
  if (typeof v === 'string') return v;
  report(`expected a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return undefined;
}

const UNUSABLE = new Set(['unspecified', 'loopback', 'multicast', 'broadcast', 'ipv4-mapped']);

function checkAddress(text: string, family: IpFamily | undefined, report: Report, label = ''): string | undefined {
  const r = parseIp(text);
  if (!r.ok) {
    report(`${label}${r.reason}`, text);
    return undefined;
  }
  if (family !== undefined && r.value.family !== family) {
    report(`${label}is an IPv${r.value.family} address, but this setting takes IPv${family}`, text);
    return undefined;
  }
  const cls = addressClass(r.value);
  if (UNUSABLE.has(cls)) {
    report(`${label}is ${cls === 'ipv4-mapped' ? 'an IPv4-mapped IPv6 address (use the IPv4 setting)' : `the ${cls} address, not usable here`}`, text);
    return undefined;
  }
  return formatIp(r.value);
}

/** One address of the given family (any when undefined). "" means unset. */
export function ipAddress(family?: IpFamily) {
  return (v: unknown, report: Report): string | undefined => {
    const t = asText(v, report);
    if (t === undefined || t === '') return undefined;
    return checkAddress(t, family, report);
  };
}

/** A list: comma-separated text (env, flags) or a JSON array of strings. */
function listEntries(v: unknown, report: Report): string[] | undefined {
  if (typeof v === 'string') return v.trim() === '' ? [] : v.split(',').map((x) => x.trim());
  if (Array.isArray(v)) {
    const bad = v.findIndex((x) => typeof x !== 'string');
    if (bad >= 0) {
      report(`entry ${bad + 1} is not a string`, JSON.stringify(v[bad]));
      return undefined;
    }
    return (v as string[]).map((x) => x.trim());
  }
  report(`expected a comma-separated string or an array of strings, got ${typeof v}`);
  return undefined;
}

function uniqueEntries(entries: (string | undefined)[], originals: string[], report: Report): string[] | undefined {
  const first = new Map<string, number>();
  let ok = true;
  entries.forEach((e, i) => {
    if (e === undefined) { ok = false; return; }
    const j = first.get(e);
    if (j !== undefined) {
      report(`entry ${i + 1} "${originals[i]}" duplicates entry ${j + 1} "${originals[j]}"`, originals[i]);
      ok = false;
    } else {
      first.set(e, i);
    }
  });
  return ok ? (entries as string[]) : undefined;
}

/** Addresses of any family, e.g. POD_IPS / BFD_PEER_IPS. */
export function ipList(v: unknown, report: Report): string[] | undefined {
  const raw = listEntries(v, report);
  if (!raw) return undefined;
  const parsed = raw.map((e, i): string | undefined => {
    if (e !== '') return checkAddress(e, undefined, report, `entry ${i + 1} "${e}" `);
    report(`entry ${i + 1} is empty (stray comma?)`, e);
    return undefined;
  });
  return uniqueEntries(parsed, raw, report);
}

/** Keeps the first of entries equal after normalisation, noting each one dropped. */
function dropDuplicates(entries: string[], originals: string[], note: Note): string[] {
  const first = new Map<string, number>();
  return entries.filter((e, i) => {
    const j = first.get(e);
    if (j === undefined) {
      first.set(e, i);
      return true;
    }
    note(`entry ${i + 1} "${originals[i]}" duplicates entry ${j + 1} "${originals[j]}"; used once`, originals[i]);
    return false;
  });
}

/**
 * CIDRs of one family. A bare address means a host route (/32, /128), as iptables read Kube-OVN's
 * list. Host bits and duplicates are corrected with a note, not refused: Kube-OVN's controller
 * passes policy ipBlocks as written, and its own script worked with them (iptables and ipset clear
 * host bits silently), so refusing would crash-loop a gateway that works with the stock image.
 */
export function cidrList(family: IpFamily) {
  return (v: unknown, report: Report, note: Note): string[] | undefined => {
    const raw = listEntries(v, report);
    if (!raw) return undefined;
    const parsed = raw.map((e, i): string | undefined => {
      const label = `entry ${i + 1} "${e}" `;
      if (e === '') {
        report(`entry ${i + 1} is empty (stray comma?)`, e);
        return undefined;
      }
      const r = parseCidr(e, { bareIp: true });
      if (!r.ok) {
        report(`${label}${r.reason}`, e);
        return undefined;
      }
      if (r.value.family !== family) {
        report(`${label}is IPv${r.value.family}, but this list takes IPv${family}`, e);
        return undefined;
      }
      if (hasHostBits(r.value)) {
        const network = formatCidr(networkOf(r.value));
        note(`${label}has host bits set; using ${network} (as iptables and ipset would)`, e);
        return network;
      }
      return formatCidr(r.value);
    });
    if (parsed.some((e) => e === undefined)) return undefined;
    return dropDuplicates(parsed as string[], raw, note);
  };
}

export function integer(min: number, max: number) {
  return (v: unknown, report: Report): number | undefined => {
    let n: number;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && /^-?[0-9]+$/.test(v.trim())) n = Number(v.trim());
    else {
      report(`expected an integer between ${min} and ${max}`);
      return undefined;
    }
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      report(`must be an integer between ${min} and ${max}`);
      return undefined;
    }
    return n;
  };
}

/** A POSIX-portable environment variable name. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function boolean(v: unknown, report: Report): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  report('expected true or false');
  return undefined;
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (v: unknown, report: Report): T | undefined => {
    const t = asText(v, report);
    if (t === undefined) return undefined;
    if ((choices as readonly string[]).includes(t)) return t as T;
    report(`expected one of: ${choices.join(', ')}`);
    return undefined;
  };
}

/** Linux interface name rules (dev_valid_name): 1-15 bytes, not "." or "..", no "/", ":" or spaces. */
export function interfaceName(v: unknown, report: Report): string | undefined {
  const t = asText(v, report);
  if (t === undefined || t === '') return undefined;
  if (Buffer.byteLength(t) > 15) report('an interface name has at most 15 bytes');
  else if (t === '.' || t === '..' || /[/:\s]/.test(t)) report('not a valid interface name (no "/", ":" or whitespace; not "." or "..")');
  else return t;
  return undefined;
}

/** An absolute path; `maxBytes` for Unix socket paths (sun_path holds 107 bytes plus NUL). */
export function absolutePath(maxBytes?: number) {
  return (v: unknown, report: Report): string | undefined => {
    const t = asText(v, report);
    if (t === undefined) return undefined;
    if (!t.startsWith('/')) report('must be an absolute path');
    else if (t.includes('\0')) report('must not contain NUL');
    else if (maxBytes !== undefined && Buffer.byteLength(t) > maxBytes) report(`a Unix socket path has at most ${maxBytes} bytes`);
    else return t;
    return undefined;
  };
}

/** "[host]:port" as Go's net.Listen takes it (":10669", "0.0.0.0:10669", "[::1]:8080"), checked
 * by the health server's own parser so what passes here always binds. */
export function listenAddress(v: unknown, report: Report): string | undefined {
  const t = asText(v, report);
  if (t === undefined) return undefined;
  try {
    parseListenAddress(t);
    return t;
  } catch (err) {
    report((err as Error).message.replace(/^invalid listen address "(?:[^"\\]|\\.)*": /, ''));
    return undefined;
  }
}

/** An integer in min..max, or 0 meaning "off". */
export function integerOrOff(min: number, max: number) {
  const inRange = integer(0, max);
  return (v: unknown, report: Report): number | undefined => {
    const n = inRange(v, report);
    if (n === undefined || n === 0 || n >= min) return n;
    report(`must be 0 (off) or an integer between ${min} and ${max}`);
    return undefined;
  };
}

/** One upstream probe target as written (for error messages) and as parsed. */
export interface ProbeEntry {
  text: string;
  probe: ProbeTargetInput;
}

const PROBE_KEYS: Record<ProbeTargetInput['kind'], readonly string[]> = {
  icmp: ['kind', 'address'],
  tcp: ['kind', 'address', 'port'],
  http: ['kind', 'url'],
};
const PROBE_COMMON_KEYS = ['name', 'intervalMs', 'timeoutMs', 'rise', 'fall'];

function probeFromText(text: string, label: string, report: Report): ProbeTargetInput | undefined {
  try {
    return parseProbeFlag(text);
  } catch (err) {
    if (!(err instanceof UpstreamOptionsError)) throw err;
    report(`${label}: expected icmp:ADDR, tcp:ADDR:PORT, tcp:[IPV6]:PORT or http://ADDR[:PORT]/PATH`, text);
    return undefined;
  }
}

/** The object form of the file: its keys only; values are checked with the families (schema.ts). */
function probeFromObject(o: Record<string, unknown>, label: string, report: Report): ProbeTargetInput | undefined {
  const text = JSON.stringify(o);
  const kind = o.kind;
  if (kind !== 'icmp' && kind !== 'tcp' && kind !== 'http') {
    report(`${label}: "kind" must be icmp, tcp or http`, text);
    return undefined;
  }
  const allowed = [...PROBE_KEYS[kind], ...PROBE_COMMON_KEYS];
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  const missing = PROBE_KEYS[kind].filter((k) => o[k] === undefined);
  if (unknown.length) report(`${label}: unknown key(s) ${unknown.map((k) => `"${k}"`).join(', ')} for a ${kind} probe (allowed: ${allowed.join(', ')})`, text);
  if (missing.length) report(`${label}: a ${kind} probe needs ${missing.map((k) => `"${k}"`).join(', ')}`, text);
  return unknown.length || missing.length ? undefined : (o as ProbeTargetInput);
}

/**
 * Upstream probe targets: comma-separated text (env, flags) or, in the file, an array of the same
 * strings and/or objects. Syntax only; addresses, ports and timing are checked with the families.
 */
export function probeList(v: unknown, report: Report): ProbeEntry[] | undefined {
  let raw: unknown[];
  if (typeof v === 'string') raw = v.trim() === '' ? [] : v.split(',').map((x) => x.trim());
  else if (Array.isArray(v)) raw = v;
  else {
    report(`expected a comma-separated string or an array, got ${v === null ? 'null' : typeof v}`);
    return undefined;
  }
  let ok = true;
  const out = raw.map((e, i): ProbeEntry | undefined => {
    const label = `entry ${i + 1}`;
    let probe: ProbeTargetInput | undefined;
    if (e === '') report(`${label} is empty (stray comma?)`, '');
    else if (typeof e === 'string') probe = probeFromText(e, label, report);
    else if (e !== null && typeof e === 'object' && !Array.isArray(e)) probe = probeFromObject(e as Record<string, unknown>, label, report);
    else report(`${label}: expected a string or an object`, JSON.stringify(e));
    if (!probe) ok = false;
    return probe && { text: typeof e === 'string' ? e : JSON.stringify(e), probe };
  });
  return ok ? (out as ProbeEntry[]) : undefined;
}
