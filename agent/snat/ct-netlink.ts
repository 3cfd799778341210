// The kernel's conntrack events through the addon's own NETLINK_NETFILTER reader
// (native/src/netlink/ct_reader.cc): the NEW and DESTROY groups on a socket whose buffer is forced with
// SO_RCVBUFFORCE (the `conntrack` tool leaves its event socket at the node's rmem_default, see
// docs/snat-records.md), messages parsed in C++ into fixed-size records, one JS call per batch.
// Overflows (ENOBUFS) are counted, and the socket's drop counter says exactly how many events the
// kernel could not queue. Also the table dump used to resynchronise after a loss.
import { netlinkNative, type ConntrackBatchCallback, type NativeNetlinkReader } from '../native/netlink.js';
import { formatIp } from '../lib/ip.js';
import type { PortKeySpec } from './port-capacity.js';
import type { ConntrackEvent, TupleSide } from './types.js';

/** NFNLGRP_CONNTRACK_* (linux/netfilter/nfnetlink.h). */
export const CONNTRACK_GROUPS = { new: 1, update: 2, destroy: 3 } as const;
/** What the SNAT records need: NEW and DESTROY (update records come only with the update group). */
const RECORD_GROUPS = [CONNTRACK_GROUPS.new, CONNTRACK_GROUPS.destroy];

// Record layout: native/src/io/ct_parse.h.
export const RECORD_BYTES = 144;
const TYPES = [undefined, 'new', 'destroy', 'entry', 'update'] as const;
const HAS_PORTS = 1, HAS_COUNTERS = 2, HAS_START = 4, HAS_STOP = 8, HAS_STATUS = 16;
/** Names as conntrack-tools prints them (the records' `proto`). */
export const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

function ip(b: Buffer, off: number, family: 4 | 6): string {
  return family === 4 ? `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}` : formatIp({ family: 6, bytes: b.subarray(off, off + 16) });
}

function side(b: Buffer, o: number, src: number, dst: number, ports: number, family: 4 | 6, hasPorts: boolean): TupleSide {
  return {
    src: ip(b, o + src, family),
    dst: ip(b, o + dst, family),
    sport: hasPorts ? b.readUInt16LE(o + ports) : null,
    dport: hasPorts ? b.readUInt16LE(o + ports + 2) : null,
  };
}

/** The records of one batch or dump chunk, in order. Throws on a buffer that is not whole records. */
export function decodeRecords(b: Buffer, onEvent: (ev: ConntrackEvent) => void): void {
  if (b.length % RECORD_BYTES !== 0) throw new Error(`conntrack records: ${b.length} bytes is not a multiple of ${RECORD_BYTES}`);
  for (let o = 0; o < b.length; o += RECORD_BYTES) onEvent(decodeRecord(b, o));
}

/** Fields of the record at byte `o` that the raw-record path reads without decoding it all. */
export const recordType = (b: Buffer, o: number): ConntrackEvent['type'] | undefined => TYPES[b[o]!];
export const recordId = (b: Buffer, o: number): number => b.readUInt32LE(o + 4);
export const recordProto = (b: Buffer, o: number): string => PROTO_NAMES[b[o + 2]!] ?? 'unknown';

/** The SNAT port key of the record at `o` (null without ports): the reply tuple's destination (the SNAT address) and source. */
export function recordPortKey(b: Buffer, o: number): PortKeySpec | null {
  if ((b[o + 3]! & HAS_PORTS) === 0) return null;
  const family = b[o + 1] === 6 ? 6 : 4;
  return { proto: recordProto(b, o), snat: ip(b, o + 56, family), dst: ip(b, o + 40, family), dport: b.readUInt16LE(o + 76) };
}

/** The translated source port (the reply tuple's destination port), null without ports. */
export function recordTranslatedPort(b: Buffer, o: number): number | null {
  return (b[o + 3]! & HAS_PORTS) === 0 ? null : b.readUInt16LE(o + 78);
}

/** The record at byte `o`. Throws on an unknown record type. */
export function decodeRecord(b: Buffer, o: number): ConntrackEvent {
  const type = TYPES[b[o]!];
  const family = b[o + 1] === 6 ? 6 : 4;
  const flags = b[o + 3]!;
  if (!type) throw new Error(`conntrack records: unknown record type ${b[o]} at offset ${o}`);
  const hasPorts = (flags & HAS_PORTS) !== 0;
  const ev: ConntrackEvent = {
    type,
    family,
    proto: PROTO_NAMES[b[o + 2]!] ?? 'unknown',
    original: side(b, o, 8, 24, 72, family, hasPorts),
    reply: side(b, o, 40, 56, 76, family, hasPorts),
    id: b.readUInt32LE(o + 4),
    zone: b.readUInt16LE(o + 136),
    mark: b.readUInt32LE(o + 132),
  };
  if (flags & HAS_STATUS) ev.status = b.readUInt32LE(o + 128);
  if (flags & HAS_COUNTERS) {
    ev.counters = {
      orig: { packets: Number(b.readBigUInt64LE(o + 80)), bytes: Number(b.readBigUInt64LE(o + 88)) },
      reply: { packets: Number(b.readBigUInt64LE(o + 96)), bytes: Number(b.readBigUInt64LE(o + 104)) },
    };
  }
  if (flags & HAS_START) ev.startNs = b.readBigUInt64LE(o + 112).toString();
  if (flags & HAS_STOP) ev.stopNs = b.readBigUInt64LE(o + 120).toString();
  return ev;
}

