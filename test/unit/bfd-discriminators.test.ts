import t from 'tap';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assignDiscriminators, hashedDiscriminator } from '../../agent/bfd/discriminators.js';
import { pairKey } from '../../agent/bfd/sessions.js';

const pairs = [
  { local: '10.16.0.11', remote: '10.255.255.255' },
  { local: 'fd00:10:16::11', remote: 'fdff::1' },
];

t.test('assigned once, persisted, and the same after a restart', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'state', 'discr.json');
  const first = await assignDiscriminators(file, pairs);
  t.equal(first.persisted, true);
  t.same(first.warnings, []);
  const values = [...first.discriminators.values()];
  t.equal(values.length, 2);
  t.ok(values.every((v) => Number.isInteger(v) && v >= 1 && v <= 0xffffffff), 'non-zero uint32');
  t.not(values[0], values[1], 'unique');
  const doc = JSON.parse(await readFile(file, 'utf8'));
  t.equal(doc.version, 1);
  t.equal(doc.discriminators[pairKey(pairs[0]!)], values[0]);
  const again = await assignDiscriminators(file, pairs);
  t.same([...again.discriminators], [...first.discriminators], 'stable across restarts');
});

t.test('a pair that goes away and comes back keeps its discriminator', async (t) => {
  const file = path.join(t.testdir(), 'discr.json');
  const first = await assignDiscriminators(file, pairs);
  await assignDiscriminators(file, [pairs[1]!]);
  const back = await assignDiscriminators(file, pairs);
  t.equal(back.discriminators.get(pairKey(pairs[0]!)), first.discriminators.get(pairKey(pairs[0]!)));
});

t.test('corrupt file: warning, fresh discriminators, file rewritten', async (t) => {
  const file = path.join(t.testdir(), 'discr.json');
  await writeFile(file, '{not json');
  const r = await assignDiscriminators(file, pairs);
  t.equal(r.persisted, true);
  t.match(r.warnings[0], /is not a valid discriminator file/);
  t.equal(r.discriminators.size, 2);
  t.equal(JSON.parse(await readFile(file, 'utf8')).version, 1);
});

t.test('invalid and duplicate entries are ignored, valid ones kept', async (t) => {
  const file = path.join(t.testdir(), 'discr.json');
  const [a, b] = pairs.map(pairKey) as [string, string];
  await writeFile(file, JSON.stringify({ version: 1, discriminators: { [a]: 5, [b]: 5, x: 0 } }));
  const r = await assignDiscriminators(file, pairs);
  t.equal(r.discriminators.get(a), 5);
  t.not(r.discriminators.get(b), 5, 'duplicate replaced');
  t.equal(r.warnings.length, 2);
});

t.test('unwritable location: deterministic hashes, not persisted', async (t) => {
  const dir = t.testdir();
  // A regular file where a directory is needed makes the write fail even for root.
  await writeFile(path.join(dir, 'blocker'), '');
  const file = path.join(dir, 'blocker', 'discr.json');
  const r1 = await assignDiscriminators(file, pairs);
  t.equal(r1.persisted, false);
  t.match(r1.warnings.join('\n'), /cannot write .*derived from the addresses/);
  const r2 = await assignDiscriminators(file, [...pairs].reverse());
  t.same([...r1.discriminators].sort(), [...r2.discriminators].sort(), 'same values on every start');
  t.equal(r1.discriminators.get(pairKey(pairs[0]!)), hashedDiscriminator(pairs[0]!));
});

t.test('hash fallback stays unique when hashes collide with stored values', async (t) => {
  const file = path.join(t.testdir(), 'discr.json');
  const taken = hashedDiscriminator(pairs[1]!);
  await writeFile(file, JSON.stringify({ version: 1, discriminators: { 'other|pair': taken } }));
  // The file stays readable, but the temporary file cannot be created (a directory is in the way).
  await mkdir(`${file}.tmp-${process.pid}`);
  const r = await assignDiscriminators(file, pairs);
  t.equal(r.persisted, false);
  t.equal(r.discriminators.get(pairKey(pairs[0]!)), hashedDiscriminator(pairs[0]!));
  t.equal(r.discriminators.get(pairKey(pairs[1]!)), hashedDiscriminator(pairs[1]!, 1), 'collision moved on');
  t.same(JSON.parse(await readFile(file, 'utf8')).discriminators, { 'other|pair': taken }, 'file untouched');
});

t.test('hashedDiscriminator is deterministic and non-zero', async (t) => {
  t.equal(hashedDiscriminator(pairs[0]!), hashedDiscriminator({ ...pairs[0]! }));
  t.not(hashedDiscriminator(pairs[0]!), hashedDiscriminator(pairs[0]!, 1));
  t.ok(hashedDiscriminator(pairs[0]!) > 0);
});
