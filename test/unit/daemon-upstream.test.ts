// Upstream health and SNAT records wired into the daemon, against fakes: which families are
// watched, a withdraw takes exactly that family's sessions AdminDown (Concatenated Path Down) and a
// recovery brings them back, nobody else's AdminDown is undone, /readyz /status /metrics say why,
// the monitor stops before the drain, and the recorder runs only with a managed dataplane.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayConfig, UpstreamConfig } from '../../agent/config/types.js';
import { Daemon } from '../../agent/daemon/daemon.js';
import type { SnatRecorderPort, UpstreamMonitorPort } from '../../agent/daemon/ports.js';
import type { MulticastStats } from '../../agent/dataplane/rtnl-multicast.js';
import type { SnatRecordsConfig } from '../../agent/config/snat-records.js';
import type { SnatStatus } from '../../agent/snat/types.js';
import type { ProbeResultEvent, SignalStatus, UpstreamFamilyStatus, UpstreamOptions } from '../../agent/upstream/index.js';
import { FakeEngine, FakePorts, memoryLogger, testConfig, type Call } from '../helpers/daemon-fakes.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

class FakeMonitor extends EventEmitter implements UpstreamMonitorPort {
  calls: Call[] = [];
  families: UpstreamFamilyStatus[];
  constructor(readonly options: UpstreamOptions) {
    super();
    this.families = options.families.map((f) => ({ family: f.family, healthy: true, withdraw: false, reasons: [], since: 1 }));
  }
  async start(): Promise<void> {
    this.calls.push(['start']);
  }
  async stop(): Promise<void> {
    this.calls.push(['stop']);
  }
  status(): UpstreamFamilyStatus[] {
    return this.families.map((f) => ({ ...f }));
  }
  signals(): SignalStatus[] {
    return this.options.families.map((f) => ({ family: f.family, signal: 'link', name: f.interface, state: 'ok', detail: 'up', since: 1 }));
  }
  netlink(): MulticastStats | null {
    return { overflows: 1, truncated: 0, receiveBufferBytes: 425984, forced: false, portId: 456 };
  }
  /** Test hook: the monitor's verdict for a family changes. */
  set(family: 4 | 6, withdraw: boolean, message: string): void {
    const f = this.families.find((x) => x.family === family)!;
    Object.assign(f, {
      healthy: !withdraw && message === '', withdraw,
      reasons: message ? [{ signal: 'link', name: 'net1', state: 'failed', withdraw, message }] : [],
    });
    this.emit('change', [f], this.status());
  }
}

class FakeRecorder implements SnatRecorderPort {
  calls: Call[] = [];
  failStart: string | null = null;
  constructor(readonly config: SnatRecordsConfig, private readonly order: Call[]) {}
  async start(): Promise<void> {
    this.calls.push(['start']);
    if (this.failStart) throw new Error(this.failStart);
  }
  async stop(): Promise<void> {
    this.calls.push(['stop']);
    this.order.push(['snat.stop']);
  }
  status(): SnatStatus {
    return {
      running: true, dir: this.config.dir, currentFile: null, socketBufferBytes: 212992, eventsDropped: 0, eventsReceived: 12, recordsWritten: 9,
      recordsDropped: 0, overflows: 1, lastOverflowAt: null, parseErrors: 0, restarts: 0, lastError: null, flows: { snat: 2, forwarded: 0 }, flowsStarted: { snat: 6, forwarded: 0 },
      recovered: 0, ports: { range: 64512, warnRatio: 0.8, warnings: 0, tightest: [] },
    };
  }
}

