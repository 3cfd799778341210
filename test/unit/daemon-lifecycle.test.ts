// The run lifecycle against fake engine/reconciler/config: start order and logs, status verdicts,
// control and health served, reload (valid and invalid), drain (AdminDown first, dataplane kept).
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../../agent/control/client.js';
import { Daemon } from '../../agent/daemon/daemon.js';
import { StartupInputError } from '../../agent/daemon/startup-error.js';
import type { AgentStatus } from '../../agent/status/types.js';
import { callbackFailures, setCallbackLogger } from '../../agent/lib/guard.js';
import { FakePorts, memoryLogger, testConfig } from '../helpers/daemon-fakes.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

function setup(t: Test, over: Parameters<typeof testConfig>[1] = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig(dir, over);
  const ports = new FakePorts({ ok: true, config });
  const { log, lines } = memoryLogger();
  const stops: number[] = [];
  const clock = new VirtualClock();
  const daemon = new Daemon({ ports, log, version: '9.9.9', onStopRequest: () => stops.push(1), checkIntervalMs: 60_000, clock });
  t.teardown(() => daemon.abort());
  return { dir, config, ports, daemon, lines, stops, clock };
}

t.test('start: config -> health -> dataplane -> bfd -> upstream -> snat-records -> serve, each step logged with its duration', async (t) => {
  const { daemon, ports, lines, config } = setup(t);
  await daemon.start();
  const steps = lines.filter((l) => l.msg === 'step done').map((l) => l.step);
  t.same(steps, ['config', 'health', 'dataplane', 'bfd', 'upstream', 'snat-records', 'serve']);
  t.ok(lines.filter((l) => l.msg === 'step done').every((l) => typeof l.durationMs === 'number'));
  t.same(ports.reconciler!.calls, [['applyOnce', 'startup'], ['start']]);
  t.same(ports.engine!.calls.slice(0, 2), [['start'], ['add', '10.16.0.11|10.255.255.255']]);
  t.equal(statSync(config.controlSocket).mode & 0o777, 0o600, 'control socket is mode 0600');
  t.equal(statSync(config.compatSocket).mode & 0o777, 0o600, 'compat socket is mode 0600');
  const s = daemon.status();
  t.equal(s.phase, 'running');
  t.same(s.live, { ok: true, reasons: [] });
  t.same(s.ready, { ok: false, reasons: ['BFD 10.16.0.11 -> 10.255.255.255 is Down'] });
  ports.engine!.setState('10.16.0.11|10.255.255.255', 'Up');
  t.same(daemon.status().ready, { ok: true, reasons: [] });
  t.equal(s.dataplaneApplies.count, 1);
  t.same(s.dataplaneApplies.driftByKind, { rule: 1 });
});

t.test('readiness names every reason; liveness never depends on peers or the dataplane', async (t) => {
  const { daemon, ports } = setup(t);
  await daemon.start();
  ports.reconciler!.verified = false;
  ports.reconciler!.externalUp = false;
  const s = daemon.status();
  t.ok(s.live.ok);
  t.same(s.ready.reasons, ['dataplane not verified: route missing', 'external interface net1 (IPv4) is down', 'BFD 10.16.0.11 -> 10.255.255.255 is Down']);
  ports.engine!.alive = false;
  t.same(daemon.status().live.reasons, ['the BFD engine thread is not running']);
  t.same(daemon.status().ready.reasons[0], 'not live');
});

t.test('invalid configuration: StartupInputError naming every input, nothing started', async (t) => {
  const { daemon, ports } = setup(t);
  ports.result = { ok: false, errors: ['env BFD_MULTI="0": must be 1..255', 'env POD_IPS="x": not an IP'] };
  const err = await daemon.start().catch((e: unknown) => e);
  t.ok(err instanceof StartupInputError);
  t.match((err as Error).message, /BFD_MULTI="0"[\s\S]*POD_IPS="x"/);
  t.equal(ports.reconciler, null, 'no dataplane touched');
  t.equal(ports.engine, null, 'no BFD started');
});

t.test('a live agent on the control socket is refused before anything is applied; a busy compat socket is only a warning', async (t) => {
  const a = setup(t);
  await a.daemon.start();
  const b = setup(t, { controlSocket: a.config.controlSocket });
  await t.rejects(b.daemon.start(), /another process is serving the control socket/);
  t.equal(b.ports.reconciler, null);
  const c = setup(t, { compatSocket: a.config.compatSocket });
  await c.daemon.start();
  t.same(c.daemon.status().control.map((x) => x.path), [c.config.controlSocket]);
  t.ok(c.lines.some((l) => l.msg === 'not serving Kube-OVN\'s supervisor socket'));
});

