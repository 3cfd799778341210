// Restart -> OVN Up (issue 13 item 2): our BFD restarted against a real OVN (scripts/lab/ovn.sh:
// OVN 23.03 with OVS's userspace datapath, its own prefix "vbo"), one replica at 3 x 100 ms.
// Each round: SIGKILL, OVN's SB says down (the lab's kicker wakes OVN's pinctrl, as Kube-OVN's
// other replicas would with their packets: docs/bfd-requirements.md OVN-01), then a new process
// starts at a random moment. "process start" = spawn to our first packet on the wire; "BFD" = that
// packet to OVN's SB status up (the lab's SB monitor, ms); total = spawn to SB up. For the engine
// alone (bfd-node.js) and the whole agent (`egress-agent run`, BFD only: the OVN lab has no
// underlay), alternating in one loop; Node.js alone is the baseline for the process start.
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { NodeChild, ROOT, fmt, log, median, parseEnvLines, sleep, startAgentRun, stats3 } from './lib.js';

const P = 'vbo';
const N = Number(process.env.BENCH_RESTARTS ?? 10);
const OVN_SH = path.join(ROOT, 'scripts/lab/ovn.sh');

async function ovn(command: string, ...args: string[]): Promise<string> {
  return String((await execa(OVN_SH, [command, '-p', P, ...args])).stdout);
}

const STATES = ['AdminDown', 'Down', 'Init', 'Up'] as const;

/**
 * BFD packets on the gateway's eth0 with their State field, from tcpdump's hex dump (its BFD
 * decoder takes our source ports for another protocol). IPv4 only: State is the top two bits of
 * the second byte of the Control packet, after the IP header (IHL) and the 8-byte UDP header.
 */
class WireBfd {
  readonly packets: { t: number; src: string; state: string }[] = [];
  private readonly proc: ResultPromise;
  private cur: { t: number; src: string; hex: string } | null = null;

  constructor(ns: string) {
    this.proc = execa('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'eth0', '-n', '-q', '-l', '-x', '-tt', '--time-stamp-precision=micro', '--immediate-mode', 'udp port 3784'],
      { stdout: 'pipe', stderr: 'ignore', reject: false });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const head = /^(\d+\.\d+) IP (\S+)\.\d+ > /.exec(l);
      if (head) {
        this.finish();
        this.cur = { t: Number(head[1]) * 1000, src: head[2]!, hex: '' };
        return;
      }
      const hex = /^\s+0x[0-9a-f]+:\s+(.*)$/.exec(l);
      if (hex && this.cur) this.cur.hex += hex[1]!.replace(/\s/g, '');
    });
  }

  private finish(): void {
    const c = this.cur;
    this.cur = null;
    if (!c || c.hex.length < 4) return;
    const ihl = (parseInt(c.hex.slice(0, 2), 16) & 0xf) * 4;
    const at = (ihl + 8 + 1) * 2;
    if (c.hex.length < at + 2) return;
    this.packets.push({ t: c.t, src: c.src, state: STATES[parseInt(c.hex.slice(at, at + 2), 16) >> 6]! });
  }

  async ready(): Promise<void> { await sleep(700); }

  async stop(): Promise<void> {
    this.proc.kill('SIGINT');
    await this.proc;
  }

  /** Time of the first packet from src at or after `from` (in `state`, when given). */
  first(src: string, from: number, state?: string): number | undefined {
    return this.packets.find((p) => p.src === src && p.t >= from && (state === undefined || p.state === state))?.t;
  }
}

interface Info { routerPort: { ipv4: string }; gateways: Record<string, { ns: string; ipv4: string }> }

/** Epoch ms of OVN's first SB `up` for dst at or after `since`. */
async function sbUpAt(dst: string, since: number): Promise<number> {
  for (const line of (await ovn('events')).split('\n')) {
    const [at, ip, status] = line.trim().split(/\s+/);
    if (ip === dst && status === 'up' && Number(at) >= since) return Number(at);
  }
  throw new Error(`no SB up event for ${dst} since ${since}`);
}

