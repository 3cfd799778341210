// The BFD engine's part of the native module (native/src/bfd/engine_wrap.cc), typed; loading and
// the ABI check are agent/native/load.ts.
import { loadNative } from '../native/load.js';
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

export interface BfdNative {
  /** Bucket bounds of the per-session detection-lateness histogram, µs (spec.ts DETECT_LATENESS_BOUNDS_US). */
  detectLatenessBoundsUs: number[];
  /** The session limits the engine enforces (agent/lib/bfd-limits.ts holds the same numbers). */
  limits: { minIntervalUs: number; maxIntervalUs: number; maxMultiplier: number; maxDrainGraceMs: number };
  Engine: new (onEvents: (events: NativeEvent[]) => void) => NativeEngine;
}

/** The engine's part of the module at `explicitPath`, else of the package build (see loadNative). */
export function loadBfdNative(explicitPath?: string): BfdNative {
  return loadNative(explicitPath) as unknown as BfdNative;
}
