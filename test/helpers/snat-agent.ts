// The SNAT recorder and the observability metrics (from dist/) running inside a lab gateway
// namespace, as the daemon will run them: a child `node` under `ip netns exec` that reads its own
// namespace's conntrack events, /proc and /sys. Also the traffic the SNAT tests and the benchmark
// send: flows with chosen source ports, and bounded UDP bursts. Everything targets lab addresses.
import { execa, type ResultPromise } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SnatRecordsConfig } from '../../agent/config/snat-records.js';
import type { SnatStatus } from '../../agent/snat/types.js';
import type { Lab, LabNode, TeardownHost } from './lab.js';
import { ROOT } from './dataplane.js';

const DIST = join(ROOT, 'dist');

// Runs in the gateway namespace. Protocol: JSON lines on stdout answering one-word commands on
// stdin (status, metrics, stop); the agent's pino log goes to stderr.
const DRIVER = `
import { createInterface } from 'node:readline';
const o = JSON.parse(process.argv[1]);
const { SnatRecorder } = await import(o.dist + '/agent/snat/recorder.js');
const { registerObservabilityMetrics } = await import(o.dist + '/agent/observe/metrics.js');
const { createLogger } = await import(o.dist + '/agent/lib/log.js');
const { Registry } = await import('prom-client');
const say = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const recorder = new SnatRecorder(o.config, { logger: createLogger('info', { destination: process.stderr }) });
const registry = new Registry();
registerObservabilityMetrics(registry, { interfaces: () => o.interfaces, snat: () => recorder.status(), onError: (s, e) => say({ type: 'metrics-error', source: s, message: e.message }) });
const stop = async () => { await recorder.stop(); say({ type: 'stopped', status: recorder.status() }); process.exit(0); };
process.on('SIGTERM', stop);
try { await recorder.start(); } catch (e) { say({ type: 'error', message: e.message }); process.exit(1); }
say({ type: 'started', status: recorder.status() });
createInterface({ input: process.stdin }).on('line', async (cmd) => {
  if (cmd === 'status') say({ type: 'status', status: recorder.status() });
  else if (cmd === 'metrics') say({ type: 'metrics', text: await registry.metrics() });
  else if (cmd === 'stop') await stop();
});
`;

interface Message {
  type: string;
  status?: SnatStatus;
  text?: string;
  message?: string;
}