t.test('control socket commands, argument errors, debug.blockEventLoop', async (t) => {
  const { daemon, config } = setup(t);
  await daemon.start();
  const sock = config.controlSocket;
  const s = (await request(sock, 'status')) as AgentStatus;
  t.equal(s.version, '9.9.9');
  const sessions = (await request(sock, 'bfd.sessions')) as { sessions: { id: number; local: string; state: string }[] };
  t.match(sessions.sessions, [{ id: 1, local: '10.16.0.11', state: 'Down' }]);
  t.same(await request(sock, 'bfd.adminDown', { local: '10.16.0.11', remote: '10.255.255.255' }), { sessions: ['10.16.0.11|10.255.255.255'] });
  await t.rejects(request(sock, 'bfd.adminDown', { local: '10.16.0.11', remote: '10.255.255.255', diag: 'Bogus' }), /argument "diag" must be one of None,/);
  await t.rejects(request(sock, 'bfd.setTimers', { local: '10.16.0.11', remote: '10.255.255.255' }), /give at least one of/);
  await t.rejects(request(sock, 'bfd.setTimers', { local: '10.16.0.11', remote: '10.255.255.255', multiplier: 300 }), /"multiplier" must be an integer from 1 to 255/);
  await t.rejects(request(sock, 'logLevel', { level: 'loud' }), /argument "level" must be one of/);
  t.same(await request(sock, 'logLevel', { level: 'warn' }), { previous: 'info', level: 'warn' });
  await t.rejects(request(sock, 'debug.blockEventLoop', { ms: 50 }), /debug commands are off/, 'off unless opted in (production default)');
  const dp = (await request(sock, 'dataplane')) as { managed: boolean; inspection: unknown };
  t.equal(dp.managed, true);
  t.same(await request(sock, 'live'), { ok: true, reasons: [] });
  const r = (await request(sock, 'compat.bfddControl', { args: ['status'] })) as { text: string; exitCode: number };
  t.equal(r.text, 'There are 1 sessions:\nSession 1\n id=1 local=10.16.0.11 (a) remote=10.255.255.255 state=AdminDown \n');
  t.equal(daemon.status().counters.controlFailures, 5, 'failed commands are counted');
});

t.test('reload: timers change live (Poll, no re-creation); invalid config is rejected and the old one kept', async (t) => {
  const { daemon, ports, config } = setup(t);
  await daemon.start();
  ports.engine!.calls = [];
  ports.result = { ok: true, config: { ...config, logLevel: 'debug', bfd: { ...config.bfd, minTxMs: 50, minRxMs: 50, peerIps: ['10.255.255.255', '10.255.255.254'] } } };
  const r = await daemon.reload();
  t.ok(r.ok);
  t.same(r.changes, [
    'log level info -> debug',
    'bfd session 10.16.0.11|10.255.255.254 added',
    'bfd session 10.16.0.11|10.255.255.255 changed (Poll)',
    'dataplane re-applied',
  ]);
  t.same(ports.engine!.calls, [['change', '10.16.0.11|10.255.255.255', { minTxMs: 50, minRxMs: 50 }], ['add', '10.16.0.11|10.255.255.254']]);
  t.same(ports.reconciler!.calls.at(-2), ['reload']);
  ports.result = { ok: false, errors: ['config file bfd.minTxMs="fast": not a number'] };
  const bad = (await request(config.controlSocket, 'reload')) as { ok: boolean; errors: string[] };
  t.same(bad, { ...bad, ok: false, errors: ['config file bfd.minTxMs="fast": not a number'] });
  t.equal(daemon.status().config!.bfd.minTxMs, 50, 'the running configuration is kept');
  t.same(daemon.status().counters, { ...daemon.status().counters, reloads: 2, reloadFailures: 1 });
  ports.result = { ok: true, config: { ...config, healthListen: '127.0.0.1:1' } };
  const restartNeeded = await daemon.reload();
  t.same(restartNeeded.errors, [`health listen address change 127.0.0.1:0 -> 127.0.0.1:1 takes effect after a restart`]);
  t.ok(restartNeeded.ok, 'a change that needs a restart is reported, the rest applied');
});

