// The agent's status: one plain value that /status, /livez, /readyz, /metrics, the control socket,
// the CLI and the Kube-OVN compat surfaces all read, so they can never disagree.
import type { GatewayConfig } from '../config/types.js';
import type { DataplaneStatus } from '../reconcile/types.js';
import type { BfdStatus } from './bfd-sessions.js';
import type { ApplyStats } from './apply-stats.js';
import type { EventLoopStats } from './event-loop.js';
import type { ProcessMemory, StartupRelease } from './memory.js';
import type { SnatRecordsView } from './snat-records.js';
import type { UpstreamView } from './upstream-health.js';
import type { HandoffUse } from '../config/handoff.js';

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

/** Above this event-loop delay the process is not considered responsive (kubelet restarts it). */
export const MAX_RESPONSIVE_LAG_MS = 10_000;

/** Live: this process works. Never depends on peers or on the dataplane's state. */
export function evaluateLive(s: Omit<AgentStatus, 'live' | 'ready'>): Verdict {
  const reasons: string[] = [];
  if (s.phase === 'stopped') reasons.push('the agent has stopped');
  if (s.bfd && !s.bfd.engineAlive) reasons.push('the BFD engine thread is not running');
  if (s.eventLoop.maxMs > MAX_RESPONSIVE_LAG_MS) reasons.push(`the event loop was blocked for ${Math.round(s.eventLoop.maxMs)} ms`);
  for (const c of s.control) if (!c.serving) reasons.push(`the control socket ${c.path} is not serving`);
  return { ok: reasons.length === 0, reasons };
}

/** Ready: this replica can carry traffic right now. */
export function evaluateReady(s: Omit<AgentStatus, 'live' | 'ready'>, live: Verdict): Verdict {
  const reasons = live.ok ? [] : ['not live'];
  if (s.phase === 'starting') reasons.push('still starting');
  if (s.phase === 'draining') reasons.push('draining for shutdown');
  const dp = s.dataplane;
  if (dp) {
    if (!dp.verified) reasons.push(dp.lastError ? `dataplane not verified: ${dp.lastError}` : 'dataplane not verified');
    for (const i of dp.interfaces) if (!i.externalUp) reasons.push(`external interface ${i.external} (IPv${i.family}) is down`);
  }
  for (const u of s.upstream?.families ?? []) {
    if (u.healthy) continue;
    const why = u.reasons.map((r) => r.message).join('; ') || 'not healthy';
    reasons.push(`upstream IPv${u.family} ${u.withdraw ? 'broken, withdrawn from ECMP' : 'not healthy'}: ${why}`);
  }
  if (s.bfd) {
    for (const e of s.bfd.expected) {
      if (e.state !== 'Up') reasons.push(`BFD ${e.local} -> ${e.remote} is ${e.state ?? 'absent'}`);
    }
  }
  return { ok: reasons.length === 0, reasons };
}

export function withVerdicts(s: Omit<AgentStatus, 'live' | 'ready'>): AgentStatus {
  const live = evaluateLive(s);
  return { ...s, live, ready: evaluateReady(s, live) };
}

export function configSummary(c: GatewayConfig): NonNullable<AgentStatus['config']> {
  return {
    file: c.configFile ?? null,
    families: c.families.map((f) => f.family),
    healthListen: c.healthListen,
    controlSocket: c.controlSocket,
    compatSocket: c.compatSocket,
    reconcileIntervalMs: c.reconcileIntervalMs,
    drainGraceMs: c.drainGraceMs,
    logLevel: c.logLevel,
    gatewaySource: c.handoff?.adopted ? 'handoff' : 'own inputs',
    handoff: c.handoff ?? null,
    mode: { bgp: c.bgp === true, evpnVni: c.evpn?.vni ?? null },
    bfd: {
      enabled: c.bfd.enabled, localIps: c.bfd.localIps, peerIps: c.bfd.peerIps, minTxMs: c.bfd.minTxMs,
      minRxMs: c.bfd.minRxMs, multiplier: c.bfd.multiplier, passive: c.bfd.passive,
    },
  };
}
