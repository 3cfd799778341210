// Flow-log filters (spec.observability.conntrack.log.filters), with upstream's semantics: a record
// is logged when no exclude rule matches and, if there are include rules, one of them matches. A
// rule matches when every field it sets matches: address family, protocol, NAT type (a flow that
// is both SNAT and DNAT also matches "snat" or "dnat", and "snat_dnat" matches only such a flow),
// and the original and translated tuples' CIDRs and inclusive port ranges.
import { parseCidr, parseIp, type Cidr } from '../lib/ip.js';
import type { FilterRule, PortRange, TupleFilter } from './config.js';
import { metricNatType, type FlowRecord, type FlowTuple } from './flow.js';

interface CompiledTuple {
  sources: Cidr[];
  destinations: Cidr[];
  sourcePorts: PortRange[];
  destinationPorts: PortRange[];
}

interface CompiledRule {
  families: Set<string>;
  protocols: Set<string>;
  natTypes: Set<string>;
  original: CompiledTuple;
  translated: CompiledTuple;
}

export interface FlowFilter {
  match(record: FlowRecord): boolean;
}

/** Bits of an address (4 or 16 bytes) compared against a prefix. */
function inPrefix(cidr: Cidr, address: Buffer): boolean {
  if (cidr.bytes.length !== address.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (address[i]! & mask)) return false;
  }
  return true;
}

function compileTuple(t: TupleFilter): CompiledTuple {
  // The config was validated (config.ts): every CIDR parses.
  const cidrs = (list: string[]) => list.map((c) => {
    const r = parseCidr(c);
    if (!r.ok) throw new Error(`filter CIDR ${JSON.stringify(c)}: ${r.reason}`);
    return r.value;
  });
  return { sources: cidrs(t.sourceCIDRs), destinations: cidrs(t.destinationCIDRs), sourcePorts: t.sourcePorts, destinationPorts: t.destinationPorts };
}

function compileRule(r: FilterRule): CompiledRule {
  return { families: new Set(r.addressFamilies), protocols: new Set(r.protocols), natTypes: new Set(r.natTypes), original: compileTuple(r.original), translated: compileTuple(r.translated) };
}

const setMatch = (s: Set<string>, v: string) => s.size === 0 || s.has(v);
const portsMatch = (ranges: PortRange[], port: number) => ranges.length === 0 || ranges.some((r) => port >= r.start && port <= r.end);

/** The address is parsed only when the rule has CIDRs (most rules have none). */
function addressMatch(cidrs: Cidr[], address: string): boolean {
  if (cidrs.length === 0) return true;
  const a = parseIp(address);
  return a.ok && cidrs.some((c) => inPrefix(c, a.value.bytes));
}

function tupleMatch(t: CompiledTuple, v: FlowTuple): boolean {
  return addressMatch(t.sources, v.sourceIP) && addressMatch(t.destinations, v.destinationIP)
    && portsMatch(t.sourcePorts, v.sourcePort ?? 0) && portsMatch(t.destinationPorts, v.destinationPort ?? 0);
}

function ruleMatch(rule: CompiledRule, r: FlowRecord): boolean {
  if (!setMatch(rule.families, r.addressFamily) || !setMatch(rule.protocols, r.protocol)) return false;
  if (rule.natTypes.size > 0 && !r.natType.some((n) => rule.natTypes.has(n)) && !rule.natTypes.has(metricNatType(r.natType))) return false;
  return tupleMatch(rule.original, r.original) && tupleMatch(rule.translated, r.translated);
}

export function compileFilter(include: FilterRule[], exclude: FilterRule[]): FlowFilter {
  const inc = include.map(compileRule);
  const exc = exclude.map(compileRule);
  return {
    match(record) {
      if (exc.some((rule) => ruleMatch(rule, record))) return false;
      return inc.length === 0 || inc.some((rule) => ruleMatch(rule, record));
    },
  };
}