export interface EventSocketInfo {
  /** What the kernel will queue (getsockopt SO_RCVBUF); null: unknown. */
  bufferBytes: number | null;
  /** Events the kernel could not queue on the socket (exact); null: unknown. */
  drops: number | null;
}

export interface ConntrackEventHandlers {
  /** Events of one batch share `receivedAtMs`. */
  onEvent(ev: ConntrackEvent, receivedAtMs: number): void;
  /**
   * When set (netlink source only), each batch comes here as it is, RECORD_BYTES per record in the
   * layout of native/src/io/ct_parse.h, instead of one onEvent per record: the caller reads only
   * what it needs (the recorder formats its lines in C++). Throwing counts as a parse error.
   */
  onRecords?(records: Buffer, receivedAtMs: number): void;
  /** `count` events could not be parsed (message says why). */
  onParseError(message: string, count: number): void;
  /** The kernel dropped events because the socket buffer was full (`reports` ENOBUFS reports). */
  onOverflow(reports: number): void;
  /** A batch was handled (after its events and overflow reports). */
  onBatchEnd?(): void;
  /** The event source ended without stop() being called. */
  onExit(reason: string): void;
}

/** Where the recorder's events come from: the addon's reader, or (the old path) the conntrack tool. */
export interface ConntrackEventSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The kernel's view of the event socket (cheap; read at every status). */
  socket(): Promise<EventSocketInfo>;
  drops(): number | null;
}

export type OpenConntrackReader = (groups: number[], receiveBufferBytes: number, onBatch: ConntrackBatchCallback) => NativeNetlinkReader;

const openNative: OpenConntrackReader = (groups, bytes, onBatch) => new (netlinkNative().ConntrackReader)(groups, bytes, onBatch);

export interface NetlinkConntrackOptions {
  /** Multicast groups (CONNTRACK_GROUPS); default NEW and DESTROY. */
  groups?: readonly number[];
  open?: OpenConntrackReader;
}

export class NetlinkConntrackEvents implements ConntrackEventSource {
  private reader: NativeNetlinkReader | undefined;
  private readonly groups: number[];
  private readonly open: OpenConntrackReader;

  constructor(private readonly bufferBytes: number, private readonly handlers: ConntrackEventHandlers, opts: NetlinkConntrackOptions = {}) {
    this.groups = [...(opts.groups ?? RECORD_GROUPS)];
    this.open = opts.open ?? openNative;
  }

  start(): Promise<void> {
    const reader = this.open(this.groups, this.bufferBytes, (records, overflows, truncated, error, malformed) => {
      if (reader !== this.reader) return; // a batch of a reader already closed
      const at = Date.now();
      if (records) {
        try {
          if (this.handlers.onRecords) this.handlers.onRecords(records, at);
          else decodeRecords(records, (ev) => this.handlers.onEvent(ev, at));
        } catch (err) {
          this.handlers.onParseError((err as Error).message, 1);
        }
      }
      if (malformed > 0) this.handlers.onParseError('malformed conntrack netlink message(s)', malformed);
      // A datagram too long for the reader is lost like an overflowed one.
      if (overflows + truncated > 0) this.handlers.onOverflow(overflows + truncated);
      this.handlers.onBatchEnd?.();
      if (error) {
        this.reader = undefined;
        this.handlers.onExit(error);
      }
    });
    this.reader = reader;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.reader?.close();
    this.reader = undefined;
    return Promise.resolve();
  }

  socket(): Promise<EventSocketInfo> {
    const i = this.reader?.info();
    return Promise.resolve({ bufferBytes: i ? i.receiveBufferBytes : null, drops: i ? i.drops : null });
  }

  drops(): number | null {
    return this.reader?.info().drops ?? null;
  }
}

/** The SNAT record lines of a batch, formatted natively (see NetlinkNative.formatSnatLines). */
export function formatSnatLines(records: Buffer, receivedAtMs: number, starts: boolean): { lines: Buffer; snat: Uint8Array; ends: Uint32Array } {
  return netlinkNative().formatSnatLines(records, receivedAtMs, starts);
}

/**
 * Every entry of the conntrack table (IPv4 then IPv6), synchronously: no event is handled while it
 * runs, so the caller can reconcile its state with the dump without interleaving.
 */
export function dumpConntrack(onEntry: (ev: ConntrackEvent) => void): { entries: number; malformed: number; interrupted: boolean } {
  const native = netlinkNative();
  const total = { entries: 0, malformed: 0, interrupted: false };
  for (const family of [4, 6] as const) {
    const r = native.conntrackDump(family, (chunk) => decodeRecords(chunk, onEntry));
    total.entries += r.entries;
    total.malformed += r.malformed;
    total.interrupted ||= r.interrupted;
  }
  return total;
}
