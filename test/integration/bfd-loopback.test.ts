// Two BFD engines (the real addon through the TypeScript facade) in two network namespaces joined
// by a veth pair, IPv4 and IPv6. Each engine runs in a child Node process started with
// `ip netns exec` (test/helpers/bfd-engine-child.ts). Timings only appear as the generous bounds
// the protocol itself promises.
import t from 'tap';
import { execa } from 'execa';
import { EngineProcess, until } from '../helpers/bfd-engine-child.js';
import type { BfdSessionSpec } from '../../agent/bfd/types.js';

// ---------------------------------------------------------------------------------------------
// Parent: the tests.
interface BfdPacketFields {
  version?: number; diag?: number; state?: number; flags?: number; mult?: number; length?: number;
  myDiscr?: number; yourDiscr?: number; minTx?: number; minRx?: number; bytes?: number;
}

/** A BFD Control packet, optionally malformed (flags: P=0x20 F=0x10 C=0x08 A=0x04 D=0x02 M=0x01). */
function bfdPacket(f: BfdPacketFields): string {
  const b = Buffer.alloc(f.bytes ?? 24);
  const put = (off: number, fn: () => void): void => { if (b.length >= off) fn(); };
  put(1, () => b.writeUInt8((((f.version ?? 1) & 7) << 5) | (f.diag ?? 0), 0));
  put(2, () => b.writeUInt8(((f.state ?? 1) << 6) | (f.flags ?? 0), 1));
  put(3, () => b.writeUInt8(f.mult ?? 3, 2));
  put(4, () => b.writeUInt8(f.length ?? 24, 3));
  put(8, () => b.writeUInt32BE(f.myDiscr ?? 77, 4));
  put(12, () => b.writeUInt32BE(f.yourDiscr ?? 0, 8));
  put(16, () => b.writeUInt32BE(f.minTx ?? 1_000_000, 12));
  put(20, () => b.writeUInt32BE(f.minRx ?? 1_000_000, 16));
  return b.toString('hex');
}

