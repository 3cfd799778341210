// The dataplane gate: BFD held AdminDown until the dataplane was verified once, and again when it
// stays broken past the bound; a repaired drift inside the bound never withdraws.
import t from 'tap';
import { DataplaneGate } from '../../agent/daemon/dataplane-gate.js';

t.test('held until the first verification, whatever the bound', async (t) => {
  const g = new DataplaneGate(10_000);
  t.same(g.verdict(0), { withdraw: true, why: 'dataplane not verified yet' });
  g.observe(false, 'iptables-restore: exit 1', 0);
  t.same(g.verdict(60_000), { withdraw: true, why: 'dataplane not verified yet: iptables-restore: exit 1' });
  t.equal(g.nextDeadline(0), undefined);
  g.observe(true, null, 61_000);
  t.same(g.verdict(61_000), { withdraw: false, why: '' });
});

t.test('after that, only a breakage lasting the bound withdraws; verification releases at once', async (t) => {
  const g = new DataplaneGate(10_000);
  g.observe(true, null, 0);
  g.observe(false, 'chain EGRESS-SNAT missing', 1000);
  t.equal(g.verdict(10_999).withdraw, false, 'inside the bound');
  t.equal(g.nextDeadline(5000), 11_000);
  g.observe(false, 'chain EGRESS-SNAT missing', 6000); // still broken: the clock runs from the first failure
  t.same(g.verdict(11_000), { withdraw: true, why: 'dataplane broken for 10000 ms (limit 10000 ms): chain EGRESS-SNAT missing' });
  t.equal(g.nextDeadline(11_000), undefined);
  g.observe(true, null, 12_000);
  t.equal(g.verdict(12_000).withdraw, false);
  g.observe(false, 'x', 13_000);
  t.equal(g.verdict(14_000).withdraw, false, 'a new breakage starts a new bound');
});

t.test('bound 0: any unverified pass withdraws', async (t) => {
  const g = new DataplaneGate(0);
  g.observe(true, null, 0);
  g.observe(false, null, 5);
  t.equal(g.verdict(5).withdraw, true);
});
