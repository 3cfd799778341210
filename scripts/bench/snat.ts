// SNAT record benchmark (issue 7): new UDP flows per second through a lab gateway that does
// MASQUERADE (configured by `egress-agent init`), the recorder running in the gateway namespace.
// Per offered rate: flows sent, NEW events received, events the kernel dropped, records written
// per second, and the agent side's CPU and RSS (the Node.js recorder and its conntrack child, apart).
// Bounded: a few 10 s runs, only lab addresses (the lab server, on ports 10000-59999 where nothing
// listens: it answers with rate-limited ICMP errors).
//
// The same file is the agent-side child: `snat.js --agent CONFIG_JSON` runs the recorder inside the
// namespace and answers `status` / `exit` on stdin with JSON lines.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '../../agent/lib/log.js';
import { DEFAULT_SNAT_RECORDS, type SnatRecordsConfig } from '../../agent/snat/config.js';
import { SnatRecorder } from '../../agent/snat/recorder.js';
import type { SnatStatus } from '../../agent/snat/types.js';
import { NodeChild, ROOT, cpuMs, fmt, lab, labEnv, log, rssMiB, sleep } from './lib.js';

const P = 'vbs';
const GW = `${P}-gw1`;
const VPC = `${P}-vpc`;
const CLIENT = '10.16.0.100';
const SERVER = '198.51.100.10';
const RATES = (process.env.BENCH_SNAT_RATES ?? '1000,2500,5000,10000').split(',').map(Number);
const RUN_MS = Number(process.env.BENCH_SNAT_RUN_MS ?? 10_000);

async function agentMain(config: SnatRecordsConfig): Promise<void> {
  const out = (o: unknown): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
  const recorder = new SnatRecorder(config, { logger: createLogger('warn', { destination: process.stderr }) });
  await recorder.start();
  out({ type: 'ready', pid: process.pid, status: recorder.status() });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'status') out({ type: 'status', status: recorder.status() });
    else if (line === 'exit') break;
  }
  await recorder.stop();
  process.exit(0);
}

// Offered load: `rate` new UDP flows per second for `ms`, one socket, a new destination port per
// flow (each is a new conntrack entry), paced in 10 ms steps.
const GENERATOR = `
import dgram from 'node:dgram';
const o = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
await new Promise((r) => s.bind({ address: o.src, port: 0 }, r));
const payload = Buffer.from('x');
const t0 = Date.now();
let sent = 0;
while (Date.now() - t0 < o.ms) {
  const due = Math.floor(((Date.now() - t0) / 1000) * o.rate);
  while (sent < due) { s.send(payload, 10000 + (sent % 50000), o.dst); sent++; }
  await new Promise((r) => setTimeout(r, 10));
}
await new Promise((r) => setTimeout(r, 200));
s.close();
process.stdout.write(JSON.stringify({ sent, ms: Date.now() - t0 }) + '\\n');
`;

