// The upstream health policy: combines signal verdicts into one status per address family. Pure
// and clock-injected (the caller passes `now`), so hold-down is tested on a virtual clock.
//
//   healthy  = no signal failed or pending, and the hold-down after the last failure has passed;
//   withdraw = a withdrawing signal failed, or its hold-down has not passed yet.
// Link and neighbour failures always withdraw; probe failures withdraw only with
// probeFailureAction 'withdraw' (otherwise they make the family not ready and are reported).
import type { IpFamily } from '../lib/ip.js';
import type { ProbeFailureAction } from '../config/upstream-options.js';
import type { SignalState, Verdict } from './signals.js';

export type SignalKind = 'link' | 'neighbour' | 'probe';

export interface UpstreamReason {
  signal: SignalKind | 'hold-down';
  /** The interface, the gateway address or the probe name. */
  name: string;
  state: 'failed' | 'pending' | 'hold-down';
  /** Whether this reason keeps the family withdrawn from ECMP. */
  withdraw: boolean;
  message: string;
}

export interface UpstreamFamilyStatus {
  family: IpFamily;
  healthy: boolean;
  withdraw: boolean;
  reasons: UpstreamReason[];
  /** Unix epoch ms when `healthy` or `withdraw` last changed (start time at first). */
  since: number;
}

export interface SignalStatus {
  family: IpFamily;
  signal: SignalKind;
  name: string;
  state: SignalState;
  detail: string;
  /** Unix epoch ms when `state` last changed. */
  since: number;
}

export interface PolicyOptions {
  holdDownMs: number;
  probeFailureAction: ProbeFailureAction;
}

interface FamilyState {
  signals: Map<string, SignalStatus>;
  failing: boolean;
  withdrawFailing: boolean;
  /** When the last failure / last withdrawing failure cleared (hold-down runs from there). */
  clearedAt?: number;
  withdrawClearedAt?: number;
  status: UpstreamFamilyStatus;
}

const signalKey = (signal: SignalKind, name: string): string => `${signal}\0${name}`;
const reasonsKey = (s: UpstreamFamilyStatus): string =>
  `${s.healthy}|${s.withdraw}|${s.reasons.map((r) => `${r.signal}:${r.name}:${r.state}:${r.withdraw}`).join(',')}`;

export class UpstreamPolicy {
  private readonly families = new Map<IpFamily, FamilyState>();

  constructor(families: readonly IpFamily[], private readonly opts: PolicyOptions, now: number) {
    for (const family of families) {
      this.families.set(family, {
        signals: new Map(), failing: false, withdrawFailing: false,
        status: { family, healthy: true, withdraw: false, reasons: [], since: now },
      });
    }
  }

  private withdraws(signal: SignalKind): boolean {
    return signal !== 'probe' || this.opts.probeFailureAction === 'withdraw';
  }

  /** Records a signal's verdict. Call evaluate(now) afterwards to get the new status. */
  update(family: IpFamily, signal: SignalKind, name: string, verdict: Verdict, now: number): void {
    const fs = this.families.get(family);
    if (!fs) throw new Error(`upstream policy: IPv${family} is not a monitored family`);
    const key = signalKey(signal, name);
    const prev = fs.signals.get(key);
    const since = prev && prev.state === verdict.state ? prev.since : now;
    fs.signals.set(key, { family, signal, name, state: verdict.state, detail: verdict.detail, since });

    const failed = [...fs.signals.values()].filter((s) => s.state === 'failed');
    const failing = failed.length > 0;
    const withdrawFailing = failed.some((s) => this.withdraws(s.signal));
    if (fs.failing && !failing) fs.clearedAt = now;
    if (fs.withdrawFailing && !withdrawFailing) fs.withdrawClearedAt = now;
    fs.failing = failing;
    fs.withdrawFailing = withdrawFailing;
  }

  /** A signal's previous state (the neighbour verdict depends on it). */
  signalState(family: IpFamily, signal: SignalKind, name: string): SignalState | undefined {
    return this.families.get(family)?.signals.get(signalKey(signal, name))?.state;
  }

  signals(): SignalStatus[] {
    return [...this.families.values()].flatMap((fs) => [...fs.signals.values()].map((s) => ({ ...s })));
  }

  /** Recomputes every family at `now`; `changed` lists families whose verdict or reasons changed. */
  evaluate(now: number): { statuses: UpstreamFamilyStatus[]; changed: UpstreamFamilyStatus[] } {
    const changed: UpstreamFamilyStatus[] = [];
    for (const fs of this.families.values()) {
      const next = this.compute(fs, now);
      if (reasonsKey(next) !== reasonsKey(fs.status)) changed.push(next);
      fs.status = next;
    }
    return { statuses: this.statuses(), changed };
  }

  /** The statuses of the last evaluate(). */
  statuses(): UpstreamFamilyStatus[] {
    return [...this.families.values()].map((fs) => ({ ...fs.status, reasons: fs.status.reasons.map((r) => ({ ...r })) }));
  }

  /** The next time evaluate() would change something on its own (a hold-down ending), if any. */
  nextDeadline(now: number): number | undefined {
    let next: number | undefined;
    for (const fs of this.families.values()) {
      for (const at of [fs.clearedAt, fs.withdrawClearedAt]) {
        if (at === undefined) continue;
        const end = at + this.opts.holdDownMs;
        if (end > now && (next === undefined || end < next)) next = end;
      }
    }
    return next;
  }

  private compute(fs: FamilyState, now: number): UpstreamFamilyStatus {
    const reasons: UpstreamReason[] = [];
    for (const s of fs.signals.values()) {
      if (s.state === 'ok') continue;
      const withdraw = s.state === 'failed' && this.withdraws(s.signal);
      reasons.push({ signal: s.signal, name: s.name, state: s.state, withdraw, message: `${s.signal} ${s.name}: ${s.detail}` });
    }
    const inHold = (at: number | undefined): boolean => at !== undefined && now < at + this.opts.holdDownMs;
    const healthHold = !fs.failing && inHold(fs.clearedAt);
    const withdrawHold = !fs.withdrawFailing && inHold(fs.withdrawClearedAt);
    if (healthHold || withdrawHold) {
      const at = Math.max(healthHold ? fs.clearedAt! : -Infinity, withdrawHold ? fs.withdrawClearedAt! : -Infinity);
      reasons.push({
        signal: 'hold-down', name: 'hold-down', state: 'hold-down', withdraw: withdrawHold,
        message: `recovered at ${new Date(at).toISOString()}, hold-down ${this.opts.holdDownMs} ms until ${new Date(at + this.opts.holdDownMs).toISOString()}`,
      });
    }
    const healthy = reasons.length === 0;
    const withdraw = fs.withdrawFailing || withdrawHold;
    const since = healthy === fs.status.healthy && withdraw === fs.status.withdraw ? fs.status.since : now;
    return { family: fs.status.family, healthy, withdraw, reasons, since };
  }
}
