// A BFD engine (the real addon through the TypeScript facade) in a child Node process inside a
// network namespace, driven over a JSON-lines RPC. Run directly (with VBN_BFD_CHILD=1) this file
// is the child; imported, it exports the parent-side `EngineProcess`.
import { execa, type ResultPromise } from 'execa';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BfdEngineStats, BfdSessionDetail, BfdSessionSpec, BfdStateEvent } from '../../agent/bfd/types.js';

const SELF = fileURLToPath(import.meta.url);

async function runChild(): Promise<void> {
  const { BfdEngine } = await import('../../agent/bfd/engine.js');
  const dgram = await import('node:dgram');
  const engine = new BfdEngine({ realtimePriority: Number(process.env.VBN_BFD_RT ?? 0) });
  const out = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');
  engine.on('state', (event) => out({ event }));
  const ops: Record<string, (...a: any[]) => unknown> = {
    start: () => engine.start(),
    add: (spec: BfdSessionSpec & { auth?: { type: string; keyId: number; key: string } }) =>
      engine.addSession(spec.auth ? { ...spec, auth: { ...spec.auth, key: Buffer.from(spec.auth.key, 'base64') } } as BfdSessionSpec : spec),
    change: (l: string, r: string, c: object) => engine.changeSession(l, r, c),
    remove: (l: string, r: string) => engine.removeSession(l, r),
    adminDown: (l: string, r: string) => engine.adminDown(l, r),
    adminUp: (l: string, r: string) => engine.adminUp(l, r),
    sessions: () => engine.sessions(),
    stats: () => engine.stats(),
    alive: () => engine.threadAlive(),
    drain: (ms: number) => engine.drain(ms),
    close: () => engine.close(),
    // Shutdown without waiting: the queued AdminDown must still leave before the thread stops.
    drainAndClose: (ms: number) => { void engine.drain(ms); engine.close(); },
    // Blocks the event loop: the engine thread must not care.
    block: (ms: number) => { const end = Date.now() + ms; while (Date.now() < end); },
    sendRaw: (from: string, to: string, hex: string) => new Promise<void>((resolve, reject) => {
      const s = dgram.createSocket(from.includes(':') ? 'udp6' : 'udp4');
      s.on('error', reject);
      s.bind({ address: from, port: 0 }, () => {
        s.setTTL(255);
        s.send(Buffer.from(hex, 'hex'), 3784, to, (err) => { s.close(); if (err) reject(err); else resolve(); });
      });
    }),
  };
  for await (const line of createInterface({ input: process.stdin })) {
    const { id, op, args } = JSON.parse(line) as { id: number; op: string; args: unknown[] };
    try {
      out({ id, result: (await ops[op]!(...args)) ?? null });
    } catch (e) {
      out({ id, error: (e as Error).message });
    }
  }
  engine.close();
}

export interface EngineProcessOptions {
  /** SCHED_FIFO priority of the engine thread (BfdEngineOptions.realtimePriority). */
  realtimePriority?: number;
}

/** Parent side: one engine process in namespace `ns`; collects its state events. */
export class EngineProcess {
  readonly events: BfdStateEvent[] = [];
  readonly proc: ResultPromise;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private waiters: (() => void)[] = [];

  constructor(readonly ns: string, opts: EngineProcessOptions = {}) {
    // Keep only the TypeScript loader (and source maps) of the flags tap started us with.
    const nodeArgs = process.execArgv.filter((a) => a.includes('typescript') || a === '--enable-source-maps');
    this.proc = execa('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, SELF], {
      env: { VBN_BFD_CHILD: '1', VBN_BFD_RT: String(opts.realtimePriority ?? 0) }, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit', reject: false, buffer: false,
    });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let msg: { id?: number; result?: unknown; error?: string; event?: BfdStateEvent };
      try { msg = JSON.parse(line); } catch { return; }
      if (msg.event) {
        this.events.push(msg.event);
        for (const w of this.waiters.splice(0)) w();
      } else if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error !== undefined) p?.reject(new Error(msg.error));
        else p?.resolve(msg.result);
      }
    });
    void this.proc.then(() => {
      for (const p of this.pending.values()) p.reject(new Error(`${ns}: engine process exited`));
      this.pending.clear();
    });
  }

  /** A process with the facade loaded but the engine not started (for fast restarts). */
  static async spawn(ns: string, opts: EngineProcessOptions = {}): Promise<EngineProcess> {
    const p = new EngineProcess(ns, opts);
    await p.call('alive');
    return p;
  }

  /** Spawns, starts the engine and adds `specs`. */
  static async start(ns: string, specs: readonly BfdSessionSpec[], opts: EngineProcessOptions = {}): Promise<EngineProcess> {
    const p = await EngineProcess.spawn(ns, opts);
    await p.begin(specs);
    return p;
  }

  /** Starts the engine and adds `specs` (auth keys are sent base64-encoded). */
  async begin(specs: readonly BfdSessionSpec[]): Promise<void> {
    await this.call('start');
    for (const s of specs) await this.call('add', s.auth ? { ...s, auth: { ...s.auth, key: s.auth.key.toString('base64') } } : s);
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  sessions(): Promise<BfdSessionDetail[]> { return this.call('sessions'); }
  stats(): Promise<BfdEngineStats> { return this.call('stats'); }

  async session(local: string, remote: string): Promise<BfdSessionDetail> {
    const s = (await this.sessions()).find((x) => x.local === local && x.remote === remote);
    if (!s) throw new Error(`${this.ns}: no session ${local} -> ${remote}`);
    return s;
  }

  /** Resolves with the first event (from index `since`) matching `pred`, or rejects after `ms`. */
  waitEvent(pred: (e: BfdStateEvent) => boolean, ms: number, since = 0): Promise<BfdStateEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.ns}: no matching state event within ${ms} ms; got ${JSON.stringify(this.events.slice(since))}`)), ms);
      const check = (): void => {
        const e = this.events.slice(since).find(pred);
        if (e) { clearTimeout(timer); resolve(e); } else this.waiters.push(check);
      };
      check();
    });
  }

  /** SIGKILL: no AdminDown, no cleanup (a crash). */
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.proc;
  }
}

/** Polls `fn` every 50 ms until it returns something truthy; rejects after `ms`. */
export async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (process.env.VBN_BFD_CHILD && process.argv[1] === SELF) await runChild();
