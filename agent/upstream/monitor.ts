// UpstreamMonitor: watches each family's external link and gateway neighbour, runs the probe
// targets, and feeds the verdicts to the policy. Emits 'change' with the new per-family statuses
// whenever a family's health, withdraw flag or set of reasons changes. The daemon turns withdraw
// into BFD AdminDown (see bfd-link.ts) and health into /readyz, /status and metrics.
import { EventEmitter } from 'node:events';
import type { IpFamily } from '../lib/ip.js';
import { LogThrottle, type Logger } from '../lib/log.js';
import type { MulticastStats } from '../dataplane/rtnl-multicast.js';
import { UpstreamKernel, type NeighbourWatch } from './kernel.js';
import type { ProbeTarget, UpstreamOptions } from '../config/upstream-options.js';
import { UpstreamPolicy, type SignalStatus, type UpstreamFamilyStatus } from './policy.js';
import { runProbe, type ProbeOutcome } from './probes.js';
import { linkVerdict, neighbourVerdict, RiseFall } from './signals.js';
import { guard, guardedInterval, guardedTimeout } from '../lib/guard.js';

export interface ProbeResultEvent {
  family: IpFamily;
  name: string;
  kind: ProbeTarget['kind'];
  ok: boolean;
  detail: string;
  durationMs: number;
}

interface MonitorEvents {
  /** `changed` holds the families whose status changed; `all` every family. */
  change: [changed: UpstreamFamilyStatus[], all: UpstreamFamilyStatus[]];
  /** Every probe run (for counters and latency histograms). */
  probe: [ProbeResultEvent];
}

const RESYNC_LOG_INTERVAL_MS = 10_000;

