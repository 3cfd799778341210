// The `egress-agent run` lifecycle: validate config -> apply the dataplane and keep reconciling it
// -> start BFD sessions -> watch the upstream (a broken one takes its family's sessions AdminDown)
// -> record SNAT mappings -> serve health and control. Each step is a hook of a Lifecycle
// (lifecycle.ts; docs/daemon-lifecycle.md): started in that order, stopped in reverse. Reload
// (SIGHUP or the control command) re-reads the config and applies differences live; drain (SIGTERM)
// stops the upstream monitor, takes BFD AdminDown at once and keeps forwarding, then unwinds. The
// dataplane is never removed on exit.
import type { BfdStateEvent } from '../bfd/types.js';
import { formatConfigErrors, InputError } from '../config/errors.js';
import type { GatewayConfig } from '../config/types.js';
import { createControlHandler } from '../control/commands.js';
import { prepareSocketPath } from '../control/socket-file.js';
import type { Metrics } from '../health/metrics.js';
import type { Logger } from '../lib/log.js';
import type { ApplyResult } from '../reconcile/types.js';
import { emptyApplyStats, observeApply } from './apply-stats.js';
import { BfdIngress } from './bfd-ingress.js';
import { BfdSessions } from './bfd-sessions.js';
import { EventLoopMonitor } from './event-loop.js';
import { readProcessMemory } from './memory.js';
import type { BfdEnginePort, Clock, ControlServerPort, DaemonPorts, HealthServerPort, ReconcilerPort, ServerPorts, SnatRecorderPort } from './ports.js';
import { planSnatRecords } from './snat-records.js';
import { buildStatus } from './status.js';
import type { AgentPhase, AgentStatus, ReloadRecord, SnatRecordsView, StartupRelease, UpstreamView } from '../status/types.js';
import type { SnatRecordsConfig } from '../config/snat-records.js';
import { planUpstream, UpstreamHealth } from './upstream-health.js';
import { guard } from '../lib/guard.js';
import { ControlFacade, refusedWhileDraining } from './control-facade.js';
import { Lifecycle } from './lifecycle.js';
import { OptionalSubsystem } from './optional.js';
import { planReload } from './reload-plan.js';
import { realClock, realServers } from './real-ports.js';
import { BfdWithdrawal } from './bfd-withdrawal.js';
import { DataplaneGate } from './dataplane-gate.js';
import { DATAPLANE_DOWN_DIAG, type UpstreamOptions, type WithdrawStatus } from '../upstream/index.js';