async function runTests(): Promise<void> {
  t.setTimeout(90_000);
  t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

  const tag = `${process.pid}`;
  const nsA = `vbn-${tag}-a`, nsB = `vbn-${tag}-b`;
  const ifA = `vbn${tag}a`, ifB = `vbn${tag}b`;
  const peers: EngineProcess[] = [];
  t.teardown(async () => {
    await Promise.allSettled(peers.map((p) => p.kill()));
    for (const ns of [nsA, nsB]) await execa('ip', ['netns', 'del', ns], { reject: false });
  });
  const ip = (...args: string[]) => execa('ip', args);
  await ip('netns', 'add', nsA);
  await ip('netns', 'add', nsB);
  await ip('-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
  for (const [ns, dev, v4s, v6] of [[nsA, ifA, ['192.0.2.1/24'], '2001:db8::1/64'], [nsB, ifB, ['192.0.2.2/24', '192.0.2.3/24'], '2001:db8::2/64']] as const) {
    for (const v4 of v4s) await ip('-n', ns, 'addr', 'add', v4, 'dev', dev);
    await ip('-n', ns, 'addr', 'add', v6, 'dev', dev, 'nodad');
    await ip('-n', ns, 'link', 'set', dev, 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  const timers = { minTxMs: 100, minRxMs: 100, multiplier: 3, minTtl: 255 };
  const specA = (local: string, remote: string, localDiscr: number): BfdSessionSpec =>
    ({ local, remote, localDiscr, passive: false, ...timers });
  const sessionsA = [specA('192.0.2.1', '192.0.2.2', 0x0a000001), specA('2001:db8::1', '2001:db8::2', 0x0a000002)];
  // B's IPv6 session is passive (D-01): it still comes up because A is active.
  const sessionsB = [
    { ...specA('192.0.2.2', '192.0.2.1', 0x0b000001), device: ifB },
    { ...specA('2001:db8::2', '2001:db8::1', 0x0b000002), passive: true },
  ];
  const startPeer = async (ns: string, specs: BfdSessionSpec[]): Promise<EngineProcess> => {
    const p = await EngineProcess.start(ns, specs);
    peers.push(p);
    return p;
  };
  let a = await startPeer(nsA, sessionsA);
  const b = await startPeer(nsB, sessionsB);
  const upBoth = async (since: [number, number] = [0, 0]): Promise<void> => {
    for (const [p, specs, from] of [[a, sessionsA, since[0]], [b, sessionsB, since[1]]] as const)
      for (const s of specs) await p.waitEvent((e) => e.local === s.local && e.remote === s.remote && e.to === 'Up', 10_000, from);
  };

  await t.test('S-01 S-02 S-03 S-05 IPv4 and IPv6 sessions come Up (UDP 3784, source port range, TTL 255)', async (t) => {
    await upBoth();
    for (const [p, specs] of [[a, sessionsA], [b, sessionsB]] as const) {
      for (const s of specs) {
        const st = await p.session(s.local, s.remote);
        t.equal(st.state, 'Up', `${p.ns} ${s.local}`);
        t.equal(st.remoteState, 'Up');
        t.equal(st.localDiscr, s.localDiscr);
        t.not(st.remoteDiscr, 0);
        t.ok(st.srcPort >= 49152 && st.srcPort <= 65535, 'S-02 source port range');
        t.equal(st.desiredMinTxMs, 100, 'configured DesiredMinTx once Up');
        t.equal(st.requiredMinRxMs, 100);
        t.equal(st.counters.drops.badTtl, 0);
      }
    }
    t.equal((await b.session('192.0.2.2', '192.0.2.1')).device, ifB, 'SO_BINDTODEVICE session works');
    t.equal(await a.call('alive'), true);
  });

  await t.test('timer change while Up goes through Poll/Final without a flap (N-01, N-02)', async (t) => {
    const before = await a.session('192.0.2.1', '192.0.2.2');
    const beforeB = await b.session('192.0.2.2', '192.0.2.1');
    await a.call('change', '192.0.2.1', '192.0.2.2', { minTxMs: 200, minRxMs: 150 });
    const after = await until('the Final', 5000, async () => {
      const s = await a.session('192.0.2.1', '192.0.2.2');
      return s.counters.finalsReceived > before.counters.finalsReceived && !s.pollActive && s;
    });
    t.ok(after.counters.pollsSent > before.counters.pollsSent, 'Poll sent');
    t.equal(after.txIntervalMs, 200, 'slower TX applied after the Final');
    t.equal(after.srcPort, before.srcPort, 'source port fixed for the life of the session');
    const peerView = await until('the peer to learn the new timers', 3000, async () => {
      const s = await b.session('192.0.2.2', '192.0.2.1');
      return s.remoteMinTxMs === 200 && s.detectTimeMs === 600 && s;
    });
    t.equal(peerView.remoteMinRxMs, 150);
    t.equal(after.flaps, 0);
    t.equal(after.counters.transitions, before.counters.transitions, 'no transition on A');
    t.equal(peerView.counters.transitions, beforeB.counters.transitions, 'no transition on B');
  });

  await t.test('a device change re-creates the session; a missing device is refused and the session kept', async (t) => {
    let fromB = b.events.length;
    await t.rejects(b.call('change', '192.0.2.2', '192.0.2.1', { device: 'vbn-nodev' }), /SO_BINDTODEVICE vbn-nodev/);
    const kept = await b.session('192.0.2.2', '192.0.2.1');
    t.equal(kept.device, ifB, 'still there, on the old device');
    await b.waitEvent((e) => e.local === '192.0.2.2' && e.to === 'Up', 10_000, fromB);
    fromB = b.events.length;
    await b.call('change', '192.0.2.2', '192.0.2.1', { device: '' });
    await b.waitEvent((e) => e.local === '192.0.2.2' && e.to === 'Up', 10_000, fromB);
    t.equal((await b.session('192.0.2.2', '192.0.2.1')).device, '', 'unbound now');
  });

  await t.test('malformed and non-peer packets are counted and change nothing', async (t) => {
    const sess = () => a.session('192.0.2.1', '192.0.2.2');
    const before = await sess();
    const statsBefore = await a.call<{ drops: Record<string, number> }>('stats');
    const malformed: [string, BfdPacketFields][] = [
      ['badVersion', { version: 2 }],
      ['badLength', { length: 20 }],
      ['truncated', { length: 30 }],
      ['truncated', { bytes: 2 }],
      ['badMult', { mult: 0 }],
      ['multipoint', { flags: 0x01 }],
      ['zeroMyDiscr', { myDiscr: 0 }],
      ['unknownDiscr', { yourDiscr: 0xdeadbeef, state: 3 }],
      ['zeroYourDiscr', { yourDiscr: 0, state: 3 }],
      ['authUnexpected', { flags: 0x04, length: 26, bytes: 26, yourDiscr: 0x0a000001, state: 3 }],
    ];
    // From the peer's own address: attributed to its session.
    for (const [, f] of malformed) await b.call('sendRaw', '192.0.2.2', '192.0.2.1', bfdPacket(f));
    // From an address that is not a peer: engine-wide counters.
    await b.call('sendRaw', '192.0.2.3', '192.0.2.1', bfdPacket({ yourDiscr: 0x0a000001, state: 3 }));
    await b.call('sendRaw', '192.0.2.3', '192.0.2.1', bfdPacket({ state: 1 }));
    await b.call('sendRaw', '192.0.2.3', '192.0.2.1', bfdPacket({ version: 7 }));
    await b.call('sendRaw', '192.0.2.3', '192.0.2.1', 'ff'.repeat(300));
    const want: Record<string, number> = {};
    for (const [reason] of malformed) want[reason] = (want[reason] ?? 0) + 1;
    const after = await until('per-session drop counters', 5000, async () => {
      const s = await sess();
      return Object.entries(want).every(([k, n]) => s.counters.drops[k] === before.counters.drops[k]! + n) && s;
    });
    for (const [k, n] of Object.entries(want)) t.equal(after.counters.drops[k], before.counters.drops[k]! + n, k);
    const stats = await until('engine-wide drop counters', 5000, async () => {
      const st = await a.call<{ drops: Record<string, number> }>('stats');
      return st.drops.notAPeer === statsBefore.drops.notAPeer! + 2 && st.drops.badVersion === statsBefore.drops.badVersion! + 2 && st;
    });
    t.equal(stats.drops.notAPeer, statsBefore.drops.notAPeer! + 2, 'valid packets from a non-peer dropped');
    t.equal(stats.drops.badVersion, statsBefore.drops.badVersion! + 2, 'garbage from a non-peer counted');
    t.equal(after.state, 'Up');
    t.equal(after.flaps, before.flaps, 'no flap');
    t.equal(after.counters.transitions, before.counters.transitions, 'no transition');
    t.equal(await a.call('alive'), true, 'engine thread alive');
  });

  await t.test('D-04 D-05 a packet from the peer address on another source port is matched by discriminator', async (t) => {
    const fromA = a.events.length;
    const peerDiscr = (await a.session('192.0.2.1', '192.0.2.2')).remoteDiscr;
    // Not from B's session socket: a fresh socket, random source port. Unauthenticated, so accepted.
    await b.call('sendRaw', '192.0.2.2', '192.0.2.1', bfdPacket({ state: 0, myDiscr: peerDiscr, yourDiscr: 0x0a000001 }));
    const ev = await a.waitEvent((e) => e.local === '192.0.2.1' && e.to === 'Down', 5000, fromA);
    t.equal(ev.diag, 'NeighborSignaledSessionDown', 'the AdminDown reached the session');
    await a.waitEvent((e) => e.local === '192.0.2.1' && e.to === 'Up', 10_000, fromA);
  });

  await t.test('a blocked event loop does not flap BFD', async (t) => {
    const before = await a.sessions();
    await a.call('block', 2000); // 2 s >> 300 ms detection time
    const after = await a.sessions();
    for (const s of after) {
      const prev = before.find((x) => x.local === s.local)!;
      t.equal(s.state, 'Up', s.local);
      t.equal(s.counters.transitions, prev.counters.transitions, `${s.local}: no transition`);
      t.ok(s.counters.packetsOut > prev.counters.packetsOut + 5, `${s.local}: kept transmitting`);
    }
  });

  await t.test('admin down/up (A-01): peer sees NeighborSignaledSessionDown, then Up again', async (t) => {
    const fromB = b.events.length, fromA = a.events.length;
    await a.call('adminDown', '2001:db8::1', '2001:db8::2');
    const ev = await b.waitEvent((e) => e.local === '2001:db8::2' && e.to === 'Down', 5000, fromB);
    t.equal(ev.diag, 'NeighborSignaledSessionDown');
    const st = await a.session('2001:db8::1', '2001:db8::2');
    t.equal(st.state, 'AdminDown');
    t.equal(st.localDiag, 'AdministrativelyDown');
    await a.call('adminUp', '2001:db8::1', '2001:db8::2');
    await a.waitEvent((e) => e.local === '2001:db8::1' && e.to === 'Up', 10_000, fromA);
    await b.waitEvent((e) => e.local === '2001:db8::2' && e.to === 'Up', 10_000, fromB);
  });

  await t.test('U-01 U-03 U-04 authenticated sessions (meticulous SHA1, keyed MD5) come Up; a wrong key is refused', async (t) => {
    const extra = ['192.0.2.60', '192.0.2.61', '192.0.2.62'];
    for (const addr of extra) await ip('-n', nsB, 'addr', 'add', `${addr}/24`, 'dev', ifB);
    const sha = { type: 'meticulous-sha1' as const, keyId: 3, key: Buffer.from('0123456789abcdefghij') };
    const md5 = { type: 'keyed-md5' as const, keyId: 9, key: Buffer.from('kube-ovn') };
    const pairsAuth = [
      { addr: extra[0]!, mine: sha, theirs: sha },
      { addr: extra[1]!, mine: md5, theirs: md5 },
      { addr: extra[2]!, mine: sha, theirs: { ...sha, key: Buffer.from('0123456789abcdefghiX') } },
    ];
    for (const [i, p] of pairsAuth.entries()) {
      await a.call('add', { ...specA('192.0.2.1', p.addr, 0x0a200000 + i), auth: { ...p.mine, key: p.mine.key.toString('base64') } });
      await b.call('add', { ...specA(p.addr, '192.0.2.1', 0x0b200000 + i), auth: { ...p.theirs, key: p.theirs.key.toString('base64') } });
    }
    await until('the two matching pairs Up', 15_000, async () => {
      const s = await a.sessions();
      return [extra[0], extra[1]].every((r) => s.find((x) => x.remote === r)?.state === 'Up');
    });
    const bad = await until('authBad drops on the mismatched pair', 5000, async () => {
      const s = await a.session('192.0.2.1', extra[2]!);
      return s.counters.drops.authBad > 0 && s;
    });
    t.equal(bad.state, 'Down', 'wrong key: never Up');
    t.equal(bad.counters.packetsIn, 0);
    const good = await a.session('192.0.2.1', extra[0]!);
    t.equal(good.authType, 5, 'meticulous SHA1 in effect');
    t.equal(good.counters.drops.authSeq, 0);
    for (const addr of extra) {
      await a.call('remove', '192.0.2.1', addr);
      await b.call('remove', addr, '192.0.2.1');
    }
  });

  await t.test('70 more sessions per side (the batched engine loop) come Up; removal tells the peer', async (t) => {
    const extra = Array.from({ length: 70 }, (_, i) => `192.0.2.${100 + i}`);
    for (const addr of extra) await ip('-n', nsB, 'addr', 'add', `${addr}/24`, 'dev', ifB);
    const fromA = a.events.length, fromB = b.events.length;
    for (const [i, addr] of extra.entries()) {
      await a.call('add', specA('192.0.2.1', addr, 0x0a100000 + i));
      await b.call('add', specA(addr, '192.0.2.1', 0x0b100000 + i));
    }
    await until('all 70 sessions Up on both sides', 30_000, async () => {
      const up = (list: { remote: string; local: string; state: string }[], key: 'remote' | 'local') =>
        list.filter((s) => extra.includes(s[key]) && s.state === 'Up').length;
      return up(await a.sessions(), 'remote') === 70 && up(await b.sessions(), 'local') === 70;
    });
    t.pass('all Up');
    for (const addr of extra) await a.call('remove', '192.0.2.1', addr);
    for (const addr of extra) await b.waitEvent((e) => e.local === addr && e.to === 'Down' && e.diag === 'NeighborSignaledSessionDown', 5000, fromB);
    for (const addr of extra) await b.call('remove', addr, '192.0.2.1');
    t.equal((await a.sessions()).length, 2, 'A back to its two sessions');
    t.equal((await b.sessions()).length, 2, 'B back to its two sessions');
    t.ok(a.events.length > fromA, 'A reported the new sessions');
    t.equal(await a.call('alive'), true);
  });

  await t.test('a session on a local address configured later transmits once the address exists (S-02 port kept)', async (t) => {
    // The Pod's IP can appear after the agent: the TX socket is bound with IP_FREEBIND and only
    // connected once a route from that address exists.
    const fromB = b.events.length;
    await a.call('add', specA('192.0.2.50', '192.0.2.2', 0x0a000050));
    await b.call('add', specA('192.0.2.2', '192.0.2.50', 0x0b000050));
    const failing = await until('sends to fail while the address is missing', 5000, async () => {
      const s = (await a.sessions()).find((x) => x.local === '192.0.2.50');  // added asynchronously
      return s !== undefined && s.counters.txErrors > 0 && s;
    });
    await ip('-n', nsA, 'addr', 'add', '192.0.2.50/24', 'dev', ifA);
    await b.waitEvent((e) => e.local === '192.0.2.2' && e.remote === '192.0.2.50' && e.to === 'Up', 10_000, fromB);
    const up = await a.session('192.0.2.50', '192.0.2.2');
    t.equal(up.state, 'Up');
    t.equal(up.srcPort, failing.srcPort, 'same source port before and after');
    await a.call('remove', '192.0.2.50', '192.0.2.2');
    await b.call('remove', '192.0.2.2', '192.0.2.50');
    await ip('-n', nsA, 'addr', 'del', '192.0.2.50/24', 'dev', ifA);
  });

  await t.test('peer killed: Down with ControlDetectionTimeExpired within the detection time + slack (X-02)', async (t) => {
    const fromB = b.events.length;
    const detect = new Map((await b.sessions()).map((s) => [s.local, s.detectTimeMs]));
    const killedAt = Date.now();
    await a.kill();
    for (const s of sessionsB) {
      const ev = await b.waitEvent((e) => e.local === s.local && e.to === 'Down', 5000, fromB);
      t.equal(ev.diag, 'ControlDetectionTimeExpired', s.local);
      t.ok(ev.at - killedAt <= detect.get(s.local)! + 1000, `${s.local}: Down ${Math.round(ev.at - killedAt)} ms after the kill (detection ${detect.get(s.local)} ms)`);
    }
    const st = await b.session('192.0.2.2', '192.0.2.1');
    await until('RemoteDiscr reset after a detection time (V-03)', 3000, async () => (await b.session('192.0.2.2', '192.0.2.1')).remoteDiscr === 0);
    t.equal(st.state, 'Down');
  });

  await t.test('with the peer gone (ICMP port unreachable back), every packet still leaves the connected TX socket', async (t) => {
    // B's active IPv4 session keeps sending at 1 s to a namespace with no listener. Each ICMP
    // error is reported by failing the next send() of a connected socket; the engine retries it.
    const icmpIn = async (): Promise<number> => {
      const snmp = (await ip('netns', 'exec', nsB, 'cat', '/proc/net/snmp')).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
      const [names, values] = snmp.map((l) => l.split(/\s+/));
      return Number(values![names!.indexOf('InDestUnreachs')]);
    };
    const before = await b.session('192.0.2.2', '192.0.2.1');
    const icmpBefore = await icmpIn();
    await new Promise((r) => setTimeout(r, 3500));
    const after = await b.session('192.0.2.2', '192.0.2.1');
    t.ok(await icmpIn() > icmpBefore, 'port unreachable errors came back');
    t.ok(after.counters.packetsOut >= before.counters.packetsOut + 3, `still sending (${after.counters.packetsOut - before.counters.packetsOut} packets)`);
    t.equal(after.counters.txErrors, before.counters.txErrors, 'no packet lost to a reported ICMP error');
  });

  await t.test('restarted peer with the same discriminators comes back Up', async (t) => {
    const fromB = b.events.length;
    a = await startPeer(nsA, sessionsA);
    await upBoth([0, fromB]);
    t.equal((await a.session('192.0.2.1', '192.0.2.2')).state, 'Up');
  });

  await t.test('drain: AdminDown at once, peer sees NeighborSignaledSessionDown', async (t) => {
    const fromB = b.events.length;
    const started = Date.now();
    await a.call('drain', 5000);
    const drainMs = Date.now() - started;
    for (const s of sessionsB) {
      const ev = await b.waitEvent((e) => e.local === s.local && e.to === 'Down', 3000, fromB);
      t.equal(ev.diag, 'NeighborSignaledSessionDown', s.local);
      t.equal((await b.session(s.local, s.remote)).remoteState, 'AdminDown');
    }
    t.ok(drainMs < 5000, `drain held one detection time, not the whole grace (${drainMs} ms)`);
    for (const s of await a.sessions()) t.equal(s.state, 'AdminDown');
    await a.call('close');
    t.equal(await a.call('alive'), false);
  });

  await t.test('drain immediately followed by close still sends the AdminDown', async (t) => {
    const fromB = b.events.length;
    a = await startPeer(nsA, sessionsA);
    await upBoth([0, fromB]);
    const from = b.events.length;
    await a.call('drainAndClose', 5000);
    for (const s of sessionsB) {
      const ev = await b.waitEvent((e) => e.local === s.local && e.to === 'Down', 3000, from);
      t.equal(ev.diag, 'NeighborSignaledSessionDown', s.local);
    }
  });
}

await runTests();
