// Bounded recovery bookkeeping per expected BFD session, after Kube-OVN's G3 supervisor
// (pkg/bfddsupervisor/recovery.go): a failing session first gets a grace period, then
// ReplayConfiguration, then ResetSession, with 1 m / 5 m / 30 m backoff and a 1 h open circuit.
// Our engine never drops an expected session by itself, so in practice an episode starts only when
// someone removed sessions (bfdd-control kill/block) or a session stays down for a long time.
// Pure: the caller passes `now` and executes the chosen action.
import type { BfdState } from '../bfd/types.js';
import type { RecoveryAction, RecoveryEpisode } from '../status/types.js';

export interface RecoveryPolicy {
  /** How long a session that exists but is not Up may take to come Up by protocol alone. */
  graceMs: number;
  /** How long an expected session may be absent from the engine (removed by an operator). */
  missingGraceMs: number;
  /** How long a session must stay Up before its episode is forgotten. */
  stableMs: number;
  backoffsMs: number[];
  circuitOpenMs: number;
}

/** Kube-OVN's timing (cmd/bfdd_supervisor): grace max(60 s, 10 x detection), stable max(60 s, 2 x detection). */
export function recoveryPolicy(bfd: { minTxMs: number; minRxMs: number; multiplier: number }): RecoveryPolicy {
  const detectionMs = bfd.multiplier * Math.max(bfd.minTxMs, bfd.minRxMs);
  return {
    graceMs: Math.max(60_000, 10 * detectionMs),
    // Long enough that `bfdd-control status` visibly shows the removal (Kube-OVN's e2e polls for
    // "There are 0 sessions:" for 10 s), short enough to restore service quickly.
    missingGraceMs: 15_000,
    stableMs: Math.max(60_000, 2 * detectionMs),
    backoffsMs: [60_000, 300_000, 1_800_000],
    circuitOpenMs: 3_600_000,
  };
}

interface Episode extends RecoveryEpisode {
  failingSince: number | null;
  /** When the engine stopped running this pair (the missing grace counts from here). */
  missingSince: number | null;
  stableSince: number | null;
  circuitUntil: number | null;
}

export interface Observation {
  /** Engine state, or null when the engine runs no session for this pair. */
  state: BfdState | null;
  /** Administratively held down by an operator: never "recovered" behind their back. */
  held: boolean;
}

const freshEpisode = (): Episode => ({
  phase: 'Grace', attempts: 0, lastAction: 'None', lastResult: '', nextRetry: null,
  failingSince: null, missingSince: null, stableSince: null, circuitUntil: null,
});

export class SessionRecovery {
  private episodes = new Map<string, Episode>();

  constructor(private policy: RecoveryPolicy) {}

  setPolicy(policy: RecoveryPolicy): void {
    this.policy = policy;
  }

  /** Tracks exactly these pair keys; episodes of kept keys survive, new keys start fresh. */
  setExpected(keys: readonly string[]): void {
    const next = new Map<string, Episode>();
    for (const key of keys) next.set(key, this.episodes.get(key) ?? freshEpisode());
    this.episodes = next;
  }

  /** Updates every episode from what the engine reports and returns at most one action to run now. */
  plan(now: number, observed: ReadonlyMap<string, Observation>): { key: string; action: Exclude<RecoveryAction, 'None'> } | null {
    let pending: { key: string; action: Exclude<RecoveryAction, 'None'> } | null = null;
    for (const [key, episode] of this.episodes) {
      const seen = observed.get(key) ?? { state: null, held: false };
      episode.missingSince = seen.state === null ? (episode.missingSince ?? now) : null;
      if (seen.state === 'Up') {
        this.markUp(now, episode);
        continue;
      }
      episode.stableSince = null;
      if (seen.held) continue;
      if (episode.failingSince === null) {
        episode.failingSince = now;
        episode.phase = 'Grace';
        continue;
      }
      const inGrace = seen.state === null
        ? now < episode.missingSince! + this.policy.missingGraceMs
        : now < episode.failingSince + this.policy.graceMs;
      if (inGrace) {
        episode.phase = 'Grace';
        continue;
      }
      if (episode.nextRetry !== null && now < episode.nextRetry) {
        episode.phase = episode.circuitUntil !== null && now < episode.circuitUntil ? 'CircuitOpen' : 'Backoff';
        continue;
      }
      if (pending) continue;
      const action = episode.attempts === 0 || seen.state === null || episode.attempts >= this.policy.backoffsMs.length
        ? 'ReplayConfiguration' : 'ResetSession';
      this.schedule(now, episode, action);
      pending = { key, action };
    }
    return pending;
  }

  record(key: string, error: string | null): void {
    const episode = this.episodes.get(key);
    if (episode) episode.lastResult = error ?? 'success';
  }

  episode(key: string): RecoveryEpisode | undefined {
    const e = this.episodes.get(key);
    return e && { phase: e.phase, attempts: e.attempts, lastAction: e.lastAction, lastResult: e.lastResult, nextRetry: e.nextRetry };
  }

  private markUp(now: number, episode: Episode): void {
    episode.phase = 'Up';
    if (episode.stableSince === null) {
      episode.stableSince = now;
      return;
    }
    if (now >= episode.stableSince + this.policy.stableMs && episode.failingSince !== null) {
      Object.assign(episode, freshEpisode(), { phase: 'Up', stableSince: episode.stableSince });
    }
  }

  private schedule(now: number, episode: Episode, action: RecoveryAction): void {
    episode.lastAction = action;
    episode.lastResult = 'in_progress';
    episode.attempts++;
    const { backoffsMs, circuitOpenMs } = this.policy;
    if (episode.attempts > backoffsMs.length) {
      episode.circuitUntil = now + circuitOpenMs;
      episode.nextRetry = episode.circuitUntil;
      episode.phase = 'CircuitOpen';
      return;
    }
    episode.nextRetry = now + backoffsMs[Math.min(episode.attempts - 1, backoffsMs.length - 1)]!;
    episode.phase = 'Backoff';
  }
}
