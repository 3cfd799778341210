import t, { type Test } from 'tap';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listRecordFiles, recordFileCreatedMs, recordFileName } from '../../agent/snat/record-files.js';
import { RotatingRecordWriter } from '../../agent/snat/rotating-writer.js';
import type { RotationLimits } from '../../agent/config/snat-records.js';


const T0 = Date.parse('2026-11-26T00:00:00.000Z');
const HOUR = 3600_000;

function setup(t: Test, limits: RotationLimits) {
  const dir = join(t.testdir(), 'records');
  const clock = { now: T0 };
  const errors: Error[] = [];
  const w = new RotatingRecordWriter(dir, limits, { now: () => clock.now, flushBytes: 1, flushIntervalMs: 3600_000, onError: (e) => errors.push(e) });
  t.teardown(() => w.close());
  return { dir, clock, w, errors };
}

const line = (i: number, size = 100) => `${JSON.stringify({ i, pad: 'x'.repeat(size - 20 - String(i).length) })}\n`;
const ours = (dir: string) => readdirSync(dir).filter((n) => recordFileCreatedMs(n) !== undefined).sort();
const linesIn = (dir: string) => ours(dir).flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean));

t.test('file names encode the creation time and sort by age', async (t) => {
  const name = recordFileName(Date.parse('2026-11-26T03:12:00.007Z'));
  t.equal(name, 'snat-20261126T031200.007Z.jsonl');
  t.equal(recordFileCreatedMs(name), Date.parse('2026-11-26T03:12:00.007Z'));
  t.equal(recordFileCreatedMs('snat-20261126T031200.007Z.jsonl.bak'), undefined);
  t.equal(recordFileCreatedMs('other.jsonl'), undefined);
  t.ok(recordFileName(T0 + 1) > recordFileName(T0));
});

t.test('no file is created before the first record', async (t) => {
  const { dir, w } = setup(t, { maxFileBytes: 4096, maxFiles: 3, maxAgeMs: 24 * HOUR });
  w.open();
  t.same(ours(dir), []);
  t.equal(w.currentFile, null);
  w.write(line(1));
  t.equal(ours(dir).length, 1);
  t.equal(w.currentFile, join(dir, ours(dir)[0]!));
});

t.test('size rotation: no file exceeds maxFileBytes, the oldest files go beyond maxFiles', async (t) => {
  const { dir, clock, w } = setup(t, { maxFileBytes: 1024, maxFiles: 3, maxAgeMs: 24 * HOUR });
  w.open();
  for (let i = 0; i < 100; i++) {
    clock.now += 10;
    w.write(line(i));
  }
  w.flush();
  const files = ours(dir);
  t.equal(files.length, 3, 'kept maxFiles files');
  for (const f of files) t.ok(statSync(join(dir, f)).size <= 1024, `${f} within the size limit`);
  const kept = linesIn(dir).map((l) => (JSON.parse(l) as { i: number }).i);
  t.equal(kept[kept.length - 1], 99, 'the newest record is kept');
  t.same(kept, [...kept].sort((a, b) => a - b), 'in order');
  t.same(kept, Array.from({ length: kept.length }, (_, k) => 100 - kept.length + k), 'a contiguous newest tail');
  t.equal(w.written, 100);
  t.equal(w.dropped, 0);
});

t.test('age rotation every maxAge/maxFiles and deletion of files older than maxAge', async (t) => {
  const { dir, clock, w } = setup(t, { maxFileBytes: 1 << 20, maxFiles: 4, maxAgeMs: 24 * HOUR });
  t.equal(w.rotateIntervalMs, 6 * HOUR);
  w.open();
  w.write(line(1));
  clock.now += 5 * HOUR;
  w.maintain();
  t.equal(ours(dir).length, 1, 'not yet');
  clock.now += HOUR;
  w.maintain();
  t.equal(w.currentFile, null, 'rotated at 6 h');
  w.write(line(2));
  t.equal(ours(dir).length, 2);
  // Keep writing every hour for two days: never more than 4 files, none created more than 24 h ago.
  for (let h = 0; h < 48; h++) {
    clock.now += HOUR;
    w.write(line(100 + h));
    w.maintain();
    const files = await listRecordFiles(dir);
    t.ok(files.length <= 4, `hour ${h}: ${files.length} files`);
    t.ok(files.every((f) => f.createdMs > clock.now - 24 * HOUR), `hour ${h}: nothing older than 24 h`);
  }
  const kept = linesIn(dir).map((l) => (JSON.parse(l) as { i: number }).i);
  t.notOk(kept.includes(1) || kept.includes(2), 'the first records expired');
  t.ok(kept.includes(147), 'the newest is there');
});

t.test('an idle directory expires too', async (t) => {
  const { dir, clock, w } = setup(t, { maxFileBytes: 1 << 20, maxFiles: 2, maxAgeMs: 2 * HOUR });
  w.open();
  w.write(line(1));
  w.flush();
  clock.now += HOUR;
  w.maintain(); // rotates (interval 1 h)
  clock.now += HOUR + 1;
  w.maintain();
  t.same(ours(dir), [], 'the only file was deleted once all its records were older than maxAge');
});

