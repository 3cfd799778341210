// Forwarding throughput through one gateway replica (iperf3, TCP, 10 s per run): SNAT (the
// MASQUERADE path) vs forwarding without NAT (a NO_SNAT source: same routing, conntrack, no
// translation). The agent is applied with `egress-agent init`; the client is the lab's VPC namespace.
import { execa } from 'execa';
import path from 'node:path';
import { ROOT, fmt, lab, labEnv, log, median, sleep } from './lib.js';

const P = 'vbq';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function main(): Promise<void> {
  await lab('down', P).catch(() => undefined);
  await lab('up', P, '--replicas', '1', '--family', '4');
  const out: string[] = [];
  try {
    const env = { PATH: process.env.PATH!, ...(await labEnv(P, 'gw1')) };
    await execa('ip', ['netns', 'exec', `${P}-gw1`, path.join(ROOT, 'bin/egress-agent'), 'init'], { env, extendEnv: false, cwd: ROOT });
    await lab('ecmp', P, 'set', 'gw1');
    const server = execa('ip', ['netns', 'exec', `${P}-ext`, 'iperf3', '-s', '-B', '198.51.100.10'], { reject: false, stdout: 'ignore', stderr: 'ignore' });
    await sleep(1000);
    const result: Record<string, number[]> = { snat: [], nosnat: [] };
    for (let i = 0; i < RUNS; i++) {
      for (const [name, src] of [['snat', '10.16.0.100'], ['nosnat', '10.20.0.5']] as const) {
        const r = await execa('ip', ['netns', 'exec', `${P}-vpc`, 'iperf3', '-c', '198.51.100.10', '-B', src, '-t', '10', '-J'], { reject: false });
        const j = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second: number } } };
        const bps = j.end?.sum_received?.bits_per_second ?? NaN;
        result[name]!.push(bps / 1e9);
        log(`throughput ${name} run ${i + 1}: ${fmt(bps / 1e9, 2)} Gbit/s`);
      }
    }
    server.kill('SIGTERM');
    await server;
    const s = median(result.snat!), n = median(result.nosnat!);
    out.push(
      '### Forwarding throughput through one replica (iperf3 TCP, 10 s per run, veth, one flow)',
      '',
      '| path | runs | median Gbit/s | all runs |',
      '|---|---|---|---|',
      `| SNAT (10.16.0.100, MASQUERADE --random-fully) | ${RUNS} | ${fmt(s, 2)} | ${result.snat!.map((x) => fmt(x, 2)).join(', ')} |`,
      `| baseline: no NAT (10.20.0.5 in NO_SNAT_SOURCES) | ${RUNS} | ${fmt(n, 2)} | ${result.nosnat!.map((x) => fmt(x, 2)).join(', ')} |`,
      `| ratio SNAT / no NAT | | ${fmt(s / n, 2)} | |`,
      '',
    );
  } finally {
    await lab('down', P).catch(() => undefined);
  }
  process.stdout.write(out.join('\n'));
}

await main();
