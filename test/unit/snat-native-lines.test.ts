// The recorder's native path (the netlink source): record lines formatted in C++
// (native/src/io/ct_json.cc) must be byte for byte what the JS formatter writes for the same event
// (agent/snat/record.ts, still used for the conntrack-tool source and recovered starts), over the
// captured fixtures and thousands of random events; and the recorder fed raw batches by a fake
// reader writes, counts and recovers as the event path does.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../agent/lib/log.js';
import { parseIp } from '../../agent/lib/ip.js';
import type { ConntrackBatchCallback } from '../../agent/native/netlink.js';
import { classifyFlow } from '../../agent/snat/classify.js';
import { DEFAULT_SNAT_RECORDS } from '../../agent/config/snat-records.js';
import { parseConntrackXmlLine } from '../../agent/snat/conntrack-xml.js';
import { decodeRecord, formatSnatLines, RECORD_BYTES } from '../../agent/snat/ct-netlink.js';
import { formatRecord, parseRecordLine, toRecord } from '../../agent/snat/record.js';
import { SnatRecorder } from '../../agent/snat/recorder.js';
import type { ConntrackEvent, SnatRecord } from '../../agent/snat/types.js';
import * as fx from './fixtures/snat-conntrack.js';

const PROTOS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132, unknown: 250 };
const TYPES: Record<ConntrackEvent['type'], number> = { new: 1, destroy: 2, entry: 3, update: 4 };

/** The record the native parser would write for `ev` (native/src/io/ct_parse.h). */
function encode(ev: ConntrackEvent): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  const hasPorts = ev.original.sport !== null;
  b[0] = TYPES[ev.type]; b[1] = ev.family; b[2] = PROTOS[ev.proto]!;
  b[3] = (hasPorts ? 1 : 0) | (ev.counters ? 2 : 0) | (ev.startNs ? 4 : 0) | (ev.stopNs ? 8 : 0);
  b.writeUInt32LE(ev.id, 4);
  [ev.original.src, ev.original.dst, ev.reply.src, ev.reply.dst].forEach((a, i) => {
    const r = parseIp(a);
    if (!r.ok) throw new Error(a);
    r.value.bytes.copy(b, 8 + 16 * i);
  });
  [ev.original.sport, ev.original.dport, ev.reply.sport, ev.reply.dport].forEach((p, i) => b.writeUInt16LE(p ?? 0, 72 + 2 * i));
  if (ev.counters) [ev.counters.orig.packets, ev.counters.orig.bytes, ev.counters.reply.packets, ev.counters.reply.bytes].forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 80 + 8 * i));
  if (ev.startNs) b.writeBigUInt64LE(BigInt(ev.startNs), 112);
  if (ev.stopNs) b.writeBigUInt64LE(BigInt(ev.stopNs), 120);
  return b;
}

