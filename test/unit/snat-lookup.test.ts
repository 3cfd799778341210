import t, { type Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnatRecordStore } from '../../agent/snat/lookup.js';
import { formatRecord, gapRecord } from '../../agent/snat/record.js';
import { recordFileName } from '../../agent/snat/record-files.js';
import type { RecordLine, SnatRecord } from '../../agent/snat/types.js';

const T = (iso: string) => new Date(`2026-11-26T${iso}Z`);

interface Flow {
  id: number;
  src: string;
  sport: number;
  tsrc: string;
  tport: number;
  start: string;
  end?: string;
  proto?: string;
  dst?: string;
}

function start(f: Flow): SnatRecord {
  return {
    schemaVersion: 1, event: 'start', proto: f.proto ?? 'tcp',
    original: { src: f.src, sport: f.sport, dst: f.dst ?? '198.51.100.10', dport: 8080 },
    translated: { src: f.tsrc, sport: f.tport },
    // The start record has the agent's receive time: a little after the kernel's start.
    start: new Date(T(f.start).getTime() + 3).toISOString(), end: null, durationMs: null, bytes: null, packets: null, id: f.id,
  };
}

function end(f: Flow): SnatRecord {
  const s = T(f.start).getTime();
  const e = T(f.end!).getTime();
  return { ...start(f), event: 'end', start: new Date(s).toISOString(), end: new Date(e).toISOString(), durationMs: e - s,
    bytes: { orig: 100, reply: 200 }, packets: { orig: 2, reply: 3 } };
}

function writeFiles(dir: string, files: [string, (RecordLine | string)[]][]): void {
  mkdirSync(dir, { recursive: true });
  for (const [created, lines] of files) {
    writeFileSync(join(dir, recordFileName(T(created).getTime())), lines.map((l) => (typeof l === 'string' ? `${l}\n` : formatRecord(l))).join(''));
  }
}

const A: Flow = { id: 1, src: '10.16.0.100', sport: 40001, tsrc: '172.17.0.11', tport: 41234, start: '03:11:00.000', end: '03:13:00.000' };
// Same translated port reused later by another source.
const B: Flow = { id: 2, src: '10.16.0.101', sport: 40002, tsrc: '172.17.0.11', tport: 41234, start: '04:00:00.000', end: '04:00:05.000' };
// Long-lived, started in the oldest file, still open.
const C: Flow = { id: 3, src: '10.16.0.100', sport: 40003, tsrc: '172.17.0.11', tport: 50000, start: '02:00:00.000', proto: 'udp' };
// IPv6.
const D: Flow = { id: 4, src: 'fd00:10:16::100', sport: 40004, tsrc: 'fd00:172:17::11', tport: 41234, start: '03:12:00.000', end: '03:12:01.000' };

function fixture(t: Test) {
  const dir = join(t.testdir(), 'records');
  writeFiles(dir, [
    ['02:00:00.000', [start(C), start(A)]],
    ['03:12:30.000', [start(D), end(D), gapRecord('overflow', T('03:12:40.000').getTime(), T('03:12:41.000').getTime(), 4), '{"schemaVersion":1,"event":"end","pro']],
    ['03:59:00.000', [end(A), start(B), end(B)]],
  ]);
  return new SnatRecordStore(dir);
}

t.test('translated address:port at a time: the flow open then, start and end merged', async (t) => {
  const store = fixture(t);
  const r = await store.lookupByTranslated('172.17.0.11', 41234, T('03:12:00.000'));
  t.equal(r.flows.length, 1);
  const f = r.flows[0]!;
  t.same(f.original, { src: '10.16.0.100', sport: 40001, dst: '198.51.100.10', dport: 8080 });
  t.same(f.translated, { src: '172.17.0.11', sport: 41234 });
  t.same(f.records.sort(), ['end', 'start'], 'start record in the oldest file, end record in the newest');
  t.equal(f.start, T(A.start).toISOString(), 'the kernel start time of the end record wins');
  t.equal(f.end, T(A.end!).toISOString());
  t.same(f.bytes, { orig: 100, reply: 200 });
  t.equal(r.filesRead, 3);
  t.equal(r.invalidLines, 1, 'the cut line');
  t.equal(r.gaps.length, 1);
  t.equal(r.retainedSince, T('02:00:00.000').toISOString());
});

