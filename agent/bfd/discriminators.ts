// Local discriminators that stay the same across agent restarts, so a peer that still holds our
// old discriminator (OVN keeps sending it after a timeout, OVN-04, docs/bfd-requirements.md) reaches the restarted
// session at once. Persisted as JSON (written atomically); when the file cannot be written, new
// ones are derived from a hash of (local, remote), which is just as stable.
import { createHash, randomInt } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pairKey, type SessionPair } from './sessions.js';

const FILE_VERSION = 1;
const MAX_DISCR = 0xffffffff;

export interface DiscriminatorResult {
  /** pairKey(local, remote) -> discriminator, for every requested pair; unique and non-zero. */
  discriminators: Map<string, number>;
  /** Whether the file now holds every returned discriminator. */
  persisted: boolean;
  /** Problems met on the way (unreadable or corrupt file, write failure), for the log. */
  warnings: string[];
}

const validDiscr = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_DISCR;

/** Deterministic, non-zero; `salt` moves past a collision. */
export function hashedDiscriminator(pair: SessionPair, salt = 0): number {
  const h = createHash('sha256').update(`${pair.local}|${pair.remote}|${salt}`).digest();
  return h.readUInt32BE(0) || 1;
}

async function readStore(file: string, warnings: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`cannot read ${file}: ${(e as Error).message}`);
    return out;
  }
  try {
    const doc = JSON.parse(text) as { version?: unknown; discriminators?: Record<string, unknown> };
    if (doc.version !== FILE_VERSION || typeof doc.discriminators !== 'object' || doc.discriminators === null)
      throw new Error(`expected {"version":${FILE_VERSION},"discriminators":{...}}`);
    const used = new Set<number>();
    for (const [k, v] of Object.entries(doc.discriminators)) {
      if (!validDiscr(v) || used.has(v)) {
        warnings.push(`${file}: ignoring invalid or duplicate discriminator for ${k}`);
        continue;
      }
      used.add(v);
      out.set(k, v);
    }
  } catch (e) {
    warnings.push(`${file} is not a valid discriminator file, starting afresh: ${(e as Error).message}`);
  }
  return out;
}

async function writeAtomically(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Discriminators for `pairs`: the persisted ones where present, new random ones otherwise (saved
 * to `file`); if saving fails, the new ones are hashes of their pair instead. Entries of pairs no
 * longer expected are kept, so a pair that comes back gets its old discriminator.
 */
export async function assignDiscriminators(file: string, pairs: readonly SessionPair[]): Promise<DiscriminatorResult> {
  const warnings: string[] = [];
  const stored = await readStore(file, warnings);
  const used = new Set(stored.values());
  const fresh: SessionPair[] = pairs.filter((p) => !stored.has(pairKey(p)));
  const result = new Map<string, number>();
  for (const p of pairs) if (stored.has(pairKey(p))) result.set(pairKey(p), stored.get(pairKey(p))!);
  if (fresh.length === 0) return { discriminators: result, persisted: true, warnings };

  const random = new Map<string, number>();
  for (const p of fresh) {
    let d: number;
    do d = randomInt(1, MAX_DISCR + 1);
    while (used.has(d));
    used.add(d);
    random.set(pairKey(p), d);
  }
  const all = new Map([...stored, ...random]);
  try {
    const doc = { version: FILE_VERSION, discriminators: Object.fromEntries([...all].sort(([a], [b]) => a.localeCompare(b))) };
    await writeAtomically(file, JSON.stringify(doc, null, 2) + '\n');
    for (const [k, v] of random) result.set(k, v);
    return { discriminators: result, persisted: true, warnings };
  } catch (e) {
    warnings.push(`cannot write ${file} (${(e as Error).message}): using discriminators derived from the addresses`);
  }
  // Hash fallback, deterministic for the same pairs: sorted so collisions resolve the same way.
  const taken = new Set(stored.values());
  for (const p of [...fresh].sort((a, b) => pairKey(a).localeCompare(pairKey(b)))) {
    let salt = 0;
    let d = hashedDiscriminator(p);
    while (taken.has(d)) d = hashedDiscriminator(p, ++salt);
    taken.add(d);
    result.set(pairKey(p), d);
  }
  return { discriminators: result, persisted: false, warnings };
}
