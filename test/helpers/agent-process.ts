// The real agent (`egress-agent run`) in a lab replica, for e2e and fault-injection tests: started
// with `ip netns exec PREFIX-gwN bin/egress-agent run` and the replica's Kube-OVN environment,
// every path it writes under a per-test directory (all namespaces share the filesystem), its JSON log
// parsed line by line, signals, and waiting. Talking to it: agent-clients.ts (the methods here
// delegate to it).
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { LogWaiters } from './log-waiters.js';
import { agentCli, controlRequest, healthGet, type AgentStatus, type CliResult, type ControlReply, type HttpResult, type SessionView, type Verdict } from './agent-clients.js';
import { AGENT_BIN, AGENT_MAIN, AGENT_NODE_FLAGS, AGENTS_RUN_DIR, HEALTH_PORT } from './agent-paths.js';
import type { LabNode, TeardownHost } from './lab.js';

/** What an agent needs from its lab: the replica's namespace and Kube-OVN environment (Lab, OvnLab). */
export interface ReplicaHost {
  ns(node: LabNode): string;
  env(gw: LabNode): Promise<Record<string, string>>;
}

/** One pino line of the agent's log. */
export interface LogLine {
  level: number;
  time: string;
  msg: string;
  [key: string]: unknown;
}

export const LOG_INFO = 30;
export const LOG_WARN = 40;
export const LOG_ERROR = 50;

export interface AgentPaths {
  dir: string;
  socket: string;
  compatSocket: string;
  statePath: string;
  /** `host:port` for EGRESS_AGENT_HEALTH_LISTEN. */
  healthListen: string;
  pidFile: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live = exists and is not a zombie (PID 1 here reaps late). */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The environment of a live process (for telling our own agents from recycled pids). */
function environOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}

/** Start time of a process (clock ticks since boot, /proc/PID/stat field 22): pid + start is unique. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * The agents' home for one test file: /run/vea-agents/PREFIX, owned by one test process at a time
 * (PREFIX.owner holds its pid and start time). A second run of the same file while the first is
 * alive is refused before it touches anything, since it would otherwise kill the first run's agents
 * and tear down its lab. Agents left running by a killed earlier run (found by their pid files, and
 * recognised by their environment naming this directory) are killed first; everything is removed
 * in teardown, even on failure.
 */
export class AgentHome {
  readonly dir: string;
  private readonly agents = new Set<Agent>();

  private constructor(readonly prefix: string) {
    this.dir = join(AGENTS_RUN_DIR, prefix);
  }

  /** Registers the cleanup first so it runs last (tap runs teardowns last-in, first-out). */
  static async create(t: TeardownHost, prefix: string): Promise<AgentHome> {
    const home = new AgentHome(prefix);
    home.claim();
    t.teardown(() => home.cleanup().finally(() => home.release()));
    await home.cleanup();
    mkdirSync(home.dir, { recursive: true, mode: 0o700 });
    return home;
  }

  private get ownerFile(): string {
    return `${this.dir}.owner`;
  }