/** A deterministic pseudo-random source (the failures must be reproducible). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function randomEvent(r: (n: number) => number): ConntrackEvent {
  const family = r(3) === 0 ? 6 : 4;
  const addr = (): string => family === 4
    ? [r(256), r(256), r(256), r(256)].join('.')
    // Runs of zero groups of every length, so :: lands everywhere.
    : Array.from({ length: 8 }, () => (r(3) === 0 ? 0 : r(65536)).toString(16)).join(':');
  const proto = family === 4 ? ['tcp', 'udp', 'icmp', 'sctp', 'unknown'][r(5)]! : ['tcp', 'udp', 'icmpv6'][r(3)]!;
  const ports = ['tcp', 'udp', 'sctp'].includes(proto);
  const port = (): number | null => (ports ? r(65536) : null);
  const src = addr(), dst = addr(), sport = port(), dport = port();
  const snat = r(4) !== 0;
  const type = (['new', 'destroy'] as const)[r(2)]!;
  const ev: ConntrackEvent = {
    type, family, proto, id: r(2 ** 32),
    original: { src, dst, sport, dport },
    reply: { src: dst, dst: snat ? addr() : src, sport: dport, dport: snat && ports ? r(65536) : sport },
  };
  // Normalise as the decoder prints (parseIp + formatIp), so the JS side sees the same text.
  const canon = (a: string): string => decodeRecord(encode({ ...ev, original: { ...ev.original, src: a } }), 0).original.src;
  ev.original = { ...ev.original, src: canon(ev.original.src), dst: canon(ev.original.dst) };
  ev.reply = { ...ev.reply, src: canon(ev.reply.src), dst: canon(ev.reply.dst) };
  if (type === 'destroy' && r(5) !== 0) {
    const big = (): number => r(2 ** 20) * 2 ** 20 + r(2 ** 20);
    ev.counters = { orig: { packets: r(1000), bytes: big() }, reply: { packets: r(1000), bytes: big() } };
  }
  const start = 1_600_000_000_000_000_000n + BigInt(r(2 ** 30)) * 1_000_000_000n + BigInt(r(1_000_000_000));
  if (r(4) !== 0) ev.startNs = String(start);
  if (type === 'destroy' && r(4) !== 0) ev.stopNs = String(start + BigInt(r(2 ** 30)) * 1000n + BigInt(r(1000)));
  return ev;
}

t.test('native lines are the JS formatter\'s lines, byte for byte', async (t) => {
  const fixtures = [fx.NEW_TCP4_SNAT, fx.DESTROY_TCP4_SNAT, fx.NEW_TCP4_FORWARDED, fx.DESTROY_TCP4_FORWARDED, fx.NEW_UDP6_SNAT, fx.DESTROY_ICMP4_SNAT, fx.DESTROY_UDP4_NO_ACCT, fx.NEW_UDP4_LOCAL]
    .map((l) => parseConntrackXmlLine(l)!);
  const r = rng(15);
  const events = [...fixtures, ...Array.from({ length: 5000 }, () => randomEvent(r))];
  const at = Date.parse('2026-12-05T05:40:01.234Z');
  const { lines, snat, ends } = formatSnatLines(Buffer.concat(events.map(encode)), at, true);
  let compared = 0;
  const wrong: string[] = [];
  events.forEach((ev, i) => {
    const mine = lines.subarray(i === 0 ? 0 : ends[i - 1], ends[i]).toString();
    const isSnat = classifyFlow(ev, () => false) === 'snat';
    if (Boolean(snat[i]) !== isSnat) wrong.push(`#${i}: snat ${snat[i]}, JS says ${isSnat}`);
    const js = isSnat ? formatRecord(toRecord(ev, at)) : '';
    if (mine !== js && wrong.length < 5) wrong.push(`#${i}:\n  native ${mine}  js     ${js}`);
    if (js) compared++;
  });
  t.same(wrong, [], 'no difference');
  t.ok(compared > 3000, `${compared} SNAT lines compared`);
  t.ok(events.some((e) => e.family === 6 && e.original.src.includes('::')), 'IPv6 with :: among them');
  t.ok(events.some((e) => e.type === 'destroy' && e.startNs && !e.stopNs), 'an end without a kernel stop time among them');

  const noStarts = formatSnatLines(Buffer.concat(events.map(encode)), at, false);
  t.equal(noStarts.lines.toString().includes('"event":"start"'), false, 'no start lines when starts are off');
  t.throws(() => formatSnatLines(Buffer.alloc(100), at, true), /100 bytes is not a multiple of 144/);
  t.throws(() => formatSnatLines(Buffer.alloc(0), -1, true), /receivedAtMs/);
});

t.test('the recorder on raw batches: lines, counts, ports, a recovered flow\'s NEW not written twice', async (t) => {
  const dir = t.testdir();
  let onBatch: ConntrackBatchCallback | undefined;
  const stdout: string[] = [];
  const snatNew = parseConntrackXmlLine(fx.NEW_TCP4_SNAT)!;
  const snatEnd = parseConntrackXmlLine(fx.DESTROY_TCP4_SNAT)!;
  const forwarded = parseConntrackXmlLine(fx.NEW_TCP4_FORWARDED)!;
  const local = parseConntrackXmlLine(fx.NEW_UDP4_LOCAL)!;
  const udp6 = parseConntrackXmlLine(fx.NEW_UDP6_SNAT)!;
  // In the table at the resync after the overflow below, its NEW never seen: recovered.
  const lost = { ...udp6, type: 'entry' as const, id: 9001, original: { ...udp6.original, sport: 40001 } };
  let dumps = 0;
  // Time moves 20 s on at the overflow, so the resync waits only its 1 s of quiet, not the 10 s since the start's dump.
  let offset = 0;
  const recorder = new SnatRecorder({ ...DEFAULT_SNAT_RECORDS, dir, stdout: true }, {
    now: () => Date.now() + offset,
    logger: createLogger('error', { destination: new Writable({ write(_c, _e, cb) { cb(); } }) }),
    stdout: new Writable({ write(chunk, _e, cb) { stdout.push(...String(chunk).split('\n').filter(Boolean)); cb(); } }),
    isLocal: (ip) => ['172.17.0.11', '10.16.0.11'].includes(ip),
    sysctl: { read: async () => '1', write: async () => undefined },
    portRange: async () => ({ min: 1024, max: 65535 }),
    // Empty at the start; after the loss it holds the flow whose NEW was lost.
    dump: (onEntry) => {
      if (dumps++ > 0) onEntry(lost);
      return { entries: dumps > 1 ? 1 : 0, malformed: 0, interrupted: false };
    },
    openConntrackReader: (_groups, _bytes, cb) => {
      onBatch = cb;
      return { close: () => undefined, info: () => ({ portId: 1, receiveBufferBytes: 1 << 24, forced: true, drops: 0 }) };
    },
  });
  t.teardown(() => recorder.stop());
  await recorder.start();
  onBatch!(Buffer.concat([snatNew, forwarded, local, udp6, snatEnd].map(encode)), 0, 0, null, 0);
  let s = recorder.status();
  t.same(s.flowsStarted, { snat: 2, forwarded: 1 }, 'SNAT and forwarded flows started; local ones not counted');
  t.same(s.flows, { snat: 1, forwarded: 1 });
  t.equal(s.eventsReceived, 5);
  t.equal(s.ports.tightest.length, 1, 'the UDP flow holds a port key (the TCP one ended)');
  // A loss: the resync (1 s later) dumps the table and recovers the flow whose NEW was lost.
  offset = 20_000;
  onBatch!(null, 1, 0, null, 0);
  const deadline = Date.now() + 10_000;
  while (recorder.status().recovered === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(recorder.status().recovered, 1, 'one start recovered from the dump');
  // Its NEW was only queued behind the dump: no second start record.
  onBatch!(encode({ ...lost, type: 'new' }), 0, 0, null, 0);
  await recorder.stop();
  s = recorder.status();
  t.equal(s.recovered, 0, 'the NEW came after all: not lost');
  const lines = readdirSync(dir).filter((n) => n.endsWith('.jsonl')).flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean));
  const recs = lines.map((l) => parseRecordLine(l)).filter((r): r is SnatRecord => r !== undefined && r.event !== 'gap');
  t.same(recs.map((r) => `${r.event} ${r.id}${r.recovered ? ' recovered' : ''}`), [
    `start ${snatNew.id}`, `start ${udp6.id}`, `end ${snatEnd.id}`, 'start 9001 recovered',
  ], 'start, start, end from the batch; the recovered start once');
  t.equal(s.recordsWritten, lines.length, 'records written counts lines');
  t.same(stdout, lines, 'stdout gets the same lines');
});
