// guard(): a callback's throw or rejection is logged with the callback's name and counted, never
// thrown to the caller (an EventEmitter, a timer), so the process keeps running.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { callbackFailures, guard, guardedInterval, guardedTimeout, setCallbackLogger } from '../../agent/lib/guard.js';

const logged: { fields: Record<string, unknown>; msg: string }[] = [];
setCallbackLogger({ error: ((fields: Record<string, unknown>, msg: string) => void logged.push({ fields, msg })) as never });
t.teardown(() => setCallbackLogger(null));

t.test('a synchronous throw in an event listener is logged, the emitter goes on', async (t) => {
  const n = callbackFailures().count;
  const e = new EventEmitter();
  const seen: number[] = [];
  e.on('x', guard('test: listener', (v: number) => {
    if (v === 1) throw new Error('boom');
    seen.push(v);
  }));
  t.doesNotThrow(() => e.emit('x', 1));
  e.emit('x', 2);
  t.same(seen, [2]);
  t.equal(callbackFailures().count, n + 1);
  t.match(logged.at(-1), { fields: { callback: 'test: listener', err: 'boom' }, msg: /keeps running/ });
  t.match(callbackFailures().last, { callback: 'test: listener', err: 'boom' });
});

t.test('a rejected promise from an async callback is logged, not unhandled', async (t) => {
  const n = callbackFailures().count;
  guard('test: async', async () => { throw new Error('later'); })();
  await new Promise((r) => setImmediate(r));
  t.equal(callbackFailures().count, n + 1);
  t.match(logged.at(-1)!.fields, { callback: 'test: async', err: 'later' });
});

t.test('timers: a throwing timeout and interval are logged; the interval keeps firing', async (t) => {
  const n = callbackFailures().count;
  guardedTimeout('test: timeout', () => { throw new Error('once'); }, 1);
  let runs = 0;
  const iv = guardedInterval('test: interval', () => { runs++; throw new Error('every time'); }, 5);
  await new Promise((r) => setTimeout(r, 60));
  clearInterval(iv);
  t.ok(runs >= 3, `the interval ran ${runs} times despite throwing`);
  t.equal(callbackFailures().count, n + 1 + runs);
});

t.test('non-Error throws are reported too', async (t) => {
  guard('test: string', () => { throw 'a string'; })();
  t.match(logged.at(-1)!.fields, { callback: 'test: string', err: 'a string' });
});
