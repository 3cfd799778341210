// The engine's session set: expected sessions, live changes (Poll), operator operations, recovery.
import t from 'tap';
import { BfdSessions } from '../../agent/daemon/bfd-sessions.js';
import { FakeEngine, memoryLogger, specsOf, testConfig } from '../helpers/daemon-fakes.js';

const cfg = testConfig('/tmp/x', {
  bfd: { ...testConfig('/tmp/x').bfd, localIps: ['10.16.0.11', 'fd00:10:16::b'], peerIps: ['10.255.255.255', 'fdff::1'] },
});

function setup(now = { t: 0 }) {
  const engine = new FakeEngine();
  const { log, lines } = memoryLogger();
  const s = new BfdSessions(engine, log, () => now.t);
  return { engine, s, lines, now };
}

t.test('applyExpected adds, changes timers live, removes', async (t) => {
  const { engine, s } = setup();
  const specs = specsOf(cfg);
  t.same(s.applyExpected(specs), { added: ['10.16.0.11|10.255.255.255', 'fd00:10:16::b|fdff::1'], removed: [], changed: [] });
  engine.calls = [];
  const faster = specs.map((x) => ({ ...x, minTxMs: 50, minRxMs: 50 }));
  t.same(s.applyExpected(faster).changed, ['10.16.0.11|10.255.255.255', 'fd00:10:16::b|fdff::1']);
  t.same(engine.calls, [
    ['change', '10.16.0.11|10.255.255.255', { minTxMs: 50, minRxMs: 50 }],
    ['change', 'fd00:10:16::b|fdff::1', { minTxMs: 50, minRxMs: 50 }],
  ], 'only the changed fields, no remove/add (so the session does not flap)');
  engine.calls = [];
  t.same(s.applyExpected(faster), { added: [], removed: [], changed: [] }, 'idempotent');
  t.same(s.applyExpected(faster.slice(0, 1)).removed, ['fd00:10:16::b|fdff::1']);
  t.same(engine.calls, [['remove', 'fd00:10:16::b|fdff::1']]);
});

t.test('status joins engine state, ids and recovery; ids change when a session is re-created', async (t) => {
  const { engine, s } = setup();
  s.applyExpected(specsOf(cfg));
  engine.setState('10.16.0.11|10.255.255.255', 'Up');
  const st = s.status();
  t.same(st.sessions.map((x) => [x.id, x.local, x.state]), [[1, '10.16.0.11', 'Up'], [2, 'fd00:10:16::b', 'Down']]);
  t.same(st.expected.map((e) => e.state), ['Up', 'Down']);
  t.equal(st.recentTransitions.length, 1);
  t.ok(st.engineAlive);
  s.reset({ local: '10.16.0.11', remote: '10.255.255.255' });
  t.same(s.status().sessions.map((x) => x.id), [2, 3]);
  t.throws(() => s.reset({ id: 99 }), /no BFD session with id 99/);
  t.throws(() => s.adminDown({ local: '10.16.0.99', remote: '10.255.255.255' }), /no BFD session local 10.16.0.99/);
  t.throws(() => s.reset({ id: 99 }), { code: 'NO_SUCH_SESSION', name: 'NoSuchSessionError' }, 'callers match on the code, not the text');
  t.same(s.select({ local: 'FD00:10:16:0::B', remote: 'FDFF::1' }), ['fd00:10:16::b|fdff::1'], 'addresses are canonicalised');
});

t.test('block + kill leaves zero sessions; recovery replays after the missing grace and unblocks', async (t) => {
  const now = { t: 0 };
  const { engine, s } = setup(now);
  s.applyExpected(specsOf(cfg));
  s.block('10.255.255.255');
  s.block('fdff::1');
  s.kill({ all: true });
  t.equal(engine.sessions().length, 0, 'blocked peers are not re-created');
  t.same(s.status().expected.map((e) => e.state), [null, null]);
  t.equal(s.recover(), null, 'first round starts the episode');
  now.t = 14_999;
  t.equal(s.recover(), null);
  now.t = 15_000;
  t.same(s.recover(), { key: '10.16.0.11|10.255.255.255', action: 'ReplayConfiguration', error: null });
  t.equal(engine.sessions().length, 2, 'a replay restores every expected session');
  t.same(s.status().blockedPeers, []);
  t.match(s.status().expected[0]!.recovery, { attempts: 1, lastAction: 'ReplayConfiguration', lastResult: 'success' });
  t.same(s.status().recoveryActions, [{ action: 'ReplayConfiguration', result: 'success', count: 1 }]);
});

