// The observer process (upstream's vegobserver.Run): config reload every 2 s (applied only when it
// changed, keeping the gateway identity), the conntrack collector on the native event stream while
// conntrack metrics or logs are enabled, the flow log on stdout, interface counters at scrape time,
// and the HTTP endpoint. Diagnostics go to stderr as structured logs.
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { formatConfigErrors, InputError } from '../config/errors.js';
import type { Logger } from '../lib/log.js';
import { conntrackEnabled, loadObserverConfig, type ObserverConfig } from './config.js';
import { ConntrackCollector, DEFAULT_CACHE_CAPACITY, type RuntimeSettings } from './conntrack-collector.js';
import { netlinkFlowSource, type FlowSource, type FlowSourceHandlers } from './conntrack-source.js';
import { compileFilter } from './filter.js';
import { FlowLog } from './flow-log.js';
import type { Identity } from './flow.js';
import { InterfaceCollector } from './interface-collector.js';
import { ObserverMetrics } from './metrics.js';
import { limiterFor } from './rate-limit.js';
import { ObserverServer } from './server.js';

export const RELOAD_INTERVAL_MS = 2000;
/** After a failed conntrack session, the next try (upstream: 2 s). */
const RETRY_MS = 2000;

export interface ObserverOptions {
  configPath: string;
  networkStatusPath: string;
  listenAddress: string;
  pod: string;
  node: string;
  stdout: Writable;
  log: Logger;
  /** Overridable for tests. */
  openSource?: (h: FlowSourceHandlers) => FlowSource;
  cacheCapacity?: number;
  reloadIntervalMs?: number;
}

function settingsFor(config: ObserverConfig): RuntimeSettings {
  return { config, filter: compileFilter(config.log.include, config.log.exclude), limiter: limiterFor(config.log.recordsPerSecond, config.log.burst) };
}

/** The Pod's addresses from the network status (its default network's "ips"): where Prometheus scrapes. */
async function podIpsFrom(path: string): Promise<string[]> {
  const list: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (!Array.isArray(list)) return [];
  const def = list.find((s: { default?: unknown }) => s?.default === true) as { ips?: unknown } | undefined;
  return Array.isArray(def?.ips) ? def.ips.filter((ip): ip is string => typeof ip === 'string') : [];
}

export class Observer {
  private settings!: RuntimeSettings;
  private readonly metrics: ObserverMetrics;
  private readonly identity: Identity;
  private readonly flowLog: FlowLog;
  private readonly collector: ConntrackCollector;
  private readonly interfaces: InterfaceCollector;
  private server: ObserverServer | undefined;
  private source: FlowSource | undefined;
  /** conntrack metrics setting of the running session (a switch restarts it, as upstream). */
  private sessionMetrics = false;
  private reloadTimer: NodeJS.Timeout | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  private resyncPending = false;
  private stopped = false;

  private constructor(private readonly o: ObserverOptions, config: ObserverConfig) {
    this.identity = { namespace: config.namespace, name: config.name, pod: o.pod, node: o.node };
    this.metrics = new ObserverMetrics(this.identity);
    this.settings = settingsFor(config);
    this.flowLog = new FlowLog(o.stdout, this.metrics);
    this.collector = new ConntrackCollector(this.metrics, this.identity, () => this.settings, (r) => this.flowLog.push(r), o.cacheCapacity ?? DEFAULT_CACHE_CAPACITY);
    this.interfaces = new InterfaceCollector(o.networkStatusPath);
    this.metrics.configReloads.inc(this.metrics.labels({ result: 'success' }));
    this.metrics.setCollectorUp('conntrack', false);
    this.metrics.setCollectorUp('interface', false);
  }

  /** Loads and validates the config (InputError on bad input: nothing started), then starts everything. */
  static async start(o: ObserverOptions): Promise<Observer> {
    const { config, unknownKeys } = await loadObserverConfig(o.configPath);
    if (unknownKeys.length > 0) o.log.warn({ path: o.configPath, keys: unknownKeys }, 'observer config has keys this version ignores');
    const observer = new Observer(o, config);
    await observer.run();
    return observer;
  }

  /** The registry's text, after the interface counters were brought up to date (upstream does it per scrape). */
  async scrape(): Promise<string> {
    if (this.settings.config.interfaceMetrics) {
      try {
        await this.interfaces.update(this.settings.config.externalNetwork, this.metrics);
        this.metrics.setCollectorUp('interface', true);
      } catch (err) {
        this.metrics.setCollectorUp('interface', false);
        this.metrics.error('interface', 'collect');
        this.o.log.warn({ err: (err as Error).message, collector: 'interface' }, 'interface collector failed');
      }
    } else {
      this.metrics.setCollectorUp('interface', false);
      this.metrics.resetInterfaceMetrics();
    }
    this.collector.publish();
    return this.metrics.render();
  }

