// The managed dataplane in the daemon (managed-dataplane.ts) against a fake reconciler on a virtual
// clock: what a reload does in each case, and the BFD gate's verdicts and deadline.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayConfig } from '../../agent/config/types.js';
import { ManagedDataplane } from '../../agent/daemon/managed-dataplane.js';
import { FakeReconciler, memoryLogger, testConfig } from '../helpers/daemon-fakes.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

function setup(t: Test, verified = true) {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-managed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig(dir);
  const created: FakeReconciler[] = [];
  const verdicts: string[] = [];
  const clock = new VirtualClock();
  const dp = new ManagedDataplane({
    create: async (c: GatewayConfig) => {
      if (!c.families.length) return null;
      const r = new FakeReconciler(c);
      r.verified = verified;
      created.push(r);
      return r;
    },
    clock,
    log: memoryLogger().log,
    withdrawAfterMs: () => 1000,
    onVerdict: (trigger) => void verdicts.push(trigger),
  });
  return { config, dp, created, verdicts, clock };
}

t.test('reload of a running dataplane: re-applied, or re-planned, with the reconciler\'s error', async (t) => {
  const { config, dp, created } = setup(t);
  await dp.start(config);
  t.same(await dp.reload(config, false), { change: 'dataplane re-applied', error: null });
  const r = created[0]!;
  r.reload = async () => ({ at: 0, durationMs: 1, trigger: 'reload', changed: true, remaining: [], drift: [], error: 'iptables-restore: exit 1' });
  t.same(await dp.reload(config, true), { change: 'dataplane configuration changed: re-planned and applied', error: 'dataplane: iptables-restore: exit 1' });
  t.equal(created.length, 1, 'the same reconciler');
});

t.test('reload without families keeps the running dataplane and says so', async (t) => {
  const { config, dp, created } = setup(t);
  await dp.start(config);
  const calls = created[0]!.calls.length;
  t.same(await dp.reload({ ...config, families: [] }, true), {
    change: null, error: 'the new configuration has no address family: the running dataplane is kept; restart to drop it',
  });
  t.equal(created[0]!.calls.length, calls, 'the reconciler was not touched');
  t.equal(dp.reconciler, created[0]);
});

t.test('not managed: a reload with families starts managing it; one without changes nothing', async (t) => {
  const { config, dp, created } = setup(t);
  await dp.start({ ...config, families: [] });
  t.equal(dp.reconciler, null);
  t.same(await dp.reload({ ...config, families: [] }, false), { change: null, error: null });
  t.equal(created.length, 0);
  t.same(await dp.reload(config, true), { change: 'dataplane now managed: planned and applied', error: null });
  t.same(created[0]!.calls, [['applyOnce', 'reload'], ['start']]);
  t.equal(dp.reconciler, created[0]);
});

t.test('the gate: no verdict unmanaged; held until verified; a breakage withdraws at the deadline unless stopped first', async (t) => {
  const { config, dp, created, verdicts, clock } = setup(t, false);
  t.equal(dp.verdict(clock.now()), null, 'nothing managed, nothing to say');
  await dp.start(config);
  t.match(dp.verdict(clock.now()), { withdraw: true, why: /^dataplane not verified yet: route missing/ });
  t.ok(verdicts.length > 0 && verdicts.every((v) => v === 'dataplane'), 'each apply re-applies the BFD admin state');
  const r = created[0]!;
  r.verified = true;
  await r.applyOnce('periodic');
  t.same(dp.verdict(clock.now()), { withdraw: false, why: '' });
  r.verified = false;
  await r.applyOnce('periodic');
  t.same(dp.verdict(clock.now()), { withdraw: false, why: '' }, 'inside the bound');
  verdicts.length = 0;
  await clock.advance(1001);
  t.same(verdicts, ['dataplane broken too long'], 'the deadline re-applies once the bound passed');
  t.match(dp.verdict(clock.now()), { withdraw: true });
  r.verified = true;
  await r.applyOnce('periodic');
  r.verified = false;
  await r.applyOnce('periodic');
  await dp.stop();
  t.same(clock.pending(), [], 'stop cancels the deadline');
  t.same(r.calls.at(-1), ['stop']);
});
