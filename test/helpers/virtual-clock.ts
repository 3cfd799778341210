// A virtual clock and in-memory servers for the daemon's Clock and ServerPorts (unit tests only):
// time moves only when the test advances it, so timer-driven decisions are tested without sleeping.
import { guard } from '../../agent/lib/guard.js';
import type { Clock, ControlServerPort, HealthServerPort, ServerPorts } from '../../agent/daemon/ports.js';
import type { ControlHandler } from '../../agent/control/server.js';
import type { HealthSources } from '../../agent/health/server.js';

interface Timer { at: number; every: number | null; name: string; fn: () => unknown }

export class VirtualClock implements Clock {
  private timers = new Set<Timer>();
  /** Names of the callbacks that ran, in order. */
  readonly ran: string[] = [];

  constructor(private t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }
  every(name: string, ms: number, fn: () => unknown): () => void {
    return this.add({ at: this.t + ms, every: ms, name, fn });
  }
  after(name: string, ms: number, fn: () => unknown): () => void {
    return this.add({ at: this.t + ms, every: null, name, fn });
  }
  /** Timers still armed, by name. */
  pending(): string[] {
    return [...this.timers].map((x) => x.name);
  }
  /**
   * Moves time forward by `ms`, running every timer that comes due, in time order (awaiting each).
   * Callbacks are guarded as realClock's are (lib/guard.ts): a failure is logged and counted, never thrown.
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers].filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = next.at;
      if (next.every === null) this.timers.delete(next);
      else next.at += next.every;
      this.ran.push(next.name);
      let result: unknown;
      guard(next.name, () => (result = next.fn()))();
      await Promise.resolve(result).catch(() => undefined); // a rejection was reported by guard
    }
    this.t = end;
  }
  private add(timer: Timer): () => void {
    this.timers.add(timer);
    return () => void this.timers.delete(timer);
  }
}

export class FakeHealthServer implements HealthServerPort {
  listening = false;
  constructor(readonly listen: string, readonly sources: HealthSources, private readonly events: string[]) {}
  async start(): Promise<void> {
    this.events.push('health start');
    if (this.listen === 'unbindable') throw new Error(`listen ${this.listen}: EADDRINUSE`);
    this.listening = true;
  }
  async close(): Promise<void> {
    this.events.push('health close');
    this.listening = false;
  }
  address(): string | null {
    return this.listening ? this.listen : null;
  }
  addresses(): string[] {
    return this.listening ? [this.listen] : [];
  }
}

export class FakeControlServer implements ControlServerPort {
  readonly stats = { requests: 0, failures: 0, lastError: '' };
  listening = false;
  ensured = 0;
  constructor(readonly path: string, readonly handler: ControlHandler, private readonly events: string[]) {}
  async start(): Promise<void> {
    this.events.push(`control start ${this.path}`);
    this.listening = true;
  }
  async close(): Promise<void> {
    this.events.push(`control close ${this.path}`);
    this.listening = false;
  }
  serving(): boolean {
    return this.listening;
  }
  async ensure(): Promise<boolean> {
    this.ensured++;
    return false;
  }
}

/** Servers that record their starts and closes in `events`; `health`/`control` hold the last built. */
export class FakeServers implements ServerPorts {
  readonly events: string[] = [];
  healthServer: FakeHealthServer | null = null;
  controlServers: FakeControlServer[] = [];
  health(listen: string, sources: HealthSources): HealthServerPort {
    this.healthServer = new FakeHealthServer(listen, sources, this.events);
    return this.healthServer;
  }
  control(path: string, handler: ControlHandler): ControlServerPort {
    const s = new FakeControlServer(path, handler, this.events);
    this.controlServers.push(s);
    return s;
  }
}
