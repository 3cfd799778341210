// The upstream policy core on a virtual clock: immediate withdraw on link/neighbour failure,
// probe failures per probeFailureAction, hold-down after the last failure clears, pending signals.
import t from 'tap';
import { UpstreamPolicy, type UpstreamFamilyStatus } from '../../agent/upstream/policy.js';
import type { Verdict } from '../../agent/upstream/signals.js';
import type { ProbeFailureAction } from '../../agent/config/upstream-options.js';

const OK: Verdict = { state: 'ok', detail: 'fine' };
const FAILED = (detail = 'broken'): Verdict => ({ state: 'failed', detail });
const PENDING: Verdict = { state: 'pending', detail: 'resolving' };

function healthyPolicy(action: ProbeFailureAction = 'report', holdDownMs = 5000): UpstreamPolicy {
  const p = new UpstreamPolicy([4, 6], { holdDownMs, probeFailureAction: action }, 0);
  for (const f of [4, 6] as const) {
    p.update(f, 'link', 'net1', OK, 0);
    p.update(f, 'neighbour', f === 4 ? '172.17.0.1' : 'fd00:172:17::1', OK, 0);
  }
  p.update(4, 'probe', 'icmp 198.51.100.10', OK, 0);
  p.evaluate(0);
  return p;
}

const fam = (statuses: UpstreamFamilyStatus[], f: 4 | 6): UpstreamFamilyStatus => statuses.find((s) => s.family === f)!;
const at = (p: UpstreamPolicy, now: number, f: 4 | 6 = 4): UpstreamFamilyStatus => fam(p.evaluate(now).statuses, f);

t.test('all signals ok: healthy, not withdrawn, no reasons', async (t) => {
  const s = at(healthyPolicy(), 0);
  t.same(s, { family: 4, healthy: true, withdraw: false, reasons: [], since: 0 });
});

t.test('a dead link withdraws at once and holds down after it clears', async (t) => {
  const p = healthyPolicy();
  p.update(4, 'link', 'net1', FAILED('no carrier (operstate lowerlayerdown)'), 1000);
  const down = at(p, 1000);
  t.equal(down.healthy, false);
  t.equal(down.withdraw, true);
  t.equal(down.since, 1000);
  t.same(down.reasons.map((r) => [r.signal, r.name, r.state, r.withdraw]), [['link', 'net1', 'failed', true]]);
  t.match(down.reasons[0]!.message, /link net1: no carrier/);
  t.equal(at(p, 1000, 6).healthy, true, 'the other family is not affected by a signal reported for IPv4 only');

  p.update(4, 'link', 'net1', OK, 10_000);
  const held = at(p, 10_000);
  t.equal(held.healthy, false, 'not healthy during hold-down');
  t.equal(held.withdraw, true, 'still withdrawn during hold-down');
  t.same(held.reasons.map((r) => [r.signal, r.state, r.withdraw]), [['hold-down', 'hold-down', true]]);
  t.equal(held.since, 1000, 'since does not move while healthy/withdraw stay the same');
  t.equal(p.nextDeadline(10_000), 15_000);
  t.equal(at(p, 14_999).withdraw, true);
  const back = at(p, 15_000);
  t.same({ healthy: back.healthy, withdraw: back.withdraw, reasons: back.reasons, since: back.since }, { healthy: true, withdraw: false, reasons: [], since: 15_000 });
  t.equal(p.nextDeadline(15_000), undefined);
});

t.test('a failure during hold-down restarts it from the last clear (flapping uplink)', async (t) => {
  const p = healthyPolicy();
  p.update(4, 'link', 'net1', FAILED(), 0);
  p.update(4, 'link', 'net1', OK, 1000);
  t.equal(at(p, 1000).withdraw, true);
  p.update(4, 'link', 'net1', FAILED(), 3000);
  t.equal(at(p, 3000).reasons[0]!.signal, 'link');
  p.update(4, 'link', 'net1', OK, 4000);
  t.equal(at(p, 6000).withdraw, true, 'the first hold-down (until 6 s) no longer counts');
  t.equal(at(p, 8999).withdraw, true);
  t.equal(at(p, 9000).withdraw, false);
  t.equal(at(p, 9000).healthy, true);
});

t.test('an unresolvable gateway always withdraws', async (t) => {
  const p = healthyPolicy('report');
  p.update(6, 'neighbour', 'fd00:172:17::1', FAILED('FAILED (no ARP/ND reply)'), 500);
  const s = at(p, 500, 6);
  t.equal(s.withdraw, true);
  t.same(s.reasons.map((r) => r.signal), ['neighbour']);
  t.equal(at(p, 500, 4).withdraw, false);
});