t.test('drain: AdminDown within the grace budget first, the dataplane is stopped, never removed, sockets closed', async (t) => {
  const { daemon, ports, config, lines } = setup(t);
  await daemon.start();
  await daemon.drain('SIGTERM');
  const drain = ports.engine!.calls.find((c) => c[0] === 'drain')!;
  t.ok((drain[1] as number) > 0 && (drain[1] as number) < config.drainGraceMs, `drain budget ${String(drain[1])} ms below the grace`);
  t.same(ports.engine!.calls.slice(-2), [['drain', drain[1]], ['close']]);
  t.notOk(ports.engine!.calls.some((c) => c[0] === 'remove'), 'no session removed (peers get AdminDown instead)');
  t.same(ports.reconciler!.calls.at(-1), ['stop'], 'the reconciler stops watching; what it applied stays');
  t.equal(daemon.status().phase, 'stopped');
  t.throws(() => statSync(config.controlSocket), /ENOENT/, 'socket file removed');
  const order = lines.map((l) => l.step ?? l.msg);
  t.ok(order.indexOf('draining') < order.indexOf('bfd-drain') && order.indexOf('bfd-drain') < order.indexOf('dataplane-stop'));
  t.equal(await daemon.drain('again').then(() => 'same'), 'same', 'a second drain is the same drain');
});

t.test('BFD-only agent (Kube-OVN bfdd container): no dataplane, ready = sessions Up', async (t) => {
  const { daemon, ports } = setup(t, { families: [] });
  await daemon.start();
  t.equal(ports.reconciler, null);
  t.equal(daemon.status().dataplane, null);
  await t.rejects(daemon.commands.reconcile(), /manages no dataplane/);
  ports.engine!.setState('10.16.0.11|10.255.255.255', 'Up');
  t.ok(daemon.status().ready.ok);
});

t.test('the control socket is re-created by the periodic check when someone deletes it', async (t) => {
  const { daemon, config, ports, clock } = setup(t);
  ports.result = { ok: true, config };
  await daemon.start();
  const { unlinkSync } = await import('node:fs');
  unlinkSync(config.controlSocket);
  t.notOk(daemon.status().live.ok, 'a deleted socket is not serving: liveness says so');
  t.match(daemon.status().live.reasons, [/control socket .* is not serving/]);
  await clock.advance(59_999);
  t.notOk(daemon.status().live.ok, 'not before the check');
  await clock.advance(1);
  t.ok(daemon.status().live.ok, 're-created by the check');
  t.same(await request(config.controlSocket, 'live'), { ok: true, reasons: [] });
});

t.test('a stale socket file from a dead process is replaced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-stale-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'control.sock');
  // A process that dies by SIGKILL while listening leaves its socket file behind.
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  t.ok(statSync(path).isSocket(), 'stale socket file exists');
  const { daemon } = setup(t, { controlSocket: path });
  await daemon.start();
  t.same(await request(path, 'live'), { ok: true, reasons: [] });
});

t.test('discovery errors at the first apply are bad input (StartupInputError, exit 2), named like config errors', async (t) => {
  const { daemon, ports } = setup(t);
  const { InputError } = await import('../../agent/config/errors.js');
  const create = ports.createReconciler.bind(ports);
  ports.createReconciler = async (c) => {
    const r = await create(c);
    r!.applyOnce = async () => {
      throw new InputError([{ source: 'env', key: 'INTERNAL_GATEWAY_IPV4', value: '10.99.0.1', message: 'not reachable from any interface' }]);
    };
    return r;
  };
  const err = await daemon.start().catch((e: unknown) => e);
  t.ok(err instanceof StartupInputError);
  t.match((err as Error).message, 'env INTERNAL_GATEWAY_IPV4="10.99.0.1": not reachable from any interface');
  t.equal(ports.engine, null, 'BFD not started');
});

t.test('startup pages are released once, after the delay, and the result is in status and the log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-release-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ports = new FakePorts({ ok: true, config: testConfig(dir, { startupPageReleaseMs: 50 }) });
  const calls: number[] = [];
  const withRelease = Object.assign(ports, {
    releaseStartupPages: () => { calls.push(clock.now()); return { mappings: 3, bytes: 1 << 20, error: null }; },
  });
  const { log, lines } = memoryLogger();
  const clock = new VirtualClock();
  const daemon = new Daemon({ ports: withRelease, log, version: '9.9.9', checkIntervalMs: 60_000, clock });
  t.teardown(() => daemon.abort());
  await daemon.start();
  t.equal(daemon.status().memory.startupRelease, null, 'nothing released before the delay');
  t.ok(daemon.status().memory.rssBytes > 0 && daemon.status().memory.heapUsedBytes > 0, 'current memory is reported');
  await clock.advance(49);
  t.equal(calls.length, 0, 'not before the delay');
  await clock.advance(200);
  t.equal(calls.length, 1, 'released exactly once');
  const rel = daemon.status().memory.startupRelease;
  t.match(rel, { mappings: 3, error: null, rssBeforeBytes: Number, rssAfterBytes: Number });
  t.ok(lines.some((l) => l.msg === 'startup pages released' && l.mappings === 3), 'logged with its numbers');
});

