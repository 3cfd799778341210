// Upstream health in the lab (prefix vut): the upstream watcher (agent/upstream/watch-cli.ts, one
// UpstreamMonitor; with --bfd also the real BFD engine wired as the daemon wires it) runs inside
// gateway namespaces via `ip netns exec` while the test breaks the underlay from the ext side:
// net1's carrier, the external gateway's address, the probe target. With BFD, FRR bfdd in the ovn
// namespace (OVN's role) must see the replica leave Up and the lab's BFD-following ECMP route drop
// it. Timings appear only as the generous bounds the feature promises (immediate link, neighbour
// within the kernel's probe time, probes within fall x interval), never as performance assertions.
import { execa, type ResultPromise } from 'execa';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { BfdSessionSpec } from '../../agent/bfd/types.js';
import type { UpstreamOptionsInput } from '../../agent/config/upstream-options.js';
import type { UpstreamFamilyStatus } from '../../agent/upstream/policy.js';
import { Lab } from '../helpers/lab.js';

const WATCH = fileURLToPath(new URL('../../agent/upstream/watch-cli.ts', import.meta.url));

/** One JSON line of watch-cli. */
interface WatchLine {
  type: 'started' | 'status' | 'probe' | 'action' | 'bfd';
  at: number;
  all?: UpstreamFamilyStatus[];
  op?: string;
  local?: string;
  to?: string;
  diag?: string;
}

class Watcher {
  readonly lines: WatchLine[] = [];
  private waiters: (() => void)[] = [];
  readonly proc: ResultPromise;