class Ports extends FakePorts {
  monitors: FakeMonitor[] = [];
  recorders: FakeRecorder[] = [];
  /** Cross-component order of the interesting calls. */
  order: Call[] = [];
  recorderFails: string | null = null;
  override async createEngine(): Promise<FakeEngine> {
    const e = new FakeEngine();
    const drain = e.drain.bind(e);
    e.drain = async (ms) => {
      this.order.push(['engine.drain']);
      await drain(ms);
    };
    this.engine = e;
    return e;
  }
  async createUpstreamMonitor(options: UpstreamOptions): Promise<FakeMonitor> {
    const m = new FakeMonitor(options);
    const stop = m.stop.bind(m);
    m.stop = async () => {
      this.order.push(['monitor.stop']);
      await stop();
    };
    this.monitors.push(m);
    return m;
  }
  async createSnatRecorder(config: SnatRecordsConfig): Promise<FakeRecorder> {
    const r = new FakeRecorder(config, this.order);
    r.failStart = this.recorderFails;
    this.recorders.push(r);
    return r;
  }
}

const UPSTREAM: UpstreamConfig = {
  enabled: true, probes: [{ kind: 'icmp', address: '198.51.100.10' }, { kind: 'tcp', address: '2001:db8::10', port: 443 }],
  probeIntervalMs: 1000, probeTimeoutMs: 500, probeRise: 2, probeFall: 3, probeFailureAction: 'report', holdDownMs: 5000, neighbourVerifyIntervalMs: 1000,
};

const V4 = '10.16.0.11|10.255.255.255';

function setup(t: Test, over: (dir: string) => Partial<GatewayConfig> = () => ({})) {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-upstream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig(dir, {
    upstream: UPSTREAM,
    snatRecords: { enabled: true, dir: join(dir, 'records'), maxFileBytes: 1 << 20, maxFiles: 4, maxAgeMs: 3_600_000, stdout: false, recordStart: true, socketBufferBytes: 1 << 20, portWarnRatio: 0.8 },
    ...over(dir),
  });
  const ports = new Ports({ ok: true, config });
  const { log, lines } = memoryLogger();
  const daemon = new Daemon({ ports, log, version: '9.9.9', checkIntervalMs: 60_000, clock: new VirtualClock() });
  t.teardown(() => daemon.abort());
  return { dir, config, ports, daemon, lines, engine: () => ports.engine as FakeEngine, monitor: () => ports.monitors.at(-1)! };
}

async function get(daemon: Daemon, path: string): Promise<{ code: number; body: string }> {
  const r = await fetch(`http://${daemon.status().health.address}${path}`);
  return { code: r.status, body: await r.text() };
}

t.test('the monitor watches the configured families on the discovered external interface, after BFD started', async (t) => {
  const { daemon, ports, lines, monitor } = setup(t);
  await daemon.start();
  t.equal(ports.monitors.length, 1);
  // The fake reconciler discovered net1 for IPv4; the IPv6 probe has no monitored family and is not run.
  t.same(monitor().options.families, [{ family: 4, interface: 'net1', gateway: '172.17.0.1' }]);
  t.same(monitor().options.probes.map((p) => p.name), ['icmp 198.51.100.10']);
  t.match(monitor().options, { holdDownMs: 5000, probeFailureAction: 'report', neighbourVerifyIntervalMs: 1000 });
  t.same(monitor().calls, [['start']]);
  const order = lines.map((l) => l.step ?? l.msg).filter((x) => x === 'bfd sessions started' || x === 'upstream');
  t.same(order, ['bfd sessions started', 'upstream'], 'sessions exist before the monitor can withdraw them');
  t.same(daemon.status().upstream, {
    off: null, families: [{ family: 4, healthy: true, withdraw: false, reasons: [], since: 1 }],
    signals: [{ family: 4, signal: 'link', name: 'net1', state: 'ok', detail: 'up', since: 1 }], probes: [],
    netlink: { overflows: 1, truncated: 0, receiveBufferBytes: 425984, forced: false, portId: 456 }, bfdActions: { adminDown: 0, adminUp: 0 },
  });
});

