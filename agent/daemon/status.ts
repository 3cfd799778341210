// The agent's status verdicts (live, ready) and the config summary it shows, derived from the
// status value whose vocabulary lives in agent/status/types.ts.
import type { GatewayConfig } from '../config/types.js';
import type { AgentStatus, ControlEndpoint, Verdict } from '../status/types.js';

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

/** What the daemon knows right now, from which the status value is built. */
export interface StatusInputs extends Omit<AgentStatus, 'live' | 'ready' | 'config' | 'counters' | 'control'> {
  config: GatewayConfig | null;
  control: (ControlEndpoint & { stats: { requests: number; failures: number; lastError: string } })[];
  reloads: number;
  reloadFailures: number;
}

export function buildStatus(s: StatusInputs): AgentStatus {
  const { reloads, reloadFailures, ...rest } = s;
  const stats = s.control.map((c) => c.stats);
  return withVerdicts({
    ...rest,
    config: s.config && configSummary(s.config),
    control: s.control.map((c) => ({ path: c.path, serving: c.serving })),
    counters: {
      reloads,
      reloadFailures,
      controlRequests: stats.reduce((n, c) => n + c.requests, 0),
      controlFailures: stats.reduce((n, c) => n + c.failures, 0),
      lastControlError: stats.map((c) => c.lastError).filter(Boolean).pop() ?? '',
      recoveryActions: (s.bfd?.recoveryActions ?? []).reduce((n, r) => n + r.count, 0),
    },
  });
}
