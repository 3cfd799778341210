// BfdEngine: the typed facade over the native engine thread. JS configures sessions and is told
// about state changes (batched by the engine, re-emitted here one 'state' event each); packets,
// timers and detection never touch the event loop.
import { EventEmitter } from 'node:events';
import { canonicalIp } from '../lib/ip.js';
import { MAX_DRAIN_GRACE_MS } from '../lib/bfd-limits.js';
import { loadBfdNative, type NativeEngine, type NativeEvent } from './native.js';
import { assertSpec, DIAG_CODES, sessionName, toNativeSpec } from './spec.js';
import type { BfdDiag, BfdEngineStats, BfdSessionDetail, BfdSessionSpec, BfdStateEvent } from './types.js';

/** Fields of a running session that can change live (timers go through a Poll Sequence). */
export type BfdSessionChange = Partial<Omit<BfdSessionSpec, 'local' | 'remote' | 'localDiscr'>>;

export interface BfdEngineOptions {
  /** Explicit path of egress_native.node (tests, unusual layouts); default: the package build. */
  addonPath?: string;
  /**
   * SCHED_FIFO priority (1..99) for the engine thread, so a busy node cannot delay transmissions
   * for tens of ms. Needs CAP_SYS_NICE; when refused the engine runs normally and stats() says why.
   * Default 0: normal scheduling.
   */
  realtimePriority?: number;
}

/** Extra time the JS side waits for the engine's 'drained' report before giving up on it. */
const DRAIN_SLACK_MS = 1000;

const key = (local: string, remote: string): string => `${local}|${remote}`;

function canonical(text: string, what: string): string {
  try {
    return canonicalIp(text);
  } catch (e) {
    throw new TypeError(`${what}: ${(e as Error).message}`);
  }
}

export class BfdEngine extends EventEmitter<{ state: [BfdStateEvent] }> {
  private readonly native: NativeEngine;
  private readonly realtimePriority: number;
  private readonly specs = new Map<string, BfdSessionSpec>();
  private drainWaiters: (() => void)[] = [];
  private running = false;
  private closed = false;

  constructor(opts: BfdEngineOptions = {}) {
    super();
    const rt = opts.realtimePriority ?? 0;
    if (!Number.isInteger(rt) || rt < 0 || rt > 99) throw new RangeError(`realtimePriority must be an integer in 0..99, got ${String(rt)}`);
    this.realtimePriority = rt;
    const native = loadBfdNative(opts.addonPath);
    this.native = new native.Engine((events) => this.onNative(events));
  }

  start(): void {
    if (this.closed) throw new Error('bfd engine: closed, create a new one');
    if (this.running) throw new Error('bfd engine: already started');
    this.native.start({ realtimePriority: this.realtimePriority });
    this.running = true;
  }

  addSession(spec: BfdSessionSpec): void {
    this.requireRunning();
    assertSpec(spec);
    const s: BfdSessionSpec = { ...spec, local: canonicalIp(spec.local), remote: canonicalIp(spec.remote) };
    const k = key(s.local, s.remote);
    if (this.specs.has(k)) throw new Error(`${sessionName(s.local, s.remote)}: already exists`);
    this.native.addSession(toNativeSpec(s));
    this.specs.set(k, s);
  }

  /** Applies a partial change; a new device re-creates the session (same discriminator). */
  changeSession(local: string, remote: string, change: BfdSessionChange): void {
    this.requireRunning();
    const [k, current] = this.lookup(local, remote);
    const next: BfdSessionSpec = { ...current, ...change, local: current.local, remote: current.remote, localDiscr: current.localDiscr };
    assertSpec(next);
    if ((next.device ?? '') !== (current.device ?? '')) {
      // The socket binding is fixed for the life of a session: re-create it on the new device.
      this.native.removeSession(current.local, current.remote);
      try {
        this.native.addSession(toNativeSpec(next));
      } catch (e) {
        this.native.addSession(toNativeSpec(current)); // keep the session (it restarts from Down)
        throw e;
      }
    } else {
      this.native.changeSession(toNativeSpec(next));
    }
    this.specs.set(k, next);
  }

  /** Removes a session; a live one tells its peer with one AdminDown packet first. */
  removeSession(local: string, remote: string): void {
    this.requireRunning();
    const [k, current] = this.lookup(local, remote);
    this.native.removeSession(current.local, current.remote);
    this.specs.delete(k);
  }

  adminDown(local: string, remote: string, diag: BfdDiag = 'AdministrativelyDown'): void {
    this.requireRunning();
    const code = DIAG_CODES[diag];
    if (code === undefined) throw new TypeError(`diag must be one of ${Object.keys(DIAG_CODES).join(', ')}, got ${String(diag)}`);
    const [, current] = this.lookup(local, remote);
    this.native.adminDown(current.local, current.remote, code);
  }

  adminUp(local: string, remote: string): void {
    this.requireRunning();
    const [, current] = this.lookup(local, remote);
    this.native.adminUp(current.local, current.remote);
  }

  /** Full state of every session, read from the engine on demand. */
  sessions(): BfdSessionDetail[] {
    return this.running ? this.native.sessions() : [];
  }

  stats(): BfdEngineStats {
    return this.native.stats();
  }

  /**
   * Graceful drain: every session goes AdminDown (diag 7) at once and keeps telling its peer for
   * one detection time, or until graceMs, whichever is shorter. Resolves when that is done.
   */
  drain(graceMs: number): Promise<void> {
    if (!Number.isFinite(graceMs) || graceMs < 0 || graceMs > MAX_DRAIN_GRACE_MS)
      return Promise.reject(new RangeError(`graceMs must be 0..${MAX_DRAIN_GRACE_MS}, got ${String(graceMs)}`));
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      // The engine reports 'drained'; the timer only matters if its thread died.
      const timer = setTimeout(done, graceMs + DRAIN_SLACK_MS);
      timer.unref();
      const waiters = this.drainWaiters;
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
      this.native.drain(graceMs);
    });
  }

  /** Stops the engine thread and closes its sockets (no AdminDown: call drain() first for that). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    this.native.close();
    for (const done of [...this.drainWaiters]) done();
    this.specs.clear();
  }

  /** True while the engine thread keeps looping (it wakes at least once a second). */
  threadAlive(): boolean {
    return this.running && this.native.threadAlive();
  }

  private onNative(events: NativeEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'drained') {
        for (const done of [...this.drainWaiters]) done();
      } else {
        const { local, remote, from, to, diag, at } = ev;
        this.emit('state', { local, remote, from, to, diag, at });
      }
    }
  }

  private lookup(local: string, remote: string): [string, BfdSessionSpec] {
    const l = canonical(local, 'local');
    const r = canonical(remote, 'remote');
    const k = key(l, r);
    const spec = this.specs.get(k);
    if (!spec) throw new Error(`${sessionName(l, r)}: no such session`);
    return [k, spec];
  }

  private requireRunning(): void {
    if (!this.running) throw new Error(this.closed ? 'bfd engine: closed' : 'bfd engine: not started');
  }
}
