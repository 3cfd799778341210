// Domain types of the BFD facade over the native engine (native/, "bfd-js").
import type { BfdAuthConfig } from '../config/types.js';

export type BfdState = 'AdminDown' | 'Down' | 'Init' | 'Up';

export type BfdDiag =
  | 'None' | 'ControlDetectionTimeExpired' | 'EchoFunctionFailed' | 'NeighborSignaledSessionDown'
  | 'ForwardingPlaneReset' | 'PathDown' | 'ConcatenatedPathDown' | 'AdministrativelyDown'
  | 'ReverseConcatenatedPathDown';

/** What the agent asks the engine to run: one session per same-family (local, remote) pair. */
export interface BfdSessionSpec {
  local: string;
  remote: string;
  minTxMs: number;
  minRxMs: number;
  multiplier: number;
  passive: boolean;
  minTtl: number;
  /** Local discriminator; kept stable across restarts by the caller. */
  localDiscr: number;
  auth?: BfdAuthConfig;
  /** Optional SO_BINDTODEVICE interface. */
  device?: string;
}

export interface BfdCounters {
  packetsIn: number;
  packetsOut: number;
  /** Drops by reason, e.g. badVersion, badLength, badTtl, auth, unknownDiscr, notAPeer. */
  drops: Record<string, number>;
  transitions: number;
  lateTransmissions: number;
  /** Largest gap between two of our own transmissions, microseconds. */
  maxTxGapUs: number;
  pollsSent: number;
  finalsReceived: number;
}

export interface BfdSessionState {
  local: string;
  remote: string;
  state: BfdState;
  remoteState: BfdState;
  localDiag: BfdDiag;
  remoteDiag: BfdDiag;
  localDiscr: number;
  remoteDiscr: number;
  txIntervalMs: number;
  detectTimeMs: number;
  /** Unix epoch milliseconds of the last transition, from the engine's clock at the transition. */
  lastStateChange: number;
  flaps: number;
  counters: BfdCounters;
}

export interface BfdStateEvent {
  local: string;
  remote: string;
  from: BfdState;
  to: BfdState;
  diag: BfdDiag;
  /** Unix epoch milliseconds (with fraction) at the transition, taken on the engine thread. */
  at: number;
}
