// Typed wrapper around scripts/lab/lab.sh (the network-namespace lab) for integration tests,
// e2e tests and benchmarks. Every call is an argument array (no shell); the script owns all state.
import { execa, type Options, type Result } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const LAB_SH = fileURLToPath(new URL('../../scripts/lab/lab.sh', import.meta.url));
/** Where lab.sh keeps its per-prefix state (ownership markers, pid files, FRR files). */
export const LAB_RUN_DIR = '/run/vea-lab';

export type LabFamily = '4' | '6' | 'dual';
export type LabNode = 'vpc' | 'ovn' | 'ext' | `gw${number}`;
export type EchoProto = 'tcp' | 'udp';
/** FRR bfdd's view of a session; `absent` = no such peer configured. */
export type FrrPeerState = 'up' | 'down' | 'init' | 'shutdown' | 'absent';

export interface LabOptions {
  /** Gateway replicas gw1..gwN (default 2). */
  replicas?: number;
  /** Internal (VPC/eth0/BFD) families (default dual). */
  family?: LabFamily;
  /** Underlay (net1/ext) families (default = family). */
  extFamily?: LabFamily;
}

export interface LabGatewayAddresses {
  eth0?: string;
  net1?: string;
}

/** One family's addresses; internal keys exist only if the internal side has the family, external keys only if the underlay has it. */
export interface LabFamilyInfo {
  client?: string;
  noSnatClient?: string;
  internalGateway?: string;
  bfdPort?: string;
  internalCidr?: string;
  noSnatSource?: string;
  externalGateway?: string;
  server?: string;
  gateways: Record<string, LabGatewayAddresses>;
}

export interface LabInfo {
  prefix: string;
  family: LabFamily;
  extFamily: LabFamily;
  replicas: number;
  stateDir: string;
  serverPort: number;
  namespaces: Record<string, string>;
  ipv4?: LabFamilyInfo;
  ipv6?: LabFamilyInfo;
}

/** One entry of FRR's `show bfd peers json` (the fields tests use; FRR adds more). */
export interface FrrPeer {
  peer: string;
  local: string;
  status: Exclude<FrrPeerState, 'absent'>;
  id: number;
  'remote-id': number;
  diagnostic: string;
  'remote-diagnostic': string;
  'receive-interval': number;
  'transmit-interval': number;
  'detect-multiplier': number;
  'remote-receive-interval': number;
  'remote-transmit-interval': number;
  'remote-detect-multiplier': number;
  [key: string]: unknown;
}

/** A session state change from bfdd's log (`debug bfd peer`), with bfdd's µs timestamp. */
export interface FrrEvent {
  /** Microseconds since the epoch (bfdd logs local time with 6 decimals). */
  timeUs: number;
  peer: string;
  local: string;
  from: string;
  to: string;
  reason?: string;
  line: string;
}

export interface EchoReply {
  /** Source address the echo server saw. */
  ip: string;
  port: number;
}

export interface BfdTimers {
  txMs: number;
  rxMs: number;
  multiplier: number;
}

const EVENT_RE =
  /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6}) .*state-change: \[([^\]]*)\] (\S+) -> (\S+)(?: reason:(\S+))?/;

/** Parses bfdd 8.4 `state-change:` log lines (as printed by `lab.sh frr events`). */
export function parseFrrEvents(text: string): FrrEvent[] {
  const events: FrrEvent[] = [];
  for (const line of text.split('\n')) {
    const m = EVENT_RE.exec(line);
    if (!m) continue;
    const [, y, mo, d, h, mi, s, us, session, from, to, reason] = m;
    const peer = /(?:^| )peer:(\S+)/.exec(session!)?.[1];
    const local = /(?:^| )local:(\S+)/.exec(session!)?.[1];
    if (!peer || !local) throw new Error(`bfdd state-change line without peer/local: ${line}`);
    const ms = new Date(+y!, +mo! - 1, +d!, +h!, +mi!, +s!).getTime();
    events.push({ timeUs: ms * 1000 + Number(us), peer, local, from: from!, to: to!, ...(reason ? { reason } : {}), line });
  }
  return events;
}

export class Lab {
  readonly prefix: string;
  readonly replicas: number;
  readonly family: LabFamily;
  readonly extFamily: LabFamily;

  constructor(prefix: string, opts: LabOptions = {}) {
    this.prefix = prefix;
    this.replicas = opts.replicas ?? 2;
    this.family = opts.family ?? 'dual';
    this.extFamily = opts.extFamily ?? this.family;
  }

  /** The network namespace name of a lab node. */
  ns(node: LabNode): string {
    return `${this.prefix}-${node}`;
  }

  /** Gateway node names gw1..gwN. */
  get gateways(): LabNode[] {
    return Array.from({ length: this.replicas }, (_, i) => `gw${i + 1}` as const);
  }