/** Children of a process (to clean up a conntrack child if its parent had to be killed). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

export class SnatAgent {
  /** The agent's JSON log lines (stderr). */
  readonly log: Record<string, unknown>[] = [];
  private readonly messages: Message[] = [];
  private waiters: (() => void)[] = [];
  private stopped = false;

  private constructor(private readonly child: ResultPromise) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.messages.push(JSON.parse(line) as Message);
      for (const w of this.waiters.splice(0)) w();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        this.log.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.log.push({ msg: line });
      }
    });
  }

  /** Starts the recorder in `gw`'s namespace and waits until it is subscribed; stopped in teardown. */
  static async start(t: TeardownHost, lab: Lab, gw: LabNode, config: SnatRecordsConfig, interfaces: { name: string; role: 'internal' | 'external' }[]): Promise<SnatAgent> {
    const child = execa('ip', ['netns', 'exec', lab.ns(gw), process.execPath, '--input-type=module', '-e', DRIVER, JSON.stringify({ dist: DIST, config, interfaces })], {
      cwd: ROOT, reject: false, buffer: false, stdin: 'pipe',
    });
    const agent = new SnatAgent(child);
    t.teardown(() => agent.stop());
    const first = await agent.next(['started', 'error'], 30_000);
    if (first.type === 'error') throw new Error(`SNAT recorder did not start: ${first.message}`);
    return agent;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private async next(types: string[], timeoutMs: number): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => types.includes(m.type));
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      if (this.child.exitCode !== null && this.child.exitCode !== undefined) throw new Error(`SNAT driver exited (${this.child.exitCode}): ${JSON.stringify(this.log.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SNAT driver: no ${types.join('/')} within ${timeoutMs} ms; log: ${JSON.stringify(this.log.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  async status(): Promise<SnatStatus> {
    this.child.stdin!.write('status\n');
    return (await this.next(['status'], 10_000)).status!;
  }

  async metrics(): Promise<string> {
    this.child.stdin!.write('metrics\n');
    return (await this.next(['metrics'], 10_000)).text!;
  }

  /** Polls the status until `ok`; rejects after timeoutMs with the last status. */
  async waitFor(ok: (s: SnatStatus) => boolean, timeoutMs: number, what: string): Promise<SnatStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status();
      if (ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`SNAT recorder: ${what} not reached within ${timeoutMs} ms: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops the recorder (flushing its files); kills it and its conntrack child if it does not stop. */
  async stop(): Promise<SnatStatus | undefined> {
    if (this.stopped) return undefined;
    this.stopped = true;
    if (this.child.exitCode !== null && this.child.exitCode !== undefined) return undefined;
    this.child.stdin!.write('stop\n');
    try {
      return (await this.next(['stopped'], 10_000)).status;
    } catch {
      const kids = childrenOf(this.pid);
      this.child.kill('SIGKILL');
      for (const k of kids) {
        try {
          process.kill(k, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      return undefined;
    } finally {
      await this.child;
    }
  }
}

export interface FlowSpec {
  proto: 'tcp' | 'udp';
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

export interface FlowResult extends FlowSpec {
  /** Where the flow ran (Unix ms): between the first packet and the reply. */
  startMs: number;
  endMs: number;
  /** The source the echo server saw. */
  seenIp: string;
  seenPort: number;
}

// One flow at a time from a fixed source port; prints one JSON line per flow.
const FLOW_CLIENT = `
import dgram from 'node:dgram';
import net from 'node:net';
const flows = JSON.parse(process.argv[1]);
for (const f of flows) {
  const startMs = Date.now();
  const text = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout ' + JSON.stringify(f))), 3000);
    const ok = (t) => { clearTimeout(timer); resolve(String(t)); };
    if (f.proto === 'tcp') {
      let buf = '';
      const s = net.connect({ host: f.dst, port: f.dport, localAddress: f.src, localPort: f.sport });
      s.on('data', (d) => { buf += d; });
      s.on('end', () => { s.destroy(); ok(buf); });
      s.on('error', (e) => { clearTimeout(timer); reject(e); });
    } else {
      const s = dgram.createSocket(net.isIPv6(f.dst) ? 'udp6' : 'udp4');
      s.on('message', (m) => { s.close(); ok(m); });
      s.on('error', (e) => { clearTimeout(timer); reject(e); });
      s.bind({ address: f.src, port: f.sport }, () => s.send('x\\n', f.dport, f.dst));
    }
  });
  const [ip, port] = text.trim().split(' ');
  process.stdout.write(JSON.stringify({ ...f, startMs, endMs: Date.now(), seenIp: ip, seenPort: Number(port) }) + '\\n');
}
`;

/** Runs the flows one after the other from the VPC client namespace; each gets its echo reply. */
export async function runFlows(lab: Lab, flows: FlowSpec[], from: LabNode = 'vpc'): Promise<FlowResult[]> {
  const r = await lab.exec(from, [process.execPath, '--input-type=module', '-e', FLOW_CLIENT, JSON.stringify(flows)], { timeout: 10_000 + flows.length * 3000 });
  return String(r.stdout).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowResult);
}

// A bounded UDP burst: `count` datagrams, each from its own source port (one socket each, closed
// right away), `batch` at a time, to one lab address, at most `rate` per second and never longer
// than maxMs.
const UDP_BURST = `
import dgram from 'node:dgram';
import net from 'node:net';
const o = JSON.parse(process.argv[1]);
const type = net.isIPv6(o.dst) ? 'udp6' : 'udp4';
const t0 = Date.now();
let sent = 0, failed = 0;
const one = (port) => new Promise((resolve) => {
  const s = dgram.createSocket(type);
  s.on('error', () => { failed++; s.close(); resolve(); });
  s.bind({ address: o.src, port }, () => s.send('x', o.dport, o.dst, (e) => { e ? failed++ : sent++; s.close(); resolve(); }));
});
for (let i = 0; i < o.count && Date.now() - t0 < o.maxMs; ) {
  const batch = [];
  for (let j = 0; j < o.batch && i < o.count; j++, i++) batch.push(one(o.basePort + (i % o.ports)));
  await Promise.all(batch);
  const due = t0 + (i / o.rate) * 1000;
  if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
}
process.stdout.write(JSON.stringify({ sent, failed, ms: Date.now() - t0 }) + '\\n');
`;

export interface BurstOptions {
  src: string;
  dst: string;
  dport: number;
  count: number;
  /** Datagrams per second (upper bound). */
  rate: number;
  maxMs: number;
  /** Source ports basePort .. basePort + ports - 1 are used round-robin (default 20000 / 40000). */
  basePort?: number;
  ports?: number;
  /** Datagrams sent at once, each from its own socket (default 200). */
  batch?: number;
}

export async function udpBurst(lab: Lab, o: BurstOptions, from: LabNode = 'vpc'): Promise<{ sent: number; failed: number; ms: number }> {
  const args = { basePort: 20000, ports: 40000, batch: 200, ...o };
  const r = await lab.exec(from, [process.execPath, '--input-type=module', '-e', UDP_BURST, JSON.stringify(args)], { timeout: o.maxMs + 10_000 });
  return JSON.parse(String(r.stdout).trim().split('\n').pop()!) as { sent: number; failed: number; ms: number };
}

export interface RateOptions {
  src: string;
  dst: string;
  /** New flows per second, for `ms`. */
  rate: number;
  ms: number;
  /** Destination ports start here (one per flow; see native/bench/udp-flows.c). */
  basePort: number;
}

export interface RateResult {
  sent: number;
  failed: number;
  ms: number;
  sports: number[];
  perSocket: number;
  basePort: number;
}

/** Flow i's source and destination ports. */
export function rateFlow(r: RateResult, i: number): { sport: number; dport: number } {
  return { sport: r.sports[Math.floor(i / r.perSocket)]!, dport: r.basePort + (i % r.perSocket) };
}

/** New UDP flows at a fixed rate from the VPC client (native/bench/udp-flows.c, built by `make build`). */
export async function udpFlowsAtRate(lab: Lab, o: RateOptions, from: LabNode = 'vpc'): Promise<RateResult> {
  // Each datagram's forwarding, NAT and conntrack event cost the sender's CPU: on a loaded machine the
  // run takes longer than o.ms (the callers report the rate reached), so the bound is generous.
  const r = await lab.exec(from, [join(ROOT, 'native/out/udp-flows'), o.src, o.dst, String(o.rate), String(o.ms), String(o.basePort)], { timeout: o.ms * 6 + 30_000 });
  return JSON.parse(String(r.stdout).trim().split('\n').pop()!) as RateResult;
}
