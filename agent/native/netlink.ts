// The netlink readers of the native module (native/src/netlink/): the rtnetlink listener the
// dataplane and upstream watchers use, and the conntrack event listener, table dump and record
// formatter of the SNAT recorder.
import { loadNative } from './load.js';

/**
 * One call per readable event: the datagrams read (back to back, each padded to 4 bytes), how many
 * times the receive queue overflowed (ENOBUFS) and how many datagrams were too long, and, when the
 * socket failed for good (it is then closed), why.
 */
export type RtnlBatchCallback = (datagrams: Buffer | null, overflows: number, truncated: number, error: string | null) => void;

/**
 * The same for conntrack events, except that the payload is already parsed into fixed-size records
 * (native/src/io/ct_parse.h) and `malformed` counts the messages that could not be.
 */
export type ConntrackBatchCallback = (records: Buffer | null, overflows: number, truncated: number, error: string | null, malformed: number) => void;

/** An open multicast reader (rtnetlink or conntrack). */
export interface NativeNetlinkReader {
  close(): void;
  /** drops: messages the kernel could not queue on the socket (its sk_drops); null when not told. */
  info(): { portId: number; receiveBufferBytes: number; forced: boolean; drops: number | null };
}

export interface NetlinkNative {
  /** An rtnetlink socket in these multicast groups; throws (with the failed step) when it cannot be opened. */
  RtnlReader: new (groups: number[], receiveBufferBytes: number, onBatch: RtnlBatchCallback) => NativeNetlinkReader;
  /** A NETLINK_NETFILTER socket in the conntrack event groups; throws (with the failed step) when it cannot be opened. */
  ConntrackReader: new (groups: number[], receiveBufferBytes: number, onBatch: ConntrackBatchCallback) => NativeNetlinkReader;
  /** The conntrack table of one family, synchronously, in chunks of records; throws with the failed step. */
  conntrackDump(family: 4 | 6, onChunk: (records: Buffer) => void): { entries: number; malformed: number; interrupted: boolean };
  /**
   * SNAT record lines of a batch of conntrack records (native/src/io/ct_json.h): `lines` back to
   * back, `snat[i]` 1 when record i is a SNAT flow, `ends[i]` the end of its line in `lines` (the
   * previous end: no line). Start lines carry receivedAtMs; none when `starts` is false.
   */
  formatSnatLines(records: Buffer, receivedAtMs: number, starts: boolean): { lines: Buffer; snat: Uint8Array; ends: Uint32Array };
  conntrackRecordBytes: number;
}

/** The netlink part of the native module (loaded on first use, then cached). */
export function netlinkNative(): NetlinkNative {
  return loadNative() as unknown as NetlinkNative;
}
