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
  /** Optional SO_BINDTODEVICE interface ('' or absent: not bound). */
  device?: string;
  /**
   * Index of the interface the peer is reached through (the route to it); packets from the peer's
   * address arriving on another interface are dropped (wrongInterface). Absent or 0: any interface.
   */
  ifindex?: number;
}

export interface BfdCounters {
  packetsIn: number;
  packetsOut: number;
  /** Drops by reason, e.g. badVersion, badLength, badTtl, auth, unknownDiscr, notAPeer, wrongInterface. */
  drops: Record<string, number>;
  transitions: number;
  lateTransmissions: number;
  /** Largest gap between two of our own transmissions, microseconds. */
  maxTxGapUs: number;
  pollsSent: number;
  finalsReceived: number;
  /** Detection Times that ran out (the session went Down, or forgot a silent peer). */
  detectExpiries: number;
  /**
   * How late the engine handled those expiries past their deadline, µs: the largest, the last
   * one, the sum, and a histogram whose bucket i counts expiries at most DETECT_LATENESS_BOUNDS_US[i]
   * (spec.ts) late (the last bucket: later than every bound). Timer bugs and scheduling stalls show here.
   */
  maxDetectLatenessUs: number;
  lastDetectLatenessUs: number;
  detectLatenessSumUs: number;
  detectLatenessBuckets: number[];
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

/** What the engine reports per session beyond the CLI minimum: configuration, negotiation, port. */
export interface BfdSessionDetail extends BfdSessionState {
  minTxMs: number;
  minRxMs: number;
  multiplier: number;
  passive: boolean;
  minTtl: number;
  /** SO_BINDTODEVICE interface, '' when unbound. */
  device: string;
  /** Interface packets are accepted from (the route to the peer), 0 = any. */
  ifindex: number;
  /** UDP source port, fixed for the life of the session (49152-65535). */
  srcPort: number;
  /** What we advertise now: DesiredMinTx is slowed to 1 s while not Up. */
  desiredMinTxMs: number;
  requiredMinRxMs: number;
  remoteMinTxMs: number;
  remoteMinRxMs: number;
  remoteMultiplier: number;
  pollActive: boolean;
  /** Unix epoch ms of the last valid packet, null when none arrived within a detection time. */
  lastRx: number | null;
  authType: number;
  counters: BfdCounters & {
    staleDiscrAccepted: number;
    txErrors: number;
    /** Largest delay of a periodic packet past its scheduled time, µs (scheduling health at any interval). */
    maxTxLatenessUs: number;
  };
}

/** Engine-wide counters: drops that no session can own (not a peer, malformed from a non-peer). */
export interface BfdEngineStats {
  drops: Record<string, number>;
  /** State changes merged into a queued one because the JS thread was slow to take them (the
   * queue is bounded; each session's last state is always delivered). */
  eventsCoalesced: number;
  loops: number;
  sessions: number;
  /** SCHED_FIFO priority of the engine thread in effect (0 = normal scheduling). */
  realtimePriority: number;
  /** Why a requested realtime priority could not be set (e.g. no CAP_SYS_NICE), else null. */
  realtimeError: string | null;
  /** The receive sockets (one per local address) as the kernel sees them. */
  rxSockets: BfdRxSocket[];
}

export interface BfdRxSocket {
  local: string;
  /** Bound device ('' unless the address is link-local). */
  device: string;
  sessions: number;
  receiveBufferBytes: number;
  queuedBytes: number;
  /** Datagrams the kernel dropped on this socket because its buffer was full (lost BFD packets). */
  drops: number;
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
