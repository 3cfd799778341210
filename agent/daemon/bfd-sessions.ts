// The set of BFD sessions the engine runs, kept equal to the configured expectation plus the
// runtime operations an operator (or Kube-OVN's tooling through bfdd-control) applies on top:
// per-session timer changes, admin down/up, peer block/allow, kill/reset. Owns session ids
// (OpenBFDD-style, new for every session instance) and the bounded recovery of expected sessions.
import type { BfdDiag, BfdSessionSpec, BfdStateEvent } from '../bfd/types.js';
import { pairKey } from '../bfd/sessions.js';
import { specErrors, timerErrors } from '../bfd/spec.js';
import { canonicalIp } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';
import type { BfdEnginePort, BfdSessionChange } from './ports.js';
import { SessionRecovery, recoveryPolicy, type Observation } from './session-recovery.js';
import type { BfdStatus, ExpectedSessionView, SessionSelector, SessionView } from '../status/types.js';

const keyOf = (local: string, remote: string): string => pairKey({ local, remote });

/** A selector named a session that is not running; callers decide on `code`, never on the text. */
export class NoSuchSessionError extends Error {
  readonly code = 'NO_SUCH_SESSION';
  constructor(message: string) {
    super(message);
    this.name = 'NoSuchSessionError';
  }
}

export interface SessionChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

type Timers = Pick<BfdSessionSpec, 'minTxMs' | 'minRxMs' | 'multiplier'>;
const RECENT_TRANSITIONS = 32;
const CHANGEABLE: (keyof BfdSessionChange)[] = ['minTxMs', 'minRxMs', 'multiplier', 'passive', 'minTtl', 'auth', 'device', 'ifindex'];

function specChange(from: BfdSessionSpec, to: BfdSessionSpec): BfdSessionChange | null {
  const change: Record<string, unknown> = {};
  for (const k of CHANGEABLE) {
    if (JSON.stringify(from[k]) !== JSON.stringify(to[k])) change[k] = to[k];
  }
  return Object.keys(change).length ? (change as BfdSessionChange) : null;
}

export class BfdSessions {
  private configured = new Map<string, BfdSessionSpec>();
  private live = new Map<string, { spec: BfdSessionSpec; id: number }>();
  private blocked = new Set<string>();
  private held = new Set<string>();
  private runtimeDefaults: Partial<Timers> = {};
  private recovery: SessionRecovery;
  private recent: BfdStateEvent[] = [];
  private recoveryCounts = new Map<string, number>();
  /** Peer address -> index of the interface the route to it uses (see setIngress). */
  private ingress = new Map<string, number>();
  private nextId = 1;

  constructor(private readonly engine: BfdEnginePort, private readonly log: Logger, private readonly clock: () => number = Date.now) {
    this.recovery = new SessionRecovery(recoveryPolicy({ minTxMs: 1000, minRxMs: 1000, multiplier: 3 }));
    engine.on('state', (ev) => this.onTransition(ev));
  }

  /**
   * Makes the engine run exactly the expected sessions (reload: timers change live, via Poll).
   * All or nothing: the set is checked before anything changes, and if the engine refuses a step
   * the previous set is applied again (removed sessions come back, from Down) and this throws.
   */
  applyExpected(specs: readonly BfdSessionSpec[]): SessionChanges {
    const errors = specs.flatMap((s) => specErrors(s));
    if (errors.length) throw new Error(`invalid BFD sessions, nothing changed: ${errors.join('; ')}`);
    const previous = { configured: [...this.configured.values()], defaults: this.runtimeDefaults };
    try {
      return this.applySet(specs);
    } catch (err) {
      try {
        this.applySet(previous.configured);
      } catch (again) {
        this.log.error({ err: (again as Error).message }, 'bfd: rolling back to the previous sessions failed too; recovery keeps trying');
      }
      this.runtimeDefaults = previous.defaults;
      throw new Error(`BFD sessions not changed: ${(err as Error).message} (rolled back to the running set)`);
    }
  }

  private applySet(specs: readonly BfdSessionSpec[]): SessionChanges {
    this.configured = new Map(specs.map((s) => [keyOf(s.local, s.remote), this.withIngress(s)]));
    this.runtimeDefaults = {};
    const first = specs[0];
    if (first) this.recovery.setPolicy(recoveryPolicy(first));
    this.recovery.setExpected([...this.configured.keys()]);
    const changes: SessionChanges = { added: [], removed: [], changed: [] };
    for (const [key, { spec }] of [...this.live]) {
      if (!this.configured.has(key)) {
        this.remove(key, spec);
        this.held.delete(key);
        changes.removed.push(key);
      }
    }
    for (const [key, spec] of this.configured) {
      const running = this.live.get(key);
      if (!running) {
        if (this.blocked.has(spec.remote)) continue;
        this.add(spec);
        changes.added.push(key);
        continue;
      }
      const change = specChange(running.spec, spec);
      if (change) {
        this.engine.changeSession(spec.local, spec.remote, change);
        running.spec = spec;
        changes.changed.push(key);
      }
    }
    return changes;
  }

