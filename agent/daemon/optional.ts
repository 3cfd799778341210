// One shape for the daemon's optional subsystems (upstream health, SNAT records): each is on with
// some settings or off with a reason that /status shows, and is re-planned on every reload: the
// same settings keep the running instance, new ones replace it, none stop it.
import type { Logger } from '../lib/log.js';

export type SubsystemPlan<S> = { on: S } | { off: string };

export interface SubsystemSpec<S, R> {
  /** In logs and change lines: 'upstream health', 'SNAT records'. */
  label: string;
  /** The change line's word when new settings replace running ones ('re-planned', 'restarted'). */
  replaced: string;
  /** Null when this process cannot run it at all (the port is absent). */
  create: ((settings: S) => Promise<R>) | null;
  start(instance: R): Promise<void>;
  /** `replace`: re-planned or turned off (effects of the old instance are released); `shutdown`: the agent stops. */
  stop(instance: R, why: 'replace' | 'shutdown'): Promise<void>;
  /** What the change line says about the settings. */
  describe(settings: S): string;
  /** Called instead of a restart when a reload brings the same settings. */
  unchanged?(instance: R): void;
  /** A start failure turned into "off" with this reason (the subsystem is observability only); absent: it throws. */
  startFailed?(err: Error, settings: S): string;
}

export class OptionalSubsystem<S, R> {
  private instance: R | null = null;
  private settings: S | null = null;
  private offReason: string | null = null;
  private stopped = false;

  constructor(private readonly spec: SubsystemSpec<S, R>, private readonly log: Logger) {}

  /** The running instance (kept after the agent stopped it, so /status still shows its counters), or null. */
  get running(): R | null {
    return this.instance;
  }

  /** Why none runs (null while one runs). */
  off(): string | null {
    return this.instance ? null : (this.offReason ?? 'not started');
  }

  /** Brings the subsystem in line with the plan; a change line for reload, or null when nothing changed. */
  async sync(plan: SubsystemPlan<S>): Promise<string | null> {
    const s = this.spec;
    if ('on' in plan && !s.create) plan = { off: 'not available in this process' };
    if ('on' in plan && this.instance && JSON.stringify(plan.on) === JSON.stringify(this.settings)) {
      s.unchanged?.(this.instance);
      return null;
    }
    const previous = this.instance;
    if (previous) {
      this.instance = null;
      this.settings = null;
      await s.stop(previous, 'replace');
    }
    if ('off' in plan) {
      if (plan.off !== this.offReason) this.log.info({ reason: plan.off }, `${s.label} off`);
      const changed = previous !== null || this.offReason !== plan.off;
      this.offReason = plan.off;
      return changed ? `${s.label} off: ${plan.off}` : null;
    }
    const instance = await s.create!(plan.on);
    try {
      await s.start(instance);
    } catch (err) {
      if (!s.startFailed) throw err;
      this.offReason = s.startFailed(err as Error, plan.on);
      return `${s.label} ${this.offReason}`;
    }
    this.instance = instance;
    this.settings = plan.on;
    this.offReason = null;
    return `${s.label} ${previous ? s.replaced : 'on'}: ${s.describe(plan.on)}`;
  }

  /** The agent stops: the running instance (if any) stops, once. */
  async stop(): Promise<void> {
    if (!this.instance || this.stopped) return;
    this.stopped = true;
    await this.spec.stop(this.instance, 'shutdown');
  }
}
