// Pure verdicts for the three upstream signals: the external link, the external gateway's
// neighbour entry, and probe targets (rise/fall counting). No I/O; the monitor feeds observations.

/** ok: healthy; failed: counts against the family; pending: not known yet (no verdict, no withdraw). */
export type SignalState = 'ok' | 'failed' | 'pending';

export interface Verdict {
  state: SignalState;
  detail: string;
}

/** Kernel operational states (IF_OPER_*, RFC 2863), as IFLA_OPERSTATE reports them. */
const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
const IF_OPER_UNKNOWN = 0;
const IF_OPER_UP = 6;

export interface LinkObservation {
  present: boolean;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_LOWER_UP: carrier. */
  lowerUp: boolean;
  operstate?: number;
}

function operstateName(op: number | undefined): string {
  return op === undefined ? 'unreported' : (OPERSTATES[op] ?? `operstate ${op}`);
}

export function linkVerdict(obs: LinkObservation): Verdict {
  if (!obs.present) return { state: 'failed', detail: 'missing' };
  if (!obs.up) return { state: 'failed', detail: 'administratively down' };
  if (!obs.lowerUp) return { state: 'failed', detail: `no carrier (operstate ${operstateName(obs.operstate)})` };
  // Drivers without operstate support report UNKNOWN while working; anything else but UP
  // (dormant, testing, lowerlayerdown) does not forward.
  if (obs.operstate !== undefined && obs.operstate !== IF_OPER_UP && obs.operstate !== IF_OPER_UNKNOWN) {
    return { state: 'failed', detail: `operstate ${operstateName(obs.operstate)}` };
  }
  return { state: 'ok', detail: 'up, carrier' };
}

/** Neighbour cache states (NUD_*), plus 'absent' for no entry at all. */
export type NudState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'noarp' | 'permanent' | 'none' | 'absent';

const NUD_OK: ReadonlySet<NudState> = new Set(['reachable', 'stale', 'delay', 'probe', 'noarp', 'permanent']);

/**
 * The gateway's neighbour entry. reachable/stale/delay/probe have a link-layer address that worked
 * (the monitor keeps re-verifying it); FAILED means the kernel's probes went unanswered.
 * INCOMPLETE and "no entry" are normal while an entry is first resolved (and the kernel turns an
 * unanswered INCOMPLETE into FAILED within mcast_solicit x retrans_time), so they are pending,
 * except right after FAILED: a dead gateway alternates FAILED and INCOMPLETE as we re-resolve it,
 * and the family must stay failed until the gateway answers again.
 */
export function neighbourVerdict(previous: SignalState | undefined, nud: NudState): Verdict {
  if (NUD_OK.has(nud)) return { state: 'ok', detail: nud.toUpperCase() };
  if (nud === 'failed') return { state: 'failed', detail: 'FAILED (no ARP/ND reply)' };
  const what = nud === 'incomplete' ? 'INCOMPLETE' : 'no entry';
  if (previous === 'failed') return { state: 'failed', detail: `unresolved after FAILED (${what})` };
  return { state: 'pending', detail: `resolving (${what})` };
}

/**
 * Rise/fall counting for one probe target. A target starts pending and is ok at its first success
 * (rise guards a return, not the start); `fall` consecutive failures mark it failed; `rise`
 * consecutive successes bring a failed target back.
 */
export class RiseFall {
  private state: SignalState = 'pending';
  private successes = 0;
  private failures = 0;

  constructor(private readonly rise: number, private readonly fall: number) {}

  record(ok: boolean, detail: string): Verdict {
    if (ok) {
      this.successes++;
      this.failures = 0;
      if (this.state === 'pending' || (this.state === 'failed' && this.successes >= this.rise)) this.state = 'ok';
    } else {
      this.failures++;
      this.successes = 0;
      if (this.failures >= this.fall) this.state = 'failed';
    }
    return this.verdict(detail);
  }

  private verdict(detail: string): Verdict {
    switch (this.state) {
      case 'failed':
        return this.successes > 0
          ? { state: 'failed', detail: `recovering (${this.successes}/${this.rise} successes): ${detail}` }
          : { state: 'failed', detail: `${this.failures} consecutive failures (fall ${this.fall}), last: ${detail}` };
      case 'ok':
        return this.failures > 0
          ? { state: 'ok', detail: `${this.failures}/${this.fall} failures, last: ${detail}` }
          : { state: 'ok', detail };
      case 'pending':
        return { state: 'pending', detail: `no success yet (${this.failures}/${this.fall} failures, last: ${detail})` };
    }
  }
}