t.test("probeFailureAction 'report': a failed probe marks not ready but never withdraws", async (t) => {
  const p = healthyPolicy('report');
  p.update(4, 'probe', 'icmp 198.51.100.10', FAILED('3 consecutive failures'), 2000);
  const s = at(p, 2000);
  t.equal(s.healthy, false);
  t.equal(s.withdraw, false);
  t.same(s.reasons.map((r) => [r.signal, r.withdraw]), [['probe', false]]);
  p.update(4, 'probe', 'icmp 198.51.100.10', OK, 3000);
  const held = at(p, 3000);
  t.equal(held.healthy, false, 'hold-down also delays readiness');
  t.equal(held.withdraw, false, 'a report-only hold-down does not withdraw');
  t.equal(held.reasons[0]!.withdraw, false);
  t.equal(at(p, 8000).healthy, true);
});

t.test("probeFailureAction 'withdraw': a failed probe withdraws", async (t) => {
  const p = healthyPolicy('withdraw');
  p.update(4, 'probe', 'icmp 198.51.100.10', FAILED(), 2000);
  t.equal(at(p, 2000).withdraw, true);
  p.update(4, 'probe', 'icmp 198.51.100.10', OK, 3000);
  t.equal(at(p, 7999).withdraw, true);
  t.equal(at(p, 8000).withdraw, false);
});

t.test('withdraw and readiness hold down separately when a report-only failure outlasts a withdrawing one', async (t) => {
  const p = healthyPolicy('report');
  p.update(4, 'link', 'net1', FAILED(), 0);
  p.update(4, 'probe', 'icmp 198.51.100.10', FAILED(), 1000);
  p.update(4, 'link', 'net1', OK, 10_000);
  const a = at(p, 12_000);
  t.same([a.healthy, a.withdraw], [false, true]);
  t.same(a.reasons.map((r) => [r.signal, r.withdraw]).sort(), [['hold-down', true], ['probe', false]]);
  t.equal(p.nextDeadline(12_000), 15_000);
  const b = at(p, 15_000);
  t.same([b.healthy, b.withdraw], [false, false], 'link hold-down over: back in ECMP, still not ready');
  p.update(4, 'probe', 'icmp 198.51.100.10', OK, 20_000);
  t.same([at(p, 24_999).healthy, at(p, 25_000).healthy], [false, true]);
});

t.test('pending signals: not ready, no withdraw, and no hold-down once resolved', async (t) => {
  const p = new UpstreamPolicy([4], { holdDownMs: 5000, probeFailureAction: 'withdraw' }, 0);
  p.update(4, 'link', 'net1', OK, 0);
  p.update(4, 'neighbour', '172.17.0.1', PENDING, 0);
  p.update(4, 'probe', 'tcp 198.51.100.10:8080', PENDING, 0);
  const s = at(p, 0);
  t.same([s.healthy, s.withdraw], [false, false]);
  t.same(s.reasons.map((r) => [r.signal, r.state, r.withdraw]), [['neighbour', 'pending', false], ['probe', 'pending', false]]);
  p.update(4, 'neighbour', '172.17.0.1', OK, 100);
  p.update(4, 'probe', 'tcp 198.51.100.10:8080', OK, 200);
  t.same([at(p, 200).healthy, at(p, 200).withdraw], [true, false]);
  t.equal(p.nextDeadline(200), undefined);
});

t.test('holdDownMs 0 returns at once', async (t) => {
  const p = healthyPolicy('report', 0);
  p.update(4, 'link', 'net1', FAILED(), 0);
  p.update(4, 'link', 'net1', OK, 1);
  t.same([at(p, 1).healthy, at(p, 1).withdraw], [true, false]);
});

t.test('changed lists a family only when its verdict or set of reasons changes', async (t) => {
  const p = healthyPolicy();
  t.same(p.evaluate(1).changed, []);
  p.update(4, 'probe', 'icmp 198.51.100.10', FAILED('1 failure'), 2);
  t.same(p.evaluate(2).changed.map((s) => s.family), [4]);
  p.update(4, 'probe', 'icmp 198.51.100.10', FAILED('2 failures'), 3);
  const r = p.evaluate(3);
  t.same(r.changed, [], 'only the detail text changed');
  t.match(fam(r.statuses, 4).reasons[0]!.message, /2 failures/, 'but the status carries the latest detail');
});

t.test('signals() keeps when each signal last changed state', async (t) => {
  const p = healthyPolicy();
  p.update(4, 'link', 'net1', OK, 50);
  p.update(4, 'neighbour', '172.17.0.1', FAILED(), 60);
  const sig = p.signals().filter((s) => s.family === 4);
  t.equal(sig.find((s) => s.signal === 'link')!.since, 0);
  t.equal(sig.find((s) => s.signal === 'neighbour')!.since, 60);
  t.equal(p.signalState(4, 'neighbour', '172.17.0.1'), 'failed');
  t.equal(p.signalState(4, 'probe', 'nope'), undefined);
});

t.test('a signal for a family that is not monitored is a programming error', async (t) => {
  const p = new UpstreamPolicy([4], { holdDownMs: 0, probeFailureAction: 'report' }, 0);
  t.throws(() => p.update(6, 'link', 'net1', OK, 0), /IPv6 is not a monitored family/);
});