export class UpstreamMonitor extends EventEmitter<MonitorEvents> {
  private readonly policy: UpstreamPolicy;
  private readonly kernel: UpstreamKernel;
  private readonly watches: NeighbourWatch[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private holdTimer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private running = false;
  /** Bumped by start() and stop(), so a probe still in flight from an earlier run goes quiet. */
  private generation = 0;

  constructor(private readonly opts: UpstreamOptions, private readonly log?: Logger) {
    super();
    this.policy = new UpstreamPolicy(opts.families.map((f) => f.family), opts, Date.now());
    this.watches = opts.families.map((f) => ({ family: f.family, interface: f.interface, gateway: f.gateway }));
    this.kernel = new UpstreamKernel([...new Set(opts.families.map((f) => f.interface))], this.watches);
    this.kernel.on('link', guard('upstream: link change', (name: string, obs: Parameters<typeof linkVerdict>[0]) => {
      const verdict = linkVerdict(obs);
      for (const f of this.opts.families) if (f.interface === name) this.policy.update(f.family, 'link', name, verdict, Date.now());
      this.evaluate();
    }));
    this.kernel.on('neighbour', guard('upstream: neighbour change', (w: NeighbourWatch, nud: Parameters<typeof neighbourVerdict>[1]) => {
      const prev = this.policy.signalState(w.family, 'neighbour', w.gateway);
      this.policy.update(w.family, 'neighbour', w.gateway, neighbourVerdict(prev, nud), Date.now());
      this.evaluate();
      // A lost entry (carrier loss flushes the cache, GC) is re-resolved now, not at the next round.
      if (nud === 'absent' && this.running && this.opts.neighbourVerifyIntervalMs > 0) this.verifyNeighbour(w);
    }));
    // An overflow is reported on many reads while a burst lasts: one line per interval.
    const resyncLog = new LogThrottle(RESYNC_LOG_INTERVAL_MS);
    this.kernel.on('resync', guard('upstream: resync', (reason: string) => {
      const suppressed = resyncLog.take();
      if (suppressed !== undefined) this.log?.warn({ reason, suppressed }, 'upstream: re-reading link and neighbour state');
    }));
  }

  /** Reads the current link and neighbour state, then starts re-verification and probes. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.generation++;
    this.abort = new AbortController();
    // Until its first result a probe target is pending: the family is not ready yet (no withdraw).
    for (const t of this.opts.probes) this.policy.update(t.family, 'probe', t.name, { state: 'pending', detail: 'no result yet' }, Date.now());
    try {
      await this.kernel.start();
    } catch (err) {
      this.running = false;
      this.kernel.stop();
      throw err;
    }
    if (this.opts.neighbourVerifyIntervalMs > 0) {
      for (const w of this.watches) {
        this.verifyNeighbour(w);
        this.every(this.opts.neighbourVerifyIntervalMs, () => this.verifyNeighbour(w));
      }
    }
    for (const t of this.opts.probes) this.startProbe(t);
    this.evaluate();
    this.log?.info({ families: this.opts.families, probes: this.opts.probes.map((p) => p.name) }, 'upstream health monitor started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.kernel.stop();
  }

  status(): UpstreamFamilyStatus[] {
    return this.policy.statuses();
  }

  netlink(): MulticastStats | null {
    return this.kernel.listenerStats() ?? null;
  }

  /** Every signal's current verdict (for /status and per-signal metrics). */
  signals(): SignalStatus[] {
    return this.policy.signals();
  }

  private every(intervalMs: number, fn: () => void): void {
    const t = guardedInterval('upstream: periodic check', fn, intervalMs);
    this.timers.add(t);
  }

  private verifyNeighbour(w: NeighbourWatch): void {
    this.kernel.verifyNeighbour(w).catch((err: Error) => this.log?.debug({ err: err.message, family: w.family }, 'upstream: neighbour re-verification failed'));
  }

  /** One probe loop: run, record, next run one interval after this one started (runs never overlap). */
  private startProbe(t: ProbeTarget): void {
    const family = this.opts.families.find((f) => f.family === t.family)!;
    const counter = new RiseFall(t.rise, t.fall);
    const generation = this.generation;
    const run = async (): Promise<void> => {
      const started = Date.now();
      const outcome = await this.probeOnce(t, family.interface);
      if (generation !== this.generation) return;
      this.emit('probe', { family: t.family, name: t.name, kind: t.kind, ...outcome });
      const before = this.policy.signalState(t.family, 'probe', t.name);
      const verdict = counter.record(outcome.ok, outcome.detail);
      this.policy.update(t.family, 'probe', t.name, verdict, Date.now());
      if (verdict.state !== before) this.log?.info({ family: t.family, probe: t.name, state: verdict.state, detail: verdict.detail }, 'upstream probe state changed');
      this.evaluate();
      const timer = guardedTimeout(`upstream: probe ${t.name}`, () => {
        this.timers.delete(timer);
        return run();
      }, Math.max(0, started + t.intervalMs - Date.now()));
      this.timers.add(timer);
    };
    guard(`upstream: probe ${t.name}`, run)();
  }

  private async probeOnce(t: ProbeTarget, iface: string): Promise<ProbeOutcome> {
    let source: string | undefined;
    if (t.kind !== 'icmp') {
      try {
        source = await this.kernel.sourceAddress(iface, t.family);
      } catch (err) {
        return { ok: false, detail: `cannot read ${iface} addresses: ${(err as Error).message}`, durationMs: 0 };
      }
      if (!source) return { ok: false, detail: `no IPv${t.family} address on ${iface}`, durationMs: 0 };
    }
    return runProbe(t, { interface: iface, source, signal: this.abort.signal });
  }

  private evaluate(): void {
    const now = Date.now();
    const { statuses, changed } = this.policy.evaluate(now);
    if (changed.length > 0) {
      for (const s of changed) {
        const fields = { family: s.family, healthy: s.healthy, withdraw: s.withdraw, reasons: s.reasons.map((r) => r.message) };
        if (s.healthy) this.log?.info(fields, 'upstream healthy');
        else this.log?.warn(fields, s.withdraw ? 'upstream unhealthy: withdrawing from ECMP' : 'upstream unhealthy: reporting only');
      }
      this.emit('change', changed, statuses);
    }
    this.scheduleHoldDown(now);
  }

  private scheduleHoldDown(now: number): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    const at = this.policy.nextDeadline(now);
    if (at === undefined || !this.running) return;
    this.holdTimer = guardedTimeout('upstream: hold-down', () => {
      this.holdTimer = undefined;
      this.evaluate();
    }, at - now);
  }
}
