// The `egress-agent run` lifecycle: validate config -> apply the dataplane and keep reconciling it
// -> start BFD sessions -> watch the upstream (a broken one takes its family's sessions AdminDown)
// -> record SNAT mappings -> serve health and control. Each step is a hook of a Lifecycle
// (lifecycle.ts; docs/daemon-lifecycle.md): started in that order, stopped in reverse. Reload
// (SIGHUP or the control command; reload.ts) re-reads the config and applies differences live;
// drain (SIGTERM) stops the upstream monitor, takes BFD AdminDown at once and keeps forwarding, then
// unwinds. The dataplane is never removed on exit.
import type { GatewayConfig } from '../config/types.js';
import { createControlHandler } from '../control/commands.js';
import { prepareSocketPath } from '../control/socket-file.js';
import type { Metrics } from '../health/metrics.js';
import type { Logger } from '../lib/log.js';
import { BfdService } from './bfd-service.js';
import { BfdWithdrawal, withdrawStatuses } from './bfd-withdrawal.js';
import { ControlFacade, refusedWhileDraining } from './control-facade.js';
import { ControlSockets } from './control-sockets.js';
import { EventLoopMonitor } from './event-loop.js';
import { Lifecycle } from './lifecycle.js';
import { ManagedDataplane } from './managed-dataplane.js';
import { readProcessMemory, releaseStartupPages } from './memory.js';
import type { OptionalSubsystem } from './optional.js';
import { planPeriodicCheck, type CheckAction } from './periodic-check.js';
import type { Clock, DaemonPorts, HealthServerPort, ServerPorts, SnatRecorderPort } from './ports.js';
import { realClock, realServers } from './real-ports.js';
import { Reloader } from './reload.js';
import { planSnatRecords, snatRecordsSubsystem } from './snat-records.js';
import { StartupInputError } from './startup-error.js';
import { buildStatus } from './status.js';
import { planUpstream, upstreamSubsystem, type UpstreamHealth } from './upstream-health.js';
import type { SnatRecordsConfig } from '../config/snat-records.js';
import type { AgentPhase, AgentStatus, ReloadRecord, SnatRecordsView, StartupRelease, UpstreamView } from '../status/types.js';
import type { UpstreamOptions, WithdrawStatus } from '../upstream/index.js';

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

