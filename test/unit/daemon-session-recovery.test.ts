// Bounded recovery after Kube-OVN's G3 supervisor, on an explicit clock.
import t from 'tap';
import { recoveryPolicy, SessionRecovery, type Observation } from '../../agent/daemon/session-recovery.js';

const policy = recoveryPolicy({ minTxMs: 100, minRxMs: 100, multiplier: 3 });
const obs = (state: Observation['state'], held = false) => new Map([['a|b', { state, held }]]);

t.test('policy: Kube-OVN timing', async (t) => {
  t.equal(policy.graceMs, 60_000, 'max(60 s, 10 x detection)');
  t.equal(recoveryPolicy({ minTxMs: 1000, minRxMs: 3000, multiplier: 5 }).graceMs, 150_000);
  t.equal(policy.stableMs, 60_000);
  t.same(policy.backoffsMs, [60_000, 300_000, 1_800_000]);
  t.equal(policy.circuitOpenMs, 3_600_000);
});

t.test('a removed session gets the missing grace, then ReplayConfiguration', async (t) => {
  const r = new SessionRecovery(policy);
  r.setExpected(['a|b']);
  t.equal(r.plan(0, obs('Up')), null);
  t.equal(r.episode('a|b')!.phase, 'Up');
  t.equal(r.plan(1000, obs(null)), null, 'first sight of the removal starts the episode');
  t.equal(r.episode('a|b')!.phase, 'Grace');
  t.equal(r.plan(1000 + policy.missingGraceMs - 1, obs(null)), null, 'still in grace');
  t.same(r.plan(1000 + policy.missingGraceMs, obs(null)), { key: 'a|b', action: 'ReplayConfiguration' });
  t.match(r.episode('a|b'), { phase: 'Backoff', attempts: 1, lastAction: 'ReplayConfiguration', lastResult: 'in_progress', nextRetry: 1000 + policy.missingGraceMs + 60_000 });
  r.record('a|b', null);
  t.equal(r.episode('a|b')!.lastResult, 'success');
});

t.test('the missing grace counts from the removal, not from an older episode', async (t) => {
  const r = new SessionRecovery(policy);
  r.setExpected(['a|b']);
  r.plan(0, obs('Down'));
  r.plan(5000, obs('Up')); // came up; the episode stays open until stable
  t.equal(r.plan(30_000, obs(null)), null, 'removed at 30 s');
  t.equal(r.plan(30_000 + policy.missingGraceMs - 1, obs(null)), null);
  t.same(r.plan(30_000 + policy.missingGraceMs, obs(null)), { key: 'a|b', action: 'ReplayConfiguration' });
});

t.test('a session that exists but stays down: grace, replay, reset, reset, then the circuit opens', async (t) => {
  const r = new SessionRecovery(policy);
  r.setExpected(['a|b']);
  let now = 0;
  r.plan(now, obs('Down'));
  now += policy.graceMs;
  const actions: string[] = [];
  for (let i = 0; i < 5; i++) {
    const a = r.plan(now, obs('Down'));
    if (a) {
      actions.push(a.action);
      r.record(a.key, 'peer unreachable');
    }
    now = r.episode('a|b')!.nextRetry ?? now;
  }
  t.same(actions, ['ReplayConfiguration', 'ResetSession', 'ResetSession', 'ReplayConfiguration', 'ReplayConfiguration']);
  t.equal(r.episode('a|b')!.lastResult, 'peer unreachable');
  const r2 = new SessionRecovery(policy);
  r2.setExpected(['a|b']);
  r2.plan(0, obs('Down'));
  let t2 = policy.graceMs;
  for (let i = 0; i < 4; i++) {
    r2.plan(t2, obs('Down'));
    t2 = r2.episode('a|b')!.nextRetry!;
  }
  t.equal(r2.episode('a|b')!.phase, 'CircuitOpen', 'after the backoffs the circuit opens for an hour');
  r2.plan(t2 - 1, obs('Down'));
  t.equal(r2.episode('a|b')!.phase, 'CircuitOpen');
});

t.test('held (operator admin-down) sessions are never recovered', async (t) => {
  const r = new SessionRecovery(policy);
  r.setExpected(['a|b']);
  for (let now = 0; now < 10 * policy.graceMs; now += 5000) t.equal(r.plan(now, obs('AdminDown', true)), null);
  t.equal(r.episode('a|b')!.attempts, 0);
});

t.test('stable Up clears the episode; one action per round', async (t) => {
  const r = new SessionRecovery(policy);
  r.setExpected(['a|b', 'c|d']);
  const both = (state: Observation['state']) => new Map([['a|b', { state, held: false }], ['c|d', { state, held: false }]]);
  r.plan(0, both(null));
  const first = r.plan(policy.missingGraceMs, both(null));
  t.same(first, { key: 'a|b', action: 'ReplayConfiguration' });
  const second = r.plan(policy.missingGraceMs + 5000, both(null));
  t.same(second, { key: 'c|d', action: 'ReplayConfiguration' }, 'the other pair in the next round');
  r.plan(100_000, both('Up'));
  t.equal(r.episode('a|b')!.attempts, 1, 'not yet stable');
  r.plan(100_000 + policy.stableMs, both('Up'));
  t.match(r.episode('a|b'), { phase: 'Up', attempts: 0, lastAction: 'None', lastResult: '', nextRetry: null });
  r.setExpected(['c|d']);
  t.equal(r.episode('a|b'), undefined, 'pairs no longer expected are forgotten');
});
