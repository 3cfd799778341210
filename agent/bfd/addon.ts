// Loads the native addon (build/Release/bfd.node, or a prebuild via node-gyp-build) and types it:
// the BFD engine, and the rtnetlink listener the dataplane and upstream watchers use.
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

export interface NativeRtnlReader {
  close(): void;
  info(): { portId: number; receiveBufferBytes: number; forced: boolean };
}

export interface NativeAddon {
  abiVersion: number;
  Engine: new (onEvents: (events: NativeEvent[]) => void) => NativeEngine;
  /** MADV_PAGEOUT on the executable's read-only mappings (native/src/mem/release.h). */
  releaseExecutablePages(): PageRelease;
  /** An rtnetlink socket in these multicast groups; throws (with the failed step) when it cannot be opened. */
  RtnlReader: new (groups: number[], receiveBufferBytes: number, onBatch: RtnlBatchCallback) => NativeRtnlReader;
}

const ABI_VERSION = 4;
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