async function main(): Promise<void> {
  await ovn('down').catch(() => undefined);
  await ovn('up', '--gateways', '1', '--family', '4');
  const dir = await mkdtemp(path.join(tmpdir(), 'vbo-'));
  const row = () => ({ start: [] as number[], bfd: [] as number[], total: [] as number[], sb: [] as number[] });
  const rows = { engine: row(), agent: row() };
  const bare: number[] = [];
  let cap: WireBfd | undefined;
  let running: { kill(): Promise<unknown> } | undefined;
  try {
    const info = JSON.parse(await ovn('info')) as Info;
    const gw = info.gateways.gw1!;
    const local = gw.ipv4, remote = info.routerPort.ipv4;
    await ovn('bfd-route', local, '100', '100', '3');
    await ovn('kicker', 'start');
    cap = new WireBfd(gw.ns);
    await cap.ready();
    const env = parseEnvLines(await ovn('env', 'gw1'));
    // Same discriminator every time: OVN keeps the session's remote discriminator across our restarts.
    const spec = { local, remote, minTxMs: 100, minRxMs: 100, multiplier: 3, passive: false, minTtl: 254, localDiscr: 0x0b0f0001 };
    const starters: Record<'engine' | 'agent', () => { kill(): Promise<unknown> }> = {
      engine: () => {
        const c = new NodeChild(gw.ns, 'bfd-node.js', [JSON.stringify([spec])]);
        return { kill: () => c.kill() };
      },
      agent: () => {
        const a = startAgentRun(gw.ns, dir, { ...env, EGRESS_AGENT_ALLOW_NO_FAMILIES: 'true' });
        return { kill: async () => { a.kill('SIGKILL'); await a; } };
      },
    };
    running = starters.engine();
    await ovn('bfd-wait', local, 'up', '30');
    for (let i = 0; i < N; i++) {
      for (const who of ['engine', 'agent'] as const) {
        await sleep(1500);
        await running.kill();
        running = undefined;
        await ovn('bfd-wait', local, 'down', '10');
        const b0 = Date.now();
        await execa('ip', ['netns', 'exec', gw.ns, process.execPath, '-e', '']);
        if (who === 'engine') bare.push(Date.now() - b0);
        await sleep(Math.random() * 1000);
        const t0 = Date.now();
        running = starters[who]();
        await ovn('bfd-wait', local, 'up', '30');
        const sbUp = await sbUpAt(local, t0);
        await sleep(200); // tcpdump's last line is parsed when the next packet arrives
        const first = cap.first(local, t0)!;
        const wireUp = cap.first(remote, t0, 'Up')!;
        const r = rows[who];
        r.start.push(first - t0); r.bfd.push(wireUp - first); r.total.push(wireUp - t0); r.sb.push(sbUp - t0);
        log(`ovn restart ${i + 1}/${N} (${who}): ${fmt(first - t0)} + ${fmt(wireUp - first)} ms, SB up at ${fmt(sbUp - t0)} ms`);
      }
    }
  } finally {
    await running?.kill().catch(() => undefined);
    await cap?.stop();
    await ovn('kicker', 'stop').catch(() => undefined);
    await ovn('down').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write([
    `### Restart -> OVN Up (3 x 100 ms, one replica, ${N} restarts each; median | p90 | max, ms)`,
    '',
    'Our side is SIGKILLed, OVN\'s SB says down, a new process starts at a random moment. "process start" = spawn',
    '(`ip netns exec node ...`) to our first packet on the wire; "BFD" = that packet to OVN\'s first packet with',
    'State Up on the wire (OVN\'s BFD is Up); total = spawn to that packet. "SB up" = spawn to OVN\'s SB status',
    '`up` (the lab\'s SB monitor), which is what moves ECMP: ovn-controller writes pinctrl\'s state to the SB later.',
    'The whole agent runs BFD-only (`EGRESS_AGENT_ALLOW_NO_FAMILIES=true`: the OVN lab has no underlay), so it',
    'has no dataplane to verify before BFD starts. The kicker (junk UDP to the router port every 50 ms) stands',
    'in for the other replicas that wake OVN\'s pinctrl in a real gateway.',
    '',
    '| restarted side | process start: median | p90 | max | BFD (first packet -> OVN Up on the wire): median | p90 | max | total (start -> OVN Up on the wire): median | p90 | max | start -> OVN SB up: median | p90 | max |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    `| ours, the engine alone (bfd-node.js) | ${stats3(rows.engine.start)} | ${stats3(rows.engine.bfd)} | ${stats3(rows.engine.total)} | ${stats3(rows.engine.sb)} |`,
    `| ours, the whole agent as bin/egress-agent starts it (startup snapshot, code cache; BFD only) | ${stats3(rows.agent.start)} | ${stats3(rows.agent.bfd)} | ${stats3(rows.agent.total)} | ${stats3(rows.agent.sb)} |`,
    `| Node.js alone (\`node -e ''\`, spawn to exit; baseline for process start) | ${stats3(bare)} | - | - | - | - | - | - | - | - | - |`,
    '',
    `Medians against issue 13's goal of 500 ms to OVN's Up: the engine alone ${fmt(median(rows.engine.total))} ms, the whole agent ${fmt(median(rows.agent.total))} ms.`,
    `OVN's SB (and so ECMP) follows ${fmt(median(rows.engine.sb) - median(rows.engine.total))} ms after its BFD is Up on the wire: OVN's own pipeline, the same for any peer.`,
    '',
  ].join('\n'));
}

await main();
