// Kube-OVN G3 supervisor surface (pkg/bfddsupervisor): the status JSON with Go's field names and
// encodings, and the reply to its one-line socket protocol (`live`, `ready`, `status`).
import type { AgentStatus } from '../status/types.js';

/** Go's encoding/json form of time.Time: RFC 3339 with trailing fraction zeros trimmed; zero time for null. */
export function goTime(epochMs: number | null): string {
  if (epochMs === null) return '0001-01-01T00:00:00Z';
  const iso = new Date(epochMs).toISOString(); // 2026-11-26T14:12:01.120Z
  return iso.replace(/\.(\d*?)0*Z$/, (_m, frac: string) => (frac ? `.${frac}Z` : 'Z'));
}

export interface SupervisorSession {
  Pair: { Local: string; Remote: string };
  State: string;
  Phase: string;
  Attempts: number;
  LastAction: string;
  LastResult: string;
  NextRetry: string;
}

export interface SupervisorStatus {
  Live: boolean;
  Ready: boolean;
  Sessions: SupervisorSession[];
  ControlFailures: number;
  LastControlError: string;
  ChildRestarts: number;
  ChildRecoveryAttempts: number;
  ChildNextRetry: string;
  ChildCircuitOpen: boolean;
}

/** Maps our status onto the supervisor's. The engine thread is our "child": we never restart it
 * (a dead engine fails liveness and kubelet restarts the container), so the child fields stay zero. */
export function supervisorStatus(s: AgentStatus): SupervisorStatus {
  return {
    Live: s.live.ok,
    // Kube-OVN's Ready is "every expected session Up"; ours also needs a verified dataplane and a
    // live underlay when this process manages them, so the probe and /readyz agree.
    Ready: s.ready.ok,
    Sessions: (s.bfd?.expected ?? []).map((e) => ({
      Pair: { Local: e.local, Remote: e.remote },
      State: e.state ?? '',
      Phase: e.recovery.phase,
      Attempts: e.recovery.attempts,
      LastAction: e.recovery.lastAction,
      LastResult: e.recovery.lastResult,
      NextRetry: goTime(e.recovery.nextRetry),
    })),
    ControlFailures: s.counters.controlFailures,
    LastControlError: s.counters.lastControlError,
    ChildRestarts: 0,
    ChildRecoveryAttempts: 0,
    ChildNextRetry: goTime(null),
    ChildCircuitOpen: false,
  };
}

/** The supervisor's reply line: `{"status":{...}}` plus `"error"` when the request fails (Go omitempty).
 * Served on both sockets; our native exec probe reads the same line. */
export function probeReply(request: string, s: AgentStatus): string {
  const status = supervisorStatus(s);
  let error = '';
  if (request === 'live') {
    if (!s.live.ok) error = `not live: ${s.live.reasons.join('; ')}`;
  } else if (request === 'ready') {
    if (!s.ready.ok) error = `not ready: ${s.ready.reasons.join('; ')}`;
  } else if (request !== 'status') {
    error = `unknown supervisor request ${JSON.stringify(request)}`;
  }
  return JSON.stringify(error ? { status, error } : { status }) + '\n';
}
