// Helpers for the dataplane integration tests: run the real `bin/egress-agent init` inside a lab
// gateway namespace, run the dataplane reconciler there as a child process and watch its JSON log,
// and snapshot the kernel state that must stay byte-identical on bad input.
import tap from 'tap';
import { execa, type ResultPromise } from 'execa';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab, LabNode } from './lab.js';
import { LogWaiters } from './log-waiters.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin/egress-agent');
const DIST = join(ROOT, 'dist');

function newestTs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (tsc -p tsconfig.build.json) when it is missing or older than agent/ sources. */
export async function ensureBuilt(): Promise<void> {
  const stamp = join(DIST, 'agent/commands/init.js');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestTs(join(ROOT, 'agent'))) return;
  // tsc still emits when files other helpers are editing do not typecheck; ours must exist after.
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, reject: false });
  if (!existsSync(stamp)) throw new Error('build failed: dist/agent/commands/init.js missing');
}

/** Only what a Kube-OVN init container would see, plus PATH. */
export function agentEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env };
}

export interface InitRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** `bin/egress-agent init ARGS` inside the gateway namespace with exactly `env`. */
export async function runInit(lab: Lab, gw: LabNode, env: Record<string, string>, args: string[] = []): Promise<InitRun> {
  const r = await execa('ip', ['netns', 'exec', lab.ns(gw), BIN, '--log-level', 'warn', 'init', ...args], {
    env: agentEnv(env),
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * Waits until IPv6 duplicate address detection is over in the node (no tentative addresses): the
 * kernel adds local routes for link-local addresses when DAD ends, which would otherwise show up as
 * a difference between two snapshots that nobody caused.
 */
export async function settleIpv6(lab: Lab, gw: LabNode, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await lab.exec(gw, ['ip', '-6', 'addr', 'show', 'tentative']);
    if (String(stdout).trim() === '') return;
    if (Date.now() > deadline) throw new Error(`IPv6 addresses still tentative in ${lab.ns(gw)}: ${String(stdout)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const dropComments = (s: string): string => s.split('\n').filter((l) => !l.startsWith('#')).join('\n');

/** Kernel state the agent could touch: iptables (all tables, both families), rules, routes, ipsets, sysctls. */
export async function snapshot(lab: Lab, gw: LabNode): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const cmds: Record<string, string[]> = {
    'iptables-save': ['iptables-save'],
    'ip6tables-save': ['ip6tables-save'],
    'ip -4 rule': ['ip', '-4', 'rule'],
    'ip -6 rule': ['ip', '-6', 'rule'],
    'ip -4 route show table all': ['ip', '-4', 'route', 'show', 'table', 'all'],
    'ip -6 route show table all': ['ip', '-6', 'route', 'show', 'table', 'all'],
    'ipset save': ['ipset', 'save'],
    sysctls: ['sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding /proc/sys/net/ipv4/conf/all/rp_filter /proc/sys/net/ipv4/conf/eth0/rp_filter'],
  };
  for (const [name, argv] of Object.entries(cmds)) {
    const r = await lab.exec(gw, argv);
    // iptables-save prints a "# Generated ... on <date>" header: not state.
    out[name] = name.includes('tables-save') ? dropComments(String(r.stdout)) : String(r.stdout);
  }
  return out;
}

export interface LogLine {
  level: number;
  msg: string;
  trigger?: string;
  drift?: { kind: string; object: string; problem: string; expected?: string; actual?: string; family?: number }[];
  remaining?: unknown[];
  [key: string]: unknown;
}

// The reconciler alone (what `egress-agent run` wraps with BFD and health), logging JSON to stdout.
const AGENT_DRIVER = `
const dist = process.env.EGRESS_AGENT_TEST_DIST;
const { loadConfig } = await import(dist + '/agent/config/load.js');
const { createLogger } = await import(dist + '/agent/lib/log.js');
const { Reconciler } = await import(dist + '/agent/reconcile/reconciler.js');
const loaded = loadConfig({ env: process.env });
if (!loaded.ok) { console.error(JSON.stringify(loaded.errors)); process.exit(2); }
const r = new Reconciler({ config: loaded.config, logger: createLogger('debug', { destination: process.stdout }) });
process.on('SIGTERM', () => { r.stop().then(() => process.exit(0)); });
await r.applyOnce('startup');
await r.start();
console.log(JSON.stringify({ level: 30, msg: 'reconciler started' }));
`;

/** A running reconciler in a gateway namespace; its JSON log lines are collected. */
export class AgentProcess {
  private readonly log = new LogWaiters<LogLine>();
  /** Its JSON log lines so far. */
  get lines(): readonly LogLine[] {
    return this.log.lines;
  }
  private readonly child: ResultPromise;
  stderr = '';

  constructor(lab: Lab, gw: LabNode, env: Record<string, string>) {
    this.child = execa('ip', ['netns', 'exec', lab.ns(gw), 'node', '--input-type=module', '-e', AGENT_DRIVER], {
      env: agentEnv({ ...env, EGRESS_AGENT_TEST_DIST: DIST }),
      extendEnv: false,
      reject: false,
      buffer: false,
    });
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const text = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        this.log.push(line);
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    // A dead agent logs nothing more: fail its waiters now, with what it said, not at their timeouts.
    this.child.on('close', () => this.log.end(() => this.exitError()));
  }

  private exitError(): Error {
    return new Error(`the agent exited (${String(this.exit)}) without a matching log line; stderr: ${this.stderr}`);
  }

  /** Resolves with the first log line (already seen from index `from`, or future) matching `pred`. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, from = 0): Promise<LogLine> {
    return this.log.wait(pred, timeoutMs, from, () => new Error(`no matching agent log line within ${timeoutMs} ms; stderr: ${this.stderr}`));
  }

  /** The agent's pid (`ip netns exec` execs node in place). */
  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`agent process did not start; stderr: ${this.stderr}`);
    return this.child.pid;
  }

  /** Null while the process runs; its exit code, or the signal that ended it. */
  get exit(): number | string | null {
    return this.child.exitCode ?? this.child.signalCode;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGTERM');
    await this.child;
  }
}

type TapTest = Parameters<Parameters<typeof tap.test>[0]>[0];
export type FamilyKey = 'ipv4' | 'ipv6';

/** Rules other software put in the built-in chains: they must survive every apply and repair. */
export function foreignRules(fam: FamilyKey): { table: string; chain: string; spec: string }[] {
  const [a, b, c] = fam === 'ipv4' ? ['192.0.2.7/32', '192.0.2.8/32', '192.0.2.9/32'] : ['2001:db8:ffff::7/128', '2001:db8:ffff::8/128', '2001:db8:ffff::9/128'];
  return [
    { table: 'nat', chain: 'PREROUTING', spec: `-s ${a} -p tcp -m tcp --dport 9999 -j RETURN` },
    { table: 'nat', chain: 'POSTROUTING', spec: `-d ${b} -j RETURN` },
    { table: 'raw', chain: 'PREROUTING', spec: `-s ${c} -j CT --notrack` },
  ];
}

export const iptablesTool = (fam: FamilyKey): string => (fam === 'ipv4' ? 'iptables' : 'ip6tables');

export async function addForeignRules(lab: Lab, gw: LabNode, fam: FamilyKey): Promise<void> {
  for (const r of foreignRules(fam)) await lab.exec(gw, [iptablesTool(fam), '-t', r.table, '-A', r.chain, ...r.spec.split(' ')]);
}

export async function iptablesSave(lab: Lab, gw: LabNode, fam: FamilyKey, table: string): Promise<string[]> {
  const { stdout } = await lab.exec(gw, [`${iptablesTool(fam)}-save`, '-t', table]);
  return String(stdout).split('\n').filter((l) => l.startsWith('-A ') || l.startsWith(':'));
}

/** Asserts each foreign rule is present exactly once. */
export async function checkForeignRules(t: TapTest, lab: Lab, gw: LabNode, fam: FamilyKey, when: string): Promise<void> {
  for (const r of foreignRules(fam)) {
    const lines = await iptablesSave(lab, gw, fam, r.table);
    t.equal(lines.filter((l) => l === `-A ${r.chain} ${r.spec}`).length, 1, `${when}: foreign ${iptablesTool(fam)} ${r.table} ${r.chain} rule "${r.spec}" survives, once`);
  }
}

/** Kube-OVN's observable outputs for one configured family (docs/kube-ovn-contract.md §4), in our owned chains. */
export async function checkFamilyApplied(t: TapTest, lab: Lab, gw: LabNode, fam: FamilyKey, addrs: { eth0: string; net1: string; internalGateway: string }): Promise<void> {
  const f = fam === 'ipv4' ? '-4' : '-6';
  const rules = String((await lab.exec(gw, ['ip', f, 'rule'])).stdout).split('\n').filter((l) => /^100[1-4]:/.test(l));
  t.same(rules.map((l) => l.replace(/\s+/g, ' ').trim()), [
    '1001: from all iif eth0 lookup default',
    '1002: from all iif net1 lookup 1000',
    `1003: from ${addrs.eth0} iif lo lookup 1000`,
    `1004: from ${addrs.net1} iif lo lookup default`,
  ], `${fam}: rules 1001-1004 exactly as Kube-OVN installs them`);
  const table = String((await lab.exec(gw, ['ip', f, 'route', 'show', 'table', '1000'])).stdout).trim();
  t.match(table, new RegExp(`^default via ${addrs.internalGateway} dev eth0( metric 1024 pref medium)?$`), `${fam}: table 1000 holds only default via the internal gateway`);
  const nat = await iptablesSave(lab, gw, fam, 'nat');
  t.equal(nat.filter((l) => l === '-A POSTROUTING -j VEG-POSTROUTING').length, 1, `${fam}: one jump from nat POSTROUTING`);
  t.equal(nat.filter((l) => l === '-A PREROUTING -j VEG-PREROUTING').length, 1, `${fam}: one jump from nat PREROUTING`);
  t.ok(nat.includes('-A VEG-MASQUERADE -j MASQUERADE --random-fully'), `${fam}: MASQUERADE --random-fully in the owned chain`);
  const set = fam === 'ipv4' ? 'VEG-NOSNAT4' : 'VEG-NOSNAT6';
  t.ok(nat.includes(`-A VEG-POSTROUTING -m set --match-set ${set} src -j RETURN`) && nat.includes(`-A VEG-POSTROUTING -m set --match-set ${set} dst -j RETURN`), `${fam}: no-SNAT set matched as source and destination`);
}

/** Nothing of ours in a family that is not configured. */
export async function checkFamilyUntouched(t: TapTest, lab: Lab, gw: LabNode, fam: FamilyKey): Promise<void> {
  const f = fam === 'ipv4' ? '-4' : '-6';
  const rules = String((await lab.exec(gw, ['ip', f, 'rule'])).stdout);
  t.notMatch(rules, /^100[1-4]:/m, `${fam} not configured: no rules 1001-1004`);
  // `show table 1000` fails when the table was never created; look through all tables instead.
  t.notMatch(String((await lab.exec(gw, ['ip', f, 'route', 'show', 'table', 'all'])).stdout), /\btable 1000\b/, `${fam} not configured: table 1000 empty`);
  t.notMatch((await iptablesSave(lab, gw, fam, 'nat')).join('\n'), /VEG-/, `${fam} not configured: no VEG chains`);
  const sets = await lab.exec(gw, ['ipset', 'list', '-n']);
  t.notMatch(String(sets.stdout), fam === 'ipv4' ? /VEG-NOSNAT4/ : /VEG-NOSNAT6/, `${fam} not configured: no no-SNAT set`);
}

/** Real packets from the VPC client through gw1 to the server: SNAT to net1, no-SNAT source kept (replies via rule 1002). */
export async function checkTraffic(t: TapTest, lab: Lab, fam: FamilyKey, f: { client: string; noSnatClient: string; server: string; net1: string }): Promise<void> {
  for (const proto of ['tcp', 'udp'] as const) {
    const snat = await lab.curl(f.client, f.server, proto);
    t.equal(snat.ip, f.net1, `${fam} ${proto}: the server sees the gateway's net1 address (SNAT)`);
    const plain = await lab.curl(f.noSnatClient, f.server, proto);
    t.equal(plain.ip, f.noSnatClient, `${fam} ${proto}: the no-SNAT source is seen unchanged and the reply returns`);
  }
}

/** The init flow for one lab shape: foreign rules, init, observable state, traffic, idempotent second init. */
export async function initScenario(t: TapTest, lab: Lab, configured: FamilyKey[], unconfigured: FamilyKey[]): Promise<void> {
  await ensureBuilt();
  const gw: LabNode = 'gw1';
  const info = await lab.info();
  const env = await lab.env(gw);
  for (const fam of configured) await addForeignRules(lab, gw, fam);

  // Without the agent the gateway does not forward: the lab starts broken on purpose.
  const fam0 = configured[0]!;
  const f0 = info[fam0]!;
  await t.rejects(lab.curl(f0.client!, f0.server!), `${fam0}: no egress before the agent runs`);

  const first = await runInit(lab, gw, env);
  t.equal(first.exitCode, 0, `init exits 0 (stderr: ${first.stderr})`);
  const summary = JSON.parse(first.stdout) as { verified: boolean; changed: boolean; drift: unknown[]; remaining: unknown[] };
  t.equal(summary.verified, true, 'init verified the read-back');
  t.equal(summary.changed, true, 'first init changed the dataplane');
  t.same(summary.remaining, [], 'nothing remaining after apply');

  for (const fam of configured) {
    const f = info[fam]!;
    const gwAddrs = f.gateways[gw]!;
    await checkFamilyApplied(t, lab, gw, fam, { eth0: gwAddrs.eth0!, net1: gwAddrs.net1!, internalGateway: f.internalGateway! });
    await checkForeignRules(t, lab, gw, fam, 'after init');
    await checkTraffic(t, lab, fam, { client: f.client!, noSnatClient: f.noSnatClient!, server: f.server!, net1: gwAddrs.net1! });
  }
  for (const fam of unconfigured) await checkFamilyUntouched(t, lab, gw, fam);

  await settleIpv6(lab, gw);
  const before = await snapshot(lab, gw);
  const second = await runInit(lab, gw, env);
  t.equal(second.exitCode, 0, 'second init exits 0');
  const again = JSON.parse(second.stdout) as { verified: boolean; changed: boolean; drift: unknown[] };
  t.equal(again.changed, false, 'second init: no change');
  t.same(again.drift, [], 'second init: empty drift');
  t.same(await snapshot(lab, gw), before, 'second init: kernel state byte-identical (nothing duplicated)');
  for (const fam of configured) await checkForeignRules(t, lab, gw, fam, 'after second init');
}
