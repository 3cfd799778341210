// Takes BFD sessions AdminDown (and back) from per-family withdrawal verdicts: the upstream monitor's
// (diag 6, Concatenated Path Down) and the dataplane gate's (diag 4, Forwarding Plane Reset). One
// applier for both, so they never fight over a session. The translation (agent/upstream/bfd-link.ts)
// is idempotent, so the daemon calls apply() on every change, every BFD state event, after reloads
// and on its periodic check.
import type { BfdStateEvent } from '../bfd/types.js';
import type { IpFamily } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';
import { DATAPLANE_DOWN_DIAG, upstreamBfdActions, type BfdAdminAction, type BfdAdminPort, type WithdrawStatus } from '../upstream/index.js';
import type { GateVerdict } from './dataplane-gate.js';

/**
 * How long an admin request counts as still in flight in the engine. The engine applies it on its
 * own thread and reports the transition as an event; until then sessions() shows the old state.
 */
const IN_FLIGHT_MS = 1000;

const sessionKey = (local: string, remote: string): string => `${local}|${remote}`;

export interface WithdrawalActions {
  upstream: { adminDown: number; adminUp: number };
  dataplane: { adminDown: number; adminUp: number };
}

export interface WithdrawSources {
  /** The upstream monitor's verdicts per family (none while it does not run). */
  upstream: readonly WithdrawStatus[];
  /** The dataplane gate's verdict, or null when this process manages no dataplane. */
  gate: GateVerdict | null;
  /** The configured families: the gate speaks for each of them. */
  families: readonly IpFamily[];
}

/**
 * The verdict per family from both sources. A withdrawing gate wins over the upstream's verdict
 * (diag 4, Forwarding Plane Reset); a passing gate makes every configured family one that BFD
 * may bring back, unless the upstream says otherwise. Pure.
 */
export function withdrawStatuses({ upstream, gate, families }: WithdrawSources): WithdrawStatus[] {
  const byFamily = new Map<number, WithdrawStatus>();
  for (const u of upstream) byFamily.set(u.family, u);
  if (!gate) return [...byFamily.values()];
  for (const family of families) {
    if (gate.withdraw) byFamily.set(family, { family, withdraw: true, diag: DATAPLANE_DOWN_DIAG, reasons: [{ withdraw: true, message: gate.why }] });
    else if (!byFamily.has(family)) byFamily.set(family, { family, withdraw: false, reasons: [] });
  }
  return [...byFamily.values()];
}

export class BfdWithdrawal {
  readonly actions: WithdrawalActions = { upstream: { adminDown: 0, adminUp: 0 }, dataplane: { adminDown: 0, adminUp: 0 } };
  /** Requests the engine has not reported back yet, so another trigger does not repeat them. */
  private readonly inFlight = new Map<string, { op: BfdAdminAction['op']; at: number }>();
  /** Set while a pass runs: an engine that reports transitions synchronously re-enters apply(). */
  private applying = false;
  private again = false;
  private stopped = false;

  /** `status`: the current verdicts of every source, read at each pass; `now`: the daemon's clock. */
  constructor(
    private readonly engine: () => BfdAdminPort | null,
    private readonly status: () => WithdrawStatus[],
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** A BFD transition: whatever we asked of that session has landed (or was overtaken). */
  onBfdState(ev: BfdStateEvent): void {
    this.inFlight.delete(sessionKey(ev.local, ev.remote));
    this.apply('bfd state');
  }

  /** For good (drain): from now on nothing is taken down or brought back. */
  stop(): void {
    this.stopped = true;
  }

  /** Passes until nothing changes; a nested call (from a transition we caused) asks for one more pass. */
  apply(trigger: string): void {
    if (this.stopped) return;
    if (this.applying) {
      this.again = true;
      return;
    }
    this.applying = true;
    try {
      do {
        this.again = false;
        this.applyPass(this.status(), trigger);
      } while (this.again);
    } finally {
      this.applying = false;
    }
  }

  private applyPass(status: WithdrawStatus[], trigger: string): void {
    const engine = this.engine();
    if (!engine) return;
    const now = this.now();
    const sessions = engine.sessions();
    const todo = upstreamBfdActions(status, sessions).filter((a) => {
      const pending = this.inFlight.get(sessionKey(a.local, a.remote));
      return !(pending && pending.op === a.op && now - pending.at < IN_FLIGHT_MS);
    });
    for (const a of todo) {
      const key = sessionKey(a.local, a.remote);
      const source = (a.op === 'adminDown' ? a.diag : sessions.find((s) => sessionKey(s.local, s.remote) === key)?.localDiag) === DATAPLANE_DOWN_DIAG
        ? 'dataplane' : 'upstream';
      // Before the call: an engine that reports the transition synchronously clears it again.
      this.inFlight.set(key, { op: a.op, at: now });
      try {
        if (a.op === 'adminDown') engine.adminDown(a.local, a.remote, a.diag);
        else engine.adminUp(a.local, a.remote);
      } catch (err) {
        this.inFlight.delete(key);
        // A session removed between sessions() and the call (kill/reload): the next event re-applies.
        this.log.warn({ trigger, local: a.local, remote: a.remote, err: (err as Error).message }, `${source}: could not apply the BFD admin state`);
        continue;
      }
      this.actions[source][a.op]++;
      const fields = { trigger, family: a.family, local: a.local, remote: a.remote, why: a.why };
      if (a.op === 'adminDown') {
        this.log.warn({ ...fields, diag: a.diag }, source === 'upstream'
          ? 'upstream broken: BFD session AdminDown (Concatenated Path Down), leaving ECMP'
          : 'dataplane broken: BFD session AdminDown (Forwarding Plane Reset), leaving ECMP');
      } else {
        this.log.info(fields, source === 'upstream'
          ? 'upstream healthy: BFD session back from AdminDown, rejoining ECMP'
          : 'dataplane verified: BFD session back from AdminDown, rejoining ECMP');
      }
    }
  }
}
