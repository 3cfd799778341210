// Shared pieces of the benchmarks: the lab CLI, child processes in lab namespaces, packet capture
// timestamps, and order statistics. Benchmarks print Markdown to stdout and log progress to stderr.
import { execa, type ResultPromise } from 'execa';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LAB = path.join(ROOT, 'scripts/lab/lab.sh');

export const log = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function lab(cmd: string, prefix: string, ...args: string[]): Promise<string> {
  const r = await execa('bash', [LAB, cmd, '-p', prefix, ...args], { cwd: ROOT });
  return r.stdout;
}

/** KEY=VALUE lines (`lab.sh env`, `ovn.sh env`) as an env object for a child process. */
export function parseEnvLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

/** A replica's Kube-OVN environment (`lab.sh env`), as an env object for a child process. */
export async function labEnv(prefix: string, gw: string): Promise<Record<string, string>> {
  return parseEnvLines(await lab('env', prefix, gw));
}

/** bin/egress-agent's and the image's V8 flags (test/unit/startup-cache.test.ts keeps them equal). */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--lite-mode', '--no-expose-wasm'];

/** Node.js arguments after the flags: as bin/egress-agent and the image start the agent, and baselines. */
export const AGENT_STARTS = {
  snapshot: ['--snapshot-blob', 'dist/egress-agent.blob', 'dist/egress-agent.cjs'],
  bundle: ['dist/egress-agent.cjs'],
  unbundled: ['dist/agent/main.js'],
} as const;

/**
 * The whole agent (`egress-agent run`) in namespace `ns` with bin/egress-agent's node flags, started
 * as `start` says (default as bin/egress-agent does), its sockets and state file in `dir`; output ignored.
 */
export function startAgentRun(ns: string, dir: string, env: Record<string, string>, start: readonly string[] = AGENT_STARTS.snapshot): ResultPromise {
  const args = start.map((a) => (a.startsWith('dist/') ? path.join(ROOT, a) : a));
  return execa('ip', ['netns', 'exec', ns, process.execPath, ...AGENT_NODE_FLAGS, ...args, 'run', '--log-level', 'warn'], {
    env: { ...env, PATH: process.env.PATH!, EGRESS_AGENT_SOCKET: `${dir}/control.sock`, EGRESS_AGENT_COMPAT_SOCKET: `${dir}/compat.sock`, EGRESS_AGENT_BFD_STATE_PATH: `${dir}/bfd-state.json` },
    extendEnv: false, reject: false, stdout: 'ignore', stderr: 'ignore', cwd: ROOT,
  });
}

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

/** `median | p90 | max` of xs, for a Markdown table row. */
export const stats3 = (xs: number[]): string => `${fmt(median(xs))} | ${fmt(quantile(xs, 0.9))} | ${fmt(Math.max(...xs))}`;
export const median = (xs: number[]): number => quantile(xs, 0.5);
export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/**
 * A JSON-lines child process running inside a lab namespace: a script of dist/scripts/bench by
 * name, or any built script by absolute path.
 */
export class NodeChild {
  readonly proc: ResultPromise;
  private readonly lines: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];

  constructor(ns: string, script: string, args: string[], env: Record<string, string> = {}) {
    const file = path.isAbsolute(script) ? script : path.join(ROOT, 'dist/scripts/bench', script);
    this.proc = execa('ip', ['netns', 'exec', ns, process.execPath, file, ...args], {
      stdin: 'pipe', stdout: 'pipe', stderr: 'inherit', reject: false, cwd: ROOT, env,
    });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      try { this.lines.push(JSON.parse(l) as Record<string, unknown>); } catch { return; }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pid(): number { return this.proc.pid!; }
  get messages(): Record<string, unknown>[] { return this.lines; }
  send(cmd: string): void { this.proc.stdin!.write(cmd + '\n'); }

  /** Resolves with the first message (at or after index `from`) matching `pred`. */
  async waitFor(pred: (m: Record<string, unknown>) => boolean, timeoutMs: number, from = 0): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a message`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  async request(cmd: string, type: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const from = this.lines.length;
    this.send(cmd);
    return this.waitFor((m) => m.type === type, timeoutMs, from);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<unknown> {
    this.proc.kill(signal);
    return this.proc;
  }
}

export interface CapturedPacket { t: number; src: string; dst: string }

/**
 * tcpdump in a namespace, quick mode, epoch µs timestamps: one packet per line. Immediate mode:
 * without it libpcap hands packets over in blocks, up to ~100 ms after they were captured.
 */
export class Capture {
  private readonly proc: ResultPromise;
  readonly packets: CapturedPacket[] = [];

  constructor(ns: string, iface: string, filter: string) {
    this.proc = execa('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '-n', '-q', '-l', '-tt',
      '--time-stamp-precision=micro', '--immediate-mode', '-B', '8192', filter], { stdout: 'pipe', stderr: 'ignore', reject: false });
    const re = /^(\d+\.\d+) IP6? (\S+)\.\d+ > (\S+)\.\d+:/;
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const m = re.exec(l);
      if (m) this.packets.push({ t: Number(m[1]) * 1000, src: m[2]!, dst: m[3]! });
    });
  }

  /** tcpdump needs a moment before it captures. */
  async ready(): Promise<void> { await sleep(700); }

  async stop(): Promise<void> {
    this.proc.kill('SIGINT');
    await this.proc;
  }

  /** Timestamps (ms) of packets from src in [from, to). */
  times(src: string, from = -Infinity, to = Infinity): number[] {
    return this.packets.filter((p) => p.src === src && p.t >= from && p.t < to).map((p) => p.t);
  }
}

export function gaps(times: number[]): number[] {
  const g: number[] = [];
  for (let i = 1; i < times.length; i++) g.push(times[i]! - times[i - 1]!);
  return g;
}

/** CPU time (ms) a process used: utime + stime from /proc/PID/stat. */
export async function cpuMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // fields 14/15, CLK_TCK = 100
}

/** CPU time (ms) of a process's threads with this name (/proc/PID/task/TID/comm), e.g. 'bfd-engine'. */
export async function threadCpuMs(pid: number, name: string): Promise<number> {
  const { readFile, readdir } = await import('node:fs/promises');
  let total = 0;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    if ((await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '')).trim() !== name) continue;
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(f[11]) + Number(f[12])) * 10;
  }
  return total;
}

export async function rssMiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
