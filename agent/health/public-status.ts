// What HTTP /status may show. The health port is reachable from the Pod network (kubelet,
// Prometheus, and so any neighbour), so it gets counts and verdicts only: no addresses, CIDRs,
// gateways, interface names, discriminators or error texts (which quote config values). The full
// status stays on the control socket (mode 0600): `egress-agent status`.
import type { AgentStatus } from '../status/types.js';

export interface PublicStatus {
  version: string;
  phase: AgentStatus['phase'];
  startedAt: number;
  live: boolean;
  ready: boolean;
  /** Number of reasons why not live / not ready (the reasons name addresses). */
  notLiveReasons: number;
  notReadyReasons: number;
  bfd: { engineAlive: boolean; sessions: number; byState: Record<string, number>; expected: number; expectedUp: number } | null;
  dataplane: { verified: boolean; applies: number; repairs: number } | null;
  upstream: { family: number; healthy: boolean; withdrawn: boolean }[];
  snatRecords: { on: boolean };
  memory: { rssBytes: number };
  lastReload: { at: number; ok: boolean; changes: number; errors: number } | null;
  detail: string;
}

export function publicStatus(s: AgentStatus): PublicStatus {
  const byState: Record<string, number> = {};
  for (const x of s.bfd?.sessions ?? []) byState[x.state] = (byState[x.state] ?? 0) + 1;
  return {
    version: s.version,
    phase: s.phase,
    startedAt: s.startedAt,
    live: s.live.ok,
    ready: s.ready.ok,
    notLiveReasons: s.live.reasons.length,
    notReadyReasons: s.ready.reasons.length,
    bfd: s.bfd && {
      engineAlive: s.bfd.engineAlive,
      sessions: s.bfd.sessions.length,
      byState,
      expected: s.bfd.expected.length,
      expectedUp: s.bfd.expected.filter((e) => e.state === 'Up').length,
    },
    dataplane: s.dataplane && { verified: s.dataplane.verified, applies: s.dataplane.applies, repairs: s.dataplane.repairs },
    upstream: (s.upstream?.families ?? []).map((f) => ({ family: f.family, healthy: f.healthy, withdrawn: f.withdraw })),
    snatRecords: { on: s.snatRecords !== null && s.snatRecords.off === null },
    memory: { rssBytes: s.memory.rssBytes },
    lastReload: s.lastReload && { at: s.lastReload.at, ok: s.lastReload.ok, changes: s.lastReload.changes.length, errors: s.lastReload.errors.length },
    detail: 'redacted: the full status (addresses, interfaces, reasons, errors) is on the control socket: egress-agent status',
  };
}
