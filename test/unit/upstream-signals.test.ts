// Verdicts of the individual upstream signals: link flags, neighbour states, probe rise/fall.
import t from 'tap';
import { linkVerdict, neighbourVerdict, RiseFall } from '../../agent/upstream/signals.js';

t.test('link verdicts', async (t) => {
  t.same(linkVerdict({ present: true, up: true, lowerUp: true, operstate: 6 }), { state: 'ok', detail: 'up, carrier' });
  t.equal(linkVerdict({ present: true, up: true, lowerUp: true, operstate: 0 }).state, 'ok', 'UNKNOWN operstate with carrier works (drivers without operstate)');
  t.equal(linkVerdict({ present: true, up: true, lowerUp: true }).state, 'ok');
  t.same(linkVerdict({ present: false, up: false, lowerUp: false }), { state: 'failed', detail: 'missing' });
  t.same(linkVerdict({ present: true, up: false, lowerUp: false, operstate: 2 }), { state: 'failed', detail: 'administratively down' });
  t.same(linkVerdict({ present: true, up: true, lowerUp: false, operstate: 3 }), { state: 'failed', detail: 'no carrier (operstate lowerlayerdown)' });
  t.same(linkVerdict({ present: true, up: true, lowerUp: true, operstate: 5 }), { state: 'failed', detail: 'operstate dormant' });
});

t.test('neighbour verdicts', async (t) => {
  for (const nud of ['reachable', 'stale', 'delay', 'probe', 'permanent', 'noarp'] as const) {
    t.equal(neighbourVerdict(undefined, nud).state, 'ok', nud);
    t.equal(neighbourVerdict('failed', nud).state, 'ok', `${nud} after failed`);
  }
  t.same(neighbourVerdict('ok', 'failed'), { state: 'failed', detail: 'FAILED (no ARP/ND reply)' });
  t.same(neighbourVerdict(undefined, 'absent'), { state: 'pending', detail: 'resolving (no entry)' });
  t.same(neighbourVerdict('ok', 'incomplete'), { state: 'pending', detail: 'resolving (INCOMPLETE)' });
  t.same(neighbourVerdict('pending', 'none'), { state: 'pending', detail: 'resolving (no entry)' });
  t.same(neighbourVerdict('failed', 'incomplete'), { state: 'failed', detail: 'unresolved after FAILED (INCOMPLETE)' },
    're-resolving a dead gateway does not clear the failure');
  t.equal(neighbourVerdict('failed', 'absent').state, 'failed', 'a garbage-collected FAILED entry stays failed');
});

t.test('rise/fall: first success is ok, fall failures fail, rise successes recover', async (t) => {
  const rf = new RiseFall(2, 3);
  t.equal(rf.record(false, 'timeout').state, 'pending', 'one failure before any success: still pending');
  t.equal(rf.record(true, 'reply').state, 'ok', 'first success');
  t.equal(rf.record(false, 'timeout').state, 'ok');
  const two = rf.record(false, 'timeout');
  t.same(two, { state: 'ok', detail: '2/3 failures, last: timeout' });
  const three = rf.record(false, 'timeout');
  t.same(three, { state: 'failed', detail: '3 consecutive failures (fall 3), last: timeout' });
  const one = rf.record(true, 'reply');
  t.same(one, { state: 'failed', detail: 'recovering (1/2 successes): reply' });
  t.equal(rf.record(false, 'timeout').state, 'failed', 'a failure resets the rise count');
  t.equal(rf.record(true, 'reply').state, 'failed');
  t.same(rf.record(true, 'reply'), { state: 'ok', detail: 'reply' });
});

t.test('rise/fall: a target that never answers fails after fall runs', async (t) => {
  const rf = new RiseFall(2, 3);
  t.equal(rf.record(false, 'x').state, 'pending');
  t.equal(rf.record(false, 'x').state, 'pending');
  t.equal(rf.record(false, 'x').state, 'failed');
});

t.test('rise/fall with fall 1 and rise 1', async (t) => {
  const rf = new RiseFall(1, 1);
  t.equal(rf.record(true, 'ok').state, 'ok');
  t.equal(rf.record(false, 'x').state, 'failed');
  t.equal(rf.record(true, 'ok').state, 'ok');
});
