// Daemon benchmarks (issues 5 and 6): the whole agent in a lab replica with FRR as its BFD peer.
// - RSS (total and anonymous) and CPU at idle with two sessions; baseline: `node -e` idling.
// - exec probe cost: the native client vs the Node.js CLI doing the same `probe live`.
// - drain reaction: SIGTERM -> the peer's Down (AdminDown) vs SIGKILL -> the peer's detection.
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, cpuMs, fmt, lab, labEnv, log, median, sleep } from './lib.js';

const P = 'vbd';
const GW = `${P}-gw1`;
const LOCAL = '10.16.0.11';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function startAgent(dir: string, env: Record<string, string>): ResultPromise {
  return execa('ip', ['netns', 'exec', GW, path.join(ROOT, 'bin/egress-agent'), 'run', '--log-level', 'warn'], {
    env: { PATH: process.env.PATH!, ...env, EGRESS_AGENT_SOCKET: `${dir}/control.sock`, EGRESS_AGENT_COMPAT_SOCKET: `${dir}/compat.sock`,
      EGRESS_AGENT_BFD_STATE_PATH: `${dir}/bfd-state.json` },
    extendEnv: false, reject: false, stdout: 'ignore', stderr: 'ignore', cwd: ROOT,
  });
}

async function mem(pid: number): Promise<{ rss: number; anon: number }> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}

async function timeCommand(argv: string[]): Promise<{ ms: number; maxRssMiB: number; code: number }> {
  const t0 = performance.now();
  const r = await execa('/usr/bin/time', ['-f', '%M', ...argv], { reject: false, cwd: ROOT });
  const ms = performance.now() - t0;
  const kb = Number(r.stderr.trim().split('\n').pop());
  return { ms, maxRssMiB: kb / 1024, code: r.exitCode ?? -1 };
}

async function main(): Promise<void> {
  await lab('down', P).catch(() => undefined);
  await lab('up', P, '--replicas', '1', '--family', 'dual');
  const dir = await mkdtemp(path.join(tmpdir(), 'vbd-'));
  const out: string[] = [];
  try {
    await lab('frr', P, 'up', '100', '100', '3');
    const env = await labEnv(P, 'gw1');
    let agent = startAgent(dir, env);
    await lab('frr', P, 'wait', LOCAL, 'up', '30');
    await lab('frr', P, 'wait', 'fd00:10:16::11', 'up', '30');
    await sleep(5000);
    const pid = agent.pid!; // ip netns exec and bin/egress-agent both exec: this is node
    const m = await mem(pid);
    const c0 = await cpuMs(pid); const w0 = Date.now();
    await sleep(10000);
    const cpu = ((await cpuMs(pid)) - c0) / (Date.now() - w0) * 100;
    const base = execa('node', ['-e', 'setInterval(() => {}, 1000)'], { reject: false });
    await sleep(2000);
    const bm = await mem(base.pid!);
    base.kill('SIGKILL');
    await base;
    log(`agent rss ${fmt(m.rss)} MiB (anon ${fmt(m.anon)}), cpu ${fmt(cpu, 2)} %`);
    out.push(
      '### Agent memory and CPU at idle (2 BFD sessions at 3 x 100 ms, dataplane managed, dual-stack)',
      '',
      'RSS counts the mapped Node.js binary (file-backed, shared, reclaimable); anonymous RSS is what the',
      'process itself allocated. Kube-OVN gives the container 64 MiB; our target is 48 MiB steady RSS.',
      '',
      '| process | RSS MiB | anonymous RSS MiB | CPU % of one core (10 s) |',
      '|---|---|---|---|',
      `| egress-agent run | ${fmt(m.rss)} | ${fmt(m.anon)} | ${fmt(cpu, 2)} |`,
      `| baseline: \`node -e "setInterval(...)"\` | ${fmt(bm.rss)} | ${fmt(bm.anon)} | - |`,
      '',
    );

    const probe = [], nodeProbe = [];
    for (let i = 0; i < 20; i++) {
      probe.push(await timeCommand(['ip', 'netns', 'exec', GW, 'native/out/egress-agent-probe', 'live', '--socket', `${dir}/control.sock`]));
      if (i < 10) nodeProbe.push(await timeCommand(['ip', 'netns', 'exec', GW, 'node', 'dist/agent/main.js', '--socket', `${dir}/control.sock`, 'probe', 'live']));
    }
    const row = (who: string, xs: { ms: number; maxRssMiB: number; code: number }[]) =>
      `| ${who} | ${xs.length} | ${xs.filter((x) => x.code === 0).length} | ${fmt(median(xs.map((x) => x.ms)))} | ${fmt(median(xs.map((x) => x.maxRssMiB)))} |`;
    out.push(
      '### Exec probe cost (`probe live` against the running agent)',
      '',
      'Wall time includes `ip netns exec`; peak RSS from /usr/bin/time. The Node.js CLI is the baseline.',
      '',
      '| client | runs | exit 0 | median ms | median peak RSS MiB |',
      '|---|---|---|---|---|',
      row('native/out/egress-agent-probe', probe),
      row('baseline: node dist/agent/main.js probe live', nodeProbe),
      `| ratio (baseline / native) | | | ${fmt(median(nodeProbe.map((x) => x.ms)) / median(probe.map((x) => x.ms)))}x | ${fmt(median(nodeProbe.map((x) => x.maxRssMiB)) / median(probe.map((x) => x.maxRssMiB)))}x |`,
      '',
    );

    const drains: number[] = [], kills: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      for (const [sig, into] of [['SIGTERM', drains], ['SIGKILL', kills]] as const) {
        await lab('frr', P, 'wait', LOCAL, 'up', '30');
        await sleep(1500);
        const t0 = Date.now();
        // bin/egress-agent execs node, so the pid is the agent's.
        process.kill(agent.pid!, sig);
        await agent;
        await lab('frr', P, 'wait', LOCAL, 'down', '5');
        const ms = Number((await lab('frr', P, 'transition', LOCAL, 'down', String(t0))).split(' ')[0]);
        into.push(ms);
        agent = startAgent(dir, env);
      }
      log(`drain round ${i + 1}: SIGTERM ${fmt(drains.at(-1)!)} ms, SIGKILL ${fmt(kills.at(-1)!)} ms`);
    }
    agent.kill('SIGKILL');
    await agent;
    out.push(
      '### Drain reaction time (3 x 100 ms): signal to the peer declaring the session down',
      '',
      'SIGTERM drains (AdminDown, diag 7, sent at once); the baseline is a crash (SIGKILL), where the',
      'peer has to wait for its detection time. Times from bfdd\'s log (µs).',
      '',
      '| signal | runs | median ms | min .. max ms |',
      '|---|---|---|---|',
      `| SIGTERM (drain) | ${drains.length} | ${fmt(median(drains))} | ${fmt(Math.min(...drains))} .. ${fmt(Math.max(...drains))} |`,
      `| baseline: SIGKILL (detection) | ${kills.length} | ${fmt(median(kills))} | ${fmt(Math.min(...kills))} .. ${fmt(Math.max(...kills))} |`,
      '',
    );
  } finally {
    await lab('frr', P, 'down').catch(() => undefined);
    await lab('down', P).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(out.join('\n'));
}

await main();
