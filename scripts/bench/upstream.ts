// Benchmark: underlay failure -> the upstream monitor's verdict -> the BFD peer (FRR bfdd in the
// lab's ovn namespace, playing OVN) seeing the replica leave Up, per failure kind; and repair ->
// the peer seeing it Up again (includes the hold-down). Runs a lab (prefix vuxb, 1 replica, dual
// stack) and agent/upstream/watch-cli with --bfd in gw1, breaks the underlay from the ext side N
// times per kind, and prints a Markdown table of medians (min-max). Measurements, not pass/fail.
//   node dist/scripts/bench/upstream.js            (BENCH_UPSTREAM_RUNS=N, default 5)
// Times start just before the command that breaks/repairs the underlay is spawned (a few ms of
// process start are included); FRR's times come from bfdd's own log (µs timestamps).
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UpstreamOptionsInput } from '../../agent/config/upstream-options.js';
import { NodeChild } from './lib.js';
import type { UpstreamFamilyStatus } from '../../agent/upstream/policy.js';

const PREFIX = 'vuxb';
const RUNS = Number(process.env.BENCH_UPSTREAM_RUNS ?? 5);
const HOLD_MS = 1000;
const BFD = { minTxMs: 100, minRxMs: 100, multiplier: 3 };
const WAIT_S = 30;

const here = fileURLToPath(import.meta.url);
// Same layout from source (scripts/bench/upstream.ts) and from dist (dist/scripts/bench/upstream.js).
const WATCH = fileURLToPath(new URL(`../../agent/upstream/watch-cli${path.extname(here)}`, import.meta.url));
function repoRoot(): string {
  for (let dir = path.dirname(here); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'scripts/lab/lab.sh'))) return dir;
  }
  throw new Error(`scripts/lab/lab.sh not found above ${here}`);
}
const LAB_SH = path.join(repoRoot(), 'scripts/lab/lab.sh');

const log = (msg: string): void => void process.stderr.write(`bench upstream: ${msg}\n`);
const lab = (cmd: string, ...args: string[]) => execa(LAB_SH, [cmd, '-p', PREFIX, ...args]);
const ns = (node: string): string => `${PREFIX}-${node}`;
const inExt = (...argv: string[]) => execa('ip', ['netns', 'exec', ns('ext'), ...argv]);

interface WatchLine { type: string; at: number; all?: UpstreamFamilyStatus[] }

/** watch-cli in gw1: its JSON lines (monitor status changes) and a wait on them. */
class Watcher {
  private readonly child: NodeChild;

  constructor(opts: UpstreamOptionsInput, bfdArg: string) {
    this.child = new NodeChild(ns('gw1'), WATCH, ['--log-level', 'error', '--bfd', bfdArg, JSON.stringify(opts)]);
  }

  get lines(): WatchLine[] { return this.child.messages as unknown as WatchLine[]; }

  async waitStatus(what: string, pred: (all: UpstreamFamilyStatus[]) => boolean, since: number): Promise<WatchLine> {
    const hit = await this.child.waitFor((m) => (m.type === 'status' || m.type === 'started') && pred(m.all as UpstreamFamilyStatus[]), WAIT_S * 1000, since)
      .catch(() => { throw new Error(`no ${what} within ${WAIT_S} s`); });
    return hit as unknown as WatchLine;
  }

  async stop(): Promise<void> {
    await this.child.kill('SIGTERM');
  }
}

interface Kind {
  name: string;
  /** What bounds detection, for the table. */
  bound: string;
  probes: boolean;
  break(): Promise<unknown>;
  repair(): Promise<unknown>;
}

interface Sample { detectMs: number; frrDownMs: number[]; frrUpMs: number }

function stats(xs: number[]): string {
  if (xs.length === 0) return 'n/a';
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `${Math.round(mid)} (${Math.round(s[0]!)}–${Math.round(s[s.length - 1]!)})`;
}

