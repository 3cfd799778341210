// The JS side of the addon's conntrack reader: fixed-size records (native/src/io/ct_parse.h) into
// events, and one batch callback into handler calls (events, malformed counts, overflows, a failed
// socket), with a fake native reader.
import t from 'tap';
import { CONNTRACK_GROUPS, decodeRecords, NetlinkConntrackEvents, type ConntrackEventHandlers } from '../../agent/snat/ct-netlink.js';
import type { ConntrackBatchCallback, NativeNetlinkReader } from '../../agent/native/netlink.js';
import type { ConntrackEvent } from '../../agent/snat/types.js';

/** One record as the native side writes it. */
function record(o: { type: number; family: 4 | 6; proto: number; flags: number; id: number; addrs: number[][]; ports: number[]; counters?: number[]; startNs?: bigint; stopNs?: bigint; status?: number; mark?: number; zone?: number }): Buffer {
  const b = Buffer.alloc(144);
  b[0] = o.type; b[1] = o.family; b[2] = o.proto; b[3] = o.flags;
  b.writeUInt32LE(o.id, 4);
  o.addrs.forEach((a, i) => Buffer.from(a).copy(b, 8 + 16 * i));
  o.ports.forEach((p, i) => b.writeUInt16LE(p, 72 + 2 * i));
  (o.counters ?? []).forEach((c, i) => b.writeBigUInt64LE(BigInt(c), 80 + 8 * i));
  if (o.startNs !== undefined) b.writeBigUInt64LE(o.startNs, 112);
  if (o.stopNs !== undefined) b.writeBigUInt64LE(o.stopNs, 120);
  b.writeUInt32LE(o.status ?? 0, 128);
  b.writeUInt32LE(o.mark ?? 0, 132);
  b.writeUInt16LE(o.zone ?? 0, 136);
  return b;
}

const V6 = (last: number) => [0xfd, 0, 0, 0x10, 0, 0x16, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, last];

t.test('records decode into events', async (t) => {
  const destroy = record({
    type: 2, family: 4, proto: 17, flags: 1 | 2 | 4 | 8 | 16, id: 2276017852, status: 0x1b8, mark: 0x2a, zone: 7,
    addrs: [[10, 16, 0, 100], [198, 51, 100, 10], [198, 51, 100, 10], [172, 17, 0, 11]], ports: [41002, 8080, 8080, 15400],
    counters: [1, 29, 2, 58], startNs: 1764167789948000000n, stopNs: 1764167790948687000n,
  });
  const icmp6 = record({ type: 1, family: 6, proto: 58, flags: 0, id: 7, addrs: [V6(0), V6(1), V6(1), V6(0)], ports: [0, 0, 0, 0] });
  const seen: ConntrackEvent[] = [];
  decodeRecords(Buffer.concat([destroy, icmp6]), (ev) => seen.push(ev));
  t.same(seen[0], {
    type: 'destroy', family: 4, proto: 'udp', id: 2276017852,
    original: { src: '10.16.0.100', dst: '198.51.100.10', sport: 41002, dport: 8080 },
    reply: { src: '198.51.100.10', dst: '172.17.0.11', sport: 8080, dport: 15400 },
    counters: { orig: { packets: 1, bytes: 29 }, reply: { packets: 2, bytes: 58 } },
    startNs: '1764167789948000000', stopNs: '1764167790948687000',
    status: 0x1b8, mark: 0x2a, zone: 7,
  });
  t.same(seen[1], {
    type: 'new', family: 6, proto: 'icmpv6', id: 7,
    original: { src: 'fd00:10:16::100', dst: 'fd00:10:16::101', sport: null, dport: null },
    reply: { src: 'fd00:10:16::101', dst: 'fd00:10:16::100', sport: null, dport: null },
    zone: 0, mark: 0,
  }, 'IPv6 as inet_ntop prints it; no ports, counters, times or status when the flags say so');
  const update = record({ type: 4, family: 4, proto: 6, flags: 1 | 16, id: 8, status: 0xe, mark: 1, addrs: [[10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 2], [10, 0, 0, 1]], ports: [1, 2, 2, 1] });
  decodeRecords(update, (ev) => seen.push(ev));
  t.match(seen[2], { type: 'update', id: 8, status: 0xe, mark: 1, zone: 0 });
  t.throws(() => decodeRecords(Buffer.alloc(100), () => undefined), /not a multiple of 144/);
  const bad = record({ type: 9, family: 4, proto: 6, flags: 0, id: 1, addrs: [], ports: [] });
  t.throws(() => decodeRecords(bad, () => undefined), /unknown record type 9/);
});

t.test('one batch: events, malformed messages, overflows, then a failed socket', async (t) => {
  let onBatch: ConntrackBatchCallback | undefined;
  let closed = false;
  const calls: string[] = [];
  const handlers: ConntrackEventHandlers = {
    onEvent: (ev, at) => calls.push(`event ${ev.type} ${ev.id} ${typeof at}`),
    onParseError: (m, n) => calls.push(`parse ${n} ${m}`),
    onOverflow: (n) => calls.push(`overflow ${n}`),
    onBatchEnd: () => calls.push('end'),
    onExit: (reason) => calls.push(`exit ${reason}`),
  };
  const source = new NetlinkConntrackEvents(1 << 20, handlers, { open: (groups, bytes, cb) => {
    t.same([groups, bytes], [[1, 3], 1 << 20], 'the NEW and DESTROY groups, the configured buffer');
    onBatch = cb;
    const r: NativeNetlinkReader = { close: () => { closed = true; }, info: () => ({ portId: 5, receiveBufferBytes: 2 << 20, forced: true, drops: 3 }) };
    return r;
  } });
  await source.start();
  t.same(await source.socket(), { bufferBytes: 2 << 20, drops: 3 });
  const rec = record({ type: 1, family: 4, proto: 6, flags: 1, id: 42, addrs: [[10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 2], [10, 0, 0, 3]], ports: [1, 2, 2, 3] });
  onBatch!(rec, 2, 1, null, 4);
  t.same(calls.splice(0), ['event new 42 number', 'parse 4 malformed conntrack netlink message(s)', 'overflow 3', 'end'], 'a truncated datagram counts as lost too');
  onBatch!(null, 0, 0, 'conntrack event listener: recvmsg: EBADF', 0);
  t.same(calls.splice(0), ['end', 'exit conntrack event listener: recvmsg: EBADF']);
  onBatch!(rec, 0, 0, null, 0);
  t.same(calls, [], 'batches of a closed reader are ignored');
  t.equal(source.drops(), null, 'no socket after the failure');
  await source.stop();
  t.notOk(closed, 'the native side closed the failed socket itself');
});

t.test('the record size is the addon\'s; the update group is asked for by name', async (t) => {
  const { netlinkNative } = await import('../../agent/native/netlink.js');
  t.equal(netlinkNative().conntrackRecordBytes, 144);
  let asked: number[] = [];
  const source = new NetlinkConntrackEvents(1 << 20, { onEvent: () => undefined, onParseError: () => undefined, onOverflow: () => undefined, onExit: () => undefined }, {
    groups: [CONNTRACK_GROUPS.new, CONNTRACK_GROUPS.update, CONNTRACK_GROUPS.destroy],
    open: (groups) => { asked = groups; return { close: () => undefined, info: () => ({ portId: 1, receiveBufferBytes: 0, forced: false, drops: 0 }) }; },
  });
  await source.start();
  t.same(asked, [1, 2, 3]);
  await source.stop();
});
