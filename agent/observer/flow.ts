// A NAT flow as the observer reports it: upstream's flow-log record (schemaVersion "v1", one JSON
// line per start/end event) and the label values of its metrics. Only flows the gateway
// translated count: SNAT when the kernel says so (status IPS_SRC_NAT) or the reply tuple shows a
// rewritten source, DNAT likewise; a flow the gateway forwards untranslated, or its own traffic
// (BFD, probes), is no NAT flow and is ignored.
import type { Counters, TupleSide } from '../snat/types.js';
import type { AddressFamily, FlowEvent, NatType, Protocol } from './config.js';

/** One conntrack event as the observer needs it (see conntrack-source.ts). */
export interface CtFlow {
  type: 'new' | 'update' | 'destroy' | 'entry';
  family: 4 | 6;
  protoNumber: number;
  zone: number;
  /** The kernel's ct status bits; undefined when the event did not carry them. */
  status: number | undefined;
  id: number;
  original: TupleSide;
  reply: TupleSide;
  counters?: { orig: Counters; reply: Counters };
}

/** linux/netfilter/nf_conntrack_common.h */
const IPS_SRC_NAT = 1 << 4;
const IPS_DST_NAT = 1 << 5;

export interface FlowTuple {
  sourceIP: string;
  sourcePort?: number;
  destinationIP: string;
  destinationPort?: number;
}

export interface FlowCountersJson {
  originalPackets: number;
  originalBytes: number;
  replyPackets: number;
  replyBytes: number;
}

/** Field order and omissions are upstream's (Go's encoding of its flowRecord). */
export interface FlowRecord {
  schemaVersion: 'v1';
  timestamp: string;
  event: FlowEvent | '';
  conntrackID: number;
  zone: number;
  namespace: string;
  name: string;
  pod: string;
  node: string;
  addressFamily: AddressFamily;
  protocol: Protocol;
  protocolNumber: number;
  /** Sorted: ["dnat"], ["snat"] or ["dnat", "snat"]. */
  natType: ('snat' | 'dnat')[];
  original: FlowTuple;
  translated: FlowTuple;
  counters?: FlowCountersJson;
}

export interface Identity {
  namespace: string;
  name: string;
  pod: string;
  node: string;
}

const PROTOCOLS: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 1: 'icmp', 58: 'icmpv6' };

export function protocolName(n: number): Protocol {
  return PROTOCOLS[n] ?? 'other';
}

/** The nat_type label: both kinds collapse to "snat_dnat". */
export function metricNatType(natType: readonly string[]): NatType {
  return natType.length === 2 ? 'snat_dnat' : (natType[0] as NatType);
}

/** Go's `omitempty` on a uint16 port: 0 (or a protocol without ports) is left out. */
function tuple(srcIp: string, sport: number | null, dstIp: string, dport: number | null): FlowTuple {
  return { sourceIP: srcIp, ...(sport ? { sourcePort: sport } : {}), destinationIP: dstIp, ...(dport ? { destinationPort: dport } : {}) };
}

/** Upstream reports counters only when some are non-zero (accounting on). */
export function accountingAvailable(f: CtFlow): boolean {
  const c = f.counters;
  return c !== undefined && (c.orig.packets !== 0 || c.orig.bytes !== 0 || c.reply.packets !== 0 || c.reply.bytes !== 0);
}

/** The record of a NAT flow (event left empty), or null when the gateway did not translate it. */
export function recordFromFlow(f: CtFlow, who: Identity, now: Date): FlowRecord | null {
  const original = tuple(f.original.src, f.original.sport, f.original.dst, f.original.dport);
  const translated = tuple(f.reply.dst, f.reply.dport, f.reply.src, f.reply.sport);
  const status = f.status ?? 0;
  const natType: ('snat' | 'dnat')[] = [];
  if (status & IPS_DST_NAT || original.destinationIP !== translated.destinationIP || original.destinationPort !== translated.destinationPort) natType.push('dnat');
  if (status & IPS_SRC_NAT || original.sourceIP !== translated.sourceIP || original.sourcePort !== translated.sourcePort) natType.push('snat');
  if (natType.length === 0) return null;
  const record: FlowRecord = {
    schemaVersion: 'v1', timestamp: now.toISOString(), event: '', conntrackID: f.id, zone: f.zone,
    namespace: who.namespace, name: who.name, pod: who.pod, node: who.node,
    addressFamily: f.family === 4 ? 'ipv4' : 'ipv6', protocol: protocolName(f.protoNumber), protocolNumber: f.protoNumber,
    natType, original, translated,
  };
  if (accountingAvailable(f)) {
    const c = f.counters!;
    record.counters = { originalPackets: c.orig.packets, originalBytes: c.orig.bytes, replyPackets: c.reply.packets, replyBytes: c.reply.bytes };
  }
  return record;
}

/** One JSON Lines line. */
export function flowLine(r: FlowRecord): string {
  return JSON.stringify(r) + '\n';
}
