// The daemon's real Clock (real-ports.ts) on Node's mocked timers, so nothing sleeps: callbacks run
// at their time, a throwing one is logged under its name and counted and the timer goes on, and
// cancel stops it. (The daemon's own tests use test/helpers/virtual-clock.ts, which guards the same way.)
import t from 'tap';
import { mock } from 'node:test';
import { realClock } from '../../agent/daemon/real-ports.js';
import { callbackFailures, setCallbackLogger } from '../../agent/lib/guard.js';
import { memoryLogger } from '../helpers/daemon-fakes.js';

mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
t.teardown(() => mock.timers.reset());
const { log, lines } = memoryLogger();
setCallbackLogger(log);
t.teardown(() => setCallbackLogger(null));

t.test('after: once, at its time; a throw is logged with the name and counted, never thrown', async (t) => {
  const runs: string[] = [];
  realClock.after('test: once', 100, () => void runs.push('once'));
  const before = callbackFailures().count;
  realClock.after('test: exploding', 100, () => { throw new Error('madvise exploded'); });
  mock.timers.tick(99);
  t.same(runs, [], 'not before its time');
  mock.timers.tick(1);
  t.same(runs, ['once']);
  t.equal(callbackFailures().count, before + 1, 'the failure is counted');
  t.match(lines.at(-1), { level: 50, msg: 'a callback failed; the agent keeps running', callback: 'test: exploding', err: 'madvise exploded' });
  mock.timers.tick(1000);
  t.same(runs, ['once'], 'only once');
});

t.test('every: at each interval, on after a throw; cancel stops it (and an after before it fires)', async (t) => {
  let n = 0;
  const cancel = realClock.every('test: every', 50, () => {
    n++;
    if (n === 1) throw new Error('first run fails');
  });
  const cancelAfter = realClock.after('test: cancelled', 60, () => void n++);
  cancelAfter();
  mock.timers.tick(150);
  t.equal(n, 3, 'three runs, the first failing did not stop it; the cancelled after never ran');
  cancel();
  mock.timers.tick(500);
  t.equal(n, 3, 'no run after cancel');
});

t.test('now is the wall clock', async (t) => {
  const a = Date.now();
  const now = realClock.now();
  t.ok(now >= a && now <= Date.now());
});
