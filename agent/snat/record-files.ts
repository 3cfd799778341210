// The record directory: naming and listing of record files, shared by the writer and lookups.
// A file is named after the moment it was created (UTC, ms), so name order is age order and the
// creation time survives restarts: snat-20261126T031200.000Z.jsonl
import { readdirSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const NAME = /^snat-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z\.jsonl$/;

export interface RecordFile {
  name: string;
  path: string;
  /** Creation time (ms since the epoch) from the name. */
  createdMs: number;
}

export function recordFileName(createdMs: number): string {
  const iso = new Date(createdMs).toISOString(); // 2026-11-26T03:12:00.000Z
  return `snat-${iso.replace(/[-:]/g, '')}.jsonl`;
}

/** Creation time encoded in a record file name, or undefined when the name is not ours. */
export function recordFileCreatedMs(name: string): number | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  return Number.isNaN(t) ? undefined : t;
}

function recordFilesFrom(dir: string, names: string[]): RecordFile[] {
  const files: RecordFile[] = [];
  for (const name of names) {
    const createdMs = recordFileCreatedMs(name);
    if (createdMs !== undefined) files.push({ name, path: join(dir, name), createdMs });
  }
  return files.sort((a, b) => b.createdMs - a.createdMs);
}

function missingDir(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The record files in `dir`, newest first. Other files in the directory are ignored (and never touched). */
export async function listRecordFiles(dir: string): Promise<RecordFile[]> {
  try {
    return recordFilesFrom(dir, await readdir(dir));
  } catch (err) {
    if (missingDir(err)) return [];
    throw new Error(`record directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** listRecordFiles for the writer, which rotates synchronously between two writes. */
export function listRecordFilesSync(dir: string): RecordFile[] {
  try {
    return recordFilesFrom(dir, readdirSync(dir));
  } catch (err) {
    if (missingDir(err)) return [];
    throw new Error(`record directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** Total size of the record files (for status and tests of the disk bound). */
export async function recordFilesBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await listRecordFiles(dir)) total += (await stat(f.path)).size;
  return total;
}