  address(): string | null {
    return this.server?.address() ?? null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.reloadTimer);
    clearTimeout(this.sessionTimer);
    await this.stopSession();
    await this.server?.close();
  }

  private async run(): Promise<void> {
    let podIps: string[] = [];
    try {
      podIps = await podIpsFrom(this.o.networkStatusPath);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, path: this.o.networkStatusPath }, 'cannot read the Pod addresses from the network status: metrics served on loopback only');
    }
    this.server = new ObserverServer(this.o.listenAddress, () => this.scrape(), this.o.log, podIps);
    await this.server.start();
    this.o.log.info({ addresses: this.server.addresses(), gateway: `${this.identity.namespace}/${this.identity.name}` }, 'observer serving');
    this.reloadTimer = setInterval(() => void this.reload(), this.o.reloadIntervalMs ?? RELOAD_INTERVAL_MS);
    await this.syncSession();
  }

  private async reload(): Promise<void> {
    const fail = (err: Error) => {
      this.metrics.configReloads.inc(this.metrics.labels({ result: 'error' }));
      this.metrics.error('config', 'reload');
      this.o.log.error({ err: err instanceof InputError ? formatConfigErrors(err.errors) : err.message, path: this.o.configPath }, 'observer config reload failed; keeping the previous config');
    };
    try {
      const { config } = await loadObserverConfig(this.o.configPath);
      if (config.hash === this.settings.config.hash) return;
      if (config.namespace !== this.identity.namespace || config.name !== this.identity.name) {
        return fail(new Error(`gateway identity is immutable: config names ${config.namespace}/${config.name}, this observer serves ${this.identity.namespace}/${this.identity.name}`));
      }
      this.settings = settingsFor(config);
      this.metrics.configReloads.inc(this.metrics.labels({ result: 'success' }));
      this.o.log.info({ conntrackMetrics: config.conntrackMetrics, log: config.log.enabled, events: config.log.events, interfaceMetrics: config.interfaceMetrics }, 'observer config reloaded');
      await this.syncSession();
    } catch (err) {
      fail(err as Error);
    }
  }

  /** Starts, stops or restarts the conntrack session to match the config. */
  private async syncSession(): Promise<void> {
    if (this.stopped) return;
    const want = conntrackEnabled(this.settings.config);
    if (this.source && (!want || this.sessionMetrics !== this.settings.config.conntrackMetrics)) {
      if (this.sessionMetrics) this.metrics.resetFlowMetrics();
      await this.stopSession();
    }
    if (want && !this.source) this.startSession();
  }

  private startSession(): void {
    clearTimeout(this.sessionTimer);
    const source = (this.o.openSource ?? netlinkFlowSource)({
      onFlow: (f) => this.collector.process(f),
      onLoss: (operation, count, message) => {
        this.metrics.errors.inc(this.metrics.labels({ collector: 'conntrack', operation }), count);
        this.o.log.warn({ collector: 'conntrack', operation, count, message }, 'conntrack events lost; resynchronising from the table');
        this.scheduleResync();
      },
      onExit: (reason) => {
        if (this.source !== source) return;
        this.failSession(new Error(`conntrack event stream ended: ${reason}`));
      },
    });
    try {
      // Subscribe first, then dump: an event between the two is seen (twice at worst), never missed.
      void source.start().catch((err: Error) => this.failSession(err));
      this.source = source;
      this.sessionMetrics = this.settings.config.conntrackMetrics;
      this.collector.initialize(source.dump());
      this.metrics.setCollectorUp('conntrack', true);
    } catch (err) {
      this.source = source;
      this.failSession(err as Error);
    }
  }

  private failSession(err: Error): void {
    this.metrics.error('conntrack', 'session');
    this.metrics.setCollectorUp('conntrack', false);
    this.o.log.error({ err: err.message, collector: 'conntrack' }, 'conntrack collector failed; retrying');
    void this.stopSession().then(() => {
      if (this.stopped) return;
      this.sessionTimer = setTimeout(() => void this.syncSession(), RETRY_MS);
    });
  }

  private async stopSession(): Promise<void> {
    const s = this.source;
    this.source = undefined;
    this.collector.clear();
    this.metrics.setCollectorUp('conntrack', false);
    await s?.stop();
  }

  /** One dump for a burst of loss reports (each batch may carry one). */
  private scheduleResync(): void {
    if (this.resyncPending) return;
    this.resyncPending = true;
    setTimeout(() => {
      this.resyncPending = false;
      if (!this.source) return;
      try {
        this.collector.initialize(this.source.dump());
      } catch (err) {
        this.failSession(err as Error);
      }
    }, 100).unref();
  }
}
