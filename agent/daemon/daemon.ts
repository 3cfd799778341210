// The `egress-agent run` lifecycle: validate config -> apply the dataplane and keep reconciling it
// -> start BFD sessions -> watch the upstream (a broken one takes its family's sessions AdminDown)
// -> record SNAT mappings -> serve health and control. Reload (SIGHUP or the control command)
// re-reads the config and applies differences live; drain (SIGTERM) stops the upstream monitor,
// takes BFD AdminDown at once and keeps forwarding. The dataplane is never removed on exit.
import type { BfdDiag, BfdRxSocket, BfdStateEvent } from '../bfd/types.js';
import { bfddControl, type BfddBackend, type BfddTarget, type TimerItem } from '../compat/bfdd-control.js';
import { probeReply } from '../compat/supervisor-status.js';
import { formatConfigErrors, InputError } from '../config/errors.js';
import type { GatewayConfig } from '../config/types.js';
import { createControlHandler, type AgentControl, type DataplaneView } from '../control/commands.js';
import { ControlServer } from '../control/server.js';
import { prepareSocketPath } from '../control/socket-file.js';
import type { Metrics } from '../health/metrics.js';
import { HealthServer } from '../health/server.js';
import type { Logger } from '../lib/log.js';
import type { ApplyResult } from '../reconcile/types.js';
import { emptyApplyStats, observeApply } from './apply-stats.js';
import { BfdIngress } from './bfd-ingress.js';
import { BfdSessions } from './bfd-sessions.js';
import { EventLoopMonitor } from './event-loop.js';
import { readProcessMemory } from './memory.js';
import type { BfdEnginePort, DaemonPorts, ReconcilerPort, SnatRecorderPort } from './ports.js';
import { planSnatRecords } from './snat-records.js';
import { configSummary, withVerdicts } from './status.js';
import type { AgentPhase, AgentStatus, ReloadRecord, SessionSelector, SessionView, SnatRecordsView, StartupRelease, UpstreamView } from '../status/types.js';
import { planUpstream, UpstreamHealth, type UpstreamPlan } from './upstream-health.js';
import { guard, guardedInterval, guardedTimeout } from '../lib/guard.js';
import { BfdWithdrawal } from './bfd-withdrawal.js';
import { DataplaneGate } from './dataplane-gate.js';
import { DATAPLANE_DOWN_DIAG, type WithdrawStatus } from '../upstream/index.js';