t.test('a withdrawn family goes AdminDown with Concatenated Path Down, /readyz says why, and comes back', async (t) => {
  const { daemon, engine, monitor, lines } = setup(t);
  await daemon.start();
  engine().setState(V4, 'Up');
  t.equal((await get(daemon, '/readyz')).code, 200);

  monitor().set(4, true, 'link net1: no carrier (operstate down)');
  t.same(engine().calls.filter((c) => c[0] === 'adminDown'), [['adminDown', V4, 'ConcatenatedPathDown']]);
  const ready = await get(daemon, '/readyz');
  t.equal(ready.code, 503);
  t.match(ready.body, /- upstream IPv4 broken, withdrawn from ECMP: link net1: no carrier \(operstate down\)\n/);
  t.match(ready.body, /- BFD 10\.16\.0\.11 -> 10\.255\.255\.255 is AdminDown\n/);
  const st = daemon.status(); // the full view (HTTP /status is a redacted summary)
  t.match(JSON.parse((await get(daemon, '/status')).body), { upstream: [{ family: 4, healthy: false, withdrawn: true }] });
  t.match(st.upstream, { families: [{ family: 4, withdraw: true, reasons: [{ message: 'link net1: no carrier (operstate down)' }] }], bfdActions: { adminDown: 1 } });
  t.match(st.bfd!.sessions, [{ state: 'AdminDown', localDiag: 'ConcatenatedPathDown' }]);
  const metrics = (await get(daemon, '/metrics')).body;
  t.match(metrics, /egress_agent_upstream_withdrawn\{family="4"\} 1/);
  t.match(metrics, /egress_agent_upstream_healthy\{family="4"\} 0/);
  t.ok(lines.some((l) => l.msg === 'upstream broken: BFD session AdminDown (Concatenated Path Down), leaving ECMP' && l.why === 'link net1: no carrier (operstate down)'));

  // A repeated verdict (or any other event) changes nothing: the translation is idempotent.
  monitor().set(4, true, 'link net1: no carrier (operstate down)');
  t.equal(engine().calls.filter((c) => c[0] === 'adminDown').length, 1);

  monitor().set(4, false, '');
  t.same(engine().calls.filter((c) => c[0] === 'adminUp'), [['adminUp', V4]]);
  engine().setState(V4, 'Up');
  t.same(daemon.status().ready, { ok: true, reasons: [] });
  t.match(daemon.status().upstream!.bfdActions, { adminDown: 1, adminUp: 1 });
});

t.test('not healthy but not withdrawn (probe, report): not ready, BFD untouched', async (t) => {
  const { daemon, engine, monitor } = setup(t);
  await daemon.start();
  engine().setState(V4, 'Up');
  monitor().set(4, false, 'probe icmp 198.51.100.10: 3 consecutive failures (fall 3), last: no reply within 500 ms');
  t.notOk(engine().calls.some((c) => c[0] === 'adminDown'));
  t.same(daemon.status().ready.reasons, ['upstream IPv4 not healthy: probe icmp 198.51.100.10: 3 consecutive failures (fall 3), last: no reply within 500 ms']);
});

t.test('a session brought up (operator, recovery, re-creation) while the upstream is broken goes back down', async (t) => {
  const { daemon, engine, monitor, config } = setup(t);
  await daemon.start();
  monitor().set(4, true, 'neighbour 172.17.0.1: FAILED (no ARP/ND reply)');
  const { request } = await import('../../agent/control/client.js');
  await request(config.controlSocket, 'bfd.adminUp', { local: '10.16.0.11', remote: '10.255.255.255' });
  t.equal(engine().states.get(V4), 'AdminDown', 'the BFD state event re-applied the withdraw');
  t.same(engine().calls.filter((c) => c[0] === 'adminDown' || c[0] === 'adminUp').map((c) => c[0]), ['adminDown', 'adminUp', 'adminDown']);
});

t.test('an operator AdminDown (AdministrativelyDown) is never undone by a healthy upstream', async (t) => {
  const { daemon, engine, monitor, config } = setup(t);
  await daemon.start();
  const { request } = await import('../../agent/control/client.js');
  await request(config.controlSocket, 'bfd.adminDown', { local: '10.16.0.11', remote: '10.255.255.255' });
  monitor().set(4, true, 'link net1: no carrier');
  monitor().set(4, false, '');
  t.notOk(engine().calls.some((c) => c[0] === 'adminUp'), 'still held by the operator');
  t.equal(engine().diags.get(V4), 'AdministrativelyDown');
});

