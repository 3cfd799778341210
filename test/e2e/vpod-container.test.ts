// The gateway Pod for real: the image (`make image`) run with podman exactly as Kube-OVN's
// controller writes the Pod (scripts/pod/pod.sh, docs/container.md) in a lab replica's network
// namespace, with FRR's bfdd as OVN's BFD port (3 x 100 ms): the privileged init container as root,
// then the bfdd container `/kube-ovn/kube-ovn-bfdd-supervisor run` as uid 65534 with only the CRI's
// bounding capabilities, 64 MiB and 300m, the controller's env, kubelet's probes. Then everything a
// user relies on, in that container: BFD Up, SNAT and no-SNAT traffic v4+v6, Kube-OVN's own e2e
// checks, the init -> bfdd hand-off (drift repaired as uid 65534), SIGKILL -> Down and restart -> Up,
// an unreachable external gateway -> AdminDown, `podman stop` -> AdminDown and exit 0.
// The scenarios share one lab (prefix vpod) and one Pod and run in order.
import t from 'tap';
import { checkTraffic } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';
import { CAP, capMask, ensureImage, parseProcStatus, withPod } from '../../scripts/pod/pod.js';

type Fam = 'ipv4' | 'ipv6';
const FAMS: Fam[] = ['ipv4', 'ipv6'];
const SUPERVISOR_RUN = '/kube-ovn/kube-ovn-bfdd-supervisor run';
// Slack over the BFD detection time on a loaded 2-CPU machine (and the 300m CPU quota).
const DETECT_SLACK_MS = 300;

t.setTimeout(480_000);
t.equal(process.getuid?.(), 0, 'e2e tests run as root (CI does); not skipping');
await ensureImage();

