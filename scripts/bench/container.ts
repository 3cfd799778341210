// The gateway Pod as Kube-OVN's controller writes it (scripts/pod/pod.sh: the image under podman,
// uid 65534, CPU quota 300m, 64 MiB) in a lab replica, FRR's bfdd as the BFD peer:
// 1. BFD flaps under the 300m quota while the Pod starts (with the lab's CIDRs, then with 10,000
//    no-SNAT CIDRs), while the agent reloads, at 3 x 100 ms and 3 x 10 ms. A flap = FRR counts a
//    session going down after it was Up (its own counters, both families).
// 2. Drain (podman stop: SIGTERM -> the peer's AdminDown) and failover (podman kill: SIGKILL -> the
//    peer's detection timeout), from FRR's log (µs timestamps).
// 3. Image size; memory over 60 s under the 64 MiB limit: the container's cgroup (usage, its peak,
//    OOM kills) and the agent's RSS (anonymous / file-backed), with the startup page release's record.
//   node dist/scripts/bench/container.js      (root; builds the image with `make image` if needed)
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { ensureImage, Pod } from '../pod/pod.js';
import { fmt, lab, labEnv, log, median, quantile, sleep } from './lib.js';

const P = 'vbc';
const RUNS = Number(process.env.BENCH_CONTAINER_RUNS ?? 5);
const OBSERVE_START_MS = 30_000; // covers the agent's startup page release (5 s after start)
const RELOADS = 5;
const TIMERS = [100, 10];
const MEMORY_WINDOW_MS = 60_000;
const MEMORY_SAMPLE_MS = 2_000;
const MiB = 1024 * 1024;

interface MemorySample { usage: number; rss: number; anon: number; file: number }

