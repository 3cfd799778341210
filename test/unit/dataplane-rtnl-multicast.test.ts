// The rtnetlink change listener's JS side, against a scripted native reader: framing of the batches
// the reader delivers, overflows counted and turned into one 'loss' per batch, a failed socket
// replaced (and retried while it cannot be).
import t from 'tap';
import { AttrStream, rt } from 'netlink';
import type { NativeNetlinkReader, RtnlBatchCallback } from '../../agent/native/netlink.js';
import { RECEIVE_BUFFER_BYTES, RtnlMulticast, splitMessages, type OpenReader } from '../../agent/dataplane/rtnl-multicast.js';

/** One nlmsghdr-framed message, as the kernel sends it (length without trailing padding). */
function nlmsg(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  return Buffer.concat([h, payload]);
}

/** Datagrams back to back, each padded to 4 bytes (what the native reader delivers). */
function batch(...datagrams: Buffer[]): Buffer {
  return Buffer.concat(datagrams.map((d) => Buffer.concat([d, Buffer.alloc((4 - (d.length % 4)) % 4)])));
}

function routeMessage(table: number): Buffer {
  const s = new AttrStream();
  rt.formatRouteMessage({ kind: 'route', data: { family: 2, table: 252, dstLen: 0 }, attrs: { table } }, s);
  return Buffer.concat(s.bufs);
}

t.test('splitMessages: messages within a datagram and across padded datagrams', async (t) => {
  const a = nlmsg(rt.MessageType.NEWROUTE, Buffer.from([1, 2, 3, 4]));
  const b = nlmsg(rt.MessageType.DELROUTE, Buffer.from([5, 6])); // 18 bytes: padded to 20
  const c = nlmsg(rt.MessageType.NEWLINK, Buffer.alloc(0));
  // One datagram with two messages (a, then b padded inside the datagram), then one with c.
  const two = Buffer.concat([a, b, Buffer.alloc(2)]);
  const msgs = splitMessages(batch(two, c));
  t.same(msgs.map((m) => m.type), [rt.MessageType.NEWROUTE, rt.MessageType.DELROUTE, rt.MessageType.NEWLINK]);
  t.same([...msgs[0]!.payload], [1, 2, 3, 4]);
  t.same([...msgs[1]!.payload], [5, 6], 'the payload ends at nlmsg_len, not at the padding');
  t.equal(msgs[2]!.payload.length, 0);
  // The last datagram of a batch unpadded by the kernel (18 bytes) is padded by the reader.
  t.same(splitMessages(batch(b)).map((m) => [...m.payload]), [[5, 6]]);
  t.same(splitMessages(Buffer.alloc(0)), []);
});

t.test('splitMessages: broken framing throws with the offset', async (t) => {
  const ok = nlmsg(rt.MessageType.NEWROUTE, Buffer.alloc(4));
  const tooLong = Buffer.from(ok);
  tooLong.writeUInt32LE(64, 0);
  t.throws(() => splitMessages(tooLong), /message length 64 at offset 0 does not fit the 20-byte batch/);
  const tooShort = Buffer.from(ok);
  tooShort.writeUInt32LE(8, 0);
  t.throws(() => splitMessages(tooShort), /message length 8 at offset 0/);
  t.throws(() => splitMessages(Buffer.concat([ok, Buffer.alloc(8)])), /8 trailing bytes at offset 20/);
});

/** A scripted native reader: the test delivers batches through `deliver`. */
class FakeReaders {
  readers: { groups: number[]; bytes: number; onBatch: RtnlBatchCallback; closed: boolean }[] = [];
  failOpens = 0;
  readonly open: OpenReader = (groups, bytes, onBatch) => {
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new Error('rtnetlink listener: socket(AF_NETLINK, NETLINK_ROUTE): Too many open files');
    }
    const r = { groups, bytes, onBatch, closed: false };
    this.readers.push(r);
    const native: NativeNetlinkReader = {
      close: () => {
        r.closed = true;
      },
      info: () => ({ portId: 1000 + this.readers.length, receiveBufferBytes: 2 * bytes, forced: true, drops: 0 }),
    };
    return native;
  };

  get last() {
    return this.readers[this.readers.length - 1]!;
  }
}

function listen(fake: FakeReaders, reopenRetryMs = 10) {
  const mc = new RtnlMulticast(['LINK', 'IPV4_ROUTE', 'IPV6_RULE'], { open: fake.open, reopenRetryMs });
  const messages: [number, Buffer][] = [];
  const losses: string[] = [];
  mc.on('message', (type, payload) => messages.push([type, payload]));
  mc.on('loss', (reason) => losses.push(reason));
  return { mc, messages, losses };
}