t.test('kill without block re-creates at once (as OpenBFDD re-creates a passive session)', async (t) => {
  const { engine, s } = setup();
  s.applyExpected(specsOf(cfg));
  engine.calls = [];
  s.kill({ id: 1 });
  t.same(engine.calls, [['remove', '10.16.0.11|10.255.255.255'], ['add', '10.16.0.11|10.255.255.255']]);
});

t.test('allow: only configured peers', async (t) => {
  const { engine, s } = setup();
  s.applyExpected(specsOf(cfg));
  s.block('10.255.255.255');
  s.kill({ all: true });
  t.equal(engine.sessions().length, 1);
  t.same(s.allow('10.255.255.255'), ['10.16.0.11|10.255.255.255']);
  t.equal(engine.sessions().length, 2);
  t.throws(() => s.allow('192.0.2.1'), /192.0.2.1 is not a configured BFD peer/);
});

t.test('timers: per session, and "session new set" defaults applied live and to re-created sessions', async (t) => {
  const { engine, s } = setup();
  s.applyExpected(specsOf(cfg));
  engine.calls = [];
  s.setTimers({ local: '10.16.0.11', remote: '10.255.255.255' }, { multiplier: 5 });
  t.same(engine.calls, [['change', '10.16.0.11|10.255.255.255', { multiplier: 5 }]]);
  s.setDefaults({ minTxMs: 300 });
  t.equal(s.status().defaults.minTxMs, 300);
  s.reset({ id: 2 });
  t.equal(engine.specs.get('fd00:10:16::b|fdff::1')!.minTxMs, 300, 'a re-created session takes the new defaults');
  s.applyExpected(specsOf(cfg));
  t.equal(s.status().defaults.minTxMs, 100, 'a config (re)load restores the configured timers');
});

t.test('a rejected "session new set" changes nothing: the next reset still re-creates every session', async (t) => {
  const { engine, s } = setup();
  s.applyExpected(specsOf(cfg));
  const before = s.status().defaults;
  engine.calls = [];
  // bfdd-control passes microseconds / 1000: "set mintx 500 us" is 0.5 ms, which the engine refuses.
  t.throws(() => s.setDefaults({ minTxMs: 0.5 }), /minTxMs must be a whole number of milliseconds/);
  t.same(s.status().defaults, before, 'defaults unchanged');
  t.same(engine.calls, [], 'no running session was touched');
  t.same(s.reset({ all: true }).length, 2);
  t.equal(engine.sessions().length, 2, 'reset re-created both sessions (before the fix: 0)');
});

t.test('admin down is held: recovery leaves it alone; admin up releases it', async (t) => {
  const now = { t: 0 };
  const { engine, s } = setup(now);
  s.applyExpected(specsOf(cfg).slice(0, 1));
  s.adminDown({ all: true }, 'PathDown');
  t.same(engine.calls.at(-1), ['adminDown', '10.16.0.11|10.255.255.255', 'PathDown']);
  t.ok(s.status().sessions[0]!.held);
  for (now.t = 0; now.t < 600_000; now.t += 5000) t.equal(s.recover(), null);
  s.adminUp({ all: true });
  t.notOk(s.status().sessions[0]!.held);
});

t.test('transitions are logged, leaving Up as a warning', async (t) => {
  const { engine, s, lines } = setup();
  s.applyExpected(specsOf(cfg).slice(0, 1));
  engine.setState('10.16.0.11|10.255.255.255', 'Up');
  engine.setState('10.16.0.11|10.255.255.255', 'Down');
  const tr = lines.filter((l) => String(l.msg).startsWith('bfd session') && 'to' in l);
  t.same(tr.map((l) => [l.level, l.from, l.to]), [[30, 'Down', 'Up'], [40, 'Up', 'Down']]);
});

t.test('AdminDown set by anyone (e.g. upstream health through the engine) is never recovered', async (t) => {
  const now = { t: 0 };
  const { engine, s } = setup(now);
  s.applyExpected(specsOf(cfg).slice(0, 1));
  engine.adminDown('10.16.0.11', '10.255.255.255', 'ConcatenatedPathDown'); // not through BfdSessions
  engine.calls = [];
  for (now.t = 0; now.t < 600_000; now.t += 5000) t.equal(s.recover(), null);
  t.same(engine.calls, [], 'no reset, no replay');
});