/** The container's memory cgroup (v1 here, v2 elsewhere) and the agent's (node's) host PID. */
async function memoryProbe(pod: Pod): Promise<{ sample: () => Promise<MemorySample>; peak: () => Promise<number>; ooms: () => Promise<number> }> {
  const pid1 = Number(await pod.inspect('{{.State.Pid}}'));
  const cg = await readFile(`/proc/${pid1}/cgroup`, 'utf8');
  const v1 = /^\d+:memory:(.*)$/m.exec(cg)?.[1];
  const v2 = /^0::(.*)$/m.exec(cg)?.[1];
  const dir = v1 !== undefined ? `/sys/fs/cgroup/memory${v1}` : `/sys/fs/cgroup${v2}`;
  const num = async (f: string) => Number((await readFile(`${dir}/${f}`, 'utf8')).trim());
  const procs = (await readFile(`${dir}/cgroup.procs`, 'utf8')).trim().split('\n');
  const comms = await Promise.all(procs.map(async (p) => [p, (await readFile(`/proc/${p}/comm`, 'utf8').catch(() => '')).trim()] as const));
  const node = comms.find(([, c]) => c === 'node')?.[0];
  if (!node) throw new Error(`no node process in the container's cgroup ${dir}: ${comms.map((c) => c.join(':')).join(' ')}`);
  const kb = (status: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return {
    sample: async () => {
      const status = await readFile(`/proc/${node}/status`, 'utf8');
      return { usage: await num(v1 !== undefined ? 'memory.usage_in_bytes' : 'memory.current'), rss: kb(status, 'VmRSS'), anon: kb(status, 'RssAnon'), file: kb(status, 'RssFile') };
    },
    peak: () => num(v1 !== undefined ? 'memory.max_usage_in_bytes' : 'memory.peak'),
    ooms: async () => {
      const text = await readFile(`${dir}/${v1 !== undefined ? 'memory.oom_control' : 'memory.events'}`, 'utf8');
      return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
    },
  };
}

/** The agent's startup page release record from the container log (RSS before -> after). */
function pageRelease(logs: string): string {
  for (const line of logs.split('\n')) {
    if (!line.includes('startup pages')) continue;
    try {
      const r = JSON.parse(line) as { msg: string; rssBeforeBytes: number; rssAfterBytes: number; error?: number };
      return `${r.msg}: RSS ${fmt(r.rssBeforeBytes / MiB)} -> ${fmt(r.rssAfterBytes / MiB)} MiB${r.error ? ` (errno ${r.error})` : ''}`;
    } catch { /* not JSON */ }
  }
  return 'no startup page release logged';
}

/** n distinct CIDRs, half IPv4 host routes in 10.64.0.0/10, half IPv6 in fd00:64::/64 (two env vars under 128 KiB each). */
function bigNoSnat(n: number): Record<string, string> {
  const v4 = Array.from({ length: n / 2 }, (_, i) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
  const v6 = Array.from({ length: n / 2 }, (_, i) => `fd00:64::${i.toString(16)}/128`);
  return { NO_SNAT_SOURCES_IPV4: v4.join(','), NO_SNAT_SOURCES_IPV6: v6.join(',') };
}

/** FRR's session-down count per peer (show bfd peers counters). */
async function downs(): Promise<number> {
  const out = await lab('frr', P, 'vtysh', '-c', 'show bfd peers counters json');
  return (JSON.parse(out) as { 'session-down': number }[]).reduce((n, p) => n + p['session-down'], 0);
}

async function waitUp(peers: string[], timeoutS = 60): Promise<void> {
  for (const p of peers) await lab('frr', P, 'wait', p, 'up', String(timeoutS));
}

/** Down transitions FRR logged for `peer` at or after sinceMs: ms after it and the reason. */
async function downAfter(peer: string, sinceMs: number): Promise<{ ms: number; reason: string }> {
  // bfdd writes its log line a little after the transition: podman may return first.
  for (let tries = 0; ; tries++) {
    try {
      const [ms, reason] = (await lab('frr', P, 'transition', peer, 'down', String(Math.floor(sinceMs)))).trim().split(' ');
      return { ms: Number(ms), reason: reason! };
    } catch (err) {
      if (tries >= 20) throw err;
      await sleep(250);
    }
  }
}

async function main(): Promise<void> {
  await ensureImage();
  await lab('down', P).catch(() => undefined);
  await lab('up', P, '--replicas', '1');
  const pod = new Pod(`${P}-gw1`);
  await pod.rm();
  const out: string[] = [];
  try {
    const base = await labEnv(P, 'gw1');
    const peers = base.POD_IPS!.split(',');
    const create = (env: Record<string, string>) => pod.create(`${P}-gw1`, env);

    const flapRows: string[] = [];
    for (const ms of TIMERS) {
      await lab('frr', P, 'up', String(ms), String(ms), '3');
      const timers = { BFD_MIN_TX: String(ms), BFD_MIN_RX: String(ms), BFD_MULTI: '3' };
      for (const [what, extra, reload] of [['start', {}, true], ['start with 10,000 no-SNAT CIDRs', bigNoSnat(10_000), false]] as const) {
        const d0 = await downs();
        const t0 = Date.now();
        await create({ ...base, ...timers, ...extra });
        await waitUp(peers);
        const upMs = Date.now() - t0;
        const d1 = await downs();
        await sleep(OBSERVE_START_MS);
        const d2 = await downs();
        log(`${ms} ms ${what}: Up after ${upMs} ms, downs ${d1 - d0} before Up, ${d2 - d1} after`);
        flapRows.push(`| 3 x ${ms} ms | ${what} | ${fmt(upMs / 1000)} s | ${d1 - d0} | ${d2 - d1} over ${OBSERVE_START_MS / 1000} s |`);
        if (reload) {
          // Reload: the CLI (a second Node.js process in the same CPU quota) asks the agent to re-read its configuration.
          const r0 = await downs();
          for (let i = 0; i < RELOADS; i++) {
            const r = await pod.exec(['egress-agent', 'reload']);
            if (r.exitCode !== 0) throw new Error(`reload failed: ${String(r.stderr)}${String(r.stdout)}`);
            await sleep(2000);
          }
          flapRows.push(`| 3 x ${ms} ms | ${RELOADS} reloads (\`egress-agent reload\` in the Pod, 2 s apart) | - | - | ${(await downs()) - r0} |`);
        }
        await pod.rm();
      }
    }
    out.push(
      '### BFD flaps under the Pod\'s 300m CPU quota',
      '',
      'The bfdd container as the controller writes it (cpu limit 300m, memory 64Mi, uid 65534). "Up after"',
      'is from `pod.sh create` (init container included) to FRR seeing every session Up. Flaps are FRR\'s',
      '`session-down` counters (both families); the goal at 3 x 100 ms is 0. The 10,000 CIDRs are 5,000',
      'IPv4 and 5,000 IPv6 no-SNAT sources in the init container\'s environment.',
      '',
      '| timers | phase | Up after | downs before Up | flaps after Up |',
      '|---|---|---|---|---|',
      ...flapRows,
      '',
    );

    await lab('frr', P, 'up', '100', '100', '3');
    const imageBytes = Number((await execa('podman', ['image', 'inspect', '--format', '{{.Size}}', process.env.IMAGE ?? 'localhost/egress-agent:dev'])).stdout);
    await create(base);
    await waitUp(peers);
    const mem = await memoryProbe(pod);
    const samples: MemorySample[] = [];
    for (let at = 0; at < MEMORY_WINDOW_MS; at += MEMORY_SAMPLE_MS) {
      samples.push(await mem.sample());
      await sleep(MEMORY_SAMPLE_MS);
    }
    const col = (k: keyof MemorySample) => samples.map((x) => x[k] / MiB);
    const memRow = (what: string, xs: number[]) => `| ${what} | ${fmt(quantile(xs, 0))} | ${fmt(median(xs))} | ${fmt(Math.max(...xs))} | ${fmt(xs.at(-1)!)} |`;
    out.push(
      '### Image size and memory in the Pod (64 MiB limit, BFD Up with the lab router, dataplane managed)',
      '',
      `Image \`${process.env.IMAGE ?? 'localhost/egress-agent:dev'}\`: ${fmt(imageBytes / MiB, 0)} MiB (podman's size: every layer, bases included).`,
      `Samples every ${MEMORY_SAMPLE_MS / 1000} s for ${MEMORY_WINDOW_MS / 1000} s after every session is Up (the agent releases its startup`,
      `pages 5 s after start: ${pageRelease(await pod.logs())}). The cgroup's usage counts the page cache`,
      'of files the container read, so it is above the RSS. Goal: agent RSS <= 48 MiB, no OOM kill.',
      '',
      '| MiB | min | median | max | last |',
      '|---|---|---|---|---|',
      memRow('cgroup usage (memory.usage_in_bytes)', col('usage')),
      memRow('agent RSS (VmRSS of node)', col('rss')),
      memRow('  of it anonymous (RssAnon)', col('anon')),
      memRow('  of it file-backed (RssFile)', col('file')),
      '',
      `cgroup peak ${fmt((await mem.peak()) / MiB)} MiB, OOM kills ${await mem.ooms()}.`,
      '',
    );
    const drains: number[] = [], kills: number[] = [], reasons = new Set<string>();
    for (let i = 0; i < RUNS; i++) {
      for (const [how, into] of [['stop', drains], ['kill', kills]] as const) {
        await waitUp(peers);
        await sleep(1500);
        const t0 = Date.now();
        if (how === 'stop') await pod.stop();
        else await pod.kill('KILL');
        const tr = await downAfter(peers[0]!, t0);
        into.push(tr.ms);
        reasons.add(`${how}: ${tr.reason}`);
        await pod.start();
      }
      log(`drain round ${i + 1}: stop ${drains.at(-1)} ms, kill ${kills.at(-1)} ms`);
    }
    const row = (what: string, xs: number[]) => `| ${what} | ${xs.length} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))} .. ${fmt(Math.max(...xs))} |`;
    out.push(
      '### Drain and failover through podman (3 x 100 ms, IPv4 session)',
      '',
      '`podman stop -t 30` (SIGTERM to PID 1, the supervisor, which forwards it to the agent: AdminDown)',
      'against `podman kill` (SIGKILL: the peer waits out its detection time). Time from the podman',
      `command to FRR logging the session down. FRR's reasons: ${[...reasons].join('; ')}.`,
      '',
      '| signal | runs | median ms | min .. max ms |',
      '|---|---|---|---|',
      row('podman stop (drain)', drains),
      row('baseline: podman kill (failover)', kills),
      '',
    );
  } finally {
    await pod.rm().catch(() => undefined);
    await lab('frr', P, 'down').catch(() => undefined);
    await lab('down', P).catch(() => undefined);
  }
  process.stdout.write(out.join('\n'));
}

await main();
