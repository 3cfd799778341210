// The agent's status vocabulary: the one plain value that /status, /livez, /readyz, /metrics, the
// control socket, the CLI and the Kube-OVN compat surfaces all read, so they can never disagree.
// Types only (and the histogram bounds the values are counted in): a leaf that the daemon, which
// builds the value, and the surfaces that serve it both import, so neither reaches back into the other.
import type { BfdRxSocket, BfdSessionState, BfdState, BfdStateEvent } from '../bfd/types.js';
import type { HandoffUse } from '../config/handoff.js';
import type { MulticastStats } from '../dataplane/rtnl-multicast.js';
import type { IpFamily } from '../lib/ip.js';
import type { ApplyResult, DataplaneStatus } from '../reconcile/types.js';
import type { SnatStatus } from '../snat/types.js';
import type { ProbeResultEvent, SignalStatus, UpstreamFamilyStatus } from '../upstream/index.js';

export type AgentPhase = 'starting' | 'running' | 'draining' | 'stopped';

export interface Verdict {
  ok: boolean;
  /** Why not, in words a person can act on; empty when ok. */
  reasons: string[];
}

export interface ReloadRecord {
  at: number;
  ok: boolean;
  errors: string[];
  changes: string[];
}

export interface ControlEndpoint {
  path: string;
  /** Listening and the socket file on disk is still ours. */
  serving: boolean;
}

export interface AgentStatus {
  version: string;
  pid: number;
  startedAt: number;
  phase: AgentPhase;
  live: Verdict;
  ready: Verdict;
  /** Null only before the configuration was loaded. */
  config: {
    file: string | null;
    families: number[];
    healthListen: string;
    controlSocket: string;
    compatSocket: string;
    reconcileIntervalMs: number;
    drainGraceMs: number;
    logLevel: string;
    /** Where the gateway settings came from: the init container's hand-off, or this process's own inputs. */
    gatewaySource: 'handoff' | 'own inputs';
    handoff: HandoffUse | null;
    mode: { bgp: boolean; evpnVni: number | null };
    bfd: { enabled: boolean; localIps: string[]; peerIps: string[]; minTxMs: number; minRxMs: number; multiplier: number; passive: boolean };
  } | null;
  /** Null when BFD is disabled. */
  bfd: BfdStatus | null;
  /** Null when this process manages no dataplane (no family has both gateways configured). */
  dataplane: DataplaneStatus | null;
  dataplaneApplies: ApplyStats;
  /** Upstream health per family, its signals and probe counters; null before the config was loaded. */
  upstream: UpstreamView | null;
  /** SNAT mapping recorder counters; null before the config was loaded. */
  snatRecords: SnatRecordsView | null;
  eventLoop: EventLoopStats;
  /** Null startupRelease: not released yet, or this process cannot (no native addon). */
  memory: ProcessMemory & { startupRelease: StartupRelease | null };
  control: ControlEndpoint[];
  /** `address`: the first bound (null when not listening); `addresses`: all of them. */
  health: { address: string | null; addresses: string[] };
  lastReload: ReloadRecord | null;
  counters: {
    reloads: number;
    reloadFailures: number;
    controlRequests: number;
    controlFailures: number;
    lastControlError: string;
    recoveryActions: number;
  };
}

export type SessionSelector = { all: true } | { id: number } | { local: string; remote: string };

export interface SessionView extends BfdSessionState {
  /** Session instance id (changes when the session is reset or re-created). */
  id: number;
  /** Configured timers and role (the engine's own report wins where it has them). */
  passive: boolean;
  minTxMs: number;
  minRxMs: number;
  multiplier: number;
  /** Administratively held down by an operator. */
  held: boolean;
}

export interface ExpectedSessionView {
  local: string;
  remote: string;
  /** Engine state, or null when no session runs for this pair (killed or blocked). */
  state: BfdState | null;
  recovery: RecoveryEpisode;
}

export interface BfdStatus {
  engineAlive: boolean;
  expected: ExpectedSessionView[];
  sessions: SessionView[];
  blockedPeers: string[];
  /** Timers for new sessions ("session new set"), in ms. */
  defaults: { minTxMs: number; minRxMs: number; multiplier: number };
  recentTransitions: BfdStateEvent[];
  /** Drops of packets that matched no session (e.g. notAPeer), by reason. */
  engineDrops: Record<string, number>;
  /** The engine's receive sockets: buffer size, queue and the kernel's drop count. */
  rxSockets: BfdRxSocket[];
  /** State changes merged into a queued one while the event loop was slow to take them. */
  eventsCoalesced: number;
  /** SCHED_FIFO priority the engine thread runs at (0: normal), and why a requested one was refused. */
  realtime: { priority: number; error: string | null };
  /** Recovery actions taken since start, by action and result. */
  recoveryActions: { action: string; result: 'success' | 'error'; count: number }[];
}

export type RecoveryPhase = 'Up' | 'Grace' | 'Backoff' | 'CircuitOpen';

export type RecoveryAction = 'None' | 'ReplayConfiguration' | 'ResetSession';

export interface RecoveryEpisode {
  phase: RecoveryPhase;
  attempts: number;
  lastAction: RecoveryAction;
  /** "" before any action, "in_progress", "success" or the error text (Kube-OVN's values). */
  lastResult: string;
  /** Unix epoch ms, or null (Go's zero time). */
  nextRetry: number | null;
}

/** Upper bounds (ms) of the dataplane apply duration histogram. */
export const APPLY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

export interface ApplyStats {
  count: number;
  sumMs: number;
  /** Cumulative counts per upper bound (ms), Prometheus style; +Inf is `count`. */
  buckets: number[];
  /** Drift objects found, by kind (sysctl, route, rule, ipset, iptables, link). */
  driftByKind: Record<string, number>;
  failures: number;
  last: ApplyResult | null;
}

export interface EventLoopStats {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Length of the window the numbers cover (current plus previous rotation). */
  windowMs: number;
}

export interface ProcessMemory {
  rssBytes: number;
  /** Memory the process allocated itself (heap, stacks, malloc). */
  anonBytes: number;
  /** Resident pages of mapped files (the node binary, libraries, addons): shared and reclaimable. */
  fileBytes: number;
  /** V8's live heap. */
  heapUsedBytes: number;
}

export interface StartupRelease {
  at: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** Read-only mappings of the executable that were advised. */
  mappings: number;
  /** errno name when the kernel refused (EINVAL: no MADV_PAGEOUT before Linux 5.4). */
  error: string | null;
}

export interface SnatRecordsView {
  /** Why no recorder runs (null while one runs). */
  off: string | null;
  /** The recorder's counters (records, overflows, drops, flows); null when none runs. */
  recorder: SnatStatus | null;
}

/** Per probe target, since the monitor started. */
export interface ProbeCounters {
  family: IpFamily;
  name: string;
  kind: ProbeResultEvent['kind'];
  ok: number;
  failed: number;
  lastOk: boolean;
  lastDetail: string;
  lastDurationMs: number;
}

export interface UpstreamView {
  /** Why no monitor runs (null while one runs). */
  off: string | null;
  families: UpstreamFamilyStatus[];
  signals: SignalStatus[];
  probes: ProbeCounters[];
  /** The monitor's link/neighbour notification socket; null when no monitor runs. */
  netlink: MulticastStats | null;
  /** BFD admin actions taken because of the upstream, since start. */
  bfdActions: { adminDown: number; adminUp: number };
}
