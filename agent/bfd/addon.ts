// Loads the native addon (build/Release/bfd.node, or a prebuild via node-gyp-build) and types it:
// the BFD engine, the rtnetlink listener the dataplane and upstream watchers use, and the conntrack
// event listener of the SNAT recorder.
import { createRequire } from 'node:module';
import { packageRoot } from '../lib/package-root.js';
import type { BfdDiag, BfdEngineStats, BfdSessionDetail, BfdState } from './types.js';
import type { NativeSessionSpec } from './spec.js';

export type NativeEvent =
  | { type: 'state'; local: string; remote: string; localDiscr: number; from: BfdState; to: BfdState; diag: BfdDiag; at: number }
  | { type: 'drained' };

export interface NativeEngine {
  start(opts?: { realtimePriority?: number }): void;
  addSession(spec: NativeSessionSpec): void;
  changeSession(spec: NativeSessionSpec): void;
  removeSession(local: string, remote: string): void;
  adminDown(local: string, remote: string, diag: number): void;
  adminUp(local: string, remote: string): void;
  sessions(): BfdSessionDetail[];
  stats(): BfdEngineStats;
  drain(graceMs: number): void;
  close(): void;
  threadAlive(): boolean;
}

/** What releaseExecutablePages did: mappings advised, their size, and the errno name of a failure. */
export interface PageRelease {
  mappings: number;
  bytes: number;
  error: string | null;
}

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

export interface NativeRtnlReader {
  close(): void;
  /** drops: messages the kernel could not queue on the socket (its sk_drops); null when not told. */
  info(): { portId: number; receiveBufferBytes: number; forced: boolean; drops: number | null };
}

export interface NativeAddon {
  abiVersion: number;
  /** Bucket bounds of the per-session detection-lateness histogram, µs (spec.ts DETECT_LATENESS_BOUNDS_US). */
  detectLatenessBoundsUs: number[];
  /** The session limits the engine enforces (agent/lib/bfd-limits.ts holds the same numbers). */
  limits: { minIntervalUs: number; maxIntervalUs: number; maxMultiplier: number; maxDrainGraceMs: number };
  Engine: new (onEvents: (events: NativeEvent[]) => void) => NativeEngine;
  /** MADV_PAGEOUT on the executable's read-only mappings (native/src/mem/release.h). */
  releaseExecutablePages(): PageRelease;
  /** An rtnetlink socket in these multicast groups; throws (with the failed step) when it cannot be opened. */
  RtnlReader: new (groups: number[], receiveBufferBytes: number, onBatch: RtnlBatchCallback) => NativeRtnlReader;
  /** A NETLINK_NETFILTER socket in the conntrack event groups; throws (with the failed step) when it cannot be opened. */
  ConntrackReader: new (groups: number[], receiveBufferBytes: number, onBatch: ConntrackBatchCallback) => NativeRtnlReader;
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

const ABI_VERSION = 7;
const require = createRequire(import.meta.url);

let cached: NativeAddon | undefined;

/** Loads the addon from `explicitPath`, else build/Release/bfd.node or prebuilds/ under the package root. */
export function loadAddon(explicitPath?: string): NativeAddon {
  if (!explicitPath && cached) return cached;
  let addon: NativeAddon;
  if (explicitPath) {
    addon = require(explicitPath) as NativeAddon;
  } else {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    addon = nodeGypBuild(packageRoot(import.meta.url)) as NativeAddon;
  }
  if (addon.abiVersion !== ABI_VERSION)
    throw new Error(`native addon ABI ${String(addon.abiVersion)} does not match ${ABI_VERSION}: run npm run build:native`);
  if (!explicitPath) cached = addon;
  return addon;
}