  constructor(readonly ns: string, opts: UpstreamOptionsInput, bfd: BfdSessionSpec[] = []) {
    // Keep only the TypeScript loader (and source maps) of the flags tap started us with.
    const nodeArgs = process.execArgv.filter((a) => a.includes('typescript') || a === '--enable-source-maps');
    const bfdArgs = bfd.length > 0 ? ['--bfd', JSON.stringify(bfd)] : [];
    this.proc = execa('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, WATCH, ...bfdArgs, JSON.stringify(opts)], {
      stdin: 'ignore', stdout: 'pipe', stderr: 'inherit', reject: false, buffer: false,
    });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as WatchLine);
      } catch {
        return;
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get mark(): number {
    return this.lines.length;
  }

  /** The first line from index `since` matching `pred`; rejects after `ms` with everything seen. */
  waitFor(what: string, pred: (l: WatchLine) => boolean, ms: number, since = 0): Promise<WatchLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.ns}: no ${what} within ${ms} ms; lines: ${JSON.stringify(this.lines.slice(since))}`)), ms);
      const check = (): void => {
        const l = this.lines.slice(since).find(pred);
        if (l) {
          clearTimeout(timer);
          resolve(l);
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Waits for a status line where every family satisfies `pred`. */
  waitStatus(what: string, pred: (s: UpstreamFamilyStatus) => boolean, ms: number, since = 0): Promise<WatchLine> {
    return this.waitFor(what, (l) => (l.type === 'status' || l.type === 'started') && l.all!.length > 0 && l.all!.every(pred), ms, since);
  }

  statusesSince(since: number): UpstreamFamilyStatus[] {
    return this.lines.slice(since).filter((l) => l.type === 'status').flatMap((l) => l.all!);
  }

  async stop(): Promise<void> {
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.proc;
    clearTimeout(killer);
  }
}

const healthy = (s: UpstreamFamilyStatus): boolean => s.healthy && !s.withdraw;
const hasReason = (s: UpstreamFamilyStatus, signal: string, state = 'failed'): boolean =>
  s.reasons.some((r) => r.signal === signal && r.state === state);

t.setTimeout(600_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

const lab = new Lab('vut', { replicas: 2, family: 'dual' });
const watchers: Watcher[] = [];
// Watchers first (they run inside the lab's namespaces), then the lab.
t.teardown(async () => {
  await Promise.allSettled(watchers.map((c) => c.stop()));
  await lab.down();
});
await lab.down(); // a stale lab left by a killed run: the prefix belongs to this test
await lab.up();
const info = await lab.info();
const v4 = info.ipv4!, v6 = info.ipv6!;
const ext = (...argv: string[]) => lab.exec('ext', argv);
const sysctl = async (key: string): Promise<number> => Number(String((await lab.exec('gw1', ['sysctl', '-n', key])).stdout).trim());

const HOLD_MS = 2000;
const VERIFY_MS = 1000;
// Start-up includes compiling this file in the child under a noisy, 2-core machine.
const START_MS = 60_000;
const SLACK_MS = 3000;
const probes = [
  { kind: 'icmp' as const, address: v4.server! },
  { kind: 'tcp' as const, address: v6.server!, port: info.serverPort },
];
const options = (extra: Partial<UpstreamOptionsInput> = {}): UpstreamOptionsInput => ({
  families: [
    { family: 4, interface: 'net1', gateway: v4.externalGateway! },
    { family: 6, interface: 'net1', gateway: v6.externalGateway! },
  ],
  probes, holdDownMs: HOLD_MS, neighbourVerifyIntervalMs: VERIFY_MS, ...extra,
});
const start = async (gw: 'gw1' | 'gw2', opts: UpstreamOptionsInput, bfd: BfdSessionSpec[] = []): Promise<Watcher> => {
  const c = new Watcher(lab.ns(gw), opts, bfd);
  watchers.push(c);
  await c.waitStatus('healthy start', healthy, START_MS);
  return c;
};
const stop = async (c: Watcher): Promise<void> => {
  watchers.splice(watchers.indexOf(c), 1);
  await c.stop();
};

// Neighbour failure needs the kernel's unicast probes to go unanswered after our PROBE kick.
const neighbourBoundMs = VERIFY_MS + (await sysctl('net.ipv4.neigh.net1.ucast_solicit')) * (await sysctl('net.ipv4.neigh.net1.retrans_time_ms')) + SLACK_MS;
const probeFailBoundMs = 3 * 1000 + 500 + SLACK_MS; // fall x interval + timeout
const recoverBoundMs = 2 * 1000 + VERIFY_MS + HOLD_MS + SLACK_MS; // rise x interval, re-resolve, hold-down

await t.test('net1 carrier loss withdraws both families at once; carrier back returns after hold-down', async (t) => {
  const c = await start('gw1', options());
  const m = c.mark;
  await ext('ip', 'link', 'set', 'p-gw1', 'down');
  const down = await c.waitStatus('withdraw on carrier loss', (s) => s.withdraw && !s.healthy && hasReason(s, 'link'), 1000 + SLACK_MS, m);
  for (const s of down.all!) t.match(s.reasons.find((r) => r.signal === 'link')!.message, /^link net1: no carrier/, `IPv${s.family} reason`);
  const m2 = c.mark;
  await ext('ip', 'link', 'set', 'p-gw1', 'up');
  const hold = await c.waitStatus('hold-down after carrier is back', (s) => s.withdraw && hasReason(s, 'hold-down', 'hold-down') && !hasReason(s, 'link'), recoverBoundMs, m2);
  const back = await c.waitStatus('healthy after hold-down', healthy, recoverBoundMs, m2);
  t.ok(back.at - hold.at >= HOLD_MS - 50, `healthy no earlier than the hold-down (${back.at - hold.at} ms after it began)`);
  await stop(c);
});

await t.test("probe target black-holed, probeFailureAction 'report': not ready, never withdrawn", async (t) => {
  const c = await start('gw1', options());
  const m = c.mark;
  const rules = [
    ['iptables', '-s', v4.gateways.gw1!.net1!, '-d', v4.server!],
    ['ip6tables', '-s', v6.gateways.gw1!.net1!, '-d', v6.server!],
  ];
  for (const [cmd, ...sel] of rules) await ext(cmd!, '-I', 'INPUT', ...sel, '-j', 'DROP');
  try {
    const down = await c.waitStatus('probe failure (report)', (s) => !s.healthy && hasReason(s, 'probe'), probeFailBoundMs, m);
    for (const s of down.all!) t.equal(s.withdraw, false, `IPv${s.family} stays in ECMP`);
    t.match(down.all!.find((s) => s.family === 4)!.reasons[0]!.message, /^probe icmp 198\.51\.100\.10: 3 consecutive failures/);
    t.match(down.all!.find((s) => s.family === 6)!.reasons[0]!.message, /^probe tcp \[2001:db8:100::10\]:8080: 3 consecutive failures/);
  } finally {
    for (const [cmd, ...sel] of rules) await ext(cmd!, '-D', 'INPUT', ...sel, '-j', 'DROP');
  }
  await c.waitStatus('healthy after the probe target is back', healthy, recoverBoundMs, m);
  t.notOk(c.statusesSince(m).some((s) => s.withdraw), 'no status withdrew during the whole episode');
  await stop(c);
});

await t.test("probe target black-holed, probeFailureAction 'withdraw': withdrawn until rise + hold-down", async (t) => {
  const c = await start('gw1', options({ probeFailureAction: 'withdraw' }));
  const m = c.mark;
  await ext('iptables', '-I', 'INPUT', '-s', v4.gateways.gw1!.net1!, '-d', v4.server!, '-j', 'DROP');
  try {
    const down = await c.waitFor('IPv4 withdraw on probe failure', (l) => l.type === 'status' && l.all!.some((s) => s.family === 4 && s.withdraw && hasReason(s, 'probe')), probeFailBoundMs, m);
    t.ok(down.all!.find((s) => s.family === 6)!.healthy, 'IPv6 (its probe target still answers) stays healthy');
  } finally {
    await ext('iptables', '-D', 'INPUT', '-s', v4.gateways.gw1!.net1!, '-d', v4.server!, '-j', 'DROP');
  }
  await c.waitStatus('healthy after the probe target is back', healthy, recoverBoundMs, m);
  await stop(c);
});

await t.test('HTTP probe: healthy while the server answers 200, failed (reported) once it stops', async (t) => {
  const port = info.serverPort + 1;
  const server = execa('ip', ['netns', 'exec', lab.ns('ext'), process.execPath, '-e',
    `require('http').createServer((q, r) => r.end('ok')).listen(${port}, '${v4.server}', () => console.log('listening'))`],
  { stdin: 'ignore', stdout: 'pipe', stderr: 'inherit', reject: false, buffer: false });
  t.teardown(() => void server.kill('SIGKILL'));
  await new Promise<void>((resolve) => createInterface({ input: server.stdout! }).once('line', () => resolve()));
  const c = await start('gw1', options({ probes: [{ kind: 'http', url: `http://${v4.server}:${port}/healthz` }] }));
  const m = c.mark;
  server.kill('SIGTERM');
  await server;
  const down = await c.waitFor('IPv4 HTTP probe failure', (l) => l.type === 'status' && l.all!.some((s) => s.family === 4 && hasReason(s, 'probe')), probeFailBoundMs, m);
  const s4 = down.all!.find((s) => s.family === 4)!;
  t.equal(s4.withdraw, false, "probeFailureAction 'report': not withdrawn");
  t.match(s4.reasons.find((r) => r.signal === 'probe')!.message, /^probe http http:\/\/198\.51\.100\.10:\d+\/healthz: 3 consecutive failures .*ECONNREFUSED/);
  await stop(c);
});