t.test('applyExpected is all-or-nothing: an engine failure halfway rolls back to the running set', async (t) => {
  const { engine, s } = setup();
  const specs = specsOf(cfg);
  s.applyExpected(specs.slice(0, 1));
  const before = [...engine.specs.keys()];
  // The new set changes the first session's timers and adds the second; adding fails.
  const add = engine.addSession.bind(engine);
  engine.addSession = (spec) => {
    if (spec.remote === 'fdff::1') throw new Error('EADDRNOTAVAIL');
    add(spec);
  };
  const next = specs.map((x) => ({ ...x, minTxMs: 50 }));
  t.throws(() => s.applyExpected(next), /EADDRNOTAVAIL.*rolled back/);
  t.same([...engine.specs.keys()], before, 'the same sessions run');
  t.equal(engine.specs.get(before[0]!)!.minTxMs, specs[0]!.minTxMs, 'with their previous timers');
  t.same(s.status().expected.map((e) => `${e.local}|${e.remote}`), before, 'and the previous set is still the expected one');
  t.throws(() => s.applyExpected([{ ...specs[0]!, multiplier: 0 }]), /multiplier must be an integer/, 'an invalid set is refused before anything changes');
  t.same([...engine.specs.keys()], before);
});

t.test('setIngress binds sessions to their peers\' interfaces: new ones start bound, running ones change live', async (t) => {
  const { engine, s } = setup();
  t.same(s.setIngress(new Map([['10.255.255.255', 2]])), [], 'nothing runs yet');
  s.applyExpected(specsOf(cfg));
  t.same(engine.specs.get('10.16.0.11|10.255.255.255')?.ifindex, 2, 'added with the interface already known');
  t.equal(engine.specs.get('fd00:10:16::b|fdff::1')?.ifindex, undefined, 'a peer without a known route: any interface');
  engine.calls = [];
  t.same(s.setIngress(new Map([['10.255.255.255', 5], ['fdff::1', 2]])), ['10.16.0.11|10.255.255.255', 'fd00:10:16::b|fdff::1']);
  t.same(engine.calls, [
    ['change', '10.16.0.11|10.255.255.255', { ifindex: 5 }],
    ['change', 'fd00:10:16::b|fdff::1', { ifindex: 2 }],
  ], 'a live change, no remove/add');
  engine.calls = [];
  t.same(s.setIngress(new Map()), [], 'a peer that lost its route keeps its interface');
  t.same(s.applyExpected(specsOf(cfg)), { added: [], removed: [], changed: [] }, 'a reload keeps the learned interfaces');
  t.same(engine.calls, []);
});

t.test('BfdIngress looks the peers up before sessions start and again after every routing change', async (t) => {
  const { BfdIngress } = await import('../../agent/daemon/bfd-ingress.js');
  const { log, lines } = memoryLogger();
  const table = new Map<string, number | undefined>([['10.255.255.255', 2]]);
  let onChange: (() => void) | undefined;
  let closed = false;
  const applied: [string, number][][] = [];
  const peers = ['10.255.255.255', 'fdff::1'];
  const ingress = new BfdIngress({
    lookup: async (remote) => table.get(remote),
    watch: (cb) => { onChange = cb; },
    close: () => { closed = true; },
  }, () => peers, (m) => applied.push([...m]), log);
  await ingress.start(peers);
  t.same(applied, [[['10.255.255.255', 2]]], 'first lookup; fdff::1 has no route');
  t.equal(lines.filter((l) => l.msg === 'no route to a bfd peer; its session keeps the interface it had').length, 1);
  t.ok(onChange, 'follows routing changes after the first lookup');
  table.set('10.255.255.255', 7);
  table.set('fdff::1', 3);
  onChange!();
  onChange!(); // a burst of changes: one pass running, one more after it
  await ingress.refresh();
  t.same(applied.at(-1), [['10.255.255.255', 7], ['fdff::1', 3]], 'the moved route is followed');
  t.ok(applied.length <= 4, `coalesced passes (${applied.length})`);
  ingress.stop();
  t.ok(closed);
});
