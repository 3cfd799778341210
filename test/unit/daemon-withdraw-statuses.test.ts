// Combining the upstream monitor's verdicts with the dataplane gate's into one verdict per family
// (the input of BfdWithdrawal): the gate's withdraw wins, its pass never hides the upstream's.
import t from 'tap';
import { withdrawStatuses } from '../../agent/daemon/bfd-withdrawal.js';
import type { WithdrawStatus } from '../../agent/upstream/index.js';

const upV4Broken: WithdrawStatus = { family: 4, withdraw: true, reasons: [{ withdraw: true, message: 'link net1: no carrier' }] };
const upV6Healthy: WithdrawStatus = { family: 6, withdraw: false, reasons: [] };
const WITHDRAW = { withdraw: true, why: 'dataplane broken for 12000 ms (limit 10000 ms)' };
const PASS = { withdraw: false, why: '' };

t.test('no managed dataplane (no gate): the upstream verdicts alone, the families are not consulted', async (t) => {
  t.same(withdrawStatuses({ upstream: [upV4Broken, upV6Healthy], gate: null, families: [4, 6] }), [upV4Broken, upV6Healthy]);
  t.same(withdrawStatuses({ upstream: [], gate: null, families: [4, 6] }), [], 'nothing watched: no verdict, BFD untouched');
});

t.test('a withdrawing gate takes every configured family down with Forwarding Plane Reset, over the upstream verdict', async (t) => {
  const dataplaneDown = (family: 4 | 6): WithdrawStatus => ({ family, withdraw: true, diag: 'ForwardingPlaneReset', reasons: [{ withdraw: true, message: WITHDRAW.why }] });
  t.same(withdrawStatuses({ upstream: [upV4Broken, upV6Healthy], gate: WITHDRAW, families: [4, 6] }), [dataplaneDown(4), dataplaneDown(6)]);
  t.same(withdrawStatuses({ upstream: [], gate: WITHDRAW, families: [6] }), [dataplaneDown(6)], 'also without an upstream monitor');
});

t.test('a passing gate releases the configured families the upstream does not speak for, and keeps the upstream\'s withdraw', async (t) => {
  t.same(withdrawStatuses({ upstream: [upV4Broken], gate: PASS, families: [4, 6] }), [upV4Broken, { family: 6, withdraw: false, reasons: [] }]);
  t.same(withdrawStatuses({ upstream: [], gate: PASS, families: [4] }), [{ family: 4, withdraw: false, reasons: [] }]);
});

t.test('the gate speaks only for configured families; an upstream verdict for another family is kept', async (t) => {
  t.same(withdrawStatuses({ upstream: [upV6Healthy], gate: WITHDRAW, families: [4] }), [
    upV6Healthy,
    { family: 4, withdraw: true, diag: 'ForwardingPlaneReset', reasons: [{ withdraw: true, message: WITHDRAW.why }] },
  ]);
  t.same(withdrawStatuses({ upstream: [upV4Broken], gate: WITHDRAW, families: [] }), [upV4Broken], 'no configured family: the gate changes nothing');
});
