// Dataplane benchmark: apply+verify, verify alone, and a no-change reconcile with 10, 1 000 and
// 10 000 no-SNAT CIDRs, against a baseline measured in the same run that applies the same rules the
// way Kube-OVN's init script does (one `iptables -I` exec per rule: a -s and a -d RETURN per CIDR).
// Runs in its own network namespace (vdb-<pid>) with a veth pair as eth0/net1; prints Markdown.
//
//   node dist/scripts/bench/dataplane.js [--runs N] [--sizes 10,1000,10000] [--baseline-budget-s 180]
import { execa } from 'execa';
import { pino } from 'pino';
import { fileURLToPath } from 'node:url';
import type { GatewayConfig } from '../../agent/config/types.js';
import { verifyDataplane } from '../../agent/dataplane/apply.js';
import { run } from '../../agent/dataplane/exec.js';
import { Rtnl } from '../../agent/dataplane/netlink.js';
import { Reconciler } from '../../agent/reconcile/reconciler.js';

const INSIDE = 'VDB_BENCH_INSIDE';

interface Options {
  runs: number;
  sizes: number[];
  baselineBudgetS: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 5, sizes: [10, 1000, 10000], baselineBudgetS: 180 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--runs' && v) (o.runs = Number(v)), i++;
    else if (argv[i] === '--sizes' && v) (o.sizes = v.split(',').map(Number)), i++;
    else if (argv[i] === '--baseline-budget-s' && v) (o.baselineBudgetS = Number(v)), i++;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

/** n distinct host CIDRs inside 10.64.0.0/10 (outside the bench's own subnets). */
function cidrs(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
}

function config(noSnat: string[]): GatewayConfig {
  return {
    families: [{ family: 4, internalGateway: '10.16.0.1', externalGateway: '172.17.0.1', noSnatSources: noSnat }],
    reconcileIntervalMs: 10_000,
    bfd: { enabled: false, localIps: [], peerIps: [], minTxMs: 1000, minRxMs: 1000, multiplier: 3, passive: false, minTtl: 254, realtimePriority: 0, statePath: '/nonexistent' },
    healthListen: ':0',
    controlSocket: '/nonexistent',
    compatSocket: '/nonexistent',
    drainGraceMs: 0,
    logLevel: 'silent',
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(1)} ms`);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

/** Everything either method creates, removed (the namespace is ours alone). */
async function reset(): Promise<void> {
  await run('iptables', ['-t', 'nat', '-F']);
  await run('iptables', ['-t', 'nat', '-X']);
  await run('ipset', ['destroy'], { allowFailure: true });
  for (const p of [1001, 1002, 1003, 1004]) await run('ip', ['rule', 'del', 'priority', String(p)], { allowFailure: true });
  await run('ip', ['route', 'flush', 'table', '1000'], { allowFailure: true });
}

/** Kube-OVN's init-vpc-egress-gateway.sh for one family (docs/kube-ovn-contract.md §4), one exec per command. */
function kubeOvnCommands(noSnat: string[]): string[][] {
  const ipt = (...a: string[]): string[] => ['iptables', ...a];
  const cmds: string[][] = [
    ['ip', '-4', 'route', 'replace', 'default', 'via', '10.16.0.1', 'table', '1000'],
    ...[1001, 1002, 1003, 1004].map((p) => ['ip', '-4', 'rule', 'del', 'priority', String(p)]),
    ['ip', '-4', 'rule', 'add', 'priority', '1001', 'iif', 'eth0', 'lookup', 'default'],
    ['ip', '-4', 'rule', 'add', 'priority', '1002', 'iif', 'net1', 'lookup', '1000'],
    ['ip', '-4', 'rule', 'add', 'priority', '1003', 'iif', 'lo', 'from', '10.16.0.11', 'lookup', '1000'],
    ['ip', '-4', 'rule', 'add', 'priority', '1004', 'iif', 'lo', 'from', '172.17.0.11', 'lookup', 'default'],
    ipt('-t', 'nat', '-N', 'VEG-MASQUERADE'),
    ipt('-t', 'raw', '-F', 'PREROUTING'),
    ipt('-t', 'nat', '-F', 'PREROUTING'),
    ipt('-t', 'nat', '-F', 'POSTROUTING'),
    ipt('-t', 'nat', '-F', 'VEG-MASQUERADE'),
    ipt('-t', 'nat', '-A', 'PREROUTING', '-i', 'eth0', '-j', 'MARK', '--set-xmark', '0x4000/0x4000'),
    ipt('-t', 'nat', '-A', 'POSTROUTING', '-j', 'VEG-MASQUERADE'),
    ipt('-t', 'nat', '-A', 'VEG-MASQUERADE', '-j', 'MARK', '--set-xmark', '0x0/0xffffffff'),
    ipt('-t', 'nat', '-A', 'VEG-MASQUERADE', '-j', 'MASQUERADE', '--random-fully'),
  ];
  for (const c of noSnat) {
    cmds.push(ipt('-t', 'nat', '-I', 'POSTROUTING', '-s', c, '-j', 'RETURN'));
    cmds.push(ipt('-t', 'nat', '-I', 'POSTROUTING', '-d', c, '-j', 'RETURN'));
  }
  return cmds;
}

async function baselineApply(noSnat: string[]): Promise<number> {
  await reset();
  const [t] = await timed(async () => {
    // `ip rule del` of an absent rule fails in the script too (set -e is off for it there: `|| true`).
    for (const argv of kubeOvnCommands(noSnat)) await run(argv[0]!, argv.slice(1), { allowFailure: argv.includes('del') });
  });
  const { stdout } = await run('iptables-save', ['-t', 'nat']);
  const returns = stdout.split('\n').filter((l) => l.startsWith('-A POSTROUTING') && l.endsWith('-j RETURN')).length;
  if (returns !== noSnat.length * 2) throw new Error(`baseline: expected ${noSnat.length * 2} RETURN rules, found ${returns}`);
  return t;
}

/** What reading the baseline's rules back costs (Kube-OVN itself never verifies). */
async function baselineReadBack(): Promise<number> {
  const [t] = await timed(() => run('iptables-save', ['-t', 'nat']));
  return t;
}

interface Row {
  n: number;
  apply: number;
  verify: number;
  noChange: number;
  addOne: number;
  baseApply?: number;
  baseApplyNote?: string;
  baseRead?: number;
}

async function measureOurs(n: number, runs: number): Promise<Omit<Row, 'n'>> {
  const list = cidrs(n);
  const log = pino({ level: 'silent' });
  const apply: number[] = [];
  const verify: number[] = [];
  const noChange: number[] = [];
  const addOne: number[] = [];
  for (let i = 0; i < runs; i++) {
    await reset();
    const rec = new Reconciler({ config: config(list), logger: log });
    const [ta, r] = await timed(() => rec.applyOnce('manual'));
    if (r.remaining.length > 0 || r.error) throw new Error(`apply of ${n} CIDRs not verified: ${r.error ?? JSON.stringify(r.remaining)}`);
    apply.push(ta);
    const nl = Rtnl.open();
    const [tv, drift] = await timed(() => verifyDataplane(nl, rec.status().desired!));
    nl.close();
    if (drift.length > 0) throw new Error(`verify after apply found drift: ${JSON.stringify(drift.slice(0, 3))}`);
    verify.push(tv);
    const [tn, r2] = await timed(() => rec.applyOnce('periodic'));
    if (r2.changed) throw new Error(`no-change reconcile changed something: ${JSON.stringify(r2.drift.slice(0, 3))}`);
    noChange.push(tn);
    await rec.stop();
    // One more CIDR on top of n: the incremental path (one ipset add, nothing else).
    const rec2 = new Reconciler({ config: config([...list, '10.127.255.0/24']), logger: log });
    const [t1, r3] = await timed(() => rec2.applyOnce('reload'));
    if (!r3.changed || r3.remaining.length > 0) throw new Error('adding one CIDR did not apply cleanly');
    addOne.push(t1);
    await rec2.stop();
  }
  return { apply: median(apply), verify: median(verify), noChange: median(noChange), addOne: median(addOne) };
}

/**
 * Projected baseline time for n CIDRs. iptables-nft reads the whole table on every call, so the
 * per-exec cost grows with the rules already present: fit cost(k rules) = a + b*k from the measured
 * sizes and sum it over the 2n+16 execs. With one measured size, b = 0 (a lower bound).
 */
function projectBaseline(measured: { n: number; ms: number }[], n: number): number {
  const execs = (m: number): number => 2 * m + 16;
  const [p, q] = measured.slice(-2);
  // Mean per-exec cost over a run of m CIDRs is a + b*m (rules grow from 0 to 2m).
  const mean = (x: { n: number; ms: number }): number => x.ms / execs(x.n);
  const b = p && q && q.n !== p.n ? Math.max(0, (mean(q) - mean(p)) / (q.n - p.n)) : 0;
  const last = q ?? p!;
  const a = mean(last) - b * last.n;
  return execs(n) * (a + b * n);
}

async function inside(o: Options): Promise<void> {
  await run('sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
  await measureOurs(10, 1); // warm-up (module loading, JIT), not reported
  const rows: Row[] = [];
  const measured: { n: number; ms: number }[] = [];
  for (const n of o.sizes) {
    const row: Row = { n, ...(await measureOurs(n, o.runs)) };
    const projected = measured.length > 0 ? projectBaseline(measured, n) : 0;
    if (projected <= o.baselineBudgetS * 1000) {
      const runs = n <= 100 ? o.runs : 1;
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(await baselineApply(cidrs(n)));
      row.baseApply = median(times);
      row.baseRead = await baselineReadBack();
      row.baseApplyNote = runs > 1 ? `median of ${runs}` : '1 run';
      measured.push({ n, ms: row.baseApply });
    } else {
      row.baseApply = projected;
      row.baseApplyNote = `**extrapolated, not run** (over the ${o.baselineBudgetS} s budget): per-exec cost fitted as a + b x rules present from the measured sizes (${measured.map((m) => m.n).join(', ')} CIDRs)`;
    }
    rows.push(row);
    process.stderr.write(`bench dataplane: ${n} CIDRs done\n`);
  }
  await reset();
  const out: string[] = [];
  out.push(`IPv4, one family; times are medians of ${o.runs} runs unless noted. "apply+verify" is \`egress-agent init\`'s pass (discover, plan, read live state, ipset restore, one iptables-restore, netlink routes/rules, read back and compare) from an empty namespace. "verify" is the read-back alone. "no-change" is a reconcile pass with nothing to do (what the periodic timer runs). "+1 CIDR" applies one more CIDR on top (ipset add only).`);
  out.push('');
  out.push('| no-SNAT CIDRs | ours: apply+verify | ours: verify | ours: no-change reconcile | ours: +1 CIDR | Kube-OVN script way: apply | baseline note | baseline read-back (iptables-save) | speed-up (apply) |');
  out.push('|---:|---:|---:|---:|---:|---:|---|---:|---:|');
  for (const r of rows) {
    out.push(`| ${r.n} | ${ms(r.apply)} | ${ms(r.verify)} | ${ms(r.noChange)} | ${ms(r.addOne)} | ${r.baseApply !== undefined ? ms(r.baseApply) : '-'} | ${r.baseApplyNote ?? ''} | ${r.baseRead !== undefined ? ms(r.baseRead) : '-'} | ${r.baseApply !== undefined ? `${(r.baseApply / r.apply).toFixed(0)}x` : '-'} |`);
  }
  out.push('');
  out.push(`Baseline = the same rules as Kube-OVN's init-vpc-egress-gateway.sh installs them: fixed route/rule/chain commands plus \`iptables -t nat -I POSTROUTING -s CIDR -j RETURN\` and \`-d CIDR\` per CIDR, one exec each (iptables ${(await run('iptables', ['-V'])).stdout.trim()}).`);
  process.stdout.write(`${out.join('\n')}\n`);
}

async function outside(argv: string[]): Promise<void> {
  const ns = `vdb-${process.pid}`;
  const sh = (...a: string[]) => execa(a[0]!, a.slice(1));
  await sh('ip', 'netns', 'add', ns);
  try {
    const inNs = (...a: string[]) => sh('ip', '-n', ns, ...a);
    await inNs('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'net1');
    for (const dev of ['lo', 'eth0', 'net1']) await inNs('link', 'set', dev, 'up');
    await inNs('addr', 'add', '10.16.0.11/16', 'dev', 'eth0');
    await inNs('addr', 'add', '172.17.0.11/16', 'dev', 'net1');
    await execa('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), ...argv], {
      env: { ...process.env, [INSIDE]: '1' },
      stdio: 'inherit',
    });
  } finally {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  }
}

const argv = process.argv.slice(2);
if (process.env[INSIDE]) await inside(parseArgs(argv));
else {
  parseArgs(argv); // fail on bad arguments before creating anything
  await outside(argv);
}
