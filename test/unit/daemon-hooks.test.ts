// The daemon's structure without sockets or sleeps: the hook lifecycle (start in order, unwind in
// reverse only what started, drain = withdraw then unwind), the optional-subsystem manager, and the
// daemon itself on a virtual clock with in-memory health/control servers.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../agent/daemon/daemon.js';
import { Lifecycle } from '../../agent/daemon/lifecycle.js';
import { OptionalSubsystem, type SubsystemSpec } from '../../agent/daemon/optional.js';
import type { GatewayConfig } from '../../agent/config/types.js';
import { FakePorts, memoryLogger, testConfig } from '../helpers/daemon-fakes.js';
import { FakeServers, VirtualClock } from '../helpers/virtual-clock.js';

t.test('lifecycle: start in order, unwind in reverse, a drain withdraws first; each step logged by name', async (t) => {
  const { log, lines } = memoryLogger();
  const events: string[] = [];
  const lc = new Lifecycle(log);
  for (const name of ['a', 'b', 'c']) {
    lc.append({
      name, start: () => void events.push(`start ${name}`), stop: () => void events.push(`stop ${name}`),
      drain: name === 'a' ? undefined : () => void events.push(`drain ${name}`), log: { drain: `${name}-drain` },
    });
  }
  await lc.start();
  t.same(await lc.stop({ drain: true }), []);
  t.same(events, ['start a', 'start b', 'start c', 'drain c', 'drain b', 'stop c', 'stop b', 'stop a']);
  t.same(lines.filter((l) => l.msg === 'step done').map((l) => l.step), ['a', 'b', 'c', 'c-drain', 'b-drain']);
  events.length = 0;
  t.same(await lc.stop({ drain: true }), [], 'stopped once: a second unwind has nothing left');
  t.same(events, []);
});

t.test('lifecycle: a failed start unwinds only the hooks that started; a failing stop does not keep the others from running', async (t) => {
  const { log, lines } = memoryLogger();
  const events: string[] = [];
  const lc = new Lifecycle(log);
  lc.append({ name: 'a', start: () => void events.push('start a'), stop: () => { events.push('stop a'); throw new Error('a would not stop'); } });
  lc.append({ name: 'b', start: () => void events.push('start b'), stop: () => void events.push('stop b') });
  lc.append({ name: 'c', start: () => Promise.reject(new Error('c cannot start')), stop: () => void events.push('stop c') });
  lc.append({ name: 'd', start: () => void events.push('start d'), stop: () => void events.push('stop d') });
  await t.rejects(lc.start(), /c cannot start/);
  t.ok(lines.some((l) => l.msg === 'step failed' && l.step === 'c' && l.err === 'c cannot start'));
  const errors = await lc.stop({ drain: false });
  t.same(events, ['start a', 'start b', 'stop b', 'stop a'], 'c (failed) and d (never started) are not stopped');
  t.same(errors.map((e) => e.message), ['a would not stop']);
});

t.test('lifecycle: a hook logs its start only when it says so', async (t) => {
  const { log, lines } = memoryLogger();
  const lc = new Lifecycle(log);
  let enabled = false;
  lc.append({ name: 'quiet', log: { start: false } });
  lc.append({ name: 'maybe', log: { start: () => enabled } });
  await lc.start();
  t.same(lines.filter((l) => l.msg === 'step done').map((l) => l.step), []);
  enabled = true;
  await lc.stop({ drain: false });
  await lc.start();
  t.same(lines.filter((l) => l.msg === 'step done').map((l) => l.step), ['maybe']);
});

interface Instance { settings: string; started: boolean; stops: string[] }

function subsystem(over: Partial<SubsystemSpec<string, Instance>> = {}) {
  const { log, lines } = memoryLogger();
  const created: Instance[] = [];
  const unchanged: Instance[] = [];
  const spec: SubsystemSpec<string, Instance> = {
    label: 'widgets', replaced: 'restarted',
    create: async (settings) => {
      const i = { settings, started: false, stops: [] as string[] };
      created.push(i);
      return i;
    },
    start: async (i) => {
      if (i.settings === 'bad') throw new Error('no such widget');
      i.started = true;
    },
    stop: async (i, why) => void i.stops.push(why),
    describe: (s) => `settings ${s}`,
    unchanged: (i) => void unchanged.push(i),
    ...over,
  };
  return { sub: new OptionalSubsystem(spec, log), created, unchanged, lines };
}

t.test('optional subsystem: off with a reason, on, kept, replaced, off again; each change is one line', async (t) => {
  const { sub, created, unchanged, lines } = subsystem();
  t.equal(sub.off(), 'not started');
  t.equal(await sub.sync({ off: 'disabled' }), 'widgets off: disabled');
  t.equal(await sub.sync({ off: 'disabled' }), null, 'the same reason is no change');
  t.equal(lines.filter((l) => l.msg === 'widgets off').length, 1, 'the reason is logged once');
  t.equal(await sub.sync({ on: 'x' }), 'widgets on: settings x');
  t.equal(sub.off(), null);
  t.equal(sub.running, created[0]);
  t.equal(await sub.sync({ on: 'x' }), null, 'the same settings keep the running instance');
  t.same(unchanged, [created[0]]);
  t.equal(await sub.sync({ on: 'y' }), 'widgets restarted: settings y');
  t.same(created[0]!.stops, ['replace'], 'the old instance stopped as replaced');
  t.equal(await sub.sync({ off: 'gone' }), 'widgets off: gone');
  t.same(created[1]!.stops, ['replace']);
  t.equal(sub.running, null);
});