t.test('a kernel that refuses the release is a warning, not a failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-release-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ports = Object.assign(new FakePorts({ ok: true, config: testConfig(dir, { startupPageReleaseMs: 10 }) }), {
    releaseStartupPages: () => ({ mappings: 0, bytes: 0, error: 'EINVAL' }),
  });
  const { log, lines } = memoryLogger();
  const clock = new VirtualClock();
  const daemon = new Daemon({ ports, log, version: '9.9.9', checkIntervalMs: 60_000, clock });
  t.teardown(() => daemon.abort());
  await daemon.start();
  await clock.advance(10);
  t.match(daemon.status().memory.startupRelease, { error: 'EINVAL', mappings: 0 });
  t.ok(daemon.status().live.ok, 'still live');
  t.ok(lines.some((l) => l.msg === 'startup pages not released' && l.error === 'EINVAL' && l.level === 40));
});

t.test('a throwing timer callback (the startup page release) is logged and the agent stays up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-release-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig(dir, { startupPageReleaseMs: 10 });
  const ports = Object.assign(new FakePorts({ ok: true, config }), {
    releaseStartupPages: (): never => { throw new Error('madvise exploded'); },
  });
  const { log, lines } = memoryLogger();
  setCallbackLogger(log); // as `run` does
  t.teardown(() => setCallbackLogger(null));
  const before = callbackFailures().count;
  const clock = new VirtualClock();
  const daemon = new Daemon({ ports, log, version: '9.9.9', checkIntervalMs: 60_000, clock });
  t.teardown(() => daemon.abort());
  await daemon.start();
  await clock.advance(10);
  const line = lines.find((l) => l.msg === 'a callback failed; the agent keeps running');
  t.match(line, { level: 50, callback: 'daemon: startup page release', err: 'madvise exploded', stack: /madvise exploded/ });
  t.equal(callbackFailures().count, before + 1, 'counted');
  t.equal(daemon.status().phase, 'running');
  t.ok(daemon.status().live.ok, 'still live');
  const s = (await request(config.controlSocket, 'status')) as AgentStatus;
  t.equal(s.phase, 'running', 'still answers on the control socket');
});

t.test('a health address that cannot be bound fails the start before the dataplane is touched', async (t) => {
  const { createServer } = await import('node:net');
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const { daemon, ports } = setup(t, { healthListen: `127.0.0.1:${port}` });
  await t.rejects(daemon.start(), { message: new RegExp(`cannot listen for health on 127\\.0\\.0\\.1:${port}.*EADDRINUSE`) });
  t.equal(ports.reconciler, null, 'no reconciler was created: nothing applied');
  t.equal(ports.engine, null, 'no BFD engine started');
});

t.test('while draining, mutating commands are refused with a clear error; reads still answer', async (t) => {
  const { daemon, ports } = setup(t);
  await daemon.start();
  ports.engine!.setState('10.16.0.11|10.255.255.255', 'Up');
  const drained = daemon.drain('SIGTERM');
  const sel = { local: '10.16.0.11', remote: '10.255.255.255' };
  const refused = /the agent is draining for shutdown/;
  await t.rejects(daemon.reload(), refused, 'reload');
  await t.rejects(daemon.commands.reconcile(), refused, 'reconcile');
  t.throws(() => daemon.commands.adminUp(sel), refused, 'admin up');
  t.throws(() => daemon.commands.setTimers(sel, { multiplier: 5 }), refused, 'timers');
  for (const args of [['session', 'all', 'reset'], ['session', 'all', 'state', 'up'], ['allow', '10.255.255.255'], ['session', 'new', 'set', 'multi', '4']]) {
    const r = daemon.commands.bfddControl(args);
    t.not(r.exitCode, 0, `bfdd-control ${args.join(' ')} refused`);
    t.match(r.text, refused);
  }
  t.equal(daemon.commands.bfddControl(['status']).exitCode, 0, 'bfdd-control status still answers');
  t.equal(daemon.status().phase, 'draining');
  await drained;
  t.notOk(ports.engine!.calls.some((c) => c[0] === 'adminUp'), 'no session was brought back Up');
});