t.test('drain: the monitor stops before the BFD drain; nothing comes back up; records flushed after', async (t) => {
  const { daemon, engine, monitor, ports } = setup(t);
  await daemon.start();
  monitor().set(4, true, 'link net1: no carrier');
  await daemon.drain('SIGTERM');
  t.same(ports.order, [['monitor.stop'], ['engine.drain'], ['snat.stop']]);
  monitor().set(4, false, ''); // a late event from a stopped monitor
  t.notOk(engine().calls.some((c) => c[0] === 'adminUp'), 'no session leaves the drain\'s AdminDown');
});

t.test('reload: upstream turned off releases the withdrawn sessions; changed settings re-plan the monitor', async (t) => {
  const { daemon, engine, monitor, ports, config } = setup(t);
  await daemon.start();
  monitor().set(4, true, 'link net1: no carrier');
  ports.result = { ok: true, config: { ...config, upstream: { ...UPSTREAM, holdDownMs: 1000 } } };
  const r1 = await daemon.reload();
  t.match(r1.changes, ['dataplane re-applied', /^upstream health re-planned: IPv4 net1 gw 172\.17\.0\.1$/]);
  t.equal(ports.monitors.length, 2);
  t.same(ports.monitors[0]!.calls, [['start'], ['stop']]);
  t.equal(monitor().options.holdDownMs, 1000);
  t.equal(engine().states.get(V4), 'Down', 'the old monitor released its withdraw; the new one starts healthy');

  monitor().set(4, true, 'link net1: no carrier');
  ports.result = { ok: true, config: { ...config, upstream: { ...UPSTREAM, enabled: false } } };
  const r2 = await daemon.reload();
  t.match(r2.changes, ['dataplane re-applied', 'upstream health off: disabled by configuration (upstream.enabled is false)']);
  t.equal(engine().states.get(V4), 'Down', 'sessions withdrawn by the monitor come back when it is turned off');
  t.same(daemon.status().upstream!.off, 'disabled by configuration (upstream.enabled is false)');
  t.same(daemon.status().ready.reasons, ['BFD 10.16.0.11 -> 10.255.255.255 is Down'], 'no upstream reason once it is off');

  const same = await daemon.reload();
  t.same(same.changes, ['dataplane re-applied'], 'no change, no restart');
});

t.test('BFD-only agent (no families): no monitor and no recorder, each said once', async (t) => {
  const { daemon, ports, lines } = setup(t, () => ({ families: [] }));
  await daemon.start();
  await daemon.reload();
  t.equal(ports.monitors.length, 0);
  t.equal(ports.recorders.length, 0);
  t.equal(lines.filter((l) => l.msg === 'upstream health off').length, 1, 'logged once, not on every reload');
  t.match(daemon.status().upstream, { off: /manages no dataplane/, families: [] });
  t.match(daemon.status().snatRecords, { off: /manages no dataplane/, recorder: null });
  ports.engine!.setState(V4, 'Up');
  t.ok(daemon.status().ready.ok, 'readiness does not depend on an upstream nobody watches');
});

t.test('SNAT records: started with the configured settings, counters in /status and /metrics, stopped at drain', async (t) => {
  const { daemon, ports, dir } = setup(t);
  await daemon.start();
  t.equal(ports.recorders.length, 1);
  const rec = ports.recorders[0]!;
  t.same(rec.config, {
    enabled: true, dir: join(dir, 'records'), maxFileBytes: 1 << 20, maxFiles: 4, maxAgeMs: 3_600_000, stdout: false, recordStart: true,
    socketBufferBytes: 1 << 20, portWarnRatio: 0.8, conntrackCommand: 'conntrack', eventSource: 'netlink',
  });
  t.match(daemon.status().snatRecords, { off: null, recorder: { recordsWritten: 9, overflows: 1, flows: { snat: 2 } } });
  const metrics = (await get(daemon, '/metrics')).body;
  t.match(metrics, /egress_agent_snat_records_written_total 9/);
  t.match(metrics, /egress_agent_snat_event_overflows_total 1/);
  t.match(metrics, /egress_agent_flows\{class="snat"\} 2/);
  await daemon.drain('SIGTERM');
  t.same(rec.calls, [['start'], ['stop']]);
});

