// SNAT record benchmark (issues 7, 15): new UDP flows per second through a lab gateway that does
// MASQUERADE (configured by `egress-agent init`), the recorder running in the gateway namespace,
// once per event source in the same run: the old `conntrack -E` child (the baseline) and the
// addon's netlink reader. Per offered rate: flows sent, NEW events received, events the kernel
// dropped, records written per second, and the agent side's CPU and RSS (the Node.js recorder and
// its conntrack child, apart), with CPU per 10k flows/s. Bounded: a few 10 s runs, only lab
// addresses (the lab server, on ports where nothing listens: it answers with rate-limited ICMP errors).
//
// The same file is the agent-side child: `snat.js --agent CONFIG_JSON` runs the recorder inside the
// namespace and answers `status` / `exit` on stdin with JSON lines.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '../../agent/lib/log.js';
import { DEFAULT_SNAT_RECORDS, type SnatRecordsConfig } from '../../agent/config/snat-records.js';
import { SnatRecorder } from '../../agent/snat/recorder.js';
import type { SnatStatus } from '../../agent/snat/types.js';
import { parseConntrackStat, type ConntrackDrops } from '../../agent/observe/conntrack-usage.js';
import { NodeChild, ROOT, cpuMs, fmt, lab, labEnv, log, rssMiB, sleep } from './lib.js';

const P = 'vbs';
const GW = `${P}-gw1`;
const VPC = `${P}-vpc`;
const CLIENT = '10.16.0.100';
const SERVER = '198.51.100.10';
const RATES = (process.env.BENCH_SNAT_RATES ?? '10000,20000,40000').split(',').map(Number);
const SOURCES: SnatRecordsConfig['eventSource'][] = ['conntrack-tool', 'netlink'];
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

interface Sample { nodeCpu: number; ctCpu: number; nodeRss: number; ctRss: number; status: SnatStatus; table: ConntrackDrops }

/** The gateway namespace's conntrack drop counters (a full table drops flows before any event). */
async function tableDrops(): Promise<ConntrackDrops> {
  return parseConntrackStat(String((await execa('ip', ['netns', 'exec', GW, 'cat', '/proc/net/stat/nf_conntrack'])).stdout));
}

/** ct: the conntrack child's pid, or undefined for the netlink source (no child). */
async function sample(agent: NodeChild, ct: number | undefined): Promise<Sample> {
  const status = (await agent.request('status', 'status')).status as SnatStatus;
  return {
    nodeCpu: await cpuMs(agent.pid), ctCpu: ct ? await cpuMs(ct) : 0, nodeRss: await rssMiB(agent.pid), ctRss: ct ? await rssMiB(ct) : 0,
    status, table: await tableDrops(),
  };
}

interface Row { source: string; label: string; rate: number; sent: number; wallMs: number; before: Sample; after: Sample; maxNodeRss: number; maxCtRss: number }

async function run(agent: NodeChild, ct: number | undefined, rate: number, source: string): Promise<Row> {
  const before = await sample(agent, ct);
  let maxNodeRss = before.nodeRss, maxCtRss = before.ctRss;
  const t0 = Date.now();
  const gen = rate > 0
    ? execa('ip', ['netns', 'exec', VPC, path.join(ROOT, 'native/out/udp-flows'), CLIENT, SERVER, String(rate), String(RUN_MS), '10000'], { timeout: RUN_MS + 30_000 })
    : sleep(RUN_MS).then(() => ({ stdout: JSON.stringify({ sent: 0 }) }));
  let done = false;
  void gen.then(() => { done = true; }, () => { done = true; });
  while (!done) {
    await sleep(500);
    maxNodeRss = Math.max(maxNodeRss, await rssMiB(agent.pid));
    if (ct) maxCtRss = Math.max(maxCtRss, await rssMiB(ct));
  }
  const { sent } = JSON.parse(String((await gen).stdout)) as { sent: number };
  await sleep(1000); // let queued events drain
  const after = await sample(agent, ct);
  return { source, label: rate > 0 ? `${rate}` : 'idle', rate, sent, wallMs: Date.now() - t0, before, after, maxNodeRss, maxCtRss };
}

