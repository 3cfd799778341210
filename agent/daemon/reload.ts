// Reload (SIGHUP or the control command): re-read the configuration and apply the differences live,
// step by step: log level, BFD sessions (all or nothing: refused, the whole reload is), the dataplane,
// the optional subsystems. Settings that only a restart applies are reported. One reload at a time;
// the counters and the last record are what /status shows.
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../lib/log.js';
import type { ReloadRecord } from '../status/types.js';
import type { BfdReload } from './bfd-service.js';
import type { ConfigResult } from './ports.js';
import { planReload } from './reload-plan.js';

/** The parts of the daemon a reload drives. */
export interface ReloadTarget {
  loadConfig(): Promise<ConfigResult>;
  /** The configuration running now. */
  running(): GatewayConfig;
  /** The configuration the agent runs with from now on. */
  adopt(config: GatewayConfig): void;
  /** Whether BFD runs (then a reload that disables it removes its sessions). */
  bfdRunning(): boolean;
  reloadBfd(next: GatewayConfig): Promise<BfdReload>;
  reloadDataplane(next: GatewayConfig, replanned: boolean): Promise<{ change: string | null; error: string | null }>;
  /** The optional subsystems (upstream health, then SNAT records): a change line each, or null. */
  syncUpstream(next: GatewayConfig): Promise<string | null>;
  syncSnatRecords(next: GatewayConfig): Promise<string | null>;
}

export interface ReloadCounters {
  lastReload: ReloadRecord | null;
  reloads: number;
  reloadFailures: number;
}

export class Reloader {
  private last: ReloadRecord | null = null;
  private reloads = 0;
  private failures = 0;
  private pending: Promise<ReloadRecord> | null = null;

  constructor(private readonly target: ReloadTarget, private readonly log: Logger, private readonly now: () => number) {}

  /** Runs a reload; one asked for while another runs gets that one's record. */
  reload(): Promise<ReloadRecord> {
    this.pending ??= this.run().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  counters(): ReloadCounters {
    return { lastReload: this.last, reloads: this.reloads, reloadFailures: this.failures };
  }

  private rejected(errors: string[]): ReloadRecord {
    this.failures++;
    this.last = { at: this.now(), ok: false, errors, changes: [] };
    return this.last;
  }

  private async run(): Promise<ReloadRecord> {
    const t0 = performance.now();
    const target = this.target;
    this.reloads++;
    const r = await target.loadConfig();
    if (!r.ok) {
      this.log.error({ errors: r.errors }, 'reload rejected: invalid configuration; keeping the running one');
      return this.rejected(r.errors);
    }
    const old = target.running();
    const next = r.config;
    const plan = planReload(old, next);
    const changes: string[] = [];
    const errors: string[] = [...plan.restartNeeded];
    if (plan.logLevel) {
      this.log.level = plan.logLevel.level;
      changes.push(plan.logLevel.change);
    }
    try {
      if (next.bfd.enabled || target.bfdRunning()) {
        const bfd = await target.reloadBfd(next);
        // Refused, the whole reload is: the running configuration stays, so what runs and what
        // /status says never disagree.
        if ('refused' in bfd) {
          this.log.level = old.logLevel;
          this.log.error({ err: bfd.refused.message }, 'reload rejected: the BFD sessions could not be applied; keeping the running configuration');
          return this.rejected([bfd.refused.message]);
        }
        for (const k of bfd.changes.added) changes.push(`bfd session ${k} added`);
        for (const k of bfd.changes.removed) changes.push(`bfd session ${k} removed`);
        for (const k of bfd.changes.changed) changes.push(`bfd session ${k} changed (Poll)`);
      }
      const dp = await target.reloadDataplane(next, plan.dataplaneChanged);
      if (dp.error) errors.push(dp.error);
      if (dp.change) changes.push(dp.change);
      for (const line of [await target.syncUpstream(next), await target.syncSnatRecords(next)]) if (line) changes.push(line);
    } catch (err) {
      errors.push((err as Error).message);
    }
    target.adopt(plan.effective);
    // Settings that need a restart are reported, but the reload applied everything else.
    const ok = errors.length === plan.restartNeeded.length;
    this.last = { at: this.now(), ok, errors, changes };
    if (!ok) this.failures++;
    this.log.info({ changes, errors, durationMs: +(performance.now() - t0).toFixed(2) }, 'reloaded configuration');
    return this.last;
  }
}