const lab = await withLab(t, { prefix: 'vpod', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const info = await lab.info();
const fam = (f: Fam) => info[f]!;
const eth0 = (f: Fam): string => fam(f).gateways.gw1!.eth0!;
const env = await lab.env('gw1');
const peers = env.BFD_PEER_IPS!.split(',');
const pod = await withPod(t, 'vpod-gw1');

const until = <T>(what: string, timeoutMs: number, fn: () => Promise<T | null>, periodMs?: number): Promise<T> => pod.until(what, timeoutMs, fn, periodMs);
const probeOk = (what: 'live' | 'ready') => async () => ((await pod.probe(what)).exitCode === 0 ? true : null);
/** kubelet's startupProbe: exec `live`, period 2 s, failureThreshold 30. */
const started = () => until('startupProbe (supervisor live)', 60_000, probeOk('live'), 2000);
const inPod = async (script: string): Promise<string> => {
  const r = await pod.exec(['sh', '-c', script]);
  if (r.exitCode !== 0) throw new Error(`in the Pod: ${script}: exit ${r.exitCode}: ${String(r.stderr)}`);
  return String(r.stdout);
};
/** FRR's detection time for our session: our multiplier x max(its RequiredMinRx, our DesiredMinTx). */
async function frrDetectMs(peer: string): Promise<number> {
  const p = (await lab.frrJson()).find((x) => x.peer === peer);
  if (!p) throw new Error(`bfdd has no peer ${peer}`);
  return p['remote-detect-multiplier'] * Math.max(p['receive-interval'], p['remote-transmit-interval']);
}
async function allUp(): Promise<void> {
  await until('readinessProbe (every expected session Up)', 60_000, probeOk('ready'));
  for (const f of FAMS) await lab.frrWait(eth0(f), 'up', 20);
}
const podPid = () => pod.inspect('{{.State.Pid}}');

t.test('init container (privileged, root, the controller\'s exact command) configures the replica', async (t) => {
  await pod.create(lab.ns('gw1'), env); // rejects when the init container exits non-zero
  for (const [f, flag] of [['ipv4', '-4'], ['ipv6', '-6']] as const) {
    const rules = String((await lab.exec('gw1', ['ip', flag, 'rule'])).stdout);
    for (const prio of ['1001:', '1002:', '1003:', '1004:']) t.match(rules, prio, `${f}: rule ${prio}`);
    t.match(String((await lab.exec('gw1', ['ip', flag, 'route', 'show', 'table', '1000'])).stdout), `default via ${fam(f).internalGateway}`, `${f}: table 1000 default via the internal gateway`);
  }
});

t.test('bfdd container: PID 1 is the supervisor, uid 65534, the CRI\'s capabilities, limits and env', async (t) => {
  await started();
  t.ok((await inPod("tr '\\0' ' ' </proc/1/cmdline")).startsWith(SUPERVISOR_RUN), `/proc/1/cmdline starts with "${SUPERVISOR_RUN}" (Kube-OVN e2e)`);
  t.equal((await pod.exec(['test', '-S', '/var/run/kube-ovn/bfdd-supervisor/control.sock'])).exitCode, 0, 'the supervisor socket exists (Kube-OVN e2e)');
  const bounding = capMask(CAP.NET_ADMIN, CAP.NET_BIND_SERVICE, CAP.NET_RAW);
  const pid1 = parseProcStatus(await inPod('cat /proc/1/status'));
  t.match(pid1, { uid: /^65534\s/, inh: 0n, prm: 0n, eff: 0n, amb: 0n, bnd: bounding, seccomp: '2', noNewPrivs: '0' },
    'PID 1: uid 65534, nothing effective/permitted/inheritable/ambient, bounding NET_ADMIN NET_BIND_SERVICE NET_RAW, seccomp filter');
  const children = (await inPod('cat /proc/1/task/1/children')).trim().split(/\s+/);
  t.equal(children.length, 1, 'one child: the agent');
  const agent = parseProcStatus(await inPod(`cat /proc/${children[0]}/status`));
  t.match(agent, { uid: /^65534\s/, eff: capMask(CAP.NET_ADMIN, CAP.NET_RAW), amb: 0n, bnd: bounding },
    'the agent: NET_ADMIN and NET_RAW effective only through the image\'s file capabilities');
  const environ = (await inPod("tr '\\0' '\\n' </proc/1/environ")).split('\n');
  t.same(environ.filter((l) => /^(INTERNAL|EXTERNAL)_GATEWAY|^NO_SNAT/.test(l)), [], 'no gateway variables (the controller gives the bfdd container none)');
  for (const k of ['POD_IPS', 'BFD_PEER_IPS', 'BFD_MIN_TX', 'BFD_MIN_RX', 'BFD_MULTI']) t.ok(environ.includes(`${k}=${env[k]}`), `${k} as the controller sets it`);
  t.equal(await pod.inspect('{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}'), `${64 * 1024 * 1024} 300000000`, 'limits: memory 64Mi, cpu 300m');
});

t.test('BFD Up with the peer; kubelet\'s probes; bfdd-control status and supervisor status', async (t) => {
  await allUp();
  t.equal(await pod.livez(), '200', 'httpGet /livez on the Pod IP, port 10669: 200 (default-VPC liveness/readiness)');
  const status = String((await pod.exec(['bfdd-control', 'status'])).stdout);
  t.match(status, /^There are 2 sessions:\n/, 'bfdd-control status: OpenBFDD\'s text');
  t.equal(status.match(/ state=Up /g)?.length, 2, 'both sessions Up');
  const st = JSON.parse(String((await pod.probe('status')).stdout)) as { Live: boolean; Sessions: { Pair: { Local: string; Remote: string }; State: string }[] };
  t.equal(st.Live, true);
  t.same(st.Sessions.map((s) => [s.Pair.Local, s.Pair.Remote, s.State]).sort(), FAMS.map((f) => [eth0(f), fam(f).bfdPort, 'Up']).sort());
});

t.test('traffic through the Pod: SNAT to net1 and no-SNAT sources unchanged, IPv4 and IPv6, TCP and UDP', async (t) => {
  for (const f of FAMS) {
    const x = fam(f);
    await checkTraffic(t, lab, f, { client: x.client!, noSnatClient: x.noSnatClient!, server: x.server!, net1: x.gateways.gw1!.net1! });
  }
});

// Kube-OVN's verifyBFDDZeroSessionsRecovery (test/e2e/vpc-egress-gateway), in its order and with
// its shell snippets: detect the supervisor, block the peers and kill every session, 0 sessions
// within 10 s, the supervisor's ReplayConfiguration within 2 min with Live true and no container
// restart, every session Up (`ready`) while the peers are still blocked, then `allow` them again.
const INJECT = `set -euo pipefail
IFS=, read -ra peers <<< "\${BFD_PEER_IPS:-}"
for peer in "\${peers[@]}"; do
  [[ -z "\${peer}" ]] || bfdd-control block "\${peer}" >/dev/null
done
bfdd-control session all kill >/dev/null`;
const RESTORE = `set -euo pipefail
IFS=, read -ra peers <<< "\${BFD_PEER_IPS:-}"
for peer in "\${peers[@]}"; do
  [[ -z "\${peer}" ]] || bfdd-control allow "\${peer}" >/dev/null
done`;

t.test('Kube-OVN e2e: zero sessions injected, ReplayConfiguration within 2 min, no container restart', async (t) => {
  const detect = await inPod("tr '\\0' ' ' </proc/1/cmdline; printf '\\n'; if [ -S /var/run/kube-ovn/bfdd-supervisor/control.sock ]; then printf socket; else printf missing; fi");
  t.equal(detect, `${SUPERVISOR_RUN} \nsocket`, 'Kube-OVN\'s bfddUsesSupervisor detects the supervisor runtime');
  t.same(String((await pod.exec(['printenv', 'BFD_PEER_IPS'])).stdout).trim().split(','), peers, 'printenv BFD_PEER_IPS');
  await allUp();
  const pid = await podPid();
  const agentPid = (await inPod('cat /proc/1/task/1/children')).trim();
  const inject = await pod.exec(['bash', '-c', INJECT]);
  t.equal(inject.exitCode, 0, `peers blocked and sessions killed ${String(inject.stderr)}`);
  await until('There are 0 sessions', 10_000, async () => (String((await pod.exec(['bfdd-control', 'status'])).stdout).includes('There are 0 sessions:') ? true : null), 200);
  type Status = { Live: boolean; Sessions: { Attempts: number; LastAction: string }[] };
  const replayed = await until('Attempts>0 and LastAction ReplayConfiguration', 120_000, async () => {
    if ((await podPid()) !== pid) throw new Error('the bfdd container restarted during the recovery');
    const s = JSON.parse(String((await pod.probe('status')).stdout)) as Status;
    if (!s.Live) throw new Error(`supervisor status Live false during recovery: ${JSON.stringify(s)}`);
    return s.Sessions.some((x) => x.Attempts > 0 && x.LastAction === 'ReplayConfiguration') ? s : null;
  }, 1000);
  t.equal(replayed.Live, true, 'Live stays true');
  await until('ready (every expected session Up) with the peers still blocked', 120_000, probeOk('ready'), 1000);
  t.equal(await podPid(), pid, 'the container was never restarted (same PID 1)');
  t.equal((await inPod('cat /proc/1/task/1/children')).trim(), agentPid, 'the same agent process');
  t.equal((await pod.exec(['bash', '-c', RESTORE])).exitCode, 0, 'peers allowed again');
  t.equal((await pod.probe('ready')).exitCode, 0, 'ready exits 0 afterwards');
  t.equal(await pod.inspect('{{.State.OOMKilled}} {{.State.Running}}'), 'false true', 'still running, never OOM-killed under 64 MiB');
});

/** HTTP /status on the Pod IP (the redacted public view kubelet and Prometheus can reach). */
async function publicStatus(): Promise<{ dataplane: { verified: boolean; repairs: number } | null; upstream: { family: number; healthy: boolean; withdrawn: boolean }[]; snatRecords: { on: boolean }; bfd: { byState: Record<string, number> } | null }> {
  const ip = eth0('ipv4');
  const r = await lab.exec('gw1', ['curl', '-s', '-m', '10', `http://${ip}:10669/status`]);
  return JSON.parse(String(r.stdout));
}

t.test('init -> bfdd hand-off: the bfdd container runs the whole product (dataplane, upstream health, SNAT records) and repairs drift', async (t) => {
  await allUp();
  const handoff = await inPod('cat /var/run/kube-ovn/bfdd-supervisor/egress-agent-handoff.json');
  t.match(JSON.parse(handoff), { schema: 'egress-agent.handoff/v1' }, 'the init container left its validated inputs on the shared emptyDir');
  t.notMatch(handoff, /password|secret/i, 'no secrets in the hand-off');
  const st = await publicStatus();
  t.equal(st.dataplane?.verified, true, 'the bfdd container manages and verifies the dataplane');
  t.same(st.upstream.map((u) => u.family).sort(), [4, 6], 'upstream health watches both families');
  t.equal(st.snatRecords.on, true, 'SNAT records are on');
  const repairsBefore = st.dataplane!.repairs;
  // Drift inside the running Pod's network namespace: rule 1002 deleted, table 1000 flushed.
  for (const flag of ['-4', '-6']) {
    await lab.exec('gw1', ['ip', flag, 'rule', 'del', 'priority', '1002']);
    await lab.exec('gw1', ['ip', flag, 'route', 'flush', 'table', '1000']);
  }
  // Bound: the reconcile interval (10 s) plus slack; netlink events usually repair it at once.
  await until('rule 1002 and table 1000 repaired by the agent as uid 65534', 15_000, async () => {
    for (const [f, flag] of [['ipv4', '-4'], ['ipv6', '-6']] as const) {
      if (!String((await lab.exec('gw1', ['ip', flag, 'rule'])).stdout).includes('1002:')) return null;
      if (!String((await lab.exec('gw1', ['ip', flag, 'route', 'show', 'table', '1000'])).stdout).includes(`default via ${fam(f).internalGateway}`)) return null;
    }
    return true;
  }, 250);
  t.pass('rules 1002 and table 1000 are back (IPv4 and IPv6)');
  // The rule is back midway through the agent's pass; the pass is counted when it has verified
  // everything (iptables included), a few hundred ms later under the 300m quota.
  const after = await until('the repair pass counted', 10_000, async () => {
    const s = await publicStatus();
    return s.dataplane!.repairs > repairsBefore ? s : null;
  }, 250);
  t.pass(`the repair is counted (${repairsBefore} -> ${after.dataplane!.repairs})`);
  t.equal(after.dataplane!.verified, true, 'verified after the repair');
  const logs = (await pod.logs()).split('\n').filter((l) => l.includes('"msg":"dataplane drift repaired"'));
  t.ok(logs.length > 0, `the bfdd container's agent logged the repair: ${logs.at(-1)?.slice(0, 300)}`);
});

t.test('SIGKILL of the container: the peer declares it Down within the detection time; restarted, Up again', async (t) => {
  await allUp();
  const detect = await Promise.all(FAMS.map((f) => frrDetectMs(eth0(f))));
  const killedAt = Date.now();
  await pod.kill('KILL');
  for (const [i, f] of FAMS.entries()) {
    await lab.frrWait(eth0(f), 'down', 10);
    const tr = await lab.frrTransition(eth0(f), 'down', killedAt);
    t.equal(tr.reason, 'control-expired', `${f}: the session timed out (a killed Pod sends nothing)`);
    t.ok(tr.ms <= detect[i]! + DETECT_SLACK_MS, `${f}: Down ${tr.ms} ms after the kill (detection ${detect[i]} ms + ${DETECT_SLACK_MS} ms slack)`);
  }
  t.equal(await pod.inspect('{{.State.ExitCode}}'), '137', 'the container died of SIGKILL');
  const restartedAt = Date.now();
  await pod.start();
  await started();
  await allUp();
  for (const f of FAMS) t.comment(`${f}: the peer saw the restarted Pod Up ${(await lab.frrTransition(eth0(f), 'up', restartedAt)).ms} ms after the restart began`);
  for (const f of FAMS) {
    const x = fam(f);
    const r = await lab.curl(x.client!, x.server!, 'tcp');
    t.equal(r.ip, x.gateways.gw1!.net1, `${f}: SNAT traffic flows again`);
  }
});

t.test('external gateway unreachable (its neighbour FAILED): sessions AdminDown; back: Up', async (t) => {
  await allUp();
  const ext = (...argv: string[]) => lab.exec('ext', argv);
  const brokenAt = Date.now();
  await ext('ip', 'addr', 'del', `${fam('ipv4').externalGateway}/16`, 'dev', 'br-ext');
  await ext('ip', 'addr', 'del', `${fam('ipv6').externalGateway}/64`, 'dev', 'br-ext');
  for (const f of FAMS) {
    await lab.frrWait(eth0(f), 'down', 30);
    const tr = await lab.frrTransition(eth0(f), 'down', brokenAt);
    t.match(tr.reason, /neighbor-down|neighbor_down|signaled/, `${f}: the peer was told AdminDown (reason ${tr.reason}), ${tr.ms} ms after the gateway went away`);
  }
  t.ok((await publicStatus()).upstream.every((u) => u.withdrawn), 'both families withdrawn');
  await ext('ip', 'addr', 'add', `${fam('ipv4').externalGateway}/16`, 'dev', 'br-ext');
  await ext('ip', 'addr', 'add', `${fam('ipv6').externalGateway}/64`, 'dev', 'br-ext', 'nodad');
  await allUp();
  t.ok((await publicStatus()).upstream.every((u) => u.healthy && !u.withdrawn), 'healthy again, sessions back Up');
});

t.test('podman stop (SIGTERM, grace 30 s): the peer sees AdminDown at once; exit code 0', async (t) => {
  await allUp();
  const detect = await Promise.all(FAMS.map((f) => frrDetectMs(eth0(f))));
  const stoppedAt = Date.now();
  t.equal(await pod.stop(), 0, 'the container exits 0 (drained within the grace period, no SIGKILL)');
  for (const [i, f] of FAMS.entries()) {
    const tr = await lab.frrTransition(eth0(f), 'down', stoppedAt);
    t.match(tr.reason, /neighbor-down|neighbor_down|signaled/, `${f}: the peer was told (AdminDown), not left to time out (reason ${tr.reason})`);
    t.comment(`${f}: the peer saw AdminDown ${tr.ms} ms after podman stop began (detection time would be ${detect[i]} ms)`);
  }
});