function table(rows: Row[], buffers: Record<string, number | null>): string {
  const lines = [
    '| event source | offered flows/s | flows sent | NEW events received | events dropped (kernel) | overflow reports | dropped by conntrack (table) | records written/s | ' +
      'recorder CPU % (node) | conntrack child CPU % | CPU % per 10k flows/s (all, above idle) | RSS MiB node / conntrack child (max) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const idle = new Map<string, number>();
  for (const r of rows) {
    const d = (f: (s: SnatStatus) => number | null) => (f(r.after.status) ?? 0) - (f(r.before.status) ?? 0);
    const sec = r.wallMs / 1000;
    const nodeCpu = ((r.after.nodeCpu - r.before.nodeCpu) / r.wallMs) * 100;
    const ctCpu = ((r.after.ctCpu - r.before.ctCpu) / r.wallMs) * 100;
    if (r.rate === 0) idle.set(r.source, nodeCpu + ctCpu);
    const per10k = r.rate > 0 ? ((nodeCpu + ctCpu - (idle.get(r.source) ?? 0)) / r.rate) * 10_000 : NaN;
    const tableDropped = r.after.table.drop - r.before.table.drop + r.after.table.insert_failed - r.before.table.insert_failed;
    lines.push(`| ${r.source} | ${r.label} | ${r.sent} | ${d((s) => s.flowsStarted.snat)} | ${d((s) => s.eventsDropped)} | ${d((s) => s.overflows)} | ${tableDropped} | ` +
      `${fmt(d((s) => s.recordsWritten) / sec, 0)} | ${fmt(nodeCpu)} | ${r.source === 'netlink' ? '-' : fmt(ctCpu)} | ${r.rate > 0 ? fmt(per10k) : '-'} | ` +
      `${fmt(r.maxNodeRss)} / ${r.source === 'netlink' ? '-' : fmt(r.maxCtRss)} |`);
  }
  return [
    `Each run: ${RUN_MS / 1000} s of new UDP flows (native/bench/udp-flows.c: one datagram per flow, sendmmsg, one client socket per 50,000 flows) from the VPC client`,
    'through gw1 (MASQUERADE), plus 1 s to drain; conntrack UDP timeout 1 s. Both event sources run in the same lab, one after the other:',
    '`conntrack-tool` is the old `conntrack -E` child (the baseline), `netlink` the addon\'s reader (the default).',
    'Records = start records (NEW) plus end records (DESTROY, as conntrack\'s GC expires the entries; many land after the run).',
    'CPU % is of one core over the run (wall time), from /proc/PID/stat; "per 10k flows/s" is the run\'s recorder + child CPU above the idle row, scaled.',
    'RSS: the benchmark\'s recorder process with default Node.js flags. "Dropped by conntrack" = drop + insert_failed in the namespace (no entry, so no event).',
    `Event socket receive buffer reported by the kernel: ${Object.entries(buffers).map(([k, v]) => `${k} ${v ?? 'unknown'} bytes`).join(', ')}.`,
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
    const rows: Row[] = [];
    const buffers: Record<string, number | null> = {};
    for (const source of SOURCES) {
      if (rows.length > 0) await sleep(20_000); // the previous source's entries expire and are destroyed
      const config: SnatRecordsConfig = { ...DEFAULT_SNAT_RECORDS, dir: path.join(dir, source), eventSource: source, recordStart: true };
      const agent = new NodeChild(GW, 'snat.js', ['--agent', JSON.stringify(config)]);
      try {
        const ready = await agent.waitFor((m) => m.type === 'ready', 30_000);
        buffers[source] = (ready.status as SnatStatus).socketBufferBytes;
        const ct = source === 'netlink' ? undefined : childrenOf(agent.pid)[0];
        if (source !== 'netlink' && ct === undefined) throw new Error('the recorder has no conntrack child');
        log(`snat ${source}: idle baseline`);
        rows.push(await run(agent, ct, 0, source));
        for (const rate of RATES) {
          log(`snat ${source}: ${rate} flows/s for ${RUN_MS} ms`);
          rows.push(await run(agent, ct, rate, source));
          await sleep(5000); // let the previous run's entries expire
        }
        agent.send('exit');
        await agent.proc;
      } finally {
        await agent.kill('SIGTERM');
      }
    }
    process.stdout.write(table(rows, buffers) + '\n');
  } finally {
    await lab('down', P).catch((e: Error) => log(`lab down failed: ${e.message}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--agent') await agentMain(JSON.parse(process.argv[3]!) as SnatRecordsConfig);
else await main();
