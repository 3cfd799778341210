// Fakes of the daemon's ports (agent/daemon/ports.ts) for unit tests: an engine that records calls
// and lets the test set session states, and a reconciler that reports what the test says.
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { BfdDiag, BfdSessionSpec, BfdSessionState, BfdState, BfdStateEvent } from '../../agent/bfd/types.js';
import type { GatewayConfig } from '../../agent/config/types.js';
import type { BfdEnginePort, BfdSessionChange, ConfigResult, DaemonPorts, ReconcilerPort } from '../../agent/daemon/ports.js';
import type { Logger } from '../../agent/lib/log.js';
import type { ApplyResult, DataplaneStatus } from '../../agent/reconcile/types.js';

export type Call = [string, ...unknown[]];

export class FakeEngine extends EventEmitter implements BfdEnginePort {
  calls: Call[] = [];
  specs = new Map<string, BfdSessionSpec>();
  states = new Map<string, BfdState>();
  alive = true;
  drainedWith: number | null = null;
  engineDrops: Record<string, number> = { notAPeer: 0 };

  start(): void {
    this.calls.push(['start']);
  }
  addSession(spec: BfdSessionSpec): void {
    const k = `${spec.local}|${spec.remote}`;
    if (this.specs.has(k)) throw new Error(`${k}: already exists`);
    this.calls.push(['add', k]);
    this.specs.set(k, spec);
    this.states.set(k, 'Down');
  }
  changeSession(local: string, remote: string, change: BfdSessionChange): void {
    const k = `${local}|${remote}`;
    this.calls.push(['change', k, change]);
    this.specs.set(k, { ...this.specs.get(k)!, ...change });
  }
  /** The local diagnostic of each session taken AdminDown, as the real engine reports it. */
  readonly diags = new Map<string, BfdDiag>();
  removeSession(local: string, remote: string): void {
    const k = `${local}|${remote}`;
    this.calls.push(['remove', k]);
    this.specs.delete(k);
    this.states.delete(k);
  }
  adminDown(local: string, remote: string, diag?: BfdDiag): void {
    this.calls.push(['adminDown', `${local}|${remote}`, diag]);
    this.diags.set(`${local}|${remote}`, diag ?? 'AdministrativelyDown');
    this.setState(`${local}|${remote}`, 'AdminDown');
  }
  adminUp(local: string, remote: string): void {
    this.calls.push(['adminUp', `${local}|${remote}`]);
    this.diags.delete(`${local}|${remote}`);
    this.setState(`${local}|${remote}`, 'Down');
  }
  sessions(): BfdSessionState[] {
    return [...this.specs.values()].map((s) => {
      const state = this.states.get(`${s.local}|${s.remote}`) ?? 'Down';
      return {
        local: s.local, remote: s.remote, state, remoteState: state, localDiag: state === 'AdminDown' ? (this.diags.get(`${s.local}|${s.remote}`) ?? 'None') : 'None', remoteDiag: 'None',
        localDiscr: s.localDiscr, remoteDiscr: state === 'Up' ? 77 : 0, txIntervalMs: s.minTxMs, detectTimeMs: s.minRxMs * s.multiplier,
        lastStateChange: 1_700_000_000_000, flaps: 0,
        counters: { packetsIn: 10, packetsOut: 12, drops: { badTtl: 1 }, transitions: 2, lateTransmissions: 0, maxTxGapUs: 1500, pollsSent: 0, finalsReceived: 0,
          detectExpiries: 0, maxDetectLatenessUs: 0, lastDetectLatenessUs: 0, detectLatenessSumUs: 0, detectLatenessBuckets: [0, 0, 0, 0, 0] },
      };
    });
  }
  async drain(graceMs: number): Promise<void> {
    this.calls.push(['drain', graceMs]);
    this.drainedWith = graceMs;
    for (const k of this.states.keys()) {
      this.diags.set(k, 'AdministrativelyDown');
      this.setState(k, 'AdminDown');
    }
  }
  close(): void {
    this.calls.push(['close']);
    this.alive = false;
  }
  threadAlive(): boolean {
    return this.alive;
  }
  stats(): { drops: Record<string, number>; eventsCoalesced: number } {
    return { drops: this.engineDrops, eventsCoalesced: 0 };
  }
  /** Test hook: a state change as the engine thread would report it. */
  setState(key: string, to: BfdState): void {
    const from = this.states.get(key) ?? 'Down';
    this.states.set(key, to);
    const [local, remote] = key.split('|') as [string, string];
    const ev: BfdStateEvent = { local, remote, from, to, diag: 'None', at: Date.now() };
    this.emit('state', ev);
  }
}