await t.test('full path: FRR bfdd sees the replica AdminDown, ECMP drops it, and both come back', async (t) => {
  await lab.frrUp();
  await lab.run('ecmp', ['follow']);
  const env = await lab.env('gw1');
  const timers = { minTxMs: Number(env.BFD_MIN_TX), minRxMs: Number(env.BFD_MIN_RX), multiplier: Number(env.BFD_MULTI), passive: false, minTtl: 254 };
  const sessions = (gw: 'gw1' | 'gw2', n: number): BfdSessionSpec[] => [
    { local: v4.gateways[gw]!.eth0!, remote: v4.bfdPort!, localDiscr: 0x7e570000 + n * 2, ...timers },
    { local: v6.gateways[gw]!.eth0!, remote: v6.bfdPort!, localDiscr: 0x7e570001 + n * 2, ...timers },
  ];
  const gw1 = await start('gw1', options(), sessions('gw1', 1));
  await start('gw2', options(), sessions('gw2', 2));
  for (const gw of ['gw1', 'gw2'] as const) {
    for (const peer of [v4.gateways[gw]!.eth0!, v6.gateways[gw]!.eth0!]) await lab.frrWait(peer, 'up', 30);
  }
  const bothRe = /via 10\.16\.0\.11 [\s\S]*via 10\.16\.0\.12 |via 10\.16\.0\.12 [\s\S]*via 10\.16\.0\.11 /;
  const waitEcmp = async (what: string, pred: (shown: string) => boolean, ms: number): Promise<string> => {
    const end = Date.now() + ms;
    for (;;) {
      const shown = await lab.ecmpShow();
      if (pred(shown)) return shown;
      if (Date.now() > end) throw new Error(`ecmp: ${what} not seen within ${ms} ms; table 100 now:\n${shown}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await waitEcmp('both replicas', (s) => bothRe.test(s), 10_000);

  const detectionS = (timers.multiplier * Math.max(timers.minTxMs, timers.minRxMs) + 1000 + SLACK_MS) / 1000;
  await ext('ip', 'link', 'set', 'p-gw1', 'down');
  for (const peer of [v4.gateways.gw1!.eth0!, v6.gateways.gw1!.eth0!]) {
    const ms = await lab.frrWait(peer, 'down', detectionS); // rejects past the bound
    t.equal(await lab.frrState(peer), 'down', `FRR sees ${peer} down (${ms} ms after the carrier loss, bound ${detectionS} s)`);
  }
  const frr = await lab.frrJson();
  for (const peer of [v4.gateways.gw1!.eth0!, v6.gateways.gw1!.eth0!]) {
    const p = frr.find((x) => x.peer === peer)!;
    t.equal(p['remote-diagnostic'], 'concatenated path down', `${peer}: the replica told FRR why (diag 6)`);
  }
  t.ok(gw1.lines.some((l) => l.type === 'bfd' && l.to === 'AdminDown' && l.diag === 'ConcatenatedPathDown'), 'gw1 engine went AdminDown with Concatenated Path Down');
  for (const peer of [v4.gateways.gw2!.eth0!, v6.gateways.gw2!.eth0!]) t.equal(await lab.frrState(peer), 'up', `gw2 ${peer} stays up`);
  const only2 = await waitEcmp('gw1 removed', (s) => !/10\.16\.0\.11|fd00:10:16::11\b/.test(s) && /10\.16\.0\.12/.test(s), 10_000);
  t.match(only2, /fd00:10:16::12/, 'ECMP keeps gw2 for IPv6');

  await ext('ip', 'link', 'set', 'p-gw1', 'up');
  for (const peer of [v4.gateways.gw1!.eth0!, v6.gateways.gw1!.eth0!]) {
    const ms = await lab.frrWait(peer, 'up', (recoverBoundMs + 2000) / 1000);
    t.equal(await lab.frrState(peer), 'up', `FRR sees ${peer} up again (${ms} ms after the carrier returned)`);
  }
  await waitEcmp('both replicas again', (s) => bothRe.test(s), 10_000);
  t.ok(gw1.lines.some((l) => l.type === 'action' && l.op === 'adminUp'), 'gw1 took its sessions out of AdminDown');
});

// Last: deleting the gateway address also flushes ext's return routes via it (not needed here).
await t.test('external gateway address deleted: the neighbour goes FAILED, withdraw; re-added: back', async (t) => {
  const c = watchers.find((x) => x.ns === lab.ns('gw1')) ?? await start('gw1', options());
  const m = c.mark;
  await ext('ip', 'addr', 'del', `${v4.externalGateway}/16`, 'dev', 'br-ext');
  await ext('ip', 'addr', 'del', `${v6.externalGateway}/64`, 'dev', 'br-ext');
  const down = await c.waitStatus('withdraw on FAILED neighbour', (s) => s.withdraw && hasReason(s, 'neighbour'), neighbourBoundMs, m);
  for (const s of down.all!) {
    t.match(s.reasons.find((r) => r.signal === 'neighbour')!.message, /FAILED|unresolved after FAILED/, `IPv${s.family} neighbour reason`);
  }
  await ext('ip', 'addr', 'add', `${v4.externalGateway}/16`, 'dev', 'br-ext');
  await ext('ip', 'addr', 'add', `${v6.externalGateway}/64`, 'dev', 'br-ext', 'nodad');
  await c.waitStatus('healthy after the gateway is back', healthy, recoverBoundMs, m);
});
