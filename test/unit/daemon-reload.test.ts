// The reload procedure (reload.ts) against a fake target: one reload at a time, a refused BFD set
// rejects the whole reload (log level restored, nothing adopted), a failing step is reported while
// the rest applies, and a setting that needs a restart is reported without failing the reload.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayConfig } from '../../agent/config/types.js';
import type { BfdReload } from '../../agent/daemon/bfd-service.js';
import type { ConfigResult } from '../../agent/daemon/ports.js';
import { Reloader, type ReloadTarget } from '../../agent/daemon/reload.js';
import { memoryLogger, testConfig } from '../helpers/daemon-fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'vdm-reload-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const RUNNING = testConfig(dir);

class Target implements ReloadTarget {
  calls: string[] = [];
  config: GatewayConfig = RUNNING;
  result: ConfigResult = { ok: true, config: RUNNING };
  bfd: BfdReload = { changes: { added: [], removed: [], changed: [] } };
  bfdOn = true;
  dataplane: { change: string | null; error: string | null } = { change: 'dataplane re-applied', error: null };
  upstreamFails: string | null = null;
  gate: Promise<void> = Promise.resolve();
  async loadConfig(): Promise<ConfigResult> {
    this.calls.push('load');
    await this.gate;
    return this.result;
  }
  running(): GatewayConfig {
    return this.config;
  }
  adopt(config: GatewayConfig): void {
    this.calls.push('adopt');
    this.config = config;
  }
  bfdRunning(): boolean {
    return this.bfdOn;
  }
  async reloadBfd(): Promise<BfdReload> {
    this.calls.push('bfd');
    return this.bfd;
  }
  async reloadDataplane(_next: GatewayConfig, replanned: boolean) {
    this.calls.push(`dataplane replanned=${replanned}`);
    return this.dataplane;
  }
  async syncUpstream(): Promise<string | null> {
    this.calls.push('upstream');
    if (this.upstreamFails) throw new Error(this.upstreamFails);
    return null;
  }
  async syncSnatRecords(): Promise<string | null> {
    this.calls.push('snat');
    return 'SNAT records on: /var/log/egress';
  }
}

function setup() {
  const target = new Target();
  const { log, lines } = memoryLogger('info');
  let now = 1000;
  const reloader = new Reloader(target, log, () => now++);
  return { target, reloader, log, lines };
}

t.test('the steps in order; the effective configuration is adopted; change lines in step order', async (t) => {
  const { target, reloader } = setup();
  target.result = { ok: true, config: { ...RUNNING, logLevel: 'debug', reconcileIntervalMs: 5000 } };
  target.bfd = { changes: { added: ['a|b'], removed: ['c|d'], changed: ['e|f'] } };
  const r = await reloader.reload();
  t.same(target.calls, ['load', 'bfd', 'dataplane replanned=true', 'upstream', 'snat', 'adopt']);
  t.same(r, {
    at: 1000, ok: true, errors: [],
    changes: ['log level info -> debug', 'bfd session a|b added', 'bfd session c|d removed', 'bfd session e|f changed (Poll)', 'dataplane re-applied', 'SNAT records on: /var/log/egress'],
  });
  t.equal(target.config.reconcileIntervalMs, 5000);
  t.same(reloader.counters(), { lastReload: r, reloads: 1, reloadFailures: 0 });
});

t.test('BFD is reloaded only when it runs or the new configuration enables it', async (t) => {
  const { target, reloader } = setup();
  target.bfdOn = false;
  target.result = { ok: true, config: { ...RUNNING, bfd: { ...RUNNING.bfd, enabled: false } } };
  await reloader.reload();
  t.notOk(target.calls.includes('bfd'), 'off and staying off');
  target.calls = [];
  target.result = { ok: true, config: RUNNING };
  await reloader.reload();
  t.ok(target.calls.includes('bfd'), 'enabled by the reload');
});

t.test('invalid configuration: rejected before any step, counted', async (t) => {
  const { target, reloader, lines } = setup();
  target.result = { ok: false, errors: ['config file bfd.minTxMs="fast": not a number'] };
  const r = await reloader.reload();
  t.same(r, { at: 1000, ok: false, errors: ['config file bfd.minTxMs="fast": not a number'], changes: [] });
  t.same(target.calls, ['load']);
  t.same(reloader.counters(), { lastReload: r, reloads: 1, reloadFailures: 1 });
  t.ok(lines.some((l) => l.msg === 'reload rejected: invalid configuration; keeping the running one'));
});

t.test('a refused BFD set rejects the whole reload: nothing after it runs, nothing adopted, the log level restored', async (t) => {
  const { target, reloader, log } = setup();
  target.result = { ok: true, config: { ...RUNNING, logLevel: 'debug' } };
  target.bfd = { refused: new Error('BFD sessions not changed: cannot bind (rolled back to the running set)') };
  const r = await reloader.reload();
  t.same(r, { at: 1000, ok: false, errors: ['BFD sessions not changed: cannot bind (rolled back to the running set)'], changes: [] });
  t.same(target.calls, ['load', 'bfd']);
  t.equal(target.config, RUNNING);
  t.equal(log.level, 'info');
  t.equal(reloader.counters().reloadFailures, 1);
});

t.test('a failing step is reported, the configuration still adopted; a dataplane error is reported with its change', async (t) => {
  const { target, reloader } = setup();
  target.dataplane = { change: 'dataplane re-applied', error: 'dataplane: iptables-restore: exit 1' };
  target.upstreamFails = 'netlink: EPERM';
  const r = await reloader.reload();
  t.same(r.errors, ['dataplane: iptables-restore: exit 1', 'netlink: EPERM']);
  t.same(r.changes, ['dataplane re-applied']);
  t.equal(r.ok, false);
  t.same(target.calls, ['load', 'bfd', 'dataplane replanned=false', 'upstream', 'adopt'], 'the steps after the failing one are skipped');
  t.equal(reloader.counters().reloadFailures, 1);
});

t.test('a setting that needs a restart is reported, not a failure', async (t) => {
  const { target, reloader } = setup();
  target.result = { ok: true, config: { ...RUNNING, healthListen: '127.0.0.1:9' } };
  const r = await reloader.reload();
  t.ok(r.ok);
  t.same(r.errors, ['health listen address change 127.0.0.1:0 -> 127.0.0.1:9 takes effect after a restart']);
  t.equal(target.config.healthListen, RUNNING.healthListen, 'the running address is kept');
  t.equal(reloader.counters().reloadFailures, 0);
});

t.test('one reload at a time: a second asked for while one runs gets the same record; the next one runs again', async (t) => {
  const { target, reloader } = setup();
  let open: () => void = () => undefined;
  target.gate = new Promise<void>((r) => (open = r));
  const a = reloader.reload();
  const b = reloader.reload();
  open();
  t.equal(await a, await b);
  t.equal(target.calls.filter((c) => c === 'load').length, 1);
  await reloader.reload();
  t.equal(reloader.counters().reloads, 2);
});