t.test('optional subsystem: not available, a start failure turned into off, or thrown; shutdown stops once and keeps the counters', async (t) => {
  const absent = subsystem({ create: null });
  t.equal(await absent.sub.sync({ on: 'x' }), 'widgets off: not available in this process');

  const soft = subsystem({ startFailed: (err) => `failed to start: ${err.message}` });
  t.equal(await soft.sub.sync({ on: 'bad' }), 'widgets failed to start: no such widget');
  t.equal(soft.sub.off(), 'failed to start: no such widget');
  t.equal(await soft.sub.sync({ on: 'good' }), 'widgets on: settings good', 'a later plan starts it');

  const hard = subsystem();
  await t.rejects(hard.sub.sync({ on: 'bad' }), /no such widget/);
  t.equal(hard.sub.running, null);

  await soft.sub.stop();
  await soft.sub.stop();
  t.same(soft.created[1]!.stops, ['shutdown'], 'stopped once, as a shutdown');
  t.equal(soft.sub.running, soft.created[1], 'still there for /status');
});

function setup(t: Test, over: Partial<GatewayConfig> = {}, extra: { release?: boolean; engineFails?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-hooks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig(dir, over);
  const ports = new FakePorts({ ok: true, config });
  const released: number[] = [];
  const clock = new VirtualClock();
  if (extra.release) Object.assign(ports, { releaseStartupPages: () => { released.push(clock.now()); return { mappings: 2, bytes: 4096, error: null }; } });
  if (extra.engineFails) Object.assign(ports, { createEngine: () => Promise.reject(new Error('no engine thread')) });
  const servers = new FakeServers();
  const { log, lines } = memoryLogger();
  const daemon = new Daemon({ ports, log, version: '9.9.9', checkIntervalMs: 5000, clock, servers });
  t.teardown(() => daemon.abort());
  return { config, ports, clock, servers, daemon, lines, released };
}

t.test('daemon: servers start in hook order; the drain takes BFD down while both still serve, then unwinds in reverse', async (t) => {
  const { daemon, ports, servers, clock, config } = setup(t);
  await daemon.start();
  t.same(servers.events, ['health start', `control start ${config.controlSocket}`, `control start ${config.compatSocket}`]);
  t.same(clock.pending(), ['daemon: periodic check']);
  const seen: string[] = [];
  const engine = ports.engine!;
  const drain = engine.drain.bind(engine);
  engine.drain = async (ms) => {
    seen.push(`drain while serving: ${servers.controlServers.every((s) => s.serving())} ${servers.healthServer!.listening}`);
    return drain(ms);
  };
  await daemon.drain('SIGTERM');
  t.same(seen, ['drain while serving: true true']);
  t.same(servers.events.slice(3), [`control close ${config.controlSocket}`, `control close ${config.compatSocket}`, 'health close']);
  t.same(ports.reconciler!.calls.at(-1), ['stop']);
  t.same(clock.pending(), [], 'no timer left armed');
  t.equal(daemon.status().phase, 'stopped');
});

t.test('daemon: a start that fails at BFD unwinds only what started', async (t) => {
  const { daemon, ports, servers, clock } = setup(t, {}, { engineFails: true });
  await t.rejects(daemon.start(), /no engine thread/);
  await daemon.abort();
  t.same(servers.events, ['health start', 'health close'], 'no control socket was served');
  t.same(ports.reconciler!.calls, [['applyOnce', 'startup'], ['start'], ['stop']], 'the dataplane stops watching, and stays');
  t.same(clock.pending(), []);
  t.equal(daemon.status().phase, 'stopped');
});

t.test('daemon on a virtual clock: the periodic check re-creates sockets, the startup pages are released once, at the delay', async (t) => {
  const { daemon, servers, clock, released } = setup(t, { startupPageReleaseMs: 30_000 }, { release: true });
  await daemon.start();
  const t0 = clock.now();
  await clock.advance(4999);
  t.same(servers.controlServers.map((s) => s.ensured), [0, 0]);
  await clock.advance(1);
  t.same(servers.controlServers.map((s) => s.ensured), [1, 1], 'each socket checked once per interval');
  await clock.advance(24_999);
  t.same(released, [], 'not before the delay');
  t.equal(daemon.status().memory.startupRelease, null);
  await clock.advance(1);
  t.same(released, [t0 + 30_000]);
  t.match(daemon.status().memory.startupRelease, { at: t0 + 30_000, mappings: 2, error: null });
  await clock.advance(60_000);
  t.equal(released.length, 1, 'released exactly once');
});

t.test('daemon on a virtual clock: a dataplane broken past the bound takes BFD down at the deadline, not before', async (t) => {
  const { daemon, ports, clock } = setup(t, { dataplaneWithdrawAfterMs: 10_000 });
  await daemon.start();
  const key = '10.16.0.11|10.255.255.255';
  ports.engine!.setState(key, 'Up');
  const downs = () => ports.engine!.calls.filter((c) => c[0] === 'adminDown').length;
  t.equal(downs(), 0);
  ports.reconciler!.verified = false;
  await daemon.commands.reconcile();
  await clock.advance(9_999);
  t.equal(downs(), 0, 'a breakage inside the bound does not flap BFD');
  await clock.advance(2);
  t.equal(downs(), 1, 'AdminDown once it stayed broken past the bound');
  t.equal(daemon.status().bfd!.sessions[0]!.state, 'AdminDown');
  ports.reconciler!.verified = true;
  await daemon.commands.reconcile();
  t.same(ports.engine!.calls.filter((c) => c[0] === 'adminUp'), [['adminUp', key]], 'verified again: back at once');
});