t.test('a restart continues the newest file when it still fits, and ends a cut line first', async (t) => {
  const { dir, clock, w } = setup(t, { maxFileBytes: 1 << 20, maxFiles: 4, maxAgeMs: 24 * HOUR });
  w.open();
  w.write(line(1));
  w.close();
  const [name] = ours(dir);
  writeFileSync(join(dir, name!), '{"cut', { flag: 'a' }); // a crash in the middle of a line
  clock.now += HOUR;
  const w2 = new RotatingRecordWriter(dir, w.limits, { now: () => clock.now, flushBytes: 1, flushIntervalMs: 3600_000 });
  w2.open();
  w2.write(line(2));
  w2.close();
  t.same(ours(dir), [name], 'same file');
  t.same(readFileSync(join(dir, name!), 'utf8').split('\n'), [line(1).trimEnd(), '{"cut', line(2).trimEnd(), '']);

  clock.now += 6 * HOUR; // too old to continue
  const w3 = new RotatingRecordWriter(dir, w.limits, { now: () => clock.now, flushBytes: 1, flushIntervalMs: 3600_000 });
  w3.open();
  w3.write(line(3));
  w3.close();
  t.equal(ours(dir).length, 2, 'a new file');
});

t.test('restarts without records create no files (a crash loop cannot push records out)', async (t) => {
  const { dir, clock } = setup(t, { maxFileBytes: 1 << 20, maxFiles: 2, maxAgeMs: 24 * HOUR });
  const limits = { maxFileBytes: 1 << 20, maxFiles: 2, maxAgeMs: 24 * HOUR };
  const first = new RotatingRecordWriter(dir, limits, { now: () => clock.now, flushBytes: 1 });
  first.open();
  first.write(line(1));
  first.close();
  const files = ours(dir);
  clock.now += 12 * HOUR; // past the rotation interval: the next writer starts a new file when it writes
  for (let i = 0; i < 5; i++) {
    clock.now += 60_000;
    const w = new RotatingRecordWriter(dir, limits, { now: () => clock.now });
    w.open();
    w.close();
  }
  t.same(ours(dir), files);
  t.same(linesIn(dir), [line(1).trimEnd()]);
});

t.test('files that are not ours are never touched', async (t) => {
  const { dir, clock, w } = setup(t, { maxFileBytes: 1024, maxFiles: 1, maxAgeMs: HOUR });
  w.open();
  writeFileSync(join(dir, 'notes.txt'), 'keep me');
  writeFileSync(join(dir, 'snat-old.jsonl'), 'keep me too');
  for (let i = 0; i < 50; i++) w.write(line(i));
  clock.now += 2 * HOUR;
  w.maintain();
  t.ok(readdirSync(dir).includes('notes.txt'));
  t.ok(readdirSync(dir).includes('snat-old.jsonl'));
});

t.test('write failures are counted and reported, and writing resumes afterwards', async (t) => {
  const dir = join(t.testdir(), 'records');
  const errors: Error[] = [];
  writeFileSync(dir, 'a file where the directory should be'); // mkdir and open fail
  const w = new RotatingRecordWriter(dir, { maxFileBytes: 1 << 20, maxFiles: 2, maxAgeMs: HOUR }, { flushBytes: 1, onError: (e) => errors.push(e) });
  t.teardown(() => w.close());
  w.write(line(1));
  w.write(line(2));
  t.equal(w.dropped, 2);
  t.equal(w.written, 0);
  t.equal(errors.length, 2);
  t.match(errors[0]!.message, /writing 1 SNAT records to .*records: /);
  rmSync(dir);
  w.write(line(3));
  t.equal(w.written, 1, 'recovered once the directory could be created');
  t.same(linesIn(dir), [line(3).trimEnd()]);
});

t.test('limits are validated', async (t) => {
  t.throws(() => new RotatingRecordWriter('/tmp/x', { maxFileBytes: 10, maxFiles: 1, maxAgeMs: HOUR }), /maxFileBytes/);
  t.throws(() => new RotatingRecordWriter('/tmp/x', { maxFileBytes: 4096, maxFiles: 0, maxAgeMs: HOUR }), /maxFiles/);
  t.throws(() => new RotatingRecordWriter('/tmp/x', { maxFileBytes: 4096, maxFiles: 1, maxAgeMs: 0 }), /maxAgeMs/);
});

t.test('a rotation interval below 1 s (maxAgeMs / maxFiles) is refused, never 0', async (t) => {
  t.throws(() => new RotatingRecordWriter('/nonexistent', { maxFileBytes: 1 << 20, maxFiles: 10_000, maxAgeMs: 1000 }),
    /maxAgeMs \/ maxFiles must be at least 1000 ms/);
  t.throws(() => new RotatingRecordWriter('/nonexistent', { maxFileBytes: 1 << 20, maxFiles: 4, maxAgeMs: 3999 }), RangeError);
  t.equal(new RotatingRecordWriter('/nonexistent', { maxFileBytes: 1 << 20, maxFiles: 4, maxAgeMs: 4000 }).rotateIntervalMs, 1000);
});