/** Startup failed because of the inputs (exit 2) rather than the machine (exit 1). */
export class StartupInputError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(readonly errors: string[]) {
    super(`invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'StartupInputError';
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
  /** Default: the real HTTP health server and control socket servers. */
  servers?: ServerPorts;
  /** Default: Node's timers and Date.now. */
  clock?: Clock;
}

const CHECK_INTERVAL_MS = 5000;
const DEFAULT_DATAPLANE_WITHDRAW_AFTER_MS = 10_000;

export class Daemon {
  /** What the control sockets serve (status, reload, BFD and dataplane commands, bfdd-control). */
  readonly commands: ControlFacade;
  private phase: AgentPhase = 'starting';
  private readonly startedAt: number;
  private config: GatewayConfig | null = null;
  private engine: BfdEnginePort | null = null;
  private sessions: BfdSessions | null = null;
  private ingress: BfdIngress | null = null;
  private reconciler: ReconcilerPort | null = null;
  private readonly upstream: OptionalSubsystem<UpstreamOptions, UpstreamHealth>;
  private readonly snat: OptionalSubsystem<SnatRecordsConfig, SnatRecorderPort>;
  private readonly withdrawal: BfdWithdrawal;
  private gate: DataplaneGate | null = null;
  private cancelGateTimer: (() => void) | null = null;
  private cancelTimers: (() => void)[] = [];
  private readonly applyStats = emptyApplyStats();
  private readonly eventLoop = new EventLoopMonitor();
  private health: HealthServerPort | null = null;
  private control: ControlServerPort[] = [];
  private metrics: Promise<Metrics> | null = null;
  private startupRelease: StartupRelease | null = null;
  private lastReload: ReloadRecord | null = null;
  private reloads = 0;
  private reloadFailures = 0;
  private reloading: Promise<ReloadRecord> | null = null;
  private draining: Promise<void> | null = null;
  private readonly lifecycle: Lifecycle;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly servers: ServerPorts;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log;
    this.clock = opts.clock ?? realClock;
    this.servers = opts.servers ?? realServers;
    this.startedAt = this.clock.now();
    this.withdrawal = new BfdWithdrawal(() => this.engine, () => this.withdrawStatuses(), opts.log);
    const { createUpstreamMonitor, createSnatRecorder } = opts.ports;
    this.upstream = new OptionalSubsystem({
      label: 'upstream health',
      replaced: 're-planned',
      create: createUpstreamMonitor ? async (options) =>
        new UpstreamHealth(options, await createUpstreamMonitor.call(opts.ports, options, this.log), (trigger) => this.withdrawal.apply(trigger)) : null,
      start: (health) => health.start(),
      // Re-planned or turned off: the sessions it took down come back. Shutdown: all go AdminDown anyway.
      stop: (health, why) => health.stop(why === 'replace'),
      unchanged: (health) => health.apply('reload'),
      describe: (options) => options.families.map((f) => `IPv${f.family} ${f.interface} gw ${f.gateway}`).join(', '),
    }, this.log);
    this.snat = new OptionalSubsystem({
      label: 'SNAT records',
      replaced: 'restarted',
      create: createSnatRecorder ? (config) => createSnatRecorder.call(opts.ports, config, this.log) : null,
      start: (recorder) => recorder.start(),
      stop: (recorder) => recorder.stop(),
      describe: (config) => config.dir,
      startFailed: (err, config) => {
        // Records are observability: forwarding and BFD go on without them; /status says why.
        this.log.error({ err: err.message, dir: config.dir }, 'SNAT records could not start; the agent keeps forwarding without them');
        return `failed to start: ${err.message}`;
      },
    }, this.log);
    this.commands = new ControlFacade({
      version: opts.version,
      log: this.log,
      onStopRequest: opts.onStopRequest,
      phase: () => this.phase,
      status: () => this.status(),
      reload: () => this.reload(),
      sessions: () => this.sessions,
      reconciler: () => this.reconciler,
      applyStats: () => this.applyStats,
    });
    this.lifecycle = this.hooks();
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** The agent's hooks in start order; stop runs them in reverse (docs/daemon-lifecycle.md). */
  private hooks(): Lifecycle {
    const lc = new Lifecycle(this.log);
    lc.append({ name: 'event-loop', log: { start: false }, start: () => this.eventLoop.start(), stop: () => this.eventLoop.stop() });
    lc.append({
      name: 'config',
      start: async () => {
        const r = await this.opts.ports.loadConfig();
        if (!r.ok) throw new StartupInputError(r.errors);
        await prepareSocketPath(r.config.controlSocket);
        this.config = r.config;
        this.log.level = r.config.logLevel;
      },
    });
    // Bound before the dataplane is touched, so an address that cannot be bound changes nothing;
    // meanwhile /readyz answers "still starting".
    lc.append({
      name: 'health',
      start: async () => {
        const c = this.config!;
        const health = this.servers.health(c.healthListen, { status: () => this.status(), metrics: () => this.loadMetrics() }, this.log, c.bfd.localIps);
        this.health = health;
        // A failed start cleans up after itself (an address may be bound when the next one fails).
        await health.start().catch(async (err: unknown) => {
          await health.close().catch(() => undefined);
          throw err;
        });
      },
      stop: () => this.health?.close(),
    });
    lc.append({
      name: 'dataplane',
      start: () => this.startDataplane(this.config!),
      // The reconciler stops watching; what it applied stays, so forwarding continues until the Pod goes.
      stop: () => {
        this.cancelGateTimer?.();
        return this.reconciler?.stop();
      },
      log: { stop: 'dataplane-stop' },
    });
    lc.append({
      name: 'bfd',
      log: { start: () => this.config!.bfd.enabled, drain: 'bfd-drain' },
      start: async () => {
        if (!this.config!.bfd.enabled) return; // a reload may start it later; stop() then closes it
        await this.startBfd(this.config!).catch((err: unknown) => {
          // A failed start cleans up after itself: the unwind stops only what started.
          this.engine?.close();
          this.ingress?.stop();
          throw err;
        });
      },
      // Keep a little of the budget for closing the servers, so we exit before the grace ends.
      drain: () => {
        this.withdrawal.stop(); // the drain's AdminDown is final: nothing brings a session back
        const graceMs = this.config?.drainGraceMs ?? 0;
        return this.engine?.drain(Math.max(0, graceMs - Math.min(1000, graceMs / 10)));
      },
      stop: () => {
        this.withdrawal.stop();
        this.engine?.close();
        this.ingress?.stop();
      },
    });
    lc.append({
      name: 'upstream',
      start: () => this.syncUpstream(this.config!),
      // In the drain first (reverse order), so nothing brings a session back out of its AdminDown.
      drain: () => this.upstream.stop(),
      stop: () => this.upstream.stop(),
      log: { drain: 'upstream-stop' },
    });
    lc.append({
      name: 'snat-records',
      start: () => this.syncSnatRecords(this.config!),
      // Flows went on during the drain; their records are flushed now.
      stop: () => this.snat.stop(),
      log: { stop: 'snat-records-stop' },
    });
    lc.append({ name: 'serve', start: () => this.serve(this.config!), stop: () => Promise.all(this.control.map((c) => c.close())) });
    lc.append({
      name: 'timers',
      log: { start: false },
      start: () => this.startTimers(this.config!),
      // First in the unwind: no check, gate deadline or BFD state event changes a session any more.
      drain: () => this.stopTimers(),
      stop: () => this.stopTimers(),
    });
    return lc;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    await this.lifecycle.start();
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
    this.log.info({ reason, graceMs: this.config?.drainGraceMs ?? 0, from: previous }, 'draining');
    const errors = await this.lifecycle.stop({ drain: true });
    this.phase = 'stopped';
    if (errors.length) throw errors[0];
    this.log.info({ durationMs: +(performance.now() - t0).toFixed(2) }, 'drained; exiting');
  }

  /** Closes everything after a failed start (the same unwind as the drain, without its AdminDown);
   * keeps whatever dataplane was applied. */
  async abort(): Promise<void> {
    await this.lifecycle.stop({ drain: false });
    this.phase = 'stopped';
  }

  private async startDataplane(config: GatewayConfig): Promise<void> {
    const reconciler = await this.opts.ports.createReconciler(config, this.log);
    if (!reconciler) {
      this.log.info('no address family has both gateways configured: the dataplane is not managed by this process');
      return;
    }
    this.attachReconciler(reconciler);
    try {
      const r = await reconciler.applyOnce('startup').catch((err: unknown) => {
        // Discovery found the inputs wrong (gateway unreachable, interface missing): bad input, exit 2.
        if (err instanceof InputError) throw new StartupInputError(formatConfigErrors(err.errors).split('\n'));
        throw err;
      });
      if (r.error || r.remaining.length) {
        this.log.warn({ error: r.error, remaining: r.remaining }, 'dataplane not verified after the first apply; the reconciler keeps repairing; BFD stays AdminDown until it is verified');
      }
      this.observeDataplane();
      await reconciler.start();
    } catch (err) {
      // A failed start cleans up after itself: the unwind stops only what started.
      await reconciler.stop().catch(() => undefined);
      throw err;
    }
  }

  private async serve(config: GatewayConfig): Promise<void> {
    const handler = createControlHandler(this.commands, { debugCommands: config.debugCommands === true });
    const main = this.servers.control(config.controlSocket, handler, this.log);
    await main.start();
    this.control.push(main);
    if (config.compatSocket && config.compatSocket !== config.controlSocket) {
      // Kube-OVN's supervisor socket is a convenience for its tooling: without it the agent still
      // works (e.g. several agents on one host in a lab, or a path we may not create).
      const compat = this.servers.control(config.compatSocket, handler, this.log);
      try {
        await compat.start();
        this.control.push(compat);
      } catch (err) {
        this.log.warn({ socket: config.compatSocket, err: (err as Error).message }, 'not serving Kube-OVN\'s supervisor socket');
      }
    }
    this.log.info({ health: this.health!.addresses(), sockets: this.control.map((c) => c.path) }, 'serving health and control');
  }

  private startTimers(config: GatewayConfig): void {
    this.cancelTimers.push(this.clock.every('daemon: periodic check', this.opts.checkIntervalMs ?? CHECK_INTERVAL_MS, () => this.periodicCheck()));
    if (this.opts.ports.releaseStartupPages && typeof config.startupPageReleaseMs === 'number') {
      this.cancelTimers.push(this.clock.after('daemon: startup page release', config.startupPageReleaseMs, () => this.releaseStartupPages()));
    }
  }

  private stopTimers(): void {
    this.withdrawal.stop();
    this.cancelGateTimer?.();
    for (const cancel of this.cancelTimers.splice(0)) cancel();
  }

  reload(): Promise<ReloadRecord> {
    const refused = refusedWhileDraining(this.phase, 'reload');
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
      this.lastReload = { at: this.clock.now(), ok: false, errors: r.errors, changes: [] };
      this.log.error({ errors: r.errors }, 'reload rejected: invalid configuration; keeping the running one');
      return this.lastReload;
    }
    const old = this.config!;
    const next = r.config;
    const plan = planReload(old, next);
    const changes: string[] = [];
    const errors: string[] = [...plan.restartNeeded];
    if (plan.logLevel) {
      this.log.level = plan.logLevel.level;
      changes.push(plan.logLevel.change);
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
          this.lastReload = { at: this.clock.now(), ok: false, errors: [(err as Error).message], changes: [] };
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
        const r = await this.reconciler.reload(next);
        if (r.error) errors.push(`dataplane: ${r.error}`);
        changes.push(plan.dataplaneChanged ? 'dataplane configuration changed: re-planned and applied' : 'dataplane re-applied');
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
    this.config = plan.effective;
    // Settings that need a restart are reported, but the reload applied everything else.
    this.lastReload = { at: this.clock.now(), ok: errors.length === plan.restartNeeded.length, errors, changes };
    if (!this.lastReload.ok) this.reloadFailures++;
    this.log.info({ changes, errors, durationMs: +(performance.now() - t0).toFixed(2) }, 'reloaded configuration');
    return this.lastReload;
  }

  /** Once, after start: the executable's pages touched only while starting go back to the kernel. */
  private releaseStartupPages(): void {
    const before = readProcessMemory();
    const r = this.opts.ports.releaseStartupPages!();
    const after = readProcessMemory();
    this.startupRelease = { at: this.clock.now(), rssBeforeBytes: before.rssBytes, rssAfterBytes: after.rssBytes, mappings: r.mappings, error: r.error };
    const fields = { rssBeforeBytes: before.rssBytes, rssAfterBytes: after.rssBytes, anonBytes: after.anonBytes, mappings: r.mappings };
    if (r.error) this.log.warn({ ...fields, error: r.error }, 'startup pages not released');
    else this.log.info(fields, 'startup pages released');
  }

  // ---- status --------------------------------------------------------------------------------

  status(): AgentStatus {
    const c = this.config;
    return buildStatus({
      version: this.opts.version,
      pid: process.pid,
      startedAt: this.startedAt,
      phase: this.phase,
      config: c,
      bfd: this.sessions?.status() ?? null,
      dataplane: this.reconciler?.status() ?? null,
      dataplaneApplies: this.applyStats,
      eventLoop: this.eventLoop.stats(),
      memory: { ...readProcessMemory(), startupRelease: this.startupRelease },
      control: this.control.map((s) => ({ path: s.path, serving: s.serving(), stats: s.stats })),
      upstream: c && this.upstreamView(),
      snatRecords: c && this.snatRecordsView(),
      health: { address: this.health?.address() ?? null, addresses: this.health?.addresses() ?? [] },
      lastReload: this.lastReload,
      reloads: this.reloads,
      reloadFailures: this.reloadFailures,
    });
  }

  // ---- internals -----------------------------------------------------------------------------

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

  /** Starts, re-plans or stops the upstream monitor for this config and the discovered interfaces;
   * a change line for reload, or null. */
  private syncUpstream(config: GatewayConfig): Promise<string | null> {
    const plan = planUpstream(config, this.reconciler !== null, this.reconciler?.status().interfaces ?? []);
    return this.upstream.sync('options' in plan ? { on: plan.options } : plan);
  }

  private upstreamView(): UpstreamView {
    const running = this.upstream.running?.view() ?? { families: [], signals: [], probes: [], netlink: null };
    return { off: this.upstream.off(), ...running, bfdActions: { ...this.withdrawal.actions.upstream } };
  }

  /** Starts, restarts (changed settings) or stops the SNAT recorder; a change line for reload, or null. */
  private syncSnatRecords(config: GatewayConfig): Promise<string | null> {
    const plan = planSnatRecords(config, this.reconciler !== null);
    return this.snat.sync('config' in plan ? { on: plan.config } : plan);
  }

  private snatRecordsView(): SnatRecordsView {
    return { off: this.snat.off(), recorder: this.snat.running?.status() ?? null };
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
    const now = this.clock.now();
    this.gate.observe(st.verified, st.lastError, now);
    this.withdrawal.apply('dataplane');
    this.cancelGateTimer?.();
    const at = this.gate.nextDeadline(now);
    this.cancelGateTimer = at === undefined ? null : this.clock.after('daemon: dataplane gate deadline', at - now + 1, () => this.withdrawal.apply('dataplane broken too long'));
  }

  /** Upstream verdicts, and the dataplane gate's for the managed families (it wins: diag 4). */
  private withdrawStatuses(): WithdrawStatus[] {
    const byFamily = new Map<number, WithdrawStatus>();
    for (const u of this.upstream.running?.statuses() ?? []) byFamily.set(u.family, u);
    const g = this.gate && this.reconciler ? this.gate.verdict(this.clock.now()) : null;
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
    if (!this.upstream.running && this.config) {
      await this.syncUpstream(this.config).catch((err: Error) => this.log.error({ err: err.message }, 'cannot start upstream health'));
    }
    for (const c of this.control) {
      await c.ensure().catch((err: Error) => this.log.error({ socket: c.path, err: err.message }, 'cannot re-create control socket'));
    }
  }

  private loadMetrics(): Promise<Metrics> {
    this.metrics ??= import('../health/metrics.js').then((m) => m.createMetrics(() => this.clock.now(), {
        interfaces: () => (this.reconciler?.status().interfaces ?? []).flatMap((i) => [
          { name: i.internal, role: 'internal' as const }, { name: i.external, role: 'external' as const }]),
        snat: () => this.snat.running?.status() ?? null,
        onError: (source, err) => this.log.debug({ source, err: err.message }, 'metrics: a kernel counter could not be read'),
    }));
    return this.metrics;
  }
}
