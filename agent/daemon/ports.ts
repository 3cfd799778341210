// The narrow surfaces the daemon drives. The real modules (agent/bfd, agent/config, agent/reconcile,
// agent/upstream, agent/snat) satisfy them structurally; unit tests pass fakes.
import type { BfdDiag, BfdRxSocket, BfdSessionSpec, BfdSessionState, BfdStateEvent } from '../bfd/types.js';
import type { GatewayConfig } from '../config/types.js';
import type { ApplyResult, DataplaneReconciler } from '../reconcile/types.js';
import type { PageRelease } from '../native/mem.js';
import type { Logger } from '../lib/log.js';
import type { SnatRecordsConfig } from '../config/snat-records.js';
import type { SnatStatus } from '../snat/types.js';
import type { ProbeResultEvent, SignalStatus, UpstreamFamilyStatus, UpstreamOptions } from '../upstream/index.js';
import type { MulticastStats } from '../dataplane/rtnl-multicast.js';
import type { PeerRoutesPort } from './bfd-ingress.js';
import type { ControlHandler, ControlStats } from '../control/server.js';
import type { HealthSources } from '../health/server.js';

/** Timer and role fields of a session that can change while it runs (a change starts a Poll). */
export type BfdSessionChange = Partial<Omit<BfdSessionSpec, 'local' | 'remote' | 'localDiscr'>>;

export interface BfdEnginePort {
  start(): void | Promise<void>;
  addSession(spec: BfdSessionSpec): void;
  changeSession(local: string, remote: string, change: BfdSessionChange): void;
  removeSession(local: string, remote: string): void;
  adminDown(local: string, remote: string, diag?: BfdDiag): void;
  adminUp(local: string, remote: string): void;
  sessions(): BfdSessionState[];
  on(event: 'state', listener: (ev: BfdStateEvent) => void): unknown;
  /** AdminDown at once on every session, kept up for one detection time or graceMs. */
  drain(graceMs: number): Promise<void>;
  close(): void;
  threadAlive(): boolean;
  /** Engine-wide counters: drops of packets that match no session (e.g. notAPeer), coalesced events. */
  stats(): { drops: Record<string, number>; eventsCoalesced: number; realtimePriority?: number; realtimeError?: string | null; rxSockets?: BfdRxSocket[] };
}

export interface ReconcilerPort extends DataplaneReconciler {
  /** Replaces the configuration and applies it (reload). */
  reload(config: GatewayConfig): Promise<ApplyResult>;
  /** Desired vs actual right now (reads the live state; changes nothing). */
  inspect(): Promise<unknown>;
}

/** The upstream health monitor (agent/upstream's UpstreamMonitor). */
export interface UpstreamMonitorPort {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): UpstreamFamilyStatus[];
  signals(): SignalStatus[];
  /** Its link/neighbour notification socket (overflows, buffer); null when not running. */
  netlink(): MulticastStats | null;
  on(event: 'change', listener: (changed: UpstreamFamilyStatus[], all: UpstreamFamilyStatus[]) => void): unknown;
  on(event: 'probe', listener: (ev: ProbeResultEvent) => void): unknown;
}

/** The SNAT mapping recorder (agent/snat's SnatRecorder). stop() flushes the record file. */
export interface SnatRecorderPort {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SnatStatus;
}

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; errors: string[] };

/** Everything `run` needs from the outside world; real implementations live in real-ports.ts. */
export interface DaemonPorts {
  /** Reads flags > file > environment again; called at start and on every reload. */
  loadConfig(): Promise<ConfigResult>;
  /** The expected sessions for a BFD config, local discriminators kept stable across restarts. */
  expectedSessions(config: GatewayConfig): Promise<BfdSessionSpec[]>;
  createEngine(config: GatewayConfig, log: Logger): Promise<BfdEnginePort>;
  /** Null when the config manages no dataplane (no family has both gateways, e.g. Kube-OVN's bfdd container). */
  createReconciler(config: GatewayConfig, log: Logger): Promise<ReconcilerPort | null>;
  /** Absent: this process cannot watch the upstream (upstream health is off, and the daemon says so). */
  createUpstreamMonitor?(options: UpstreamOptions, log: Logger): Promise<UpstreamMonitorPort>;
  /** Absent: this process cannot record SNAT mappings (records are off, and the daemon says so). */
  createSnatRecorder?(config: SnatRecordsConfig, log: Logger): Promise<SnatRecorderPort>;
  /** Absent: sessions accept their peers' packets from any interface (no route lookups). */
  createPeerRoutes?(log: Logger): Promise<PeerRoutesPort>;
  /** Absent: nothing is released. MADV_PAGEOUT on the executable's read-only mappings. */
  releaseStartupPages?(): PageRelease;
}

/** The daemon's timers and wall clock; unit tests pass a virtual one. */
export interface Clock {
  now(): number;
  /** Runs `fn` every `ms` (guarded: a failure is reported under `name`, never thrown); returns the cancel. */
  every(name: string, ms: number, fn: () => unknown): () => void;
  /** Runs `fn` once after `ms` (guarded like `every`); returns the cancel. */
  after(name: string, ms: number, fn: () => unknown): () => void;
}

/** The HTTP health server (agent/health's HealthServer). */
export interface HealthServerPort {
  start(): Promise<void>;
  close(): Promise<void>;
  /** The first address bound, or null when not listening. */
  address(): string | null;
  addresses(): string[];
}

/** One control socket server (agent/control's ControlServer). */
export interface ControlServerPort {
  readonly path: string;
  readonly stats: ControlStats;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Listening, and the socket file on disk is still ours. */
  serving(): boolean;
  /** Re-creates the socket when someone deleted it. */
  ensure(): Promise<unknown>;
}

/** How the daemon builds the servers it serves status and commands on. */
export interface ServerPorts {
  health(listen: string, sources: HealthSources, log: Logger, podIps: readonly string[]): HealthServerPort;
  control(path: string, handler: ControlHandler, log: Logger): ControlServerPort;
}