export class Daemon {
  /** What the control sockets serve (status, reload, BFD and dataplane commands, bfdd-control). */
  readonly commands: ControlFacade;
  private phase: AgentPhase = 'starting';
  private readonly startedAt: number;
  private config: GatewayConfig | null = null;
  private readonly bfd: BfdService;
  private readonly dataplane: ManagedDataplane;
  private readonly upstream: OptionalSubsystem<UpstreamOptions, UpstreamHealth>;
  private readonly snat: OptionalSubsystem<SnatRecordsConfig, SnatRecorderPort>;
  private readonly withdrawal: BfdWithdrawal;
  private cancelTimers: (() => void)[] = [];
  private readonly eventLoop = new EventLoopMonitor();
  private health: HealthServerPort | null = null;
  private readonly sockets: ControlSockets;
  private metrics: Promise<Metrics> | null = null;
  private startupRelease: StartupRelease | null = null;
  private readonly reloader: Reloader;
  private draining: Promise<void> | null = null;
  private readonly lifecycle: Lifecycle;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly servers: ServerPorts;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log;
    this.clock = opts.clock ?? realClock;
    this.servers = opts.servers ?? realServers;
    this.sockets = new ControlSockets(this.servers, this.log);
    this.startedAt = this.clock.now();
    const now = () => this.clock.now();
    this.withdrawal = new BfdWithdrawal(() => this.bfd.engine, () => this.withdrawStatuses(), opts.log, now);
    const withdraw = (trigger: string) => this.withdrawal.apply(trigger);
    this.bfd = new BfdService({ ports: opts.ports, log: this.log, now, onState: (ev) => this.withdrawal.onBfdState(ev), onSessions: withdraw });
    this.dataplane = new ManagedDataplane({
      create: (config, log) => opts.ports.createReconciler(config, log),
      clock: this.clock,
      log: this.log,
      withdrawAfterMs: () => this.config?.dataplaneWithdrawAfterMs,
      onVerdict: withdraw,
    });
    this.upstream = upstreamSubsystem(opts.ports, this.log, withdraw);
    this.snat = snatRecordsSubsystem(opts.ports, this.log);
    this.commands = new ControlFacade({
      version: opts.version,
      log: this.log,
      onStopRequest: opts.onStopRequest,
      phase: () => this.phase,
      status: () => this.status(),
      reload: () => this.reload(),
      sessions: () => this.bfd.sessions,
      reconciler: () => this.dataplane.reconciler,
      applyStats: () => this.dataplane.applyStats,
    });
    this.reloader = new Reloader({
      loadConfig: () => opts.ports.loadConfig(),
      running: () => this.config!,
      adopt: (config) => {
        this.config = config;
      },
      bfdRunning: () => this.bfd.sessions !== null,
      reloadBfd: (next) => this.bfd.reload(next),
      reloadDataplane: (next, replanned) => this.dataplane.reload(next, replanned),
      syncUpstream: (next) => this.syncUpstream(next),
      syncSnatRecords: (next) => this.syncSnatRecords(next),
    }, this.log, now);
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
      start: () => this.dataplane.start(this.config!),
      // The reconciler stops watching; what it applied stays, so forwarding continues until the Pod goes.
      stop: () => this.dataplane.stop(),
      log: { stop: 'dataplane-stop' },
    });
    lc.append({
      name: 'bfd',
      log: { start: () => this.config!.bfd.enabled, drain: 'bfd-drain' },
      start: async () => {
        if (!this.config!.bfd.enabled) return; // a reload may start it later; stop() then closes it
        await this.bfd.start(this.config!).catch((err: unknown) => {
          // A failed start cleans up after itself: the unwind stops only what started.
          this.bfd.close();
          throw err;
        });
      },
      // Keep a little of the budget for closing the servers, so we exit before the grace ends.
      drain: () => {
        this.withdrawal.stop(); // the drain's AdminDown is final: nothing brings a session back
        const graceMs = this.config?.drainGraceMs ?? 0;
        return this.bfd.drain(Math.max(0, graceMs - Math.min(1000, graceMs / 10)));
      },
      stop: () => {
        this.withdrawal.stop();
        this.bfd.close();
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
    lc.append({ name: 'serve', start: () => this.serve(this.config!), stop: () => this.sockets.close() });
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

  private async serve(config: GatewayConfig): Promise<void> {
    await this.sockets.serve(config, createControlHandler(this.commands, { debugCommands: config.debugCommands === true }));
    this.log.info({ health: this.health!.addresses(), sockets: this.sockets.paths() }, 'serving health and control');
  }

  private startTimers(config: GatewayConfig): void {
    this.cancelTimers.push(this.clock.every('daemon: periodic check', this.opts.checkIntervalMs ?? CHECK_INTERVAL_MS, () => this.periodicCheck()));
    if (this.opts.ports.releaseStartupPages && typeof config.startupPageReleaseMs === 'number') {
      this.cancelTimers.push(this.clock.after('daemon: startup page release', config.startupPageReleaseMs, () => {
        this.startupRelease = releaseStartupPages(this.opts.ports.releaseStartupPages!, () => this.clock.now(), this.log);
      }));
    }
  }

  private stopTimers(): void {
    this.withdrawal.stop();
    this.dataplane.cancelTimer();
    for (const cancel of this.cancelTimers.splice(0)) cancel();
  }

  reload(): Promise<ReloadRecord> {
    const refused = refusedWhileDraining(this.phase, 'reload');
    if (refused) return Promise.reject(refused);
    return this.reloader.reload();
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
      bfd: this.bfd.sessions?.status() ?? null,
      dataplane: this.dataplane.reconciler?.status() ?? null,
      dataplaneApplies: this.dataplane.applyStats,
      eventLoop: this.eventLoop.stats(),
      memory: { ...readProcessMemory(), startupRelease: this.startupRelease },
      control: this.sockets.endpoints(),
      upstream: c && this.upstreamView(),
      snatRecords: c && this.snatRecordsView(),
      health: { address: this.health?.address() ?? null, addresses: this.health?.addresses() ?? [] },
      ...this.reloader.counters(),
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Starts, re-plans or stops the upstream monitor for this config and the discovered interfaces;
   * a change line for reload, or null. */
  private syncUpstream(config: GatewayConfig): Promise<string | null> {
    const plan = planUpstream(config, this.dataplane.reconciler !== null, this.dataplane.reconciler?.status().interfaces ?? []);
    return this.upstream.sync('options' in plan ? { on: plan.options } : plan);
  }

  private upstreamView(): UpstreamView {
    const running = this.upstream.running?.view() ?? { families: [], signals: [], probes: [], netlink: null };
    return { off: this.upstream.off(), ...running, bfdActions: { ...this.withdrawal.actions.upstream } };
  }

  /** Starts, restarts (changed settings) or stops the SNAT recorder; a change line for reload, or null. */
  private syncSnatRecords(config: GatewayConfig): Promise<string | null> {
    const plan = planSnatRecords(config, this.dataplane.reconciler !== null);
    return this.snat.sync('config' in plan ? { on: plan.config } : plan);
  }

  private snatRecordsView(): SnatRecordsView {
    return { off: this.snat.off(), recorder: this.snat.running?.status() ?? null };
  }

  /** Upstream verdicts, and the dataplane gate's for the configured families. */
  private withdrawStatuses(): WithdrawStatus[] {
    return withdrawStatuses({
      upstream: this.upstream.running?.statuses() ?? [],
      gate: this.dataplane.verdict(this.clock.now()),
      families: this.config?.families.map((f) => f.family) ?? [],
    });
  }

  private async periodicCheck(): Promise<void> {
    const actions = planPeriodicCheck({
      phase: this.phase,
      bfd: this.bfd.sessions !== null,
      upstreamRunning: this.upstream.running !== null,
      hasConfig: this.config !== null,
      sockets: this.sockets.paths(),
    });
    for (const action of actions) await this.check(action);
  }

  private async check(action: CheckAction): Promise<void> {
    switch (action.do) {
      case 'recover-sessions': {
        const r = this.bfd.sessions?.recover();
        if (!r) return;
        const fields = { session: r.key, action: r.action, error: r.error };
        if (r.error) this.log.error(fields, 'bfd recovery action failed');
        else this.log.warn(fields, 'bfd recovery action taken');
        return;
      }
      case 'reapply-withdrawal':
        return this.withdrawal.apply('periodic check');
      case 'retry-upstream':
        await this.syncUpstream(this.config!).catch((err: Error) => this.log.error({ err: err.message }, 'cannot start upstream health'));
        return;
      case 'ensure-socket':
        return this.sockets.ensure(action.path);
    }
  }

  private loadMetrics(): Promise<Metrics> {
    this.metrics ??= import('../health/metrics.js').then((m) => m.createMetrics(() => this.clock.now(), {
        interfaces: () => (this.dataplane.reconciler?.status().interfaces ?? []).flatMap((i) => [
          { name: i.internal, role: 'internal' as const }, { name: i.external, role: 'external' as const }]),
        snat: () => this.snat.running?.status() ?? null,
        onError: (source, err) => this.log.debug({ source, err: err.message }, 'metrics: a kernel counter could not be read'),
    }));
    return this.metrics;
  }
}
