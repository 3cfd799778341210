// The dataplane reconciler: applyOnce = discover -> plan -> apply -> verify, and, once started,
// keeping it true: rtnetlink change notifications (links, addresses, routes, rules) trigger a pass
// after a short debounce; iptables and ipsets, which send no notifications, are verified on a timer.
// Every pass re-discovers (cheap netlink reads), so interface and address changes re-plan. Passes
// are serialised; a trigger that arrives during a pass runs one more pass afterwards.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { InputError, formatConfigErrors } from '../config/errors.js';
import { plan } from '../plan/index.js';
import type { DesiredDataplane, Facts } from '../plan/types.js';
import { applyDataplane, computeDrift, readLive, type LiveDataplane } from '../dataplane/apply.js';
import { discover } from '../dataplane/discovery.js';
import { Rtnl, RtnlWatcher, type NetlinkChange } from '../dataplane/netlink.js';
import { LogThrottle } from '../lib/log.js';
import type { Drift } from '../dataplane/drift.js';
import type { ApplyResult, DataplaneReconciler, DataplaneStatus } from './types.js';
import { guard, guardedInterval, guardedTimeout } from '../lib/guard.js';

export interface ReconcilerOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Quiet period after a netlink notification before a pass (default 100 ms). */
  debounceMs?: number;
}

type Trigger = ApplyResult['trigger'];

/** A burst that overflows the netlink queue reports it on many reads: one log line per this interval. */
const RESYNC_LOG_INTERVAL_MS = 10_000;

/** JSON-friendly view of the live objects, for `egress-agent dataplane --json`. */
export interface DataplaneInspection {
  desired: DesiredDataplane | null;
  actual: {
    sysctls: Record<string, string | null>;
    ipsets: Record<string, { type: string; family: number | null; maxelem: number; members: string[] } | null>;
    iptables: Record<string, Record<string, Record<string, string[]>>>;
    routes: Record<string, { dst: string; gateway?: string; dev?: string; metric: number }[]>;
    rules: Record<string, { priority: number; iif?: string; from?: string; table: number; selectors: string[] }[]>;
  } | null;
  drift: Drift[];
  status: DataplaneStatus;
}

export class Reconciler extends EventEmitter implements DataplaneReconciler {
  private config: GatewayConfig;
  private readonly log: Logger;
  private readonly debounceMs: number;
  private nl: Rtnl | undefined;
  private watcher: RtnlWatcher | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** A trigger waiting for the current pass to finish (at most one: passes are full). */
  private pending: Trigger | undefined;
  private passRunning = false;
  private stopped = true;
  private desired: DesiredDataplane | null = null;
  private facts: Facts | null = null;
  private lastApply: ApplyResult | null = null;
  private lastError: string | null = null;
  private applies = 0;
  private repairs = 0;
  private readonly resyncLog = new LogThrottle(RESYNC_LOG_INTERVAL_MS);

  constructor(opts: ReconcilerOptions) {
    super();
    this.config = opts.config;
    this.log = opts.logger;
    this.debounceMs = opts.debounceMs ?? 100;
  }

  private rtnl(): Rtnl {
    this.nl ??= Rtnl.open();
    return this.nl;
  }