t.test('a reused translated port answers with the right source for each time', async (t) => {
  const store = fixture(t);
  t.equal((await store.lookupByTranslated('172.17.0.11', 41234, T('04:00:02.000'))).flows[0]?.original.src, '10.16.0.101');
  t.same((await store.lookupByTranslated('172.17.0.11', 41234, T('03:30:00.000'))).flows, [], 'between the two flows: none');
  const all = await store.lookupByTranslated('172.17.0.11', 41234);
  t.same(all.flows.map((f) => f.id), [2, 1], 'without a time: all, newest first');
});

t.test('the tolerance covers event delivery around the edges', async (t) => {
  const store = fixture(t);
  t.equal((await store.lookupByTranslated('172.17.0.11', 41234, T('03:13:00.900'))).flows.length, 1, 'within 1 s after the end');
  t.equal((await store.lookupByTranslated('172.17.0.11', 41234, T('03:13:01.100'))).flows.length, 0);
  t.equal((await store.lookupByTranslated('172.17.0.11', 41234, T('03:13:01.100'), { toleranceMs: 0 })).flows.length, 0);
});

t.test('an open flow (start record only) matches any later time', async (t) => {
  const store = fixture(t);
  const r = await store.lookupByTranslated('172.17.0.11', 50000, T('05:00:00.000'));
  t.equal(r.flows.length, 1);
  t.equal(r.flows[0]!.end, null);
  t.same(r.flows[0]!.records, ['start']);
  t.equal(r.flows[0]!.proto, 'udp');
});

t.test('IPv6 addresses are compared in canonical form', async (t) => {
  const store = fixture(t);
  const r = await store.lookupByTranslated('FD00:172:17:0:0:0:0:11', 41234, T('03:12:00.500'));
  t.equal(r.flows.length, 1);
  t.equal(r.flows[0]!.original.src, 'fd00:10:16::100');
});

t.test('by source, optionally within a time range', async (t) => {
  const store = fixture(t);
  const all = await store.lookupBySource('10.16.0.100');
  t.same(all.flows.map((f) => f.id), [1, 3]);
  const early = await store.lookupBySource('10.16.0.100', { from: T('02:30:00.000'), to: T('02:40:00.000') });
  t.same(early.flows.map((f) => f.id), [3], 'only the long-lived flow was open then');
  const none = await store.lookupBySource('10.16.0.100', { to: T('01:00:00.000') });
  t.same(none.flows, []);
  await t.rejects(store.lookupBySource('10.16.0.100', { from: T('03:00:00.000'), to: T('02:00:00.000') }), /after/);
});

t.test('limit: newest first, truncation reported', async (t) => {
  const dir = join(t.testdir(), 'records');
  const flows = Array.from({ length: 30 }, (_, i): Flow => ({ ...B, id: 100 + i, sport: 30000 + i, start: `05:00:${String(i).padStart(2, '0')}.000`, end: `05:00:${String(i).padStart(2, '0')}.500` }));
  writeFiles(dir, [['04:59:00.000', flows.slice(0, 15).map(end)], ['05:00:15.000', flows.slice(15).map(end)]]);
  const r = await new SnatRecordStore(dir).lookupBySource('10.16.0.101', {}, { limit: 10 });
  t.equal(r.flows.length, 10);
  t.ok(r.truncated);
  t.same(r.flows.map((f) => f.id), Array.from({ length: 10 }, (_, i) => 129 - i));
  t.equal(r.filesRead, 1, 'the newest file had enough: older files were not read');
});

t.test('bad input and missing directory', async (t) => {
  const store = new SnatRecordStore(join(t.testdir(), 'nothing-here'));
  await t.rejects(store.lookupByTranslated('172.17.0', 1), /invalid IP address/);
  await t.rejects(store.lookupByTranslated('172.17.0.11', 70000), /port 70000/);
  const r = await store.lookupBySource('10.16.0.100');
  t.same(r.flows, []);
  t.equal(r.filesRead, 0);
  t.equal(r.retainedSince, null);
});
