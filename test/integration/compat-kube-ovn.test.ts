// Kube-OVN drop-in, end to end in a lab replica (prefix vdlk) with FRR's bfdd as OVN's BFD port:
// the exact command lines Kube-OVN's Pod spec uses, with the environment it sets, against the
// repository's scripts/kube-ovn and native/out binaries (installed at /kube-ovn/ in the image).
//   init container (root):  bash -exc "chmod +t SBIN && chmod 1777 SUPERVISOR_DIR && bash .../init-vpc-egress-gateway.sh"
//   G3 bfdd container (uid 65534):  kube-ovn-bfdd-supervisor run; probes `live`/`ready`/`status`; HTTP :10669
//   G1/G2 bfdd container (uid 65534):  bash start-bfdd.sh; bash bfdd-prestart.sh; bfdd-control status; bash bfdd-healthcheck.sh
// including Kube-OVN's e2e zero-session injection (block + session all kill) and its expectations.
import t from 'tap';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/agent-paths.js';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';

t.setTimeout(300_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');
await ensureBuilt();
await execa('make', ['probe'], { cwd: ROOT });
const OUT = join(ROOT, 'native/out');
const SUPERVISOR = join(OUT, 'kube-ovn-bfdd-supervisor');
const SCRIPTS = join(ROOT, 'scripts/kube-ovn');
const NOBODY = 65534;

const lab = await withLab(t, { prefix: 'vdlk', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const info = await lab.info();
const eth0v4 = info.ipv4!.gateways.gw1!.eth0!;
const eth0v6 = info.ipv6!.gateways.gw1!.eth0!;
const labEnv = await lab.env('gw1');
const pick = (keys: string[]) => Object.fromEntries(Object.entries(labEnv).filter(([k]) => keys.some((p) => k.startsWith(p))));
// What Kube-OVN's controller puts in each container (vpcEgressGatewayInitContainerEnv; the bfdd env).
const initEnv = pick(['INTERNAL_GATEWAY_', 'EXTERNAL_GATEWAY_', 'NO_SNAT_SOURCES_']);
const bfddEnv = pick(['POD_IPS', 'BFD_PEER_IPS', 'BFD_MIN_TX', 'BFD_MIN_RX', 'BFD_MULTI']);
t.ok(initEnv.INTERNAL_GATEWAY_IPV4 && bfddEnv.POD_IPS && bfddEnv.BFD_PEER_IPS, 'lab provides the Kube-OVN environment');
const peers = bfddEnv.BFD_PEER_IPS!.split(',');

// The Pod's volumes: /usr/local/sbin and the supervisor's emptyDir (paths under a private dir here).
const pod = mkdtempSync('/tmp/vdlk-');
t.teardown(() => rmSync(pod, { recursive: true, force: true }));
chmodSync(pod, 0o755);
const sbin = join(pod, 'usr-local-sbin');
const supervisorDir = join(pod, 'bfdd-supervisor');
const agentRun = join(pod, 'egress-agent'); // the image's /run/egress-agent, owned by 65534
for (const d of [sbin, supervisorDir, agentRun]) mkdirSync(d, { mode: 0o777 });
chownSync(agentRun, NOBODY, NOBODY);
chmodSync(agentRun, 0o700);

const PATH = `${OUT}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
/** The image's fixed locations, pointed at the repository (and the Pod's volumes). */
const imageEnv = {
  PATH,
  EGRESS_AGENT_BIN: join(ROOT, 'bin/egress-agent'),
  KUBE_OVN_BFDD_SUPERVISOR: SUPERVISOR,
  EGRESS_AGENT_SOCKET: join(agentRun, 'control.sock'),
  BFDD_SUPERVISOR_SOCKET: join(supervisorDir, 'control.sock'),
  BFDD_SUPERVISOR_STATE: join(supervisorDir, 'state.json'),
};
const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];
const inPod = (argv: string[], env: Record<string, string>, user: 'root' | 'nobody' = 'nobody') =>
  execa('ip', ['netns', 'exec', lab.ns('gw1'), ...(user === 'nobody' ? asNobody : []), ...argv],
    { env, extendEnv: false, reject: false, timeout: 20_000, stdin: 'ignore', stripFinalNewline: false });
const bfddControl = (...args: string[]) => inPod(['bfdd-control', ...args], { ...imageEnv, ...bfddEnv });
const supervisorCli = (cmd: string) => inPod([SUPERVISOR, cmd], { ...imageEnv, ...bfddEnv });

/** A long-running container process in the replica, killed in teardown if still running. */
function container(argv: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn('ip', ['netns', 'exec', lab.ns('gw1'), ...asNobody, ...argv], { env: { ...imageEnv, ...bfddEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8');
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => out, exited };
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fn();
    if (r !== null) return r;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

t.test('init container: Kube-OVN\'s exact command line configures the replica and exits 0', async (t) => {
  const cmd = `chmod +t ${sbin} && chmod 1777 ${supervisorDir} && bash ${join(SCRIPTS, 'init-vpc-egress-gateway.sh')}`;
  const r = await inPod(['bash', '-exc', cmd], { ...imageEnv, ...initEnv }, 'root');
  if (!t.equal(r.exitCode, 0, 'init exits 0')) t.comment(r.stderr);
  const rules = (await lab.exec('gw1', ['ip', '-4', 'rule'])).stdout;
  for (const prio of ['1001:', '1002:', '1003:', '1004:']) t.match(rules, prio, `rule ${prio} installed`);
  t.match((await lab.exec('gw1', ['ip', '-4', 'route', 'show', 'table', '1000'])).stdout, `default via ${initEnv.INTERNAL_GATEWAY_IPV4}`);
  const bad = await inPod(['bash', '-exc', `bash ${join(SCRIPTS, 'init-vpc-egress-gateway.sh')}`], { ...imageEnv, ...initEnv, BFD_MULTI: '0', INTERNAL_GATEWAY_IPV4: '10.16.0' }, 'root');
  t.not(bad.exitCode, 0, 'bad input: non-zero exit (Init:CrashLoopBackOff) ...');
  t.match(bad.stderr, /INTERNAL_GATEWAY_IPV4="10\.16\.0"/, '... with an error naming the variable');
});

t.test('G3: kube-ovn-bfdd-supervisor run as uid 65534, its probes, status and the e2e zero-session recovery', async (t) => {
  const sup = container([SUPERVISOR, 'run']);
  // startupProbe: `kube-ovn-bfdd-supervisor live`, period 2 s, failureThreshold 30.
  await until('startup probe passes', 30_000, async () => ((await supervisorCli('live')).exitCode === 0 ? true : null)).catch((e: Error) => {
    throw new Error(`${e.message}; output: ${sup.output()}`);
  });
  const pid = sup.child.pid!;
  t.same(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean), [SUPERVISOR, 'run'],
    'the launcher keeps its command line (PID 1 in the Pod: /proc/1/cmdline starts with kube-ovn-bfdd-supervisor run)');
  const agentPid = childrenOf(pid)[0]!;
  t.ok(agentPid, 'the agent runs as the launcher\'s child');
  t.match(readFileSync(`/proc/${agentPid}/status`, 'utf8'), new RegExp(`Uid:\\s+${NOBODY}\\s`), 'as uid 65534');
  t.ok(existsSync(imageEnv.BFDD_SUPERVISOR_SOCKET), 'the supervisor socket exists (Kube-OVN e2e checks it)');

  await until('ready (all expected sessions Up)', 30_000, async () => ((await supervisorCli('ready')).exitCode === 0 ? true : null));
  const st = await supervisorCli('status');
  t.equal(st.exitCode, 0);
  t.ok(st.stdout.endsWith('}\n') && !st.stdout.slice(0, -1).includes('\n'), 'status prints one JSON line, as the Go client');
  const status = JSON.parse(st.stdout) as { Live: boolean; Ready: boolean; Sessions: { Pair: { Local: string; Remote: string }; State: string; Attempts: number; LastAction: string }[] };
  t.equal(status.Live, true);
  t.equal(status.Ready, true);
  t.same(status.Sessions.map((s) => [s.Pair.Local, s.State]).sort(), [[eth0v4, 'Up'], [eth0v6, 'Up']].sort());
  // Default VPC: HTTP livez on the named port bfdd-metrics (10669, BFDD_METRICS_ADDRESS default).
  const http = await inPod([process.execPath, '--input-type=module', '-e',
    'for (const p of ["/livez", "/metrics"]) { const r = await fetch("http://127.0.0.1:10669" + p); console.log(r.status, (await r.text()).match(/^kube_ovn_bfdd_up_sessions .*$/m)?.[0] ?? "") }'], { PATH });
  t.same(http.stdout.split('\n').map((l) => l.trim()).filter(Boolean), ['200', '200 kube_ovn_bfdd_up_sessions 2']);

  // Kube-OVN e2e: block every peer and kill all sessions ...
  for (const peer of peers) t.match((await bfddControl('block', peer)).stdout, `Blocking connections from ${peer}.`);
  t.equal((await bfddControl('session', 'all', 'kill')).stdout, 'Attempting to kill session(s).\n');
  // ... "There are 0 sessions:" within 10 s ...
  await until('There are 0 sessions', 10_000, async () => ((await bfddControl('status')).stdout.startsWith('There are 0 sessions:') ? true : null));
  t.equal((await supervisorCli('ready')).exitCode, 1, 'not ready meanwhile');
  t.equal((await supervisorCli('live')).exitCode, 0, 'still live: session absence never fails liveness');
  // ... then, within 2 min, Live=true and a session with Attempts>0 and LastAction=="ReplayConfiguration", no restart.
  const replayed = await until('ReplayConfiguration recorded', 120_000, async () => {
    const s = JSON.parse((await supervisorCli('status')).stdout) as typeof status;
    return s.Live && s.Sessions.some((x) => x.Attempts > 0 && x.LastAction === 'ReplayConfiguration') ? s : null;
  });
  t.ok(replayed.Live);
  t.same(childrenOf(pid), [agentPid], 'no restart: the same agent process');
  await until('all sessions Up again', 30_000, async () => ((await supervisorCli('ready')).exitCode === 0 ? true : null));
  t.match((await bfddControl('status')).stdout, /^There are 2 sessions:\n/);

  // Pod deletion: SIGTERM to PID 1, forwarded; AdminDown reaches the peer; exit 0.
  const t0 = Date.now();
  sup.child.kill('SIGTERM');
  t.equal(await sup.exited, 0, 'the launcher exits 0 with the agent');
  const tr = await lab.frrTransition(eth0v4, 'down', t0);
  t.match(tr.reason, /neighbor-down|neighbor_down|signaled/, 'the peer was told (AdminDown)');
  t.equal((await supervisorCli('live')).exitCode, 1, 'live fails once the agent is gone');
});

t.test('G1/G2: start-bfdd.sh, the one-shot prestart startup probe, bfdd-control status and the G2 healthcheck', async (t) => {
  await lab.frrWait(eth0v4, 'down', 5).catch(() => undefined);
  const bfdd = container(['bash', join(SCRIPTS, 'start-bfdd.sh')]);
  // startupProbe: exec `bash /kube-ovn/bfdd-prestart.sh`, initialDelaySeconds 1, failureThreshold 1 (kubelet timeout 1 s).
  await new Promise((r) => setTimeout(r, 1000));
  const pre = await inPod(['bash', join(SCRIPTS, 'bfdd-prestart.sh')], { ...imageEnv, ...bfddEnv });
  if (!t.equal(pre.exitCode, 0, 'prestart succeeds on its single try')) t.comment(`${pre.stderr}\n${bfdd.output()}`);
  // readiness/liveness (G1): `bfdd-control status`, default 1 s timeout.
  const status = await until('sessions Up in bfdd-control status', 30_000, async () => {
    const r = await bfddControl('status');
    return r.exitCode === 0 && (r.stdout.match(/state=Up /g) ?? []).length === 2 ? r.stdout : null;
  });
  t.match(status, new RegExp(`^There are 2 sessions:\\nSession \\d+\\n id=\\d+ local=\\S+ \\(a\\) remote=\\S+ state=Up \\n`));
  const fast = Date.now();
  t.equal((await bfddControl('status')).exitCode, 0);
  t.ok(Date.now() - fast < 1000, 'well inside the 1 s probe timeout');
  t.equal((await inPod(['bash', join(SCRIPTS, 'bfdd-healthcheck.sh')], { ...imageEnv, ...bfddEnv })).exitCode, 0, 'G2 healthcheck passes');

  for (const peer of peers) await bfddControl('block', peer);
  await bfddControl('session', 'all', 'kill');
  const hc = await inPod(['bash', join(SCRIPTS, 'bfdd-healthcheck.sh')], { ...imageEnv, ...bfddEnv });
  t.equal(hc.exitCode, 1, 'zero sessions: the G2 healthcheck fails ...');
  t.match(hc.stderr, /^There are 0 sessions:/m);
  t.match(hc.stdout, peers.map((p) => `Allowing connections from ${p}`).join('\n'), '... and re-allows the peers');
  await until('sessions back after allow', 30_000, async () => ((await bfddControl('status')).stdout.match(/state=Up /g)?.length === 2 ? true : null));
  t.equal((await inPod(['bash', join(SCRIPTS, 'bfdd-healthcheck.sh')], { ...imageEnv, ...bfddEnv })).exitCode, 0);

  bfdd.child.kill('SIGTERM');
  t.equal(await bfdd.exited, 0);
});
