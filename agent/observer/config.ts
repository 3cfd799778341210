// The observer's configuration file, as Kube-OVN's controller writes it into the gateway's
// ConfigMap (`config.json`: namespace, name, externalNetwork and the VpcEgressGateway's
// spec.observability). Validated fully against the CRD's rules (enums, list sizes, port ranges,
// rate limits, CIDRs): every error names its JSON path and value, and nothing is used unless all of
// it is valid. Keys this version does not know are reported as warnings, not errors, so a newer
// controller's fields do not stop the observer (Go's decoder ignores them too).
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { InputError, type ConfigError } from '../config/errors.js';
import { locateJsonError } from '../config/json-syntax.js';
import { parseCidr } from '../lib/ip.js';

export const DEFAULT_CONFIG_PATH = '/etc/kube-ovn-observer/config.json';
export const DEFAULT_NETWORK_STATUS_PATH = '/etc/podinfo/network-status';
export const DEFAULT_LISTEN_ADDRESS = ':10666';
export const DEFAULT_HEALTH_CHECK_URL = 'http://127.0.0.1:10666/healthz';

export const EVENTS = ['start', 'end'] as const;
export const ADDRESS_FAMILIES = ['ipv4', 'ipv6'] as const;
export const PROTOCOLS = ['tcp', 'udp', 'sctp', 'icmp', 'icmpv6', 'other'] as const;
export const NAT_TYPES = ['snat', 'dnat', 'snat_dnat'] as const;

export type FlowEvent = (typeof EVENTS)[number];
export type AddressFamily = (typeof ADDRESS_FAMILIES)[number];
export type Protocol = (typeof PROTOCOLS)[number];
export type NatType = (typeof NAT_TYPES)[number];

export interface PortRange {
  start: number;
  end: number;
}

export interface TupleFilter {
  sourceCIDRs: string[];
  destinationCIDRs: string[];
  sourcePorts: PortRange[];
  destinationPorts: PortRange[];
}

export interface FilterRule {
  addressFamilies: AddressFamily[];
  protocols: Protocol[];
  natTypes: NatType[];
  original: TupleFilter;
  translated: TupleFilter;
}

export interface ObserverConfig {
  namespace: string;
  name: string;
  externalNetwork: string;
  interfaceMetrics: boolean;
  conntrackMetrics: boolean;
  log: {
    enabled: boolean;
    /** Empty: both (the CRD's default). */
    events: FlowEvent[];
    /** 0: unset, upstream's default applies (100 records/s, burst 1000). */
    recordsPerSecond: number;
    burst: number;
    include: FilterRule[];
    exclude: FilterRule[];
  };
  /** sha256 of the decoded file (whitespace and key order do not count): a reload applies only a change. */
  hash: string;
}

export interface LoadedConfig {
  config: ObserverConfig;
  /** Keys this version ignores (JSON paths). */
  unknownKeys: string[];
}

type Json = unknown;
type Obj = Record<string, Json>;

/** The CRD's list limits (kubebuilder MaxItems). */
const MAX_RULES = 64;
const MAX_CIDRS = 64;
const MAX_PORT_RANGES = 64;

class Checker {
  readonly errors: ConfigError[] = [];
  readonly unknown: string[] = [];