export class FakeReconciler extends EventEmitter implements ReconcilerPort {
  calls: Call[] = [];
  verified = true;
  externalUp = true;
  config: GatewayConfig;
  constructor(config: GatewayConfig) {
    super();
    this.config = config;
  }
  async applyOnce(trigger: ApplyResult['trigger']): Promise<ApplyResult> {
    this.calls.push(['applyOnce', trigger]);
    const r: ApplyResult = {
      at: Date.now(), durationMs: 7, trigger, changed: trigger === 'startup', remaining: this.verified ? [] : [{ kind: 'route', object: 'table 1000 default', problem: 'missing' }],
      drift: trigger === 'startup' ? [{ kind: 'rule', object: '1001', problem: 'missing' }] : [],
    };
    this.emit('applied', r);
    return r;
  }
  async reload(config: GatewayConfig): Promise<ApplyResult> {
    this.config = config;
    this.calls.push(['reload']);
    return this.applyOnce('reload');
  }
  async inspect(): Promise<unknown> {
    return { desired: null, actual: null, drift: [] };
  }
  async start(): Promise<void> {
    this.calls.push(['start']);
  }
  async stop(): Promise<void> {
    this.calls.push(['stop']);
  }
  status(): DataplaneStatus {
    return {
      desired: null, verified: this.verified, lastApply: null, lastError: this.verified ? null : 'route missing', applies: 1, repairs: 0,
      interfaces: [{ family: 4, internal: 'eth0', external: 'net1', internalUp: true, externalUp: this.externalUp }],
      netlink: { overflows: 0, truncated: 0, receiveBufferBytes: 33554432, forced: true, portId: 123 },
    };
  }
}

export function testConfig(dir: string, over: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    families: [{ family: 4, internalGateway: '10.16.0.1', externalGateway: '172.17.0.1', noSnatSources: [] }],
    reconcileIntervalMs: 10_000,
    bfd: {
      enabled: true, localIps: ['10.16.0.11'], peerIps: ['10.255.255.255'], minTxMs: 100, minRxMs: 100, multiplier: 3,
      passive: false, minTtl: 254, realtimePriority: 0, statePath: `${dir}/state.json`,
    },
    healthListen: '127.0.0.1:0',
    controlSocket: `${dir}/control.sock`,
    compatSocket: `${dir}/compat.sock`,
    drainGraceMs: 3000,
    logLevel: 'info',
    ...over,
  };
}

export function specsOf(c: GatewayConfig): BfdSessionSpec[] {
  if (!c.bfd.enabled) return [];
  const out: BfdSessionSpec[] = [];
  let discr = 100;
  for (const local of c.bfd.localIps) {
    for (const remote of c.bfd.peerIps) {
      if (local.includes(':') !== remote.includes(':')) continue;
      out.push({ local, remote, minTxMs: c.bfd.minTxMs, minRxMs: c.bfd.minRxMs, multiplier: c.bfd.multiplier, passive: c.bfd.passive, minTtl: c.bfd.minTtl, localDiscr: discr++ });
    }
  }
  return out;
}

/** Ports whose config the test can swap (reload) and whose engine/reconciler it can reach. */
export class FakePorts implements DaemonPorts {
  engine: FakeEngine | null = null;
  reconciler: FakeReconciler | null = null;
  /** Whether the reconciler created next verifies its dataplane. */
  reconcilerVerified = true;
  constructor(public result: ConfigResult) {}
  async loadConfig(): Promise<ConfigResult> {
    return this.result;
  }
  async expectedSessions(config: GatewayConfig): Promise<BfdSessionSpec[]> {
    return specsOf(config);
  }
  async createEngine(): Promise<FakeEngine> {
    this.engine = new FakeEngine();
    return this.engine;
  }
  async createReconciler(config: GatewayConfig): Promise<FakeReconciler | null> {
    if (!config.families.length) return null;
    this.reconciler = new FakeReconciler(config);
    this.reconciler.verified = this.reconcilerVerified;
    return this.reconciler;
  }
}

/** A logger that keeps every line as a parsed object. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level }, dest), lines };
}
