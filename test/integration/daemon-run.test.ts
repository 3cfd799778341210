// The real `egress-agent run` in a lab replica (prefix vdl) against FRR's bfdd: health endpoints,
// the control socket (mode, permissions, commands), the CLI verbs and the native probe client,
// event-loop independence of BFD, live timer changes and reloads (Poll, no flap), admin down/up,
// and the SIGTERM drain (AdminDown seen by the peer, exit 0 within the grace period).
import t from 'tap';
import { execa } from 'execa';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_MAIN, ROOT } from '../helpers/agent-paths.js';
import { Agent, AgentHome } from '../helpers/agent-process.js';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab, type FrrPeer } from '../helpers/lab.js';

t.setTimeout(240_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');
await ensureBuilt();
await execa('make', ['probe'], { cwd: ROOT });
const PROBE = join(ROOT, 'native/out/egress-agent-probe');
t.ok(existsSync(PROBE), 'native probe client built');

const home = await AgentHome.create(t, 'vdl');
const lab = await withLab(t, { prefix: 'vdl', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const info = await lab.info();
const eth0v4 = info.ipv4!.gateways.gw1!.eth0!;
const eth0v6 = info.ipv6!.gateways.gw1!.eth0!;
const bfd4 = info.ipv4!.bfdPort!;
const bfd6 = info.ipv6!.bfdPort!;

const configFile = join(home.paths('gw1').dir, 'config.json');
mkdirSync(home.paths('gw1').dir, { recursive: true, mode: 0o700 });
const writeConfig = (bfd: object) => writeFileSync(configFile, JSON.stringify({ bfd, reconcileIntervalMs: 2000 }));
writeConfig({ minTxMs: 100, minRxMs: 100, multiplier: 3 });

const agent = await Agent.start(t, lab, home, 'gw1', { env: { EGRESS_AGENT_CONFIG: configFile, EGRESS_AGENT_DRAIN_GRACE_MS: '3000', EGRESS_AGENT_DEBUG_COMMANDS: 'true' } });
await agent.waitSessionsUp(2, 30_000);
await agent.waitReady(true, 30_000);

const frrPeer = async (peer: string): Promise<FrrPeer> => (await lab.frrJson()).find((p) => p.peer === peer)!;
const downEventsSince = async (sinceMs: number) => (await lab.frrEvents()).filter((e) => e.timeUs >= sinceMs * 1000 && e.from === 'up');
/** Runs a command inside gw1's namespace, optionally as another user (setpriv after the netns switch). */
const inGw = (argv: string[], uid?: number) =>
  execa('ip', ['netns', 'exec', lab.ns('gw1'), ...(uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--']), ...argv],
    { reject: false, timeout: 20_000 });

t.test('control socket: mode 0600, served; permission denied is explained', async (t) => {
  const st = statSync(agent.paths.socket);
  t.ok(st.isSocket());
  t.equal(st.mode & 0o777, 0o600, 'socket mode 0600');
  t.equal(st.uid, 0, 'owned by the agent (root here)');
  const probe = await inGw([PROBE, 'live', '--socket', agent.paths.socket], 65534);
  t.equal(probe.exitCode, 1, 'the native probe fails for another user');
  t.match(probe.stderr, `permission denied on ${agent.paths.socket}: the socket is mode 0600`);
  t.match(probe.stderr, /owned by uid 0; run as that user \(you are uid 65534\)/);
  const cli = await inGw([process.execPath, AGENT_MAIN, '--socket', agent.paths.socket, 'status'], 65534);
  t.equal(cli.exitCode, 1);
  t.match(cli.stderr, /permission denied on .*control\.sock: the socket is mode 0600.*owned by uid 0; run as that user \(you are uid 65534\)/);
  const missing = await agent.cli(['--socket', join(home.dir, 'nope.sock'), 'status']);
  t.equal(missing.exitCode, 1);
  t.match(missing.stderr, `no agent is listening on ${join(home.dir, 'nope.sock')}: is egress-agent run running?`);
});

t.test('health endpoints', async (t) => {
  t.same(await agent.http('/livez'), { status: 200, body: 'live\n' });
  t.same(await agent.http('/readyz'), { status: 200, body: 'ready\n' });
  const metrics = (await agent.http('/metrics')).body;
  t.match(metrics, /^kube_ovn_bfdd_expected_sessions 2$/m);
  t.match(metrics, /^kube_ovn_bfdd_up_sessions 2$/m);
  t.match(metrics, new RegExp(`^egress_agent_bfd_session_state\\{local="${eth0v4}",remote="${bfd4}",state="Up"\\} 1$`, 'm'));
  t.match(metrics, /^egress_agent_dataplane_verified 1$/m);
  t.match(metrics, /^egress_agent_dataplane_apply_duration_seconds_count [1-9]/m);
  t.match(metrics, /^egress_agent_event_loop_lag_seconds\{stat="p99"\} /m);
  const status = JSON.parse((await agent.http('/status')).body) as { phase: string; ready: boolean };
  t.equal(status.phase, 'running');
  t.equal(status.ready, true, 'HTTP /status: the redacted view, ready as a verdict');
  const post = await inGw([process.execPath, '--input-type=module', '-e',
    `const r = await fetch('http://${agent.paths.healthListen}/livez', { method: 'POST' }); console.log(r.status, r.headers.get('allow'))`]);
  t.equal(post.stdout.trim(), '405 GET, HEAD', 'read-only: POST refused');
});

t.test('CLI verbs, tables and --json', async (t) => {
  const status = await agent.cli(['status']);
  t.equal(status.exitCode, 0, status.stderr);
  t.match(status.stdout, /^live  yes$/m);
  t.match(status.stdout, /^ready yes$/m);
  t.match(status.stdout, /dataplane  verified/);
  const bfd = await agent.cli(['bfd', '--json']);
  const sessions = (JSON.parse(bfd.stdout) as { sessions: Record<string, unknown>[] }).sessions;
  t.equal(sessions.length, 2);
  for (const s of sessions) {
    for (const k of ['local', 'remote', 'state', 'remoteState', 'localDiag', 'remoteDiag', 'localDiscr', 'remoteDiscr', 'txIntervalMs', 'detectTimeMs', 'lastStateChange', 'flaps', 'counters']) {
      t.ok(k in s, `bfd --json session has ${k}`);
    }
    t.equal(s.state, 'Up');
    t.ok(Math.abs(Date.now() - (s.lastStateChange as number)) < 600_000, 'lastStateChange is Unix epoch ms');
  }
  const table = await agent.cli(['bfd']);
  t.match(table.stdout, /^ID +LOCAL +REMOTE +STATE/m);
  t.match(table.stdout, new RegExp(`${eth0v6} +${bfd6} +Up `));
  const dp = JSON.parse((await agent.cli(['dataplane', '--json'])).stdout) as { managed: boolean; inspection: { drift: unknown[] } };
  t.ok(dp.managed);
  t.same(dp.inspection.drift, [], 'desired == actual');
  t.match((await agent.cli(['dataplane'])).stdout, /the live state matches the desired state/);
  const rec = await agent.cli(['reconcile']);
  t.equal(rec.exitCode, 0, rec.stderr);
  t.match(rec.stdout, /no change needed; verified/);
  t.match((await agent.cli(['log-level', 'debug'])).stdout, /-> debug/);
  for (const what of ['live', 'ready']) {
    t.equal((await agent.cli(['probe', what])).exitCode, 0, `egress-agent probe ${what}`);
    const native = await inGw([PROBE, what, '--socket', agent.paths.socket, '--timeout', '2000']);
    t.equal(native.exitCode, 0, `egress-agent-probe ${what}: ${native.stderr}`);
  }
});

t.test('a 2 s blocked event loop does not flap BFD at 3 x 100 ms', async (t) => {
  const t0 = Date.now();
  const r = await agent.request<{ blockedMs: number }>('debug.blockEventLoop', { ms: 2000 }, 15_000);
  t.ok(r.blockedMs >= 2000, `blocked ${Math.round(r.blockedMs)} ms`);
  t.equal(await lab.frrState(eth0v4), 'up');
  t.equal(await lab.frrState(eth0v6), 'up');
  t.same(await downEventsSince(t0), [], 'the peer saw no transition out of Up');
  t.ok((await agent.sessions()).every((s) => s.state === 'Up' && s.flaps === 0), 'no flap on our side either');
  const lag = (await agent.status()).eventLoop.maxMs;
  t.ok(lag >= 1500, `the block is visible in the event-loop lag (${Math.round(lag)} ms)`);
});

t.test('timers: set-timers and a SIGHUP reload change them through Poll without a flap; a bad file is rejected', async (t) => {
  const t0 = Date.now();
  const set = await agent.cli(['bfd', 'set-timers', eth0v4, bfd4, '--min-tx', '200', '--min-rx', '200']);
  t.equal(set.exitCode, 0, set.stderr);
  await agent.poll(async () => ((await frrPeer(eth0v4))['remote-transmit-interval'] === 200 ? true : null), 10_000, 'FRR sees our 200 ms');
  writeConfig({ minTxMs: 300, minRxMs: 300, multiplier: 3 });
  const mark = agent.mark();
  agent.signal('SIGHUP');
  const reloaded = await agent.waitLog((l) => l.msg === 'reloaded configuration', 10_000, mark);
  t.match(reloaded.changes, [`bfd session ${eth0v4}|${bfd4} changed (Poll)`, `bfd session ${eth0v6}|${bfd6} changed (Poll)`, 'dataplane re-applied']);
  await agent.poll(async () => {
    const [a, b] = [await frrPeer(eth0v4), await frrPeer(eth0v6)];
    return a['remote-transmit-interval'] === 300 && b['remote-receive-interval'] === 300 ? true : null;
  }, 10_000, 'FRR sees 300 ms on both sessions');
  t.same(await downEventsSince(t0), [], 'timer changes never took a session down');

  writeFileSync(configFile, '{ "bfd": { "minTxMs": ');
  const bad = await agent.cli(['reload']);
  t.equal(bad.exitCode, 1);
  t.match(bad.stdout, /configuration rejected; the agent keeps running the previous one/);
  t.match(bad.stdout, /config/i);
  const st = await agent.status();
  t.equal(st.lastReload?.ok, false);
  t.equal(st.config?.bfd.minTxMs, 300, 'previous configuration kept');
  t.ok(st.live.ok && st.ready.ok);
  writeConfig({ minTxMs: 100, minRxMs: 100, multiplier: 3 });
  t.equal((await agent.cli(['reload'])).exitCode, 0);
});

t.test('admin-down is seen by the peer as "neighbor signaled down"; admin-up brings it back', async (t) => {
  const t0 = Date.now();
  const down = await agent.cli(['bfd', 'admin-down', eth0v4, bfd4]);
  t.equal(down.exitCode, 0, down.stderr);
  await lab.frrWait(eth0v4, 'down', 5);
  const tr = await lab.frrTransition(eth0v4, 'down', t0);
  t.match(tr.reason, /neighbor-down|neighbor_down|signaled/);
  t.equal((await agent.request<{ ok: boolean }>('ready')).ok, false, 'not ready while a session is held down');
  t.equal((await agent.request<{ ok: boolean }>('live')).ok, true, 'still live');
  t.equal((await inGw([PROBE, 'ready', '--socket', agent.paths.socket])).exitCode, 1, 'native ready probe fails');
  t.equal((await agent.cli(['bfd', 'admin-up', eth0v4, bfd4])).exitCode, 0);
  await lab.frrWait(eth0v4, 'up', 10);
  await agent.waitReady(true, 15_000);
});

t.test('SIGTERM: AdminDown at once, exit 0 within the grace period, dataplane kept', async (t) => {
  const before = (await lab.exec('gw1', ['ip', '-4', 'rule'])).stdout;
  const t0 = Date.now();
  agent.signal('SIGTERM');
  const exit = await agent.exited;
  const tookMs = exit.at - t0;
  t.equal(exit.code, 0, 'exit 0');
  t.ok(tookMs < 3000, `exited ${tookMs} ms after SIGTERM, within the 3000 ms grace`);
  for (const peer of [eth0v4, eth0v6]) {
    const tr = await lab.frrTransition(peer, 'down', t0);
    t.match(tr.reason, /neighbor-down|neighbor_down|signaled/, `${peer}: the peer was told (AdminDown), not timed out`);
    t.ok(tr.ms < 1000, `${peer}: the peer saw it ${tr.ms} ms after SIGTERM`);
  }
  t.equal((await lab.exec('gw1', ['ip', '-4', 'rule'])).stdout, before, 'policy rules left in place (forwarding continues)');
  t.notOk(existsSync(agent.paths.socket), 'control socket removed');
});