  private claim(): void {
    mkdirSync(AGENTS_RUN_DIR, { recursive: true, mode: 0o700 });
    const me = `${process.pid} ${processStart(process.pid)}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.ownerFile, me, { flag: 'wx', mode: 0o600 });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const [pid, start] = readFileSync(this.ownerFile, 'utf8').trim().split(' ');
      if (pid && processStart(Number(pid)) === start && pidAlive(Number(pid))) {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        throw new Error(`test prefix ${this.prefix} is in use by another live test run (pid ${pid}: ${cmdline}); refusing to touch its agents, lab or files`);
      }
      rmSync(this.ownerFile, { force: true }); // left by a run that died
    }
    throw new Error(`cannot claim ${this.ownerFile}`);
  }

  private release(): void {
    try {
      if (readFileSync(this.ownerFile, 'utf8').startsWith(`${process.pid} `)) rmSync(this.ownerFile);
    } catch {
      /* already gone */
    }
  }

  paths(gw: LabNode): AgentPaths {
    const dir = join(this.dir, gw);
    return {
      dir,
      socket: join(dir, 'control.sock'),
      compatSocket: join(dir, 'compat.sock'),
      statePath: join(dir, 'bfd-state.json'),
      healthListen: `127.0.0.1:${HEALTH_PORT}`,
      pidFile: join(dir, 'agent.pid'),
    };
  }

  track(agent: Agent): void {
    this.agents.add(agent);
    void agent.exited.then(() => this.agents.delete(agent));
  }

  /** Never throws: a failing teardown would make tap skip the ones after it. */
  async cleanup(): Promise<void> {
    try {
      for (const a of this.agents) await a.kill().catch(() => undefined);
      if (existsSync(this.dir)) {
        for (const gw of readdirSync(this.dir)) {
          const pidFile = join(this.dir, gw, 'agent.pid');
          if (!existsSync(pidFile)) continue;
          const pid = Number(readFileSync(pidFile, 'utf8').trim());
          if (Number.isInteger(pid) && pid > 0 && pidAlive(pid) && environOf(pid).includes(`EGRESS_AGENT_SOCKET=${join(this.dir, gw)}/`)) {
            process.kill(pid, 'SIGKILL');
            for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(20);
          }
        }
        rmSync(this.dir, { recursive: true, force: true });
      }
    } catch (err) {
      process.stderr.write(`agent home cleanup of ${this.dir} failed: ${(err as Error).message}\n`);
    }
  }
}

export interface AgentStartOptions {
  /** Merged over the replica's Kube-OVN environment (e.g. BFD_MIN_TX, EGRESS_AGENT_CONFIG). */
  env?: Record<string, string>;
  /** Flags after `run`. */
  args?: string[];
  /** EGRESS_AGENT_LOG_LEVEL (default debug: the tests read apply/verify lines). */
  logLevel?: string;
  /** How long to wait for "agent started" (default 30 s). */
  startTimeoutMs?: number;
  /** Directory whose `node` runs the agent (e.g. a private copy, as in the image); default: this one's. */
  nodeDir?: string;
  /**
   * Start the bundle without the startup snapshot (same node flags). Only for NODE_OPTIONS preloads
   * (--import, --require): Node.js does not run them in a process started from a snapshot.
   */
  withoutSnapshot?: boolean;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Unix epoch ms when the test process saw the exit. */
  at: number;
}

/** One `egress-agent run` in a lab replica. */
export class Agent {
  /** Lines that were not JSON (e.g. a config error printed before the logger exists). */
  readonly otherOutput: string[] = [];
  readonly exited: Promise<AgentExit>;
  exitInfo: AgentExit | null = null;
  readonly pid: number;
  readonly paths: AgentPaths;
  private readonly child: ChildProcess;
  private readonly log = new LogWaiters<LogLine>();
  /** Its JSON log lines so far. */
  get lines(): readonly LogLine[] {
    return this.log.lines;
  }
  private keepLog: string | null = null;

  private constructor(readonly lab: ReplicaHost, readonly gw: LabNode, home: AgentHome, env: Record<string, string>, args: string[], withoutSnapshot: boolean) {
    this.paths = home.paths(gw);
    mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    // Through bin/egress-agent, the entrypoint the image has too: its Node.js flags and startup
    // snapshot are part of what is tested.
    const command = withoutSnapshot ? ['node', ...AGENT_NODE_FLAGS, AGENT_MAIN] : [AGENT_BIN];
    this.child = spawn('ip', ['netns', 'exec', lab.ns(gw), ...command, 'run', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`cannot start the agent in ${gw}`);
    // `ip netns exec` and bin/egress-agent exec: this pid is node's, the agent's.
    this.pid = this.child.pid;
    // For debugging a failed run: VEA_AGENT_LOG_DIR keeps every agent's raw output after the test.
    const keep = process.env.VEA_AGENT_LOG_DIR;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      this.keepLog = join(keep, `${home.prefix}-${gw}-${this.pid}.log`);
    }
    writeFileSync(this.paths.pidFile, `${this.pid}\n`);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal, at: Date.now() };
        this.log.end(() => new Error(`${gw}: the agent exited (${JSON.stringify(this.exitInfo)}) before the log line waited for; ${this.tail()}`));
        resolve(this.exitInfo);
      });
    });
    createInterface({ input: this.child.stdout! }).on('line', (text) => this.onLine(text));
    createInterface({ input: this.child.stderr! }).on('line', (text) => this.onLine(text));
    home.track(this);
  }

  /**
   * Starts the agent in `gw` and waits for its "agent started" line (rejects, with its output,
   * if it exits or does not get there). It is SIGKILLed in t's teardown if still running.
   */
  static async start(t: TeardownHost, lab: ReplicaHost, home: AgentHome, gw: LabNode, opts: AgentStartOptions = {}): Promise<Agent> {
    const p = home.paths(gw);
    const env: Record<string, string> = {
      PATH: `${opts.nodeDir ?? dirname(process.execPath)}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      ...(await lab.env(gw)),
      EGRESS_AGENT_SOCKET: p.socket,
      EGRESS_AGENT_COMPAT_SOCKET: p.compatSocket,
      EGRESS_AGENT_BFD_STATE_PATH: p.statePath,
      EGRESS_AGENT_HEALTH_LISTEN: p.healthListen,
      // SNAT records are on by default; keep each replica's under its own test directory.
      EGRESS_AGENT_SNAT_RECORDS_DIR: join(p.dir, 'snat'),
      EGRESS_AGENT_LOG_LEVEL: opts.logLevel ?? 'debug',
      ...opts.env,
    };
    const agent = new Agent(lab, gw, home, env, opts.args ?? [], opts.withoutSnapshot ?? false);
    t.teardown(() => agent.kill().catch(() => undefined));
    await agent.waitStarted(opts.startTimeoutMs ?? 30_000);
    return agent;
  }

  private onLine(text: string): void {
    if (this.keepLog) appendFileSync(this.keepLog, `${Date.now()} ${text}\n`);
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
      if (typeof line !== 'object' || line === null || typeof line.msg !== 'string') throw new Error('not a log line');
    } catch {
      this.otherOutput.push(text);
      return;
    }
    this.log.push(line);
  }

  running(): boolean {
    return this.exitInfo === null;
  }

  /** Index of the next log line: pass to waitLog/logsSince to look only at what comes after now. */
  mark(): number {
    return this.lines.length;
  }

  logsSince(from: number, pred: (l: LogLine) => boolean = () => true): LogLine[] {
    return this.lines.slice(from).filter(pred);
  }

  /** The first log line from index `from` on (already seen or future) matching pred. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs: number, from = 0, what = 'matching log line'): Promise<LogLine> {
    return this.log.wait(pred, timeoutMs, from, () => new Error(`${this.gw}: no ${what} within ${timeoutMs} ms; ${this.tail()}`));
  }

  /** The last log lines and stderr, for failure messages. */
  tail(n = 15): string {
    const lines = this.lines.slice(-n).map((l) => JSON.stringify(l));
    return `last log lines:\n${lines.join('\n')}\nother output:\n${this.otherOutput.slice(-n).join('\n')}`;
  }

  private async waitStarted(timeoutMs: number): Promise<void> {
    await this.waitLog((l) => l.msg === 'agent started', timeoutMs, 0, '"agent started" line');
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running()) return;
    try {
      process.kill(this.pid, sig);
    } catch (err) {
      // Gone already; its 'exit' event has not been processed yet.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** SIGKILL (a crash) and wait until it is gone. */
  async kill(): Promise<AgentExit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (the kubelet's stop) and wait for the exit. */
  async terminate(timeoutMs = 35_000): Promise<AgentExit> {
    this.signal('SIGTERM');
    return Promise.race([
      this.exited,
      sleep(timeoutMs).then(() => {
        throw new Error(`${this.gw}: agent did not exit within ${timeoutMs} ms of SIGTERM; ${this.tail()}`);
      }),
    ]);
  }

  /** One control-socket exchange (line-delimited JSON, protocol v1); resolves with the raw reply. */
  requestRaw<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10_000, socket = this.paths.socket): Promise<ControlReply<T>> {
    return controlRequest<T>(this.gw, socket, cmd, args, timeoutMs);
  }

  /** A control command's result; rejects with the agent's error message when it refused. */
  async request<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<T> {
    const reply = await this.requestRaw<T>(cmd, args, timeoutMs);
    if (!reply.ok) throw new Error(`${this.gw}: control ${cmd} failed: ${reply.error}`);
    return reply.result;
  }

  status(): Promise<AgentStatus> {
    return this.request<AgentStatus>('status');
  }

  async sessions(): Promise<SessionView[]> {
    return (await this.request<{ sessions: SessionView[] }>('bfd.sessions')).sessions;
  }

  /** The agent's session with `remote` (throws if there is none or more than one). */
  async session(remote: string): Promise<SessionView> {
    const found = (await this.sessions()).filter((s) => s.remote === remote);
    if (found.length !== 1) throw new Error(`${this.gw}: expected one BFD session with ${remote}, found ${found.length}`);
    return found[0]!;
  }

  /** Polls the control socket until every running session is Up (and there are `count` of them). */
  async waitSessionsUp(count: number, timeoutMs = 20_000): Promise<SessionView[]> {
    return this.poll(async () => {
      const s = await this.sessions();
      return s.length === count && s.every((x) => x.state === 'Up') ? s : null;
    }, timeoutMs, `${count} BFD sessions Up`);
  }

  /** Polls the control socket's `ready` verdict until it equals `want`. */
  async waitReady(want = true, timeoutMs = 20_000): Promise<Verdict> {
    return this.poll(async () => {
      const v = await this.request<Verdict>('ready');
      return v.ok === want ? v : null;
    }, timeoutMs, want ? 'ready' : 'not ready');
  }

  /** Repeats fn (every 50 ms) until it returns non-null; the last error/result goes into the timeout message. */
  async poll<T>(fn: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const r = await fn();
        if (r !== null) return r;
        last = 'condition not met';
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`${this.gw}: ${what} not reached within ${timeoutMs} ms (last: ${last}); ${this.tail(8)}`);
      await sleep(50);
    }
  }

  /** `egress-agent --socket S ARGS...` inside the replica, as an exec probe or an operator would run it. */
  cli(args: string[], timeoutMs = 20_000): Promise<CliResult> {
    return agentCli(this.lab.ns(this.gw), this.paths.socket, args, timeoutMs);
  }

  /** GET http://HEALTH_LISTEN/path from inside the replica. */
  http(path: string): Promise<HttpResult> {
    return healthGet(this.lab.ns(this.gw), this.paths.healthListen, path);
  }
}