  /** One full pass; serialised with every other pass. Throws InputError when discovery fails and there is no earlier plan. */
  applyOnce(trigger: Trigger): Promise<ApplyResult> {
    const run = this.queue.then(() => this.pass(trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Replaces the configuration (reload) and applies it. */
  reload(config: GatewayConfig): Promise<ApplyResult> {
    this.config = config;
    return this.applyOnce('reload');
  }

  private async pass(trigger: Trigger): Promise<ApplyResult> {
    const started = performance.now();
    this.passRunning = true;
    let discoveryError: string | undefined;
    try {
      const nl = this.rtnl();
      try {
        this.facts = await discover(nl, this.config);
        this.desired = plan(this.config, this.facts);
      } catch (err) {
        // With no earlier plan (init, startup), bad input means nothing is applied. Later (e.g. the
        // internal interface went down and its gateway is unreachable), the last good plan is kept
        // applied so rules and iptables are still repaired, and the error is reported.
        if (!(err instanceof InputError) || this.desired === null) throw err;
        discoveryError = formatConfigErrors(err.errors);
      }
      const outcome = await applyDataplane(nl, this.desired!);
      const errors = [...(discoveryError ? [`discovery: ${discoveryError}`] : []), ...outcome.errors];
      const result: ApplyResult = {
        at: Date.now(),
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        trigger,
        drift: outcome.drift,
        changed: outcome.changed,
        remaining: outcome.remaining,
        ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
      };
      this.record(result);
      return result;
    } catch (err) {
      // An InputError goes to the caller, which reports every input error (init prints them).
      this.lastError = err instanceof InputError ? formatConfigErrors(err.errors) : (err as Error).message;
      if (!(err instanceof InputError)) this.log.error({ trigger, err: this.lastError }, 'dataplane apply failed');
      throw err;
    } finally {
      this.passRunning = false;
      this.runPending();
    }
  }

  private record(result: ApplyResult): void {
    const isRepair = result.changed && this.lastApply !== null;
    this.applies++;
    if (isRepair) this.repairs++;
    this.lastApply = result;
    this.lastError = result.error ?? null;
    const fields = { trigger: result.trigger, durationMs: result.durationMs, drift: result.drift, remaining: result.remaining, ...(result.error ? { error: result.error } : {}) };
    if (result.error || result.remaining.length > 0) this.log.error(fields, 'dataplane not in the desired state after apply');
    else if (isRepair) this.log.warn({ ...fields, repairs: this.repairs }, 'dataplane drift repaired');
    else if (result.changed) this.log.info(fields, 'dataplane applied');
    else this.log.debug(fields, 'dataplane verified, no change');
    this.emit('applied', result);
  }

  /** Queues a pass; coalesces triggers that arrive while one is running. */
  private schedule(trigger: Trigger): void {
    if (this.stopped) return;
    if (this.passRunning) {
      this.pending = trigger;
      return;
    }
    this.background(trigger);
  }

  /** A pass nobody awaits: failures are logged (other errors already are, in pass()). */
  private background(trigger: Trigger): void {
    this.applyOnce(trigger).catch((err: unknown) => {
      if (err instanceof InputError) this.log.error({ trigger, err: formatConfigErrors(err.errors) }, 'dataplane apply failed: invalid input');
    });
  }

  private runPending(): void {
    const t = this.pending;
    this.pending = undefined;
    if (t && !this.stopped) this.background(t);
  }

  private onChange(change: NetlinkChange): void {
    this.log.trace({ change }, 'netlink change');
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = guardedTimeout('dataplane: netlink debounce', () => {
      this.debounce = undefined;
      this.schedule('netlink');
    }, this.debounceMs);
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const watcher = new RtnlWatcher();
    watcher.on('change', guard('dataplane: netlink change', (c: NetlinkChange) => this.onChange(c)));
    watcher.on('resync', guard('dataplane: netlink resync', (reason: string) => {
      const suppressed = this.resyncLog.take();
      if (suppressed !== undefined) this.log.warn({ reason, overflows: watcher.stats()?.overflows, suppressed }, 'netlink notifications lost; full resync');
      this.schedule('netlink');
    }));
    watcher.start();
    this.watcher = watcher;
    const { receiveBufferBytes, forced, portId } = watcher.stats()!;
    if (forced) this.log.info({ receiveBufferBytes, portId }, 'listening for netlink changes');
    else this.log.warn({ receiveBufferBytes, portId, why: 'no CAP_NET_ADMIN: the receive buffer is capped by net.core.rmem_max, bursts of changes may overflow it' }, 'listening for netlink changes');
    this.periodic = guardedInterval('dataplane: periodic verification', () => this.schedule('periodic'), this.config.reconcileIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.periodic) clearInterval(this.periodic);
    this.debounce = this.periodic = undefined;
    this.pending = undefined;
    this.watcher?.stop();
    this.watcher = undefined;
    await this.queue;
    this.nl?.close();
    this.nl = undefined;
  }

  status(): DataplaneStatus {
    return {
      desired: this.desired,
      verified: this.lastApply !== null && this.lastApply.remaining.length === 0 && this.lastApply.error === undefined,
      lastApply: this.lastApply,
      lastError: this.lastError,
      applies: this.applies,
      repairs: this.repairs,
      netlink: this.watcher?.stats() ?? null,
      interfaces: (this.facts?.families ?? []).map((f) => ({
        family: f.family,
        internal: f.internal.name,
        external: f.external.name,
        internalUp: f.internal.up,
        externalUp: f.external.up,
      })),
    };
  }

  /** Desired vs actual right now (reads the live state; changes nothing). */
  async inspect(): Promise<DataplaneInspection> {
    const desired = this.desired;
    if (!desired) return { desired: null, actual: null, drift: [], status: this.status() };
    const live = await this.queue.then(() => readLive(this.rtnl(), desired));
    return { desired, actual: liveToJson(live), drift: computeDrift(desired, live), status: this.status() };
  }
}

function liveToJson(live: LiveDataplane): NonNullable<DataplaneInspection['actual']> {
  const devOf = (index: number | undefined): string | undefined => live.links.find((l) => l.index === index)?.name;
  return {
    sysctls: Object.fromEntries([...live.sysctls].map(([k, v]) => [k, v ?? null])),
    ipsets: Object.fromEntries([...live.ipsets].map(([k, s]) => [k, s ? { type: s.type, family: s.family ?? null, maxelem: s.maxelem, members: s.members } : null])),
    iptables: Object.fromEntries([...live.iptables].map(([f, p]) => [`ipv${f}`, Object.fromEntries(Object.entries(p.tables).map(([t, { chains }]) => [t, chains]))])),
    routes: Object.fromEntries([...live.routes].map(([k, rs]) => [k, rs.map((r) => ({ dst: r.dst, gateway: r.gateway, dev: devOf(r.oif), metric: r.metric }))])),
    rules: Object.fromEntries([...live.rules].map(([f, rs]) => [`ipv${f}`, rs.map((r) => ({ priority: r.priority, iif: r.iif, from: r.from, table: r.table, selectors: r.selectors }))])),
  };
}