t.test('debug.blockEventLoop answers only when debug commands are opted in (test-only)', async (t) => {
  const { daemon, config } = setup(t, { debugCommands: true });
  await daemon.start();
  const blocked = (await request(config.controlSocket, 'debug.blockEventLoop', { ms: 50 })) as { blockedMs: number };
  t.ok(blocked.blockedMs >= 50);
});

t.test('BFD held AdminDown (Forwarding Plane Reset) while the dataplane is not verified; released once it is', async (t) => {
  const { daemon, ports, lines, clock } = setup(t, { dataplaneWithdrawAfterMs: 200 });
  ports.reconcilerVerified = false; // the first apply fails (e.g. iptables-restore refused)
  await daemon.start();
  const key = '10.16.0.11|10.255.255.255';
  t.same(ports.engine!.calls.filter((c) => c[0] === 'adminDown'), [['adminDown', key, 'ForwardingPlaneReset']], 'AdminDown right after the session was created');
  t.equal(ports.engine!.calls.findIndex((c) => c[0] === 'adminDown'), ports.engine!.calls.findIndex((c) => c[0] === 'add') + 1, 'before anything else');
  t.ok(lines.some((l) => l.msg === 'dataplane broken: BFD session AdminDown (Forwarding Plane Reset), leaving ECMP'));
  t.equal(daemon.status().bfd!.sessions[0]!.state, 'AdminDown');

  // Repaired: verified -> back.
  ports.reconciler!.verified = true;
  await daemon.commands.reconcile();
  t.same(ports.engine!.calls.filter((c) => c[0] === 'adminUp'), [['adminUp', key]]);
  ports.engine!.setState(key, 'Up');

  // Broken again: inside the bound nothing happens; past it, AdminDown again.
  ports.reconciler!.verified = false;
  await daemon.commands.reconcile();
  t.equal(ports.engine!.calls.filter((c) => c[0] === 'adminDown').length, 1, 'a breakage inside the bound does not flap BFD');
  await clock.advance(199);
  t.equal(ports.engine!.calls.filter((c) => c[0] === 'adminDown').length, 1, 'still inside the bound');
  await clock.advance(2);
  t.equal(ports.engine!.calls.filter((c) => c[0] === 'adminDown').length, 2, 'AdminDown again once it stayed broken past the bound');
  t.equal(daemon.status().bfd!.sessions[0]!.state, 'AdminDown');

  // An operator's AdminDown is never undone by the gate.
  ports.reconciler!.verified = true;
  await daemon.commands.reconcile();
  ports.engine!.setState(key, 'Up');
  daemon.commands.adminDown({ all: true });
  await daemon.commands.reconcile();
  t.equal(ports.engine!.calls.filter((c) => c[0] === 'adminUp').length, 2, 'only the two gate releases');
});

t.test('a reload whose BFD sessions cannot be applied changes nothing: sessions rolled back, configuration kept', async (t) => {
  const { daemon, ports, config } = setup(t);
  await daemon.start();
  const engine = ports.engine!;
  const add = engine.addSession.bind(engine);
  engine.addSession = (spec) => {
    if (spec.remote === '10.255.255.254') throw new Error('cannot bind');
    add(spec);
  };
  ports.result = { ok: true, config: { ...config, logLevel: 'debug', bfd: { ...config.bfd, minTxMs: 50, peerIps: [...config.bfd.peerIps, '10.255.255.254'] } } };
  const r = await daemon.reload();
  t.equal(r.ok, false);
  t.match(r.errors, [/cannot bind.*rolled back/]);
  t.same([...engine.specs.keys()], ['10.16.0.11|10.255.255.255'], 'the running session set');
  t.equal(engine.specs.get('10.16.0.11|10.255.255.255')!.minTxMs, config.bfd.minTxMs, 'with its previous timers');
  t.equal(daemon.status().config!.bfd.minTxMs, config.bfd.minTxMs, 'the running configuration is kept');
  t.equal(daemon.status().config!.logLevel, config.logLevel);
  t.equal(daemon.status().config!.logLevel, (await request(config.controlSocket, 'logLevel', { level: config.logLevel }) as { previous: string }).previous, 'and the logger\'s level');
  t.notOk(ports.reconciler!.calls.some((c) => c[0] === 'reload'), 'the dataplane was not touched');
});