  /** Runs `lab.sh COMMAND -p PREFIX ARGS...`; rejects with lab.sh's stderr on failure. */
  run(command: string, args: readonly string[] = [], opts: Options = {}): Promise<Result> {
    return execa(LAB_SH, [command, '-p', this.prefix, ...args], opts);
  }

  async up(): Promise<void> {
    await this.run('up', [
      '--replicas', String(this.replicas), '--family', this.family, '--ext-family', this.extFamily,
    ]);
  }

  async down(): Promise<void> {
    await this.run('down');
  }

  /** Runs argv inside the node's namespace. */
  exec(node: LabNode, argv: readonly string[], opts: Options = {}): Promise<Result> {
    return this.run('exec', [node, ...argv], opts);
  }

  /** The Kube-OVN environment of a replica (KEY=VALUE lines of `lab.sh env`). */
  async env(gw: LabNode): Promise<Record<string, string>> {
    const { stdout } = await this.run('env', [gw]);
    const env: Record<string, string> = {};
    for (const line of String(stdout).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return env;
  }

  async info(): Promise<LabInfo> {
    const { stdout } = await this.run('info');
    return JSON.parse(String(stdout)) as LabInfo;
  }

  async ecmpSet(gws: readonly LabNode[]): Promise<void> {
    await this.run('ecmp', ['set', ...gws]);
  }

  /** `ip route show default table 100` in the ovn namespace, per family. */
  async ecmpShow(): Promise<string> {
    return String((await this.run('ecmp', ['show'])).stdout);
  }

  /** From now on table 100's nexthops follow bfdd's view of each replica (OVN's BFD-gated ECMP). */
  async ecmpFollow(): Promise<void> {
    await this.run('ecmp', ['follow']);
  }

  /** Starts bfdd in PREFIX-ovn (or applies new timers to the running one); default 100/100/3. */
  /** Starts (or live-updates) bfdd; `rtPriority` runs its threads SCHED_FIFO (lab.sh frr --rt). */
  async frrUp(timers?: BfdTimers, opts: { rtPriority?: number } = {}): Promise<void> {
    const args = timers ? [String(timers.txMs), String(timers.rxMs), String(timers.multiplier)] : [];
    const rt = opts.rtPriority ? ['--rt', String(opts.rtPriority)] : [];
    await this.run('frr', [...rt, 'up', ...args]);
  }

  async frrState(peer: string): Promise<FrrPeerState> {
    return String((await this.run('frr', ['state', peer])).stdout).trim() as FrrPeerState;
  }

  async frrJson(): Promise<FrrPeer[]> {
    return JSON.parse(String((await this.run('frr', ['json'])).stdout)) as FrrPeer[];
  }

  /** Polls until PEER is in STATE; resolves with the ms waited, rejects on timeout. */
  async frrWait(peer: string, state: FrrPeerState, timeoutS: number): Promise<number> {
    return Number(String((await this.run('frr', ['wait', peer, state, String(timeoutS)])).stdout).trim());
  }

  async frrEvents(): Promise<FrrEvent[]> {
    return parseFrrEvents(String((await this.run('frr', ['events'])).stdout));
  }

  /**
   * bfdd's own log timestamp of PEER's first transition to STATE at or after sinceMs (Unix epoch
   * ms): how long after sinceMs it happened, and the reason bfdd logged. Rejects when there is none.
   */
  async frrTransition(peer: string, state: FrrPeerState, sinceMs: number): Promise<{ ms: number; reason: string }> {
    const { stdout } = await this.run('frr', ['transition', peer, state, String(Math.floor(sinceMs))]);
    const [ms, reason] = String(stdout).trim().split(' ');
    if (ms === undefined || reason === undefined || !Number.isFinite(Number(ms))) throw new Error(`unexpected frr transition output: ${String(stdout)}`);
    return { ms: Number(ms), reason };
  }

  /** SIGKILL bfdd (a crash: no AdminDown is sent). */
  async frrKill(): Promise<void> {
    await this.run('frr', ['kill']);
  }

  /** Restarts bfdd after frrKill with the same peers and timers. */
  async frrStart(): Promise<void> {
    await this.run('frr', ['start']);
  }

  async frrDown(): Promise<void> {
    await this.run('frr', ['down']);
  }

  async frrVtysh(args: readonly string[]): Promise<string> {
    return String((await this.run('frr', ['vtysh', ...args])).stdout);
  }

  /** Asks the echo server from `from` (default the VPC client), bound to src; rejects on failure or after 2 s. */
  async curl(src: string, dst: string, proto: EchoProto = 'tcp', from: LabNode = 'vpc'): Promise<EchoReply> {
    const { stdout } = await this.run('curl', ['--from', from, src, dst, proto]);
    const [ip, port] = String(stdout).trim().split(' ');
    if (!ip || !port) throw new Error(`unexpected echo reply from ${dst}: ${String(stdout)}`);
    return { ip, port: Number(port) };
  }
}

/** Sends UDP datagrams (hex payloads, in order) from `from` inside a lab node, with the given TTL / hop limit. */
export async function sendUdp(
  lab: Lab,
  node: LabNode,
  opts: { from: string; to: string; port: number; ttl?: number; payloads: readonly string[] },
): Promise<void> {
  await lab.exec(node, [process.execPath, '--input-type=module', '-e', UDP_SENDER, JSON.stringify(opts)], { timeout: 10_000 });
}

// Kept tiny: runs inside a namespace with `ip netns exec`, one socket bound to the source address.
const UDP_SENDER = `
import dgram from 'node:dgram';
import net from 'node:net';
const o = JSON.parse(process.argv[1]);
const s = dgram.createSocket(net.isIPv6(o.to) ? 'udp6' : 'udp4');
await new Promise((resolve, reject) => { s.once('error', reject); s.bind({ address: o.from, port: 0 }, resolve); });
s.setTTL(o.ttl ?? 255);
for (const hex of o.payloads) {
  await new Promise((resolve, reject) => s.send(Buffer.from(hex, 'hex'), o.port, o.to, (e) => (e ? reject(e) : resolve())));
}
s.close();
`;

/** One flow of a FlowLoop: what the echo server saw, or why it failed. Times are Unix epoch ms. */
export interface Flow {
  start: number;
  end: number;
  ok: boolean;
  /** Source address the server saw (when ok). */
  ip?: string;
  error?: string;
}

/**
 * New flows (a TCP connection or a UDP request/reply) from a VPC source to the echo server, one
 * every intervalMs, each with its own source port and a timeout; they overlap, so a black hole
 * does not slow the loop down. Runs in the vpc namespace until stop().
 */
export class FlowLoop {
  readonly flows: Flow[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private stderr = '';

  constructor(lab: Lab, opts: { src: string; dst: string; port: number; proto: EchoProto; intervalMs?: number; timeoutMs?: number }) {
    const args = { intervalMs: 100, timeoutMs: 1000, ...opts };
    this.child = spawn('ip', ['netns', 'exec', lab.ns('vpc'), process.execPath, '--input-type=module', '-e', FLOW_LOOP, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.flows.push(JSON.parse(line) as Flow);
      } catch {
        /* not a flow line */
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  /** Flows that started at or after `ms`. */
  since(ms: number): Flow[] {
    return this.flows.filter((f) => f.start >= ms);
  }

  /** Resolves once `pred` holds for the flows seen so far; rejects after timeoutMs. */
  async waitFor(pred: (flows: Flow[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.flows)) {
      if (this.child.exitCode !== null) throw new Error(`flow loop exited (code ${this.child.exitCode}) before ${what}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`flow loop: ${what} not seen within ${timeoutMs} ms (${this.flows.length} flows; stderr: ${this.stderr})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops starting flows, lets the running ones finish, and resolves when the process is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

const FLOW_LOOP = `
import dgram from 'node:dgram';
import net from 'node:net';
const o = JSON.parse(process.argv[1]);
let running = 0, stopping = false;
const out = (f) => process.stdout.write(JSON.stringify(f) + '\\n');
function flow() {
  const start = Date.now();
  running++;
  let settled = false, sock;
  const done = (ok, detail) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    try { sock.destroy ? sock.destroy() : sock.close(); } catch {}
    out(ok ? { start, end: Date.now(), ok, ip: detail } : { start, end: Date.now(), ok, error: detail });
    if (--running === 0 && stopping) process.exit(0);
  };
  const timer = setTimeout(() => done(false, 'timeout'), o.timeoutMs);
  const reply = (text) => { const ip = String(text).split('\\n')[0].trim().split(' ')[0]; ip ? done(true, ip) : done(false, 'empty reply'); };
  if (o.proto === 'tcp') {
    let buf = '';
    sock = net.connect({ host: o.dst, port: o.port, localAddress: o.src });
    sock.on('data', (d) => { buf += d; if (buf.includes('\\n')) reply(buf); });
    sock.on('error', (e) => done(false, e.code || e.message));
  } else {
    sock = dgram.createSocket(net.isIPv6(o.dst) ? 'udp6' : 'udp4');
    sock.on('message', (m) => reply(m));
    sock.on('error', (e) => done(false, e.code || e.message));
    sock.bind({ address: o.src, port: 0 }, () => sock.send('ping\\n', o.port, o.dst));
  }
}
const tick = setInterval(flow, o.intervalMs);
flow();
process.on('SIGTERM', () => { stopping = true; clearInterval(tick); if (running === 0) process.exit(0); });
`;

/** The part of a tap Test that withLab needs. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

/**
 * Brings a lab up for a test and registers its teardown. A stale lab with the same prefix (left by
 * a killed run) is removed first: the prefix belongs to the calling test.
 */
export async function withLab(t: TeardownHost, opts: LabOptions & { prefix: string }): Promise<Lab> {
  const lab = new Lab(opts.prefix, opts);
  t.teardown(() => lab.down());
  await lab.down();
  await lab.up();
  return lab;
}
