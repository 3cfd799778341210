// The periodic check's planner: which actions run, in which order, from the daemon's state alone.
import t from 'tap';
import { planPeriodicCheck, type CheckState } from '../../agent/daemon/periodic-check.js';

const RUNNING: CheckState = { phase: 'running', bfd: true, upstreamRunning: false, hasConfig: true, sockets: ['/run/a.sock', '/run/b.sock'] };

t.test('running with everything to do: recovery, withdrawal, the upstream retry, then each socket in order', async (t) => {
  t.same(planPeriodicCheck(RUNNING), [
    { do: 'recover-sessions' },
    { do: 'reapply-withdrawal' },
    { do: 'retry-upstream' },
    { do: 'ensure-socket', path: '/run/a.sock' },
    { do: 'ensure-socket', path: '/run/b.sock' },
  ]);
});

t.test('not running (starting, draining, stopped): nothing, whatever else the state says', async (t) => {
  for (const phase of ['starting', 'draining', 'stopped'] as const) {
    t.same(planPeriodicCheck({ ...RUNNING, phase }), [], phase);
  }
});

t.test('BFD not running: no recovery, but the withdrawal is still re-applied', async (t) => {
  t.same(planPeriodicCheck({ ...RUNNING, bfd: false, upstreamRunning: true, sockets: [] }), [{ do: 'reapply-withdrawal' }]);
});

t.test('the upstream is retried only when it does not run and a configuration is loaded', async (t) => {
  const retries = (s: Partial<CheckState>) => planPeriodicCheck({ ...RUNNING, ...s }).filter((a) => a.do === 'retry-upstream').length;
  t.equal(retries({ upstreamRunning: false, hasConfig: true }), 1);
  t.equal(retries({ upstreamRunning: true, hasConfig: true }), 0, 'already watching');
  t.equal(retries({ upstreamRunning: false, hasConfig: false }), 0, 'no configuration to plan from');
});

t.test('one ensure per socket served, none without sockets', async (t) => {
  t.same(planPeriodicCheck({ ...RUNNING, sockets: ['/x.sock'] }).filter((a) => a.do === 'ensure-socket'), [{ do: 'ensure-socket', path: '/x.sock' }]);
  t.same(planPeriodicCheck({ ...RUNNING, sockets: [] }).filter((a) => a.do === 'ensure-socket'), []);
});
