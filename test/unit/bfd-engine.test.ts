// Facade behaviour that needs no network and no root: the addon loads, the thread runs and stops,
// and bad calls fail with errors that name the input before anything reaches the engine.
import t from 'tap';
import { BfdEngine } from '../../agent/bfd/engine.js';
import type { BfdSessionSpec } from '../../agent/bfd/types.js';

const spec: BfdSessionSpec = {
  local: '192.0.2.1', remote: '192.0.2.2', minTxMs: 100, minRxMs: 100, multiplier: 3,
  passive: true, minTtl: 254, localDiscr: 1,
};

t.test('lifecycle: start, heartbeat, close', async (t) => {
  const e = new BfdEngine();
  t.equal(e.threadAlive(), false, 'not alive before start');
  t.same(e.sessions(), []);
  e.start();
  t.teardown(() => e.close());
  t.equal(e.threadAlive(), true);
  t.throws(() => e.start(), /already started/);
  t.match(e.stats(), { sessions: 0, eventsCoalesced: 0 });
  await e.drain(0);
  e.close();
  t.equal(e.threadAlive(), false, 'not alive after close');
  t.throws(() => e.start(), /closed/);
  t.throws(() => e.addSession(spec), /closed/);
  e.close(); // idempotent
});

t.test('realtimePriority is validated', async (t) => {
  t.throws(() => new BfdEngine({ realtimePriority: 100 }), { name: 'RangeError', message: /realtimePriority must be an integer in 0..99, got 100/ });
  t.throws(() => new BfdEngine({ realtimePriority: 1.5 }), /realtimePriority/);
  const e = new BfdEngine();
  e.start();
  t.match(e.stats(), { realtimePriority: 0, realtimeError: null }, 'normal scheduling by default');
  e.close();
});

t.test('calls before start are refused', async (t) => {
  const e = new BfdEngine();
  t.throws(() => e.addSession(spec), /not started/);
  t.throws(() => e.adminDown('192.0.2.1', '192.0.2.2'), /not started/);
  await e.drain(100); // nothing to drain
  e.close();
});

t.test('argument validation happens before the engine is touched', async (t) => {
  const e = new BfdEngine();
  e.start();
  t.teardown(() => e.close());
  t.throws(() => e.addSession({ ...spec, minTxMs: 0.5 }), { name: 'TypeError', message: /192.0.2.1 -> 192.0.2.2: minTxMs/ });
  t.throws(() => e.addSession({ ...spec, remote: '2001:db8::2' }), /different address families/);
  t.throws(() => e.changeSession('192.0.2.1', '192.0.2.9', { minTxMs: 50 }), /192.0.2.1 -> 192.0.2.9: no such session/);
  t.throws(() => e.removeSession('bogus', '192.0.2.2'), /local: invalid IP address "bogus"/);
  t.throws(() => e.adminDown('192.0.2.1', '192.0.2.2', 'Nope' as never), /diag must be one of/);
  t.throws(() => e.adminUp('192.0.2.1', '192.0.2.2'), /no such session/);
  await t.rejects(e.drain(-1), /graceMs must be 0..3600000/);
  t.equal(e.stats().sessions, 0, 'nothing half-applied');
});

t.test('the native layer checks its inputs too', async (t) => {
  const { loadBfdNative } = await import('../../agent/bfd/native.js');
  const n = new (loadBfdNative().Engine)(() => undefined);
  t.throws(() => n.addSession({} as never), /engine is not running/);
  n.start();
  t.teardown(() => n.close());
  const good = { local: '192.0.2.1', remote: '192.0.2.2', localDiscr: 1, minTxUs: 100000, minRxUs: 100000, multiplier: 3, minTtl: 255, passive: true };
  t.throws(() => n.addSession({ ...good, minTxUs: 999 }), /minTxUs must be an integer in 1000/);
  t.throws(() => n.addSession({ ...good, localDiscr: 0 }), /localDiscr/);
  t.throws(() => n.addSession({ ...good, local: 'x' }), /local "x" is not an IPv4 or IPv6 address/);
  t.throws(() => n.addSession({ ...good, remote: '2001:db8::1' }), /different families/);
  t.throws(() => n.addSession({ ...good, auth: { type: 4, keyId: 1, key: Buffer.alloc(21) } }), /at most 20 bytes/);
  t.throws(() => n.addSession({ ...good, auth: { type: 1, keyId: 1, key: Buffer.alloc(0) } }), /key must be 1..16 bytes/);
  t.throws(() => n.adminDown('192.0.2.1', '192.0.2.2', 9), /diag must be 0..8/);
  t.throws(() => n.removeSession('192.0.2.1', '192.0.2.2'), /no such session/);
  t.equal(n.stats().sessions, 0);
});

t.test('the detection-lateness histogram bounds of the addon are the ones the metrics use', async (t) => {
  const { loadBfdNative } = await import('../../agent/bfd/native.js');
  const { DETECT_LATENESS_BOUNDS_US } = await import('../../agent/bfd/spec.js');
  t.same(loadBfdNative().detectLatenessBoundsUs, DETECT_LATENESS_BOUNDS_US);
});

t.test('the session limits of the addon are the ones config and the control socket check', async (t) => {
  const { loadBfdNative } = await import('../../agent/bfd/native.js');
  const limits = await import('../../agent/lib/bfd-limits.js');
  t.same(loadBfdNative().limits, {
    minIntervalUs: limits.MIN_INTERVAL_MS * 1000,
    maxIntervalUs: limits.MAX_INTERVAL_MS * 1000,
    maxMultiplier: limits.MAX_MULTIPLIER,
    maxDrainGraceMs: limits.MAX_DRAIN_GRACE_MS,
  });
});

t.test('stats() reports each receive socket: buffer sized for its sessions, queue and kernel drop count', async (t) => {
  const e = new BfdEngine();
  e.start();
  t.teardown(() => e.close());
  // Passive sessions on a loopback address that no peer answers: the sockets exist, nothing is sent.
  for (let i = 0; i < 100; i++) e.addSession({ ...spec, local: '127.0.0.66', remote: `127.0.1.${i + 1}`, localDiscr: 100 + i });
  const socks = e.stats().rxSockets;
  t.equal(socks.length, 1, 'one receive socket per local address');
  t.match(socks[0], { local: '127.0.0.66', device: '', sessions: 100, queuedBytes: 0, drops: 0 });
  t.ok(socks[0]!.receiveBufferBytes >= 2 * 256 * 1024, `receive buffer ${socks[0]!.receiveBufferBytes} bytes (kernel accounting)`);
});