async function frrTransition(peer: string, state: 'down' | 'up', sinceMs: number): Promise<number> {
  await lab('frr', 'wait', peer, state, String(WAIT_S));
  const { stdout } = await lab('frr', 'transition', peer, state, String(Math.floor(sinceMs)));
  return Number(String(stdout).trim().split(' ')[0]);
}

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`BENCH_UPSTREAM_RUNS must be a positive integer, got ${process.env.BENCH_UPSTREAM_RUNS}`);
  await lab('down');
  await lab('up', '--replicas', '1', '--family', 'dual');
  let watcher: Watcher | undefined;
  const cleanup = async (): Promise<void> => {
    await watcher?.stop();
    await lab('down');
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    await lab('frr', 'up', String(BFD.minTxMs), String(BFD.minRxMs), String(BFD.multiplier));
    const info = JSON.parse(String((await lab('info')).stdout)) as {
      serverPort: number;
      ipv4: { bfdPort: string; externalGateway: string; server: string; gateways: { gw1: { eth0: string; net1: string } } };
      ipv6: { bfdPort: string; externalGateway: string; server: string; gateways: { gw1: { eth0: string; net1: string } } };
    };
    const { ipv4: v4, ipv6: v6 } = info;
    const peers = [v4.gateways.gw1.eth0, v6.gateways.gw1.eth0];
    const bfdArg = JSON.stringify([
      { local: v4.gateways.gw1.eth0, remote: v4.bfdPort, localDiscr: 0x7e5b0001, passive: false, minTtl: 254, ...BFD },
      { local: v6.gateways.gw1.eth0, remote: v6.bfdPort, localDiscr: 0x7e5b0002, passive: false, minTtl: 254, ...BFD },
    ]);
    const drop = (op: '-I' | '-D') => Promise.all([
      inExt('iptables', op, 'INPUT', '-s', v4.gateways.gw1.net1, '-d', v4.server, '-j', 'DROP'),
      inExt('ip6tables', op, 'INPUT', '-s', v6.gateways.gw1.net1, '-d', v6.server, '-j', 'DROP'),
    ]);
    const kinds: Kind[] = [
      {
        name: 'net1 carrier lost (peer veth down)', bound: 'immediate (RTM_NEWLINK)', probes: false,
        break: () => execa('ip', ['-n', ns('ext'), 'link', 'set', 'p-gw1', 'down']),
        repair: () => execa('ip', ['-n', ns('ext'), 'link', 'set', 'p-gw1', 'up']),
      },
      {
        name: 'external gateway address deleted', bound: 'verify phase ≤ 1 s + ucast_solicit 3 × retrans_time 1 s: 3–4 s', probes: false,
        break: () => Promise.all([
          execa('ip', ['-n', ns('ext'), 'addr', 'del', `${v4.externalGateway}/16`, 'dev', 'br-ext']),
          execa('ip', ['-n', ns('ext'), 'addr', 'del', `${v6.externalGateway}/64`, 'dev', 'br-ext']),
        ]),
        repair: () => Promise.all([
          execa('ip', ['-n', ns('ext'), 'addr', 'add', `${v4.externalGateway}/16`, 'dev', 'br-ext']),
          execa('ip', ['-n', ns('ext'), 'addr', 'add', `${v6.externalGateway}/64`, 'dev', 'br-ext', 'nodad']),
        ]),
      },
      {
        name: "probe target dropped (probeFailureAction 'withdraw')", bound: 'probe phase ≤ 1 s + (fall 3 − 1) × interval 1 s + timeout 0.5 s: 2.5–3.5 s', probes: true,
        break: () => drop('-I'),
        repair: () => drop('-D'),
      },
    ];

    const rows: string[] = [];
    for (const kind of kinds) {
      const opts: UpstreamOptionsInput = {
        families: [
          { family: 4, interface: 'net1', gateway: v4.externalGateway },
          { family: 6, interface: 'net1', gateway: v6.externalGateway },
        ],
        probes: kind.probes ? [{ kind: 'icmp', address: v4.server }, { kind: 'tcp', address: v6.server, port: info.serverPort }] : [],
        probeFailureAction: 'withdraw', holdDownMs: HOLD_MS,
      };
      watcher = new Watcher(opts, bfdArg);
      await watcher.waitStatus('healthy start', (all) => all.every((s) => s.healthy), 0);
      for (const p of peers) await lab('frr', 'wait', p, 'up', String(WAIT_S));
      const samples: Sample[] = [];
      for (let run = 0; run < RUNS; run++) {
        const mark = watcher.lines.length;
        const t0 = Date.now();
        await kind.break();
        const detected = await watcher.waitStatus('withdraw', (all) => all.every((s) => s.withdraw), mark);
        const frrDownMs = [];
        for (const p of peers) frrDownMs.push(await frrTransition(p, 'down', t0));
        const mark2 = watcher.lines.length;
        const t1 = Date.now();
        await kind.repair();
        const frrUpMs = await frrTransition(peers[0]!, 'up', t1);
        await watcher.waitStatus('healthy', (all) => all.every((s) => s.healthy && !s.withdraw), mark2);
        for (const p of peers) await lab('frr', 'wait', p, 'up', String(WAIT_S));
        samples.push({ detectMs: detected.at - t0, frrDownMs, frrUpMs });
        log(`${kind.name} run ${run + 1}/${RUNS}: detected ${detected.at - t0} ms, FRR down ${frrDownMs.join('/')} ms, FRR up after repair ${frrUpMs} ms`);
        await new Promise((r) => setTimeout(r, 500));
      }
      await watcher.stop();
      watcher = undefined;
      // The engine closed without AdminDown: let FRR time the sessions out before the next kind.
      for (const p of peers) await lab('frr', 'wait', p, 'down', String(WAIT_S));
      rows.push(`| ${kind.name} | ${samples.length} | ${stats(samples.map((s) => s.detectMs))} | ` +
        `${stats(samples.map((s) => s.frrDownMs[0]!))} | ${stats(samples.map((s) => s.frrDownMs[1]!))} | ` +
        `${stats(samples.map((s) => s.frrUpMs))} | ${kind.bound} |`);
    }

    console.log(`Lab \`${PREFIX}\` (1 replica, dual stack), FRR bfdd ${BFD.minTxMs}/${BFD.minRxMs}/${BFD.multiplier} as the peer, ` +
      `hold-down ${HOLD_MS} ms, neighbour re-verification every 1 s, probes every 1 s (timeout 500 ms, fall 3, rise 2). ` +
      'Milliseconds, median (min–max), from the command that breaks or repairs the underlay.');
    console.log();
    console.log('| failure | runs | monitor withdraws (both families) | FRR sees IPv4 session leave Up | FRR sees IPv6 session leave Up | repair → FRR sees IPv4 Up (incl. hold-down) | detection bound |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log();
    console.log('OVN itself adds its own pipeline after the peer sees the session go down (SB write, northd, ovn-controller flows; see the BFD reference §2.8), which this lab does not model.');
  } finally {
    await cleanup();
  }
}

await main();