  /**
   * The interfaces the peers are reached through (from the routes to them). Each session accepts
   * packets only from its peer's interface (RFC 5881 §3); a change applies live. A peer missing
   * from the map (no route) keeps the interface it had. Returns the keys of changed sessions.
   */
  setIngress(byRemote: ReadonlyMap<string, number>): string[] {
    for (const [remote, ifindex] of byRemote) this.ingress.set(canonicalIp(remote), ifindex);
    for (const [key, spec] of this.configured) this.configured.set(key, this.withIngress(spec));
    const changed: string[] = [];
    for (const [key, running] of this.live) {
      const ifindex = this.ingress.get(running.spec.remote);
      if (ifindex === undefined || ifindex === (running.spec.ifindex ?? 0)) continue;
      this.engine.changeSession(running.spec.local, running.spec.remote, { ifindex });
      this.log.info({ local: running.spec.local, remote: running.spec.remote, from: running.spec.ifindex ?? 0, ifindex }, 'bfd session ingress interface changed');
      running.spec = { ...running.spec, ifindex };
      changed.push(key);
    }
    return changed;
  }

  /** Addresses of the configured peers. */
  peers(): string[] {
    return [...new Set([...this.configured.values()].map((s) => s.remote))];
  }

  /** Kube-OVN's ReplayConfiguration: configured timers and peers again, missing sessions re-added. */
  replay(): SessionChanges {
    for (const spec of this.configured.values()) this.blocked.delete(spec.remote);
    return this.applyExpected([...this.configured.values()]);
  }

  /** Removes and re-creates the selected sessions (fresh state, new id, same discriminator). */
  reset(sel: SessionSelector): string[] {
    const keys = this.select(sel);
    for (const key of keys) {
      const { spec } = this.live.get(key)!;
      this.remove(key, spec);
      this.add(this.specFor(key) ?? spec);
    }
    return keys;
  }

  /** Removes the selected sessions; sessions to peers that are not blocked come straight back (as
   * OpenBFDD re-creates a passive session on the peer's next packet). */
  kill(sel: SessionSelector): string[] {
    const keys = this.select(sel);
    for (const key of keys) {
      const { spec } = this.live.get(key)!;
      this.remove(key, spec);
      this.held.delete(key);
      if (!this.blocked.has(spec.remote)) this.add(this.specFor(key) ?? spec);
    }
    return keys;
  }

  block(peer: string): void {
    this.blocked.add(canonicalIp(peer));
  }

  /** Unblocks a configured peer and brings its missing sessions back. Throws for unknown peers. */
  allow(address: string): string[] {
    const peer = canonicalIp(address);
    const keys = [...this.configured.values()].filter((s) => s.remote === peer).map((s) => keyOf(s.local, s.remote));
    if (!keys.length) throw new Error(`${peer} is not a configured BFD peer (BFD_PEER_IPS)`);
    this.blocked.delete(peer);
    for (const key of keys) if (!this.live.has(key)) this.add(this.specFor(key)!);
    return keys;
  }

  /** Changes timers of running sessions (each change is a Poll sequence in the engine). */
  setTimers(sel: SessionSelector, timers: Partial<Timers>): string[] {
    const keys = this.select(sel);
    for (const key of keys) {
      const running = this.live.get(key)!;
      this.engine.changeSession(running.spec.local, running.spec.remote, timers);
      running.spec = { ...running.spec, ...timers };
    }
    return keys;
  }

  /** "session new set": the timers of future sessions; we also apply them to running ones (Poll). */
  setDefaults(timers: Partial<Timers>): string[] {
    // Checked before anything changes: defaults the engine would refuse would make every later
    // reset or re-creation fail (and leave no session at all).
    const errors = timerErrors(timers);
    if (errors.length) throw new Error(`invalid timers for new sessions: ${errors.join('; ')}`);
    const keys = this.setTimers({ all: true }, timers);
    Object.assign(this.runtimeDefaults, timers);
    return keys;
  }

  adminDown(sel: SessionSelector, diag?: BfdDiag): string[] {
    const keys = this.select(sel);
    for (const key of keys) {
      const { spec } = this.live.get(key)!;
      this.engine.adminDown(spec.local, spec.remote, diag);
      this.held.add(key);
    }
    return keys;
  }

  adminUp(sel: SessionSelector): string[] {
    const keys = this.select(sel);
    for (const key of keys) {
      const { spec } = this.live.get(key)!;
      this.engine.adminUp(spec.local, spec.remote);
      this.held.delete(key);
    }
    return keys;
  }