/** Direct children of a process (the recorder's conntrack child). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
    } catch {
      return false;
    }
  }).map(Number);
}

interface Sample { nodeCpu: number; ctCpu: number; nodeRss: number; ctRss: number; status: SnatStatus }

async function sample(agent: NodeChild, ct: number): Promise<Sample> {
  const status = (await agent.request('status', 'status')).status as SnatStatus;
  return { nodeCpu: await cpuMs(agent.pid), ctCpu: await cpuMs(ct), nodeRss: await rssMiB(agent.pid), ctRss: await rssMiB(ct), status };
}

interface Row { label: string; sent: number; wallMs: number; before: Sample; after: Sample; maxNodeRss: number; maxCtRss: number }

async function run(agent: NodeChild, ct: number, rate: number): Promise<Row> {
  const before = await sample(agent, ct);
  let maxNodeRss = before.nodeRss, maxCtRss = before.ctRss;
  const t0 = Date.now();
  const gen = rate > 0
    ? execa('ip', ['netns', 'exec', VPC, process.execPath, '--input-type=module', '-e', GENERATOR, JSON.stringify({ src: CLIENT, dst: SERVER, rate, ms: RUN_MS })], { timeout: RUN_MS + 30_000 })
    : sleep(RUN_MS).then(() => ({ stdout: JSON.stringify({ sent: 0 }) }));
  let done = false;
  void gen.then(() => { done = true; }, () => { done = true; });
  while (!done) {
    await sleep(500);
    maxNodeRss = Math.max(maxNodeRss, await rssMiB(agent.pid));
    maxCtRss = Math.max(maxCtRss, await rssMiB(ct));
  }
  const { sent } = JSON.parse(String((await gen).stdout)) as { sent: number };
  await sleep(1000); // let queued events drain
  const after = await sample(agent, ct);
  return { label: rate > 0 ? `${rate}` : 'idle', sent, wallMs: Date.now() - t0, before, after, maxNodeRss, maxCtRss };
}

function table(rows: Row[], bufferBytes: number | null): string {
  const lines = [
    '| offered flows/s | flows sent | NEW events received | events dropped (kernel) | overflow reports | records written/s | recorder CPU % (node) | conntrack CPU % | RSS MiB node (the benchmark\'s recorder process, default Node.js flags) / conntrack (max) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const d = (f: (s: SnatStatus) => number | null) => (f(r.after.status) ?? 0) - (f(r.before.status) ?? 0);
    const sec = r.wallMs / 1000;
    lines.push(`| ${r.label} | ${r.sent} | ${d((s) => s.flowsStarted.snat)} | ${d((s) => s.eventsDropped)} | ${d((s) => s.overflows)} | ${fmt(d((s) => s.recordsWritten) / sec, 0)} | ` +
      `${fmt(((r.after.nodeCpu - r.before.nodeCpu) / r.wallMs) * 100)} | ${fmt(((r.after.ctCpu - r.before.ctCpu) / r.wallMs) * 100)} | ${fmt(r.maxNodeRss)} / ${fmt(r.maxCtRss)} |`);
  }
  return [
    `Each run: ${RUN_MS / 1000} s of new UDP flows from the VPC client through gw1 (MASQUERADE), plus 1 s to drain;`,
    'records = start records (NEW) plus end records (DESTROY, as conntrack\'s GC expires the 1 s UDP entries).',
    'CPU % is of one core over the run (wall time), from /proc/PID/stat; the idle row is the baseline.',
    `Event socket receive buffer reported by the kernel: ${bufferBytes ?? 'unknown'} bytes ` +
      '(conntrack-tools applies --buffer-size to another socket; see docs/snat-records.md).',
    '',
    ...lines,
  ].join('\n');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vbs-snat-'));
  await lab('down', P).catch(() => undefined);
  try {
    await lab('up', P, '--replicas', '1', '--family', '4');
    const env = await labEnv(P, 'gw1');
    await execa('ip', ['netns', 'exec', GW, path.join(ROOT, 'bin/egress-agent'), '--log-level', 'warn', 'init'], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, extendEnv: false });
    // Short UDP timeouts keep the table small across runs (per-namespace sysctls).
    await execa('ip', ['netns', 'exec', GW, 'sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=1', 'net.netfilter.nf_conntrack_udp_timeout_stream=1']);
    const config: SnatRecordsConfig = { ...DEFAULT_SNAT_RECORDS, dir };
    const agent = new NodeChild(GW, 'snat.js', ['--agent', JSON.stringify(config)]);
    try {
      const ready = await agent.waitFor((m) => m.type === 'ready', 30_000);
      const ct = childrenOf(agent.pid)[0];
      if (ct === undefined) throw new Error('the recorder has no conntrack child');
      const rows: Row[] = [];
      log('snat: idle baseline');
      rows.push(await run(agent, ct, 0));
      for (const rate of RATES) {
        log(`snat: ${rate} flows/s for ${RUN_MS} ms`);
        rows.push(await run(agent, ct, rate));
        await sleep(3000); // let the previous run's entries expire
      }
      process.stdout.write(table(rows, (ready.status as SnatStatus).socketBufferBytes) + '\n');
      agent.send('exit');
      await agent.proc;
    } finally {
      await agent.kill('SIGTERM');
    }
  } finally {
    await lab('down', P).catch((e: Error) => log(`lab down failed: ${e.message}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--agent') await agentMain(JSON.parse(process.argv[3]!) as SnatRecordsConfig);
else await main();
