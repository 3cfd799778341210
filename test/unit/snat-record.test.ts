import t from 'tap';
import { parseConntrackXmlLine } from '../../agent/snat/conntrack-xml.js';
import { formatRecord, gapRecord, parseRecordLine, toRecord } from '../../agent/snat/record.js';
import * as fx from './fixtures/snat-conntrack.js';

const ev = (line: string) => parseConntrackXmlLine(line)!;
const RECEIVED = Date.parse('2026-11-26T14:17:10.500Z');

t.test('start record: receive time, no end, no counters', async (t) => {
  t.same(toRecord(ev(fx.NEW_TCP4_SNAT), RECEIVED), {
    schemaVersion: 1, event: 'start', proto: 'tcp',
    original: { src: '10.16.0.100', sport: 43035, dst: '198.51.100.10', dport: 8080 },
    translated: { src: '172.17.0.11', sport: 42155 },
    start: '2026-11-26T14:17:10.500Z', end: null, durationMs: null, bytes: null, packets: null, id: 2276017852,
  });
});

t.test('end record: kernel start/stop, µs duration, counters per direction', async (t) => {
  const r = toRecord(ev(fx.DESTROY_TCP4_SNAT), RECEIVED);
  t.equal(r.event, 'end');
  t.equal(r.start, new Date(1795702630035).toISOString());
  t.equal(r.end, new Date(1795702630418).toISOString());
  // 1795702630418370371 - 1795702630035958202 ns = 382412.169 µs
  t.equal(r.durationMs, 382.412);
  t.same(r.bytes, { orig: 268, reply: 219 });
  t.same(r.packets, { orig: 5, reply: 4 });
  t.same(r.translated, { src: '172.17.0.11', sport: 42155 });
});

t.test('end record without kernel timestamps or accounting', async (t) => {
  const r = toRecord(ev(fx.DESTROY_UDP4_NO_ACCT), RECEIVED);
  t.equal(r.start, null);
  t.equal(r.end, '2026-11-26T14:17:10.500Z', 'falls back to the receive time');
  t.equal(r.durationMs, null);
  t.equal(r.bytes, null);
  t.equal(r.packets, null);
});

t.test('ICMP records have null ports', async (t) => {
  const r = toRecord(ev(fx.DESTROY_ICMP4_SNAT), RECEIVED);
  t.same(r.original, { src: '10.16.0.100', sport: null, dst: '198.51.100.10', dport: null });
  t.same(r.translated, { src: '172.17.0.11', sport: null });
});

t.test('a formatted record is one line and reads back equal', async (t) => {
  for (const line of [fx.NEW_TCP4_SNAT, fx.DESTROY_TCP4_SNAT, fx.NEW_UDP6_SNAT, fx.DESTROY_ICMP4_SNAT, fx.DESTROY_UDP4_NO_ACCT]) {
    const r = toRecord(ev(line), RECEIVED);
    const text = formatRecord(r);
    t.ok(text.endsWith('\n'));
    t.equal(text.indexOf('\n'), text.length - 1);
    t.same(parseRecordLine(text.trimEnd()), r);
  }
  const g = gapRecord('overflow', RECEIVED, RECEIVED + 800, 3);
  t.same(g, { schemaVersion: 1, event: 'gap', reason: 'overflow', start: '2026-11-26T14:17:10.500Z', end: '2026-11-26T14:17:11.300Z', count: 3 });
  t.same(parseRecordLine(formatRecord(g)), g);
});

t.test('invalid record lines are rejected', async (t) => {
  const good = JSON.parse(formatRecord(toRecord(ev(fx.DESTROY_TCP4_SNAT), RECEIVED))) as Record<string, unknown>;
  const bad: unknown[] = [
    { ...good, schemaVersion: 2 },
    { ...good, event: 'middle' },
    { ...good, translated: { src: '172.17.0.11', sport: 70000 } },
    { ...good, original: { src: 1 } },
    { ...good, start: 'yesterday' },
    { ...good, bytes: { orig: 'x', reply: 1 } },
    { ...good, id: 1.5 },
    { schemaVersion: 1, event: 'gap', reason: 'other', start: good.start, end: good.end, count: 1 },
  ];
  for (const b of bad) t.equal(parseRecordLine(JSON.stringify(b)), undefined, JSON.stringify(b));
  t.equal(parseRecordLine('{"schemaVersion":1,"event":"end","pro'), undefined, 'a line cut by a crash');
  t.equal(parseRecordLine('null'), undefined);
});

t.test('formatRecord writes exactly what JSON.stringify would (it builds the line by hand for speed)', async (t) => {
  const lines = [fx.NEW_TCP4_SNAT, fx.DESTROY_TCP4_SNAT, fx.DESTROY_ICMP4_SNAT, fx.NEW_UDP6_SNAT].map((l) => parseConntrackXmlLine(l)!);
  const records = [...lines.map((ev) => toRecord(ev, Date.parse('2026-11-26T14:17:10.500Z'))), { ...toRecord(lines[0]!, 0), recovered: true as const }];
  for (const r of records) t.equal(formatRecord(r), `${JSON.stringify(r)}\n`, `${r.event} ${r.proto}${r.recovered ? ' recovered' : ''}`);
  const gap = gapRecord('overflow', 0, 1000, 3);
  t.equal(formatRecord(gap), `${JSON.stringify(gap)}\n`);
});