  /** One round of bounded recovery (call periodically); returns the action taken, if any. */
  recover(): { key: string; action: string; error: string | null } | null {
    const states = new Map(this.engine.sessions().map((s) => [keyOf(s.local, s.remote), s.state]));
    const observed = new Map<string, Observation>();
    for (const key of this.configured.keys()) {
      const state = this.live.has(key) ? (states.get(key) ?? null) : null;
      // AdminDown is always a local decision (operator, drain, upstream health): never "recovered".
      observed.set(key, { state, held: this.held.has(key) || state === 'AdminDown' });
    }
    const pending = this.recovery.plan(this.clock(), observed);
    if (!pending) return null;
    let error: string | null = null;
    try {
      if (pending.action === 'ReplayConfiguration') this.replay();
      else this.reset(this.selectorOf(pending.key));
    } catch (err) {
      error = (err as Error).message;
    }
    this.recovery.record(pending.key, error);
    const countKey = `${pending.action}|${error === null ? 'success' : 'error'}`;
    this.recoveryCounts.set(countKey, (this.recoveryCounts.get(countKey) ?? 0) + 1);
    return { ...pending, error };
  }

  status(): BfdStatus {
    const states = this.engine.sessions();
    const byKey = new Map(states.map((s) => [keyOf(s.local, s.remote), s]));
    const sessions: SessionView[] = [];
    for (const [key, { spec, id }] of this.live) {
      const state = byKey.get(key);
      if (!state) continue;
      sessions.push({
        passive: spec.passive, minTxMs: spec.minTxMs, minRxMs: spec.minRxMs, multiplier: spec.multiplier,
        ...state, id, held: this.held.has(key),
      });
    }
    sessions.sort((a, b) => a.id - b.id);
    const expected: ExpectedSessionView[] = [...this.configured.entries()].map(([key, spec]) => ({
      local: spec.local,
      remote: spec.remote,
      state: this.live.has(key) ? (byKey.get(key)?.state ?? null) : null,
      recovery: this.recovery.episode(key)!,
    }));
    const base = this.configured.values().next().value;
    const stats = this.engine.stats();
    return {
      engineAlive: this.engine.threadAlive(),
      expected,
      sessions,
      blockedPeers: [...this.blocked].sort(),
      defaults: {
        minTxMs: this.runtimeDefaults.minTxMs ?? base?.minTxMs ?? 0,
        minRxMs: this.runtimeDefaults.minRxMs ?? base?.minRxMs ?? 0,
        multiplier: this.runtimeDefaults.multiplier ?? base?.multiplier ?? 0,
      },
      recentTransitions: [...this.recent],
      engineDrops: stats.drops,
      rxSockets: stats.rxSockets ?? [],
      eventsCoalesced: stats.eventsCoalesced,
      realtime: { priority: stats.realtimePriority ?? 0, error: stats.realtimeError ?? null },
      recoveryActions: [...this.recoveryCounts].map(([k, count]) => {
        const [action, result] = k.split('|') as [string, 'success' | 'error'];
        return { action, result, count };
      }),
    };
  }

  /** Keys of running sessions matching the selector; throws NoSuchSessionError when a specific one does not exist. */
  select(sel: SessionSelector): string[] {
    if ('all' in sel) return [...this.live.keys()];
    if ('id' in sel) {
      const found = [...this.live].find(([, v]) => v.id === sel.id);
      if (!found) throw new NoSuchSessionError(`no BFD session with id ${sel.id}`);
      return [found[0]];
    }
    const key = keyOf(canonicalIp(sel.local), canonicalIp(sel.remote));
    if (!this.live.has(key)) throw new NoSuchSessionError(`no BFD session local ${sel.local} remote ${sel.remote}`);
    return [key];
  }

  private selectorOf(key: string): SessionSelector {
    const spec = this.configured.get(key)!;
    return { local: spec.local, remote: spec.remote };
  }

  private withIngress(spec: BfdSessionSpec): BfdSessionSpec {
    const ifindex = this.ingress.get(spec.remote);
    return ifindex === undefined ? spec : { ...spec, ifindex };
  }

  private specFor(key: string): BfdSessionSpec | undefined {
    const spec = this.configured.get(key);
    return spec && { ...spec, ...this.runtimeDefaults };
  }

  private add(spec: BfdSessionSpec): void {
    this.engine.addSession(spec);
    const id = this.nextId++;
    this.live.set(keyOf(spec.local, spec.remote), { spec, id });
    this.log.info({ local: spec.local, remote: spec.remote, id, minTxMs: spec.minTxMs, minRxMs: spec.minRxMs, multiplier: spec.multiplier, ifindex: spec.ifindex ?? 0 }, 'bfd session added');
  }

  private remove(key: string, spec: BfdSessionSpec): void {
    this.engine.removeSession(spec.local, spec.remote);
    this.live.delete(key);
    this.log.info({ local: spec.local, remote: spec.remote }, 'bfd session removed');
  }

  private onTransition(ev: BfdStateEvent): void {
    this.recent.push(ev);
    if (this.recent.length > RECENT_TRANSITIONS) this.recent.shift();
    const fields = { local: ev.local, remote: ev.remote, from: ev.from, to: ev.to, diag: ev.diag, at: new Date(ev.at).toISOString() };
    if (ev.from === 'Up') this.log.warn(fields, 'bfd session left Up');
    else this.log.info(fields, 'bfd session state changed');
  }
}
