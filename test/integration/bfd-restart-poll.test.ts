// Restart -> Up in one round trip (issue 13 item 2), against FRR's bfdd in the lab (prefix vrp,
// its own: no other test uses it). Our engine is SIGKILLed, FRR declares it Down, a new engine
// starts. Its first packets carry Poll (RFC 5880 6.8.7: a Poll may be sent at any time), which
// FRR answers at once with a Final instead of waiting for its 1 s slow-rate transmission, so the
// three-way handshake needs no slow-rate packet from either side. Asserted from the packets on
// the wire (tcpdump in the gateway namespace), in order, with no timing bound; then that FRR
// never flaps after Up.
import t from 'tap';
import { expectedPairs } from '../../agent/bfd/sessions.js';
import type { BfdSessionSpec } from '../../agent/bfd/types.js';
import { EngineProcess } from '../helpers/bfd-engine-child.js';
import { withLab } from '../helpers/lab.js';
import { captureBfd, type WireBfd } from '../helpers/ovn.js';

t.setTimeout(180_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ENGINE = { realtimePriority: 50 };

await t.test('restart after FRR declared us Down: Poll -> Final -> Up without slow-rate packets, no flap (lab vrp, dual stack)', async (top) => {
  const lab = await withLab(top, { prefix: 'vrp', replicas: 1, family: 'dual' });
  const gwNs = lab.ns('gw1');
  const env = await lab.env('gw1');
  const pairs = expectedPairs(env.POD_IPS!.split(','), env.BFD_PEER_IPS!.split(','));
  top.equal(pairs.length, 2, 'one session per family');
  const specs: BfdSessionSpec[] = pairs.map((p, i) => ({
    ...p, minTxMs: 100, minRxMs: 100, multiplier: 3, passive: false, minTtl: 254, localDiscr: 0x7e570001 + i,
  }));

  await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
  let engine = await EngineProcess.start(gwNs, specs, ENGINE);
  top.teardown(async () => { await engine.kill(); });
  for (const p of pairs) {
    await engine.waitEvent((e) => e.local === p.local && e.to === 'Up', 15_000);
    await lab.frrWait(p.local, 'up', 15);
  }
  await sleep(1500); // FRR's own Poll from 1 s to 100 ms is over

  const next = await EngineProcess.spawn(gwNs, ENGINE);
  await engine.kill();
  engine = next;
  for (const p of pairs) await lab.frrWait(p.local, 'down', 10);
  const killedUs = Date.now() * 1000;
  const wire = await captureBfd(lab, 'gw1', [...pairs.map((p) => p.local), ...pairs.map((p) => p.remote)], { ms: 60_000 });
  await sleep(1200); // at least one of FRR's slow-rate Down packets goes by before we start
  await next.begin(specs);
  for (const p of pairs) {
    await next.waitEvent((e) => e.local === p.local && e.to === 'Up', 10_000);
    await lab.frrWait(p.local, 'up', 10);
  }
  await sleep(2000); // both sides at 100 ms by now: a flap would show here
  const packets = await wire.stop();

  for (const [i, p] of pairs.entries()) {
    await top.test(`${p.local} -> ${p.remote}`, async (t) => {
      const discr = specs[i]!.localDiscr;
      // This session's packets in capture order; ours from the new engine (FRR's are all kept).
      const seq = packets.filter((x) => (x.src === p.local && x.myDiscr === discr && x.dst === p.remote) || (x.src === p.remote && x.dst === p.local));
      const first = seq.findIndex((x) => x.src === p.local);
      t.ok(first >= 0, 'the new engine transmitted');
      t.ok(seq.slice(0, first).some((x) => x.src === p.remote && x.state === 'Down'),
        'before our start FRR sent slow-rate Down packets (it had declared us Down)');
      const after = seq.slice(first);
      const ours = (x: WireBfd) => x.src === p.local;
      const theirs = (x: WireBfd) => x.src === p.remote;
      t.match(after[0], { state: 'Down', poll: true, final: false, yourDiscr: 0 }, 'our first packet: Down with Poll');

      // FRR's packets until it answers: only those that crossed ours on the wire (still Down,
      // not knowing us) may come before its answer, and the answer is a Final.
      const answer = after.findIndex((x) => theirs(x) && x.yourDiscr === discr);
      t.ok(answer > 0, 'FRR answered our first packet');
      t.ok(after.slice(1, answer).filter(theirs).every((x) => x.state === 'Down' && x.yourDiscr === 0), 'nothing from FRR in between but packets sent before ours arrived');
      t.ok(after.slice(1, answer).filter(ours).length === 0, 'FRR answered our first packet, not a later (slow-rate) one');
      t.match(after[answer], { state: 'Init', final: true }, 'FRR answers with Init and Final');

      // Three-way handshake: our Up comes next, then FRR's Up, with no other packet between.
      const rest = after.slice(answer + 1);
      t.match(rest[0], { src: p.local, state: 'Up' }, 'our next packet is Up, sent on FRR\'s Init (not a periodic one)');
      t.match(rest[1], { src: p.remote, state: 'Up' }, 'FRR\'s next packet is Up');

      // Never a flap after Up: FRR's packets stay Up from here on, and so do ours.
      const frrUp = after.findIndex((x) => theirs(x) && x.state === 'Up');
      const tail = after.slice(frrUp);
      t.ok(tail.filter(theirs).length >= 10, `FRR kept transmitting (${tail.filter(theirs).length} packets after Up)`);
      t.ok(tail.filter(theirs).every((x) => x.state === 'Up'), 'FRR stays Up in every later packet');
      t.ok(tail.filter(ours).every((x) => x.state === 'Up'), 'we stay Up in every later packet');
      const frrEvents = (await lab.frrEvents()).filter((e) => e.peer === p.local && e.timeUs >= killedUs);
      // bfdd 8.4 logs transitions to Up and Down only (not Down -> Init).
      t.same(frrEvents.map((e) => `${e.from} -> ${e.to}`), ['init -> up'], 'FRR\'s log since it declared us Down: Init -> Up once, no flap');
      t.same(next.events.filter((e) => e.local === p.local).map((e) => e.to), ['Up'], 'our engine: one transition, to Up');
    });
  }
});
