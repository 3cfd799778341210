// The reload decision as a pure function: what changes in place, what needs a restart.
import t from 'tap';
import { planReload } from '../../agent/daemon/reload-plan.js';
import { testConfig } from '../helpers/daemon-fakes.js';

const old = testConfig('/run/x');

t.test('the same configuration: nothing to change', async (t) => {
  const p = planReload(old, testConfig('/run/x'));
  t.same(p, { logLevel: null, restartNeeded: [], dataplaneChanged: false, effective: old });
});

t.test('log level in place; server addresses only after a restart, and the running ones are kept', async (t) => {
  const next = testConfig('/run/x', { logLevel: 'debug', healthListen: ':9999', controlSocket: '/run/y.sock' });
  const p = planReload(old, next);
  t.same(p.logLevel, { level: 'debug', change: 'log level info -> debug' });
  t.same(p.restartNeeded, [
    `health listen address change 127.0.0.1:0 -> :9999 takes effect after a restart`,
    `control socket change /run/x/control.sock -> /run/y.sock takes effect after a restart`,
  ]);
  t.same(p.effective, { ...next, healthListen: old.healthListen, controlSocket: old.controlSocket });
  t.equal(p.dataplaneChanged, false);
});

t.test('a change of what the dataplane plan depends on is a re-plan; BFD timers are not', async (t) => {
  t.equal(planReload(old, testConfig('/run/x', { externalInterface: 'net2' })).dataplaneChanged, true);
  t.equal(planReload(old, testConfig('/run/x', { reconcileIntervalMs: 1000 })).dataplaneChanged, true);
  t.equal(planReload(old, testConfig('/run/x', { bfd: { ...old.bfd, minTxMs: 300 } })).dataplaneChanged, false);
});