  bad(key: string, value: Json, message: string): void {
    this.errors.push({ source: 'file', key, value: value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value), message });
  }

  /** An object (null/absent: empty); records keys outside `known`. */
  object(v: Json, key: string, known: readonly string[]): Obj {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.bad(key, v, 'expected an object');
      return {};
    }
    for (const k of Object.keys(v)) if (!known.includes(k)) this.unknown.push(join(key, k));
    return v as Obj;
  }

  bool(v: Json, key: string): boolean {
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') {
      this.bad(key, v, 'expected true or false');
      return false;
    }
    return v;
  }

  string(v: Json, key: string, required: boolean): string {
    if (v === undefined || v === null || v === '') {
      if (required) this.bad(key, v, 'required (the controller writes it)');
      return '';
    }
    if (typeof v !== 'string') {
      this.bad(key, v, 'expected a string');
      return '';
    }
    return v;
  }

  /** An integer in [min, max]; absent, null and 0 mean unset (0) where `zeroUnset`. */
  int(v: Json, key: string, min: number, max: number, zeroUnset: boolean): number {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.bad(key, v, `expected an integer ${min}-${max}`);
      return 0;
    }
    if (zeroUnset && v === 0) return 0;
    if (v < min || v > max) {
      this.bad(key, v, `out of range ${min}-${max}`);
      return 0;
    }
    return v;
  }

  list(v: Json, key: string, max: number): Json[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.bad(key, v, 'expected a list');
      return [];
    }
    if (v.length > max) this.bad(key, `${v.length} items`, `at most ${max} items`);
    return v;
  }

  /** A set of enum values (CRD listType=set: no duplicates). */
  enumSet<T extends string>(v: Json, key: string, allowed: readonly T[]): T[] {
    const out: T[] = [];
    this.list(v, key, allowed.length).forEach((item, i) => {
      if (typeof item !== 'string' || !(allowed as readonly string[]).includes(item)) {
        this.bad(`${key}[${i}]`, item, `expected one of ${allowed.join(', ')}`);
      } else if (out.includes(item as T)) {
        this.bad(`${key}[${i}]`, item, 'listed twice');
      } else {
        out.push(item as T);
      }
    });
    return out;
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function tupleFilter(c: Checker, v: Json, key: string): TupleFilter {
  const o = c.object(v, key, ['sourceCIDRs', 'destinationCIDRs', 'sourcePorts', 'destinationPorts']);
  const cidrs = (name: string): string[] => {
    const seen = new Set<string>();
    return c.list(o[name], join(key, name), MAX_CIDRS).flatMap((item, i) => {
      const k = `${join(key, name)}[${i}]`;
      if (typeof item !== 'string') {
        c.bad(k, item, 'expected a CIDR string');
        return [];
      }
      const r = parseCidr(item);
      if (!r.ok) {
        c.bad(k, item, `not a CIDR: ${r.reason}`);
        return [];
      }
      if (seen.has(item)) c.bad(k, item, 'listed twice');
      seen.add(item);
      return [item];
    });
  };
  const ports = (name: string): PortRange[] =>
    c.list(o[name], join(key, name), MAX_PORT_RANGES).flatMap((item, i) => {
      const k = `${join(key, name)}[${i}]`;
      const r = c.object(item, k, ['start', 'end']);
      if (r.start === undefined || r.end === undefined) {
        c.bad(k, item, 'a port range needs start and end');
        return [];
      }
      const errs = c.errors.length;
      const start = c.int(r.start, `${k}.start`, 0, 65535, false);
      const end = c.int(r.end, `${k}.end`, 0, 65535, false);
      if (c.errors.length !== errs) return [];
      if (start > end) {
        c.bad(k, item, 'start must not be greater than end');
        return [];
      }
      return [{ start, end }];
    });
  return { sourceCIDRs: cidrs('sourceCIDRs'), destinationCIDRs: cidrs('destinationCIDRs'), sourcePorts: ports('sourcePorts'), destinationPorts: ports('destinationPorts') };
}

function rules(c: Checker, v: Json, key: string): FilterRule[] {
  return c.list(v, key, MAX_RULES).map((item, i) => {
    const k = `${key}[${i}]`;
    const o = c.object(item, k, ['addressFamilies', 'protocols', 'natTypes', 'original', 'translated']);
    return {
      addressFamilies: c.enumSet(o.addressFamilies, join(k, 'addressFamilies'), ADDRESS_FAMILIES),
      protocols: c.enumSet(o.protocols, join(k, 'protocols'), PROTOCOLS),
      natTypes: c.enumSet(o.natTypes, join(k, 'natTypes'), NAT_TYPES),
      original: tupleFilter(c, o.original, join(k, 'original')),
      translated: tupleFilter(c, o.translated, join(k, 'translated')),
    };
  });
}

/** Canonical JSON (sorted keys), so the hash ignores formatting and key order. */
function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Obj)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Parses and validates the file's text; throws InputError listing every bad input (keys are JSON paths). */
export function parseObserverConfig(text: string, path: string): LoadedConfig {
  let raw: Json;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const at = locateJsonError(text);
    const where = at ? ` at line ${at.line}, column ${at.column}: ${at.message}` : `: ${(err as Error).message}`;
    throw new InputError([{ source: 'file', key: path, value: '', message: `not valid JSON${where}` }]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError([{ source: 'file', key: path, value: JSON.stringify(raw), message: 'expected a JSON object' }]);
  }
  const c = new Checker();
  const top = c.object(raw, '', ['namespace', 'name', 'externalNetwork', 'observability']);
  const obs = c.object(top.observability, 'observability', ['resources', 'interfaceMetrics', 'conntrack', 'serviceMonitor']);
  // resources and serviceMonitor are the controller's business (the Pod spec, the ServiceMonitor);
  // only their shape is checked.
  c.object(obs.resources, 'observability.resources', ['limits', 'requests', 'claims']);
  c.object(obs.serviceMonitor, 'observability.serviceMonitor', ['labels', 'annotations']);
  const im = c.object(obs.interfaceMetrics, 'observability.interfaceMetrics', ['enabled']);
  const ct = c.object(obs.conntrack, 'observability.conntrack', ['metrics', 'log']);
  const ctm = c.object(ct.metrics, 'observability.conntrack.metrics', ['enabled']);
  const log = c.object(ct.log, 'observability.conntrack.log', ['enabled', 'events', 'rateLimit', 'filters']);
  const rl = c.object(log.rateLimit, 'observability.conntrack.log.rateLimit', ['recordsPerSecond', 'burst']);
  const filters = c.object(log.filters, 'observability.conntrack.log.filters', ['include', 'exclude']);
  const config: ObserverConfig = {
    namespace: c.string(top.namespace, 'namespace', true),
    name: c.string(top.name, 'name', true),
    externalNetwork: c.string(top.externalNetwork, 'externalNetwork', true),
    interfaceMetrics: c.bool(im.enabled, 'observability.interfaceMetrics.enabled'),
    conntrackMetrics: c.bool(ctm.enabled, 'observability.conntrack.metrics.enabled'),
    log: {
      enabled: c.bool(log.enabled, 'observability.conntrack.log.enabled'),
      events: c.enumSet(log.events, 'observability.conntrack.log.events', EVENTS),
      recordsPerSecond: c.int(rl.recordsPerSecond, 'observability.conntrack.log.rateLimit.recordsPerSecond', 1, 100_000, true),
      burst: c.int(rl.burst, 'observability.conntrack.log.rateLimit.burst', 1, 1_000_000, true),
      include: rules(c, filters.include, 'observability.conntrack.log.filters.include'),
      exclude: rules(c, filters.exclude, 'observability.conntrack.log.filters.exclude'),
    },
    hash: createHash('sha256').update(canonical(raw)).digest('hex'),
  };
  if (c.errors.length > 0) throw new InputError(c.errors);
  return { config, unknownKeys: c.unknown };
}

export async function loadObserverConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError([{ source: 'flag', key: '--config', value: path, message: `cannot read the observer config: ${(err as Error).message}` }]);
  }
  return parseObserverConfig(text, path);
}

export function conntrackEnabled(c: ObserverConfig): boolean {
  return c.conntrackMetrics || c.log.enabled;
}