t.test('SNAT records: disabled, or failing to start, never stop the agent; /status says why', async (t) => {
  const off = setup(t, (dir) => ({ snatRecords: { enabled: false, dir, maxFileBytes: 1 << 20, maxFiles: 4, maxAgeMs: 3_600_000, stdout: false, recordStart: true, socketBufferBytes: 1 << 20, portWarnRatio: 0.8 } }));
  await off.daemon.start();
  t.equal(off.ports.recorders.length, 0);
  t.same(off.daemon.status().snatRecords, { off: 'disabled by configuration (snatRecords.enabled is false)', recorder: null });

  const failing = setup(t);
  failing.ports.recorderFails = 'spawn conntrack ENOENT';
  await failing.daemon.start();
  t.equal(failing.daemon.status().phase, 'running');
  t.same(failing.daemon.status().snatRecords, { off: 'failed to start: spawn conntrack ENOENT', recorder: null });
  t.ok(failing.lines.some((l) => l.level === 50 && l.msg === 'SNAT records could not start; the agent keeps forwarding without them'));
});

t.test('probe runs are counted per target for metrics', async (t) => {
  const { daemon, monitor } = setup(t);
  await daemon.start();
  const ev = (ok: boolean): ProbeResultEvent => ({ family: 4, name: 'icmp 198.51.100.10', kind: 'icmp', ok, detail: ok ? 'reply' : 'timeout', durationMs: 3 });
  for (const ok of [true, true, false]) monitor().emit('probe', ev(ok));
  t.same(daemon.status().upstream!.probes, [{ family: 4, name: 'icmp 198.51.100.10', kind: 'icmp', ok: 2, failed: 1, lastOk: false, lastDetail: 'timeout', lastDurationMs: 3 }]);
  t.match((await get(daemon, '/metrics')).body, /egress_agent_upstream_probe_total\{family="4",name="icmp 198\.51\.100\.10",result="failed"\} 1/);
});

t.test('each session is taken down once, whether the engine reports transitions at once or later', async (t) => {
  const twoPeers = (dir: string) => ({ bfd: { ...testConfig(dir).bfd, peerIps: ['10.255.255.255', '10.255.255.254'] } });
  const sync = setup(t, twoPeers);
  await sync.daemon.start();
  sync.monitor().set(4, true, 'link net1: no carrier');
  t.same(sync.engine().calls.filter((c) => c[0] === 'adminDown').map((c) => c[1]).sort(), ['10.16.0.11|10.255.255.254', '10.16.0.11|10.255.255.255']);
  t.match(sync.daemon.status().upstream!.bfdActions, { adminDown: 2 });

  // The real engine applies a command on its own thread and reports the transition afterwards.
  const later = setup(t, twoPeers);
  await later.daemon.start();
  const engine = later.engine();
  const queued: (() => void)[] = [];
  const adminDown = engine.adminDown.bind(engine);
  engine.adminDown = (local, remote, diag) => {
    engine.calls.push(['adminDown.requested', `${local}|${remote}`]);
    queued.push(() => adminDown(local, remote, diag));
  };
  later.monitor().set(4, true, 'link net1: no carrier');
  t.equal(queued.length, 2, 'both requested');
  queued.shift()!(); // the first lands; its state event re-applies while the second is still in flight
  later.monitor().set(4, true, 'link net1: no carrier (operstate down)'); // and the monitor reports again
  t.equal(queued.length, 1, 'the one still in flight is not requested again');
  queued.shift()!();
  t.equal(engine.calls.filter((c) => c[0] === 'adminDown.requested').length, 2);
  t.match(later.daemon.status().upstream!.bfdActions, { adminDown: 2 });
  t.same([...engine.states.values()], ['AdminDown', 'AdminDown']);
});