t.test('RtnlMulticast: groups and buffer asked for, messages passed on, stats', async (t) => {
  const fake = new FakeReaders();
  const { mc, messages, losses } = listen(fake);
  mc.start();
  t.same(fake.last.groups, [rt.MulticastGroups.LINK, rt.MulticastGroups.IPV4_ROUTE, rt.MulticastGroups.IPV6_RULE]);
  t.equal(fake.last.bytes, RECEIVE_BUFFER_BYTES);
  const route = routeMessage(1000);
  fake.last.onBatch(batch(nlmsg(rt.MessageType.NEWROUTE, route), nlmsg(rt.MessageType.DELROUTE, route)), 0, 0, null);
  t.same(messages.map(([type]) => type), [rt.MessageType.NEWROUTE, rt.MessageType.DELROUTE]);
  t.same(messages[0]![1], route);
  t.same(losses, []);
  t.same(mc.stats(), { overflows: 0, truncated: 0, receiveBufferBytes: 2 * RECEIVE_BUFFER_BYTES, forced: true, portId: 1001 });
  mc.stop();
  t.ok(fake.last.closed, 'stop closes the socket');
  t.same(mc.stats(), { overflows: 0, truncated: 0, receiveBufferBytes: 0, forced: false, portId: 0 });
});

t.test('RtnlMulticast: an overflow is counted, reported once per batch, and later messages still arrive', async (t) => {
  const fake = new FakeReaders();
  const { mc, messages, losses } = listen(fake);
  mc.start();
  const route = nlmsg(rt.MessageType.NEWROUTE, routeMessage(1000));
  fake.last.onBatch(batch(route), 2, 0, null);
  t.equal(messages.length, 1, 'the datagrams read along with the overflow are passed on');
  t.equal(losses.length, 1, 'one loss for the batch');
  t.match(losses[0], /^ENOBUFS: the 33554432-byte receive queue overflowed \(2x\), notifications lost$/);
  fake.last.onBatch(null, 1, 1, null);
  t.equal(losses.length, 2);
  t.match(losses[1], /ENOBUFS.*\(1x\).*; 1 notification\(s\) longer than the reader's 64 KiB lost/);
  fake.last.onBatch(batch(route), 0, 0, null);
  t.equal(messages.length, 2);
  t.equal(losses.length, 2, 'no loss without an overflow');
  t.match(mc.stats(), { overflows: 3, truncated: 1 });
  t.equal(fake.readers.length, 1, 'an overflow does not replace the socket');
  mc.stop();
});

t.test('RtnlMulticast: a batch with broken framing is a loss, not an exception', async (t) => {
  const fake = new FakeReaders();
  const { mc, messages, losses } = listen(fake);
  mc.start();
  const broken = nlmsg(rt.MessageType.NEWROUTE, Buffer.alloc(4));
  broken.writeUInt32LE(100, 0);
  fake.last.onBatch(broken, 0, 0, null);
  t.same(messages, []);
  t.match(losses, [/message length 100 at offset 0/]);
  mc.stop();
});

t.test('RtnlMulticast: a failed socket is replaced; while a new one cannot be opened it is retried', async (t) => {
  const fake = new FakeReaders();
  const { mc, messages, losses } = listen(fake);
  mc.start();
  const first = fake.last;
  fake.failOpens = 2;
  first.onBatch(null, 1, 0, 'rtnetlink listener: recvmsg: EFAULT (bad address in system call argument)');
  t.match(losses[0], /^ENOBUFS.*; rtnetlink listener: recvmsg: EFAULT .*; listening on a new socket$/, 'what the batch reported, then the failure');
  t.equal(mc.stats().receiveBufferBytes, 0, 'no socket open meanwhile');
  // Two failed opens, 10 ms apart, then a new socket.
  const deadline = Date.now() + 5000;
  while (fake.readers.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.equal(fake.readers.length, 2, 'a new socket after the failed tries');
  t.equal(losses.length, 3);
  t.match(losses.slice(1), [/retrying after: .*Too many open files/, /retrying after: .*Too many open files/]);
  first.onBatch(batch(nlmsg(rt.MessageType.NEWLINK, Buffer.alloc(16))), 0, 0, null);
  t.same(messages, [], 'a late batch of the failed socket is ignored');
  fake.last.onBatch(batch(nlmsg(rt.MessageType.NEWLINK, Buffer.alloc(16))), 0, 0, null);
  t.equal(messages.length, 1, 'the new socket delivers');
  t.equal(mc.stats().portId, 1002);
  mc.stop();
});

t.test('RtnlMulticast: stop() ends the retries, and a listener may stop it mid-batch', async (t) => {
  const fake = new FakeReaders();
  const { mc, losses } = listen(fake, 5);
  mc.start();
  fake.failOpens = 1000;
  fake.last.onBatch(null, 0, 0, 'rtnetlink listener: recvmsg: EBADF (bad file descriptor)');
  mc.stop();
  const seen = losses.length;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(losses.length, seen, 'no retry after stop');
  t.equal(fake.readers.length, 1);

  const fake2 = new FakeReaders();
  const other = listen(fake2);
  other.mc.on('message', () => other.mc.stop());
  other.mc.start();
  const m = nlmsg(rt.MessageType.NEWLINK, Buffer.alloc(16));
  fake2.last.onBatch(batch(m, m, m), 0, 0, null);
  t.equal(other.messages.length, 1, 'nothing emitted after the listener stopped it');
});