/** Startup failed because of the inputs (exit 2) rather than the machine (exit 1). */
export class ConfigError extends Error {
  constructor(readonly errors: string[]) {
    super(`invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
  }
}

export interface DaemonOptions {
  ports: DaemonPorts;
  log: Logger;
  version: string;
  /** Called when someone asks the agent to stop through the control socket (bfdd-control stop). */
  onStopRequest?: () => void;
  /** How often expected sessions are checked for recovery and the sockets for deletion. */
  checkIntervalMs?: number;
}

const CHECK_INTERVAL_MS = 5000;
const DEFAULT_DATAPLANE_WITHDRAW_AFTER_MS = 10_000;

/** Fields whose change needs a new reconciler (the dataplane plan depends on them). */
const dataplaneKey = (c: GatewayConfig) =>
  JSON.stringify([c.families, c.internalInterface, c.externalInterface, c.reconcileIntervalMs]);

async function step<T>(log: Logger, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  log.debug({ step: name }, 'step started');
  try {
    const result = await fn();
    log.info({ step: name, durationMs: +(performance.now() - t0).toFixed(2) }, 'step done');
    return result;
  } catch (err) {
    log.error({ step: name, durationMs: +(performance.now() - t0).toFixed(2), err: (err as Error).message }, 'step failed');
    throw err;
  }
}

export class Daemon implements AgentControl {
  private phase: AgentPhase = 'starting';
  private readonly startedAt = Date.now();
  private config: GatewayConfig | null = null;
  private engine: BfdEnginePort | null = null;
  private sessions: BfdSessions | null = null;
  private ingress: BfdIngress | null = null;
  private reconciler: ReconcilerPort | null = null;
  private upstream: UpstreamHealth | null = null;
  private upstreamOff: string | null = null;
  private readonly withdrawal: BfdWithdrawal;
  private gate: DataplaneGate | null = null;
  private gateTimer: NodeJS.Timeout | null = null;
  private snat: SnatRecorderPort | null = null;
  private snatKey: string | null = null;
  private snatOff: string | null = null;
  private readonly applyStats = emptyApplyStats();
  private readonly eventLoop = new EventLoopMonitor();
  private health: HealthServer | null = null;
  private control: ControlServer[] = [];
  private metrics: Promise<Metrics> | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private releaseTimer: NodeJS.Timeout | null = null;
  private startupRelease: StartupRelease | null = null;
  private lastReload: ReloadRecord | null = null;
  private reloads = 0;
  private reloadFailures = 0;
  private logCommands = true;
  private reloading: Promise<ReloadRecord> | null = null;
  private draining: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log;
    this.withdrawal = new BfdWithdrawal(() => this.engine, () => this.withdrawStatuses(), opts.log);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async start(): Promise<void> {
    const t0 = performance.now();
    this.eventLoop.start();
    const config = await step(this.log, 'config', async () => {
      const r = await this.opts.ports.loadConfig();
      if (!r.ok) throw new ConfigError(r.errors);
      await prepareSocketPath(r.config.controlSocket);
      return r.config;
    });
    this.config = config;
    this.log.level = config.logLevel;
    // Bound before the dataplane is touched, so an address that cannot be bound changes nothing;
    // meanwhile /readyz answers "still starting".
    await step(this.log, 'health', async () => {
      this.health = new HealthServer(config.healthListen, { status: () => this.status(), metrics: () => this.loadMetrics() }, this.log, config.bfd.localIps);
      await this.health.start();
    });

    await step(this.log, 'dataplane', async () => {
      const reconciler = await this.opts.ports.createReconciler(config, this.log);
      if (!reconciler) {
        this.log.info('no address family has both gateways configured: the dataplane is not managed by this process');
        return;
      }
      this.attachReconciler(reconciler);
      const r = await reconciler.applyOnce('startup').catch((err: unknown) => {
        // Discovery found the inputs wrong (gateway unreachable, interface missing): bad input, exit 2.
        if (err instanceof InputError) throw new ConfigError(formatConfigErrors(err.errors).split('\n'));
        throw err;
      });
      if (r.error || r.remaining.length) {
        this.log.warn({ error: r.error, remaining: r.remaining }, 'dataplane not verified after the first apply; the reconciler keeps repairing; BFD stays AdminDown until it is verified');
      }
      this.observeDataplane();
      await reconciler.start();
    });

    if (config.bfd.enabled) {
      await step(this.log, 'bfd', async () => {
        await this.startBfd(config);
      });
    }
    await step(this.log, 'upstream', () => this.syncUpstream(config));
    await step(this.log, 'snat-records', () => this.syncSnatRecords(config));

    await step(this.log, 'serve', async () => {
      const handler = createControlHandler(this, { debugCommands: config.debugCommands === true });
      const main = new ControlServer(config.controlSocket, handler, this.log);
      await main.start();
      this.control.push(main);
      if (config.compatSocket && config.compatSocket !== config.controlSocket) {
        // Kube-OVN's supervisor socket is a convenience for its tooling: without it the agent still
        // works (e.g. several agents on one host in a lab, or a path we may not create).
        const compat = new ControlServer(config.compatSocket, handler, this.log);
        try {
          await compat.start();
          this.control.push(compat);
        } catch (err) {
          this.log.warn({ socket: config.compatSocket, err: (err as Error).message }, 'not serving Kube-OVN\'s supervisor socket');
        }
      }
      this.log.info({ health: this.health!.addresses(), sockets: this.control.map((c) => c.path) }, 'serving health and control');
    });

    this.checkTimer = guardedInterval('daemon: periodic check', () => this.periodicCheck(), this.opts.checkIntervalMs ?? CHECK_INTERVAL_MS);
    this.checkTimer.unref();
    if (this.opts.ports.releaseStartupPages && typeof config.startupPageReleaseMs === 'number') {
      this.releaseTimer = guardedTimeout('daemon: startup page release', () => this.releaseStartupPages(), config.startupPageReleaseMs).unref();
    }
    this.phase = 'running';
    this.log.info({ durationMs: +(performance.now() - t0).toFixed(2), version: this.opts.version }, 'agent started');
  }

  /** SIGTERM: AdminDown at once, keep it up for one detection time (or the grace budget), keep
   * forwarding, then stop serving. Resolves when the process may exit 0. */
  drain(reason: string): Promise<void> {
    this.draining ??= this.doDrain(reason);
    return this.draining;
  }

  private async doDrain(reason: string): Promise<void> {
    const t0 = performance.now();
    const previous = this.phase;
    this.phase = 'draining';
    this.withdrawal.stop(); // the drain's AdminDown is final: nothing brings a session back
    if (this.gateTimer) clearTimeout(this.gateTimer);
    const graceMs = this.config?.drainGraceMs ?? 0;
    this.log.info({ reason, graceMs, from: previous }, 'draining');
    if (this.checkTimer) clearInterval(this.checkTimer);
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    // First, so nothing brings a session back out of the drain's AdminDown.
    if (this.upstream) await step(this.log, 'upstream-stop', () => this.upstream!.stop(false));
    if (this.engine) {
      // Keep a little of the budget for closing the servers, so we exit before the grace ends.
      const budget = Math.max(0, graceMs - Math.min(1000, graceMs / 10));
      await step(this.log, 'bfd-drain', () => this.engine!.drain(budget));
      this.engine.close();
      this.ingress?.stop();
    }
    // The reconciler stops watching; what it applied stays, so forwarding continues until the Pod goes.
    if (this.reconciler) await step(this.log, 'dataplane-stop', () => this.reconciler!.stop());
    // Flows went on during the drain; their records are flushed now.
    if (this.snat) await step(this.log, 'snat-records-stop', () => this.snat!.stop());
    await Promise.all([this.health?.close(), ...this.control.map((c) => c.close())]);
    this.eventLoop.stop();
    this.phase = 'stopped';
    this.log.info({ durationMs: +(performance.now() - t0).toFixed(2) }, 'drained; exiting');
  }

  /** Closes everything after a failed start; keeps whatever dataplane was applied. */
  async abort(): Promise<void> {
    this.withdrawal.stop();
    if (this.gateTimer) clearTimeout(this.gateTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    await this.upstream?.stop(false).catch(() => undefined);
    this.engine?.close();
    await this.reconciler?.stop().catch(() => undefined);
    await this.snat?.stop().catch(() => undefined);
    await Promise.all([this.health?.close(), ...this.control.map((c) => c.close())]);
    this.eventLoop.stop();
    this.phase = 'stopped';
  }

  reload(): Promise<ReloadRecord> {
    const refused = this.refuseWhileDraining('reload');
    if (refused) return Promise.reject(refused);
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadRecord> {
    const t0 = performance.now();
    this.reloads++;
    const r = await this.opts.ports.loadConfig();
    if (!r.ok) {
      this.reloadFailures++;
      this.lastReload = { at: Date.now(), ok: false, errors: r.errors, changes: [] };
      this.log.error({ errors: r.errors }, 'reload rejected: invalid configuration; keeping the running one');
      return this.lastReload;
    }
    const old = this.config!;
    const next = r.config;
    const changes: string[] = [];
    const errors: string[] = [];
    if (next.logLevel !== old.logLevel) {
      this.log.level = next.logLevel;
      changes.push(`log level ${old.logLevel} -> ${next.logLevel}`);
    }
    for (const [what, a, b] of [['health listen address', old.healthListen, next.healthListen], ['control socket', old.controlSocket, next.controlSocket], ['compat socket', old.compatSocket, next.compatSocket]] as const) {
      if (a !== b) errors.push(`${what} change ${a} -> ${b} takes effect after a restart`);
    }
    try {
      if (next.bfd.enabled || this.sessions) {
        if (!this.sessions) await this.startBfd(next);
        const specs = next.bfd.enabled ? await this.opts.ports.expectedSessions(next) : [];
        // All or nothing (applyExpected rolls back); refused, the whole reload is: the running
        // configuration stays, so what runs and what /status says never disagree.
        await this.ingress?.refresh(specs.map((s) => s.remote));  // new peers start bound to their interface
        let c;
        try {
          c = this.sessions!.applyExpected(specs);
        } catch (err) {
          this.log.level = old.logLevel;
          this.reloadFailures++;
          this.lastReload = { at: Date.now(), ok: false, errors: [(err as Error).message], changes: [] };
          this.log.error({ err: (err as Error).message }, 'reload rejected: the BFD sessions could not be applied; keeping the running configuration');
          return this.lastReload;
        }
        this.withdrawal.apply('reload');
        for (const k of c.added) changes.push(`bfd session ${k} added`);
        for (const k of c.removed) changes.push(`bfd session ${k} removed`);
        for (const k of c.changed) changes.push(`bfd session ${k} changed (Poll)`);
      }
      if (this.reconciler && !next.families.length) {
        errors.push('the new configuration has no address family: the running dataplane is kept; restart to drop it');
      } else if (this.reconciler) {
        const changed = dataplaneKey(old) !== dataplaneKey(next);
        const r = await this.reconciler.reload(next);
        if (r.error) errors.push(`dataplane: ${r.error}`);
        changes.push(changed ? 'dataplane configuration changed: re-planned and applied' : 'dataplane re-applied');
      } else if (next.families.length) {
        const reconciler = await this.opts.ports.createReconciler(next, this.log);
        if (reconciler) {
          this.attachReconciler(reconciler);
          await reconciler.applyOnce('reload');
          await reconciler.start();
          changes.push('dataplane now managed: planned and applied');
        }
      }
      const u = await this.syncUpstream(next);
      if (u) changes.push(u);
      const r = await this.syncSnatRecords(next);
      if (r) changes.push(r);
    } catch (err) {
      errors.push((err as Error).message);
    }
    this.config = { ...next, healthListen: old.healthListen, controlSocket: old.controlSocket, compatSocket: old.compatSocket };
    this.lastReload = { at: Date.now(), ok: !errors.some((e) => !e.includes('after a restart')), errors, changes };
    if (!this.lastReload.ok) this.reloadFailures++;
    this.log.info({ changes, errors, durationMs: +(performance.now() - t0).toFixed(2) }, 'reloaded configuration');
    return this.lastReload;
  }

  /** Once, after start: the executable's pages touched only while starting go back to the kernel. */
  private releaseStartupPages(): void {
    const before = readProcessMemory();
    const r = this.opts.ports.releaseStartupPages!();
    const after = readProcessMemory();
    this.startupRelease = { at: Date.now(), rssBeforeBytes: before.rssBytes, rssAfterBytes: after.rssBytes, mappings: r.mappings, error: r.error };
    const fields = { rssBeforeBytes: before.rssBytes, rssAfterBytes: after.rssBytes, anonBytes: after.anonBytes, mappings: r.mappings };
    if (r.error) this.log.warn({ ...fields, error: r.error }, 'startup pages not released');
    else this.log.info(fields, 'startup pages released');
  }

  // ---- status --------------------------------------------------------------------------------

  status(): AgentStatus {
    const c = this.config;
    const dp = this.reconciler?.status() ?? null;
    const stats = this.control.map((s) => s.stats);
    const lastError = stats.map((s) => s.lastError).filter(Boolean).pop() ?? '';
    const bfd = this.sessions?.status() ?? null;
    return withVerdicts({
      version: this.opts.version,
      pid: process.pid,
      startedAt: this.startedAt,
      phase: this.phase,
      config: c && configSummary(c),
      bfd,
      dataplane: dp,
      dataplaneApplies: this.applyStats,
      eventLoop: this.eventLoop.stats(),
      memory: { ...readProcessMemory(), startupRelease: this.startupRelease },
      control: this.control.map((s) => ({ path: s.path, serving: s.serving() })),
      upstream: c && this.upstreamView(),
      snatRecords: c && this.snatRecordsView(),
      health: { address: this.health?.address() ?? null, addresses: this.health?.addresses() ?? [] },
      lastReload: this.lastReload,
      counters: {
        reloads: this.reloads,
        reloadFailures: this.reloadFailures,
        controlRequests: stats.reduce((n, s) => n + s.requests, 0),
        controlFailures: stats.reduce((n, s) => n + s.failures, 0),
        lastControlError: lastError,
        recoveryActions: (bfd?.recoveryActions ?? []).reduce((n, r) => n + r.count, 0),
      },
    });
  }

  // ---- control -------------------------------------------------------------------------------

  bfdSessions(): SessionView[] {
    return this.sessions?.status().sessions ?? [];
  }

  bfdRxSockets(): BfdRxSocket[] {
    return this.sessions?.status().rxSockets ?? [];
  }

  async dataplane(): Promise<DataplaneView> {
    const r = this.reconciler;
    return { managed: r !== null, status: r?.status() ?? null, inspection: r ? await r.inspect() : null, applies: this.applyStats };
  }

  async reconcile(): Promise<ApplyResult> {
    this.mutating('reconcile');
    if (!this.reconciler) throw new Error('this agent manages no dataplane (no address family has both gateways configured)');
    return this.reconciler.applyOnce('manual');
  }

  adminDown(sel: SessionSelector, diag?: BfdDiag): string[] {
    this.mutating('admin down');
    return this.bfd().adminDown(sel, diag);
  }

  adminUp(sel: SessionSelector): string[] {
    this.mutating('admin up');
    return this.bfd().adminUp(sel);
  }

  setTimers(sel: SessionSelector, timers: { minTxMs?: number; minRxMs?: number; multiplier?: number }): string[] {
    this.mutating('set timers');
    return this.bfd().setTimers(sel, timers);
  }

  setLogLevel(level: string): { previous: string; level: string } {
    const previous = this.log.level;
    this.log.level = level;
    this.log.info({ previous, level }, 'log level changed');
    return { previous, level };
  }

  bfddControl(args: string[]): ReturnType<typeof bfddControl> {
    const reply = bfddControl(args, this.bfddBackend());
    const fields = { args, exitCode: reply.exitCode };
    if (this.logCommands) this.log.info(fields, 'bfdd-control command');
    else this.log.debug(fields, 'bfdd-control command');
    return reply;
  }

  probeLine(request: string): string {
    return probeReply(request, this.status());
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Null, or the error for a command that would change something during the drain (it could
   * bring sessions back Up after the drain took them AdminDown). */
  private refuseWhileDraining(what: string): Error | null {
    if (this.phase !== 'draining' && this.phase !== 'stopped') return null;
    return new Error(`${what} refused: the agent is draining for shutdown (${this.phase}); nothing is changed any more`);
  }

  private mutating(what: string): void {
    const refused = this.refuseWhileDraining(what);
    if (refused) throw refused;
  }

  private bfd(): BfdSessions {
    if (!this.sessions) throw new Error('BFD is disabled in this agent\'s configuration');
    return this.sessions;
  }

  private async startBfd(config: GatewayConfig): Promise<void> {
    const engine = await this.opts.ports.createEngine(config, this.log);
    await engine.start();
    this.engine = engine;
    this.sessions = new BfdSessions(engine, this.log);
    // A session that (re)appears or is brought up by someone else while its upstream is broken
    // goes straight back to AdminDown.
    engine.on('state', guard('daemon: bfd state change', (ev: BfdStateEvent) => this.withdrawal.onBfdState(ev)));
    const { realtimePriority, realtimeError } = engine.stats();
    if (realtimeError) {
      this.log.warn({ requested: config.bfd.realtimePriority, error: realtimeError }, 'bfd engine thread runs with normal scheduling');
    }
    const specs = await this.opts.ports.expectedSessions(config);
    if (this.opts.ports.createPeerRoutes) {
      const sessions = this.sessions;
      // Before the sessions start, so they are bound to their peers' interfaces from the first packet.
      const ingress = new BfdIngress(await this.opts.ports.createPeerRoutes(this.log), () => sessions.peers(), (byRemote) => sessions.setIngress(byRemote), this.log);
      await ingress.start(specs.map((s) => s.remote));
      this.ingress = ingress;
    }
    const c = this.sessions.applyExpected(specs);
    // At once: a session must not come Up while the dataplane is not verified yet.
    this.withdrawal.apply('bfd sessions started');
    this.log.info({ sessions: c.added, realtimePriority: realtimePriority ?? 0 }, 'bfd sessions started');
  }

  /**
   * Starts, re-plans or stops the upstream monitor for this config and the discovered interfaces.
   * Returns a change line when something changed (for reload), null otherwise.
   */
  private async syncUpstream(config: GatewayConfig): Promise<string | null> {
    let plan: UpstreamPlan = planUpstream(config, this.reconciler !== null, this.reconciler?.status().interfaces ?? []);
    if ('options' in plan && !this.opts.ports.createUpstreamMonitor) plan = { off: 'not available in this process' };
    if ('options' in plan && this.upstream && JSON.stringify(plan.options) === JSON.stringify(this.upstream.options)) {
      this.upstream.apply('reload');
      return null;
    }
    const previous = this.upstream;
    if (previous) {
      this.upstream = null;
      await previous.stop(true);
    }
    if ('off' in plan) {
      if (plan.off !== this.upstreamOff) this.log.info({ reason: plan.off }, 'upstream health off');
      const changed = previous !== null || this.upstreamOff !== plan.off;
      this.upstreamOff = plan.off;
      return changed ? `upstream health off: ${plan.off}` : null;
    }
    const monitor = await this.opts.ports.createUpstreamMonitor!(plan.options, this.log);
    const health = new UpstreamHealth(plan.options, monitor, (trigger) => this.withdrawal.apply(trigger));
    await health.start();
    this.upstream = health;
    this.upstreamOff = null;
    return `upstream health ${previous ? 're-planned' : 'on'}: ${plan.options.families.map((f) => `IPv${f.family} ${f.interface} gw ${f.gateway}`).join(', ')}`;
  }

  private upstreamView(): UpstreamView {
    const running = this.upstream?.view() ?? { families: [], signals: [], probes: [], netlink: null };
    return { off: this.upstream ? null : (this.upstreamOff ?? 'not started'), ...running, bfdActions: { ...this.withdrawal.actions.upstream } };
  }

  /** Starts, restarts (changed settings) or stops the SNAT recorder; a change line for reload, or null. */
  private async syncSnatRecords(config: GatewayConfig): Promise<string | null> {
    let plan = planSnatRecords(config, this.reconciler !== null);
    if ('config' in plan && !this.opts.ports.createSnatRecorder) plan = { off: 'not available in this process' };
    const key = 'config' in plan ? JSON.stringify(plan.config) : null;
    if (key !== null && key === this.snatKey) return null;
    const previous = this.snat;
    if (previous) {
      this.snat = null;
      this.snatKey = null;
      await previous.stop();
    }
    if ('off' in plan) {
      if (plan.off !== this.snatOff) this.log.info({ reason: plan.off }, 'SNAT records off');
      const changed = previous !== null || this.snatOff !== plan.off;
      this.snatOff = plan.off;
      return changed ? `SNAT records off: ${plan.off}` : null;
    }
    const recorder = await this.opts.ports.createSnatRecorder!(plan.config, this.log);
    try {
      await recorder.start();
    } catch (err) {
      // Records are observability: forwarding and BFD go on without them; /status says why.
      this.snatOff = `failed to start: ${(err as Error).message}`;
      this.log.error({ err: (err as Error).message, dir: plan.config.dir }, 'SNAT records could not start; the agent keeps forwarding without them');
      return `SNAT records ${this.snatOff}`;
    }
    this.snat = recorder;
    this.snatKey = key;
    this.snatOff = null;
    return `SNAT records ${previous ? 'restarted' : 'on'}: ${plan.config.dir}`;
  }

  private snatRecordsView(): SnatRecordsView {
    return { off: this.snat ? null : (this.snatOff ?? 'not started'), recorder: this.snat?.status() ?? null };
  }

  private attachReconciler(r: ReconcilerPort): void {
    this.reconciler = r;
    this.gate ??= new DataplaneGate(this.config?.dataplaneWithdrawAfterMs ?? DEFAULT_DATAPLANE_WITHDRAW_AFTER_MS);
    // The reconciler logs each pass itself (repairs at warn, failures at error); here we count and gate BFD.
    r.on('applied', guard('daemon: dataplane applied', (result: ApplyResult) => {
      if (this.reconciler !== r) return;
      observeApply(this.applyStats, result);
      this.observeDataplane();
    }));
  }

  /** Feeds the reconciler's verdict to the gate and BFD; re-checks when the bound would pass. */
  private observeDataplane(): void {
    const r = this.reconciler;
    if (!r || !this.gate) return;
    const st = r.status();
    const now = Date.now();
    this.gate.observe(st.verified, st.lastError, now);
    this.withdrawal.apply('dataplane');
    if (this.gateTimer) clearTimeout(this.gateTimer);
    const at = this.gate.nextDeadline(now);
    this.gateTimer = at === undefined ? null : guardedTimeout('daemon: dataplane gate deadline', () => this.withdrawal.apply('dataplane broken too long'), at - now + 1).unref();
  }

  /** Upstream verdicts, and the dataplane gate's for the managed families (it wins: diag 4). */
  private withdrawStatuses(): WithdrawStatus[] {
    const byFamily = new Map<number, WithdrawStatus>();
    for (const u of this.upstream?.statuses() ?? []) byFamily.set(u.family, u);
    const g = this.gate && this.reconciler ? this.gate.verdict(Date.now()) : null;
    for (const f of g ? this.config?.families ?? [] : []) {
      if (g!.withdraw) byFamily.set(f.family, { family: f.family, withdraw: true, diag: DATAPLANE_DOWN_DIAG, reasons: [{ withdraw: true, message: g!.why }] });
      else if (!byFamily.has(f.family)) byFamily.set(f.family, { family: f.family, withdraw: false, reasons: [] });
    }
    return [...byFamily.values()];
  }

  private async periodicCheck(): Promise<void> {
    if (this.phase !== 'running') return;
    const action = this.sessions?.recover();
    if (action) {
      const fields = { session: action.key, action: action.action, error: action.error };
      if (action.error) this.log.error(fields, 'bfd recovery action failed');
      else this.log.warn(fields, 'bfd recovery action taken');
    }
    // Sessions re-created by recovery or an operator (kill, reset, allow) start outside AdminDown.
    this.withdrawal.apply('periodic check');
    // Not watching yet because discovery had not found the external interface: try again.
    if (!this.upstream && this.config) {
      await this.syncUpstream(this.config).catch((err: Error) => this.log.error({ err: err.message }, 'cannot start upstream health'));
    }
    for (const c of this.control) {
      await c.ensure().catch((err: Error) => this.log.error({ socket: c.path, err: err.message }, 'cannot re-create control socket'));
    }
  }

  private loadMetrics(): Promise<Metrics> {
    this.metrics ??= import('../health/metrics.js').then((m) => m.createMetrics(Date.now, {
        interfaces: () => (this.reconciler?.status().interfaces ?? []).flatMap((i) => [
          { name: i.internal, role: 'internal' as const }, { name: i.external, role: 'external' as const }]),
        snat: () => this.snat?.status() ?? null,
        onError: (source, err) => this.log.debug({ source, err: err.message }, 'metrics: a kernel counter could not be read'),
    }));
    return this.metrics;
  }

  private bfddBackend(): BfddBackend {
    const selectorOf = (t: BfddTarget): SessionSelector => t;
    // Every operation that changes something is refused during the drain; status and version answer.
    const bfd = () => {
      this.mutating('bfdd-control');
      return this.bfd();
    };
    // Operations on one named session report "no such session" as false, like OpenBFDD.
    const single = (fn: () => unknown): boolean => {
      try {
        fn();
        return true;
      } catch (err) {
        if (/^no BFD session/.test((err as Error).message)) return false;
        throw err;
      }
    };
    const timer = (item: TimerItem, value: number) =>
      item === 'multi' ? { multiplier: value } : item === 'mintx' ? { minTxMs: value / 1000 } : { minRxMs: value / 1000 };
    return {
      sessions: () => (this.sessions?.status().sessions ?? []).map((s) => ({ id: s.id, local: s.local, remote: s.remote, state: s.state, passive: s.passive })),
      allow: (ip) => void bfd().allow(ip),
      block: (ip) => bfd().block(ip),
      kill: (t) => single(() => bfd().kill(selectorOf(t))),
      reset: (t) => single(() => bfd().reset(selectorOf(t))),
      adminDown: (t, diag) => single(() => bfd().adminDown(selectorOf(t), diag)),
      adminUp: (t) => single(() => bfd().adminUp(selectorOf(t))),
      setTimers: (t, item, value) =>
        t === 'new' ? single(() => bfd().setDefaults(timer(item, value))) : single(() => bfd().setTimers(selectorOf(t), timer(item, value))),
      setLogType: (type, enable) => {
        if (type !== 'command') return null;
        const was = this.logCommands;
        this.logCommands = enable;
        return was;
      },
      stop: () => {
        if (!this.opts.onStopRequest) throw new Error('stopping is not available');
        setImmediate(guard('daemon: stop request', this.opts.onStopRequest));
      },
      version: () => `egress-agent v${this.opts.version}`,
    };
  }
}
