// Pins Kube-OVN's G3 supervisor status JSON (pkg/bfddsupervisor: Go field names, Go time
// encoding) and its one-line socket replies.
import t from 'tap';
import { goTime, probeReply, supervisorStatus } from '../../agent/compat/supervisor-status.js';
import type { AgentStatus } from '../../agent/status/types.js';
import { emptyApplyStats } from '../../agent/daemon/apply-stats.js';

function status(over: Partial<AgentStatus> = {}): AgentStatus {
  return {
    version: '0.1.0', pid: 1, startedAt: 0, phase: 'running',
    live: { ok: true, reasons: [] }, ready: { ok: false, reasons: ['BFD 10.16.0.12 -> 10.255.255.255 is absent'] },
    config: null, dataplane: null, dataplaneApplies: emptyApplyStats(), upstream: null, snatRecords: null,
    eventLoop: { p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0, windowMs: 0 }, control: [], health: { address: null, addresses: [] }, lastReload: null,
    memory: { rssBytes: 40 << 20, anonBytes: 12 << 20, fileBytes: 28 << 20, heapUsedBytes: 8 << 20, startupRelease: null },
    counters: { reloads: 0, reloadFailures: 0, controlRequests: 3, controlFailures: 1, lastControlError: 'bfd.adminUp: no BFD session', recoveryActions: 1 },
    bfd: {
      engineAlive: true, sessions: [], blockedPeers: [], defaults: { minTxMs: 1000, minRxMs: 1000, multiplier: 3 }, recentTransitions: [],
      engineDrops: {}, rxSockets: [], eventsCoalesced: 0, realtime: { priority: 0, error: null }, recoveryActions: [],
      expected: [
        { local: '10.16.0.12', remote: '10.255.255.255', state: null,
          recovery: { phase: 'Backoff', attempts: 1, lastAction: 'ReplayConfiguration', lastResult: 'success', nextRetry: Date.UTC(2026, 10, 26, 14, 12, 1, 120) } },
        { local: 'fd00:10:16::c', remote: 'fdff::1', state: 'Up',
          recovery: { phase: 'Up', attempts: 0, lastAction: 'None', lastResult: '', nextRetry: null } },
      ],
    },
    ...over,
  };
}

t.test('goTime: encoding/json of time.Time', async (t) => {
  t.equal(goTime(null), '0001-01-01T00:00:00Z', 'zero time');
  t.equal(goTime(Date.UTC(2026, 10, 26, 14, 12, 1, 120)), '2026-11-26T14:12:01.12Z', 'trailing zeros trimmed (RFC3339Nano)');
  t.equal(goTime(Date.UTC(2026, 10, 26, 14, 12, 1, 0)), '2026-11-26T14:12:01Z', 'no fraction when whole');
  t.equal(goTime(Date.UTC(2026, 0, 2, 3, 4, 5, 7)), '2026-01-02T03:04:05.007Z');
});

t.test('status JSON: exact fields, order and values', async (t) => {
  t.equal(JSON.stringify(supervisorStatus(status())),
    '{"Live":true,"Ready":false,"Sessions":[' +
    '{"Pair":{"Local":"10.16.0.12","Remote":"10.255.255.255"},"State":"","Phase":"Backoff","Attempts":1,"LastAction":"ReplayConfiguration","LastResult":"success","NextRetry":"2026-11-26T14:12:01.12Z"},' +
    '{"Pair":{"Local":"fd00:10:16::c","Remote":"fdff::1"},"State":"Up","Phase":"Up","Attempts":0,"LastAction":"None","LastResult":"","NextRetry":"0001-01-01T00:00:00Z"}],' +
    '"ControlFailures":1,"LastControlError":"bfd.adminUp: no BFD session","ChildRestarts":0,"ChildRecoveryAttempts":0,' +
    '"ChildNextRetry":"0001-01-01T00:00:00Z","ChildCircuitOpen":false}');
  t.same(supervisorStatus(status({ bfd: null })).Sessions, [], 'BFD disabled: no sessions (never null)');
});

t.test('the e2e check: Live and a session with Attempts>0 and LastAction ReplayConfiguration', async (t) => {
  const s = JSON.parse(JSON.stringify(supervisorStatus(status()))) as { Live: boolean; Sessions: { Attempts: number; LastAction: string }[] };
  t.ok(s.Live);
  t.ok(s.Sessions.some((x) => x.Attempts > 0 && x.LastAction === 'ReplayConfiguration'));
});

t.test('socket replies: {"status":...} plus "error" only on failure (Go omitempty), one line', async (t) => {
  const s = status();
  const live = probeReply('live', s);
  t.ok(live.endsWith('}\n') && live.indexOf('\n') === live.length - 1, 'exactly one line');
  t.same(Object.keys(JSON.parse(live)), ['status'], 'live: no error field');
  const ready = JSON.parse(probeReply('ready', s)) as { error: string };
  t.equal(ready.error, 'not ready: BFD 10.16.0.12 -> 10.255.255.255 is absent');
  t.same(Object.keys(JSON.parse(probeReply('status', s))), ['status']);
  t.equal((JSON.parse(probeReply('bogus', s)) as { error: string }).error, 'unknown supervisor request "bogus"');
  const dead = status({ live: { ok: false, reasons: ['the BFD engine thread is not running'] } });
  t.equal((JSON.parse(probeReply('live', dead)) as { error: string }).error, 'not live: the BFD engine thread is not running');
});
