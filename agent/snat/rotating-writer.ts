// Appends record lines to the newest file of the record directory, rotating by size and age and
// deleting the oldest files, so the directory never holds more than maxFiles x maxFileBytes and no
// record older than maxAgeMs.
//
// Writes are synchronous and batched (one write per flushBytes or flushIntervalMs): rotation then
// happens between two writes with nothing in flight, and a burst costs one syscall per batch. A
// crash loses at most one flush interval of records.
import { closeSync, fstatSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { listRecordFilesSync, recordFileName } from './record-files.js';
import { guardedInterval } from '../lib/guard.js';
import { DEFAULT_ROTATION, MIN_ROTATE_INTERVAL_MS, type RotationLimits } from '../config/snat-records.js';

export interface WriterOptions {
  now?: () => number;
  flushBytes?: number;
  flushIntervalMs?: number;
  /** Called for every failed write or delete (the writer keeps going). */
  onError?: (err: Error) => void;
}

interface OpenFile {
  fd: number;
  path: string;
  createdMs: number;
  bytes: number;
}

export class RotatingRecordWriter {
  private file: OpenFile | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingLines = 0;
  private lastCreatedMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly flushBytes: number;
  private readonly flushIntervalMs: number;
  private readonly onError: (err: Error) => void;
  /** Lines accepted and written to a file. */
  written = 0;
  /** Lines lost because a write failed. */
  dropped = 0;

  constructor(readonly dir: string, readonly limits: RotationLimits = DEFAULT_ROTATION, opts: WriterOptions = {}) {
    if (!(limits.maxFileBytes >= 1024)) throw new RangeError(`maxFileBytes must be at least 1024, got ${limits.maxFileBytes}`);
    if (!(Number.isInteger(limits.maxFiles) && limits.maxFiles >= 1)) throw new RangeError(`maxFiles must be an integer >= 1, got ${limits.maxFiles}`);
    if (!(limits.maxAgeMs >= 1000)) throw new RangeError(`maxAgeMs must be at least 1000, got ${limits.maxAgeMs}`);
    // Below 1 s (rounded down to 0) every record would start a new file.
    if (!(limits.maxAgeMs / limits.maxFiles >= MIN_ROTATE_INTERVAL_MS)) {
      throw new RangeError(`maxAgeMs / maxFiles must be at least ${MIN_ROTATE_INTERVAL_MS} ms (the rotation interval), got ${limits.maxAgeMs} / ${limits.maxFiles}`);
    }
    this.now = opts.now ?? Date.now;
    this.flushBytes = opts.flushBytes ?? 64 * 1024;
    this.flushIntervalMs = opts.flushIntervalMs ?? 250;
    this.onError = opts.onError ?? (() => {});
  }

  /** Age at which the file being written is rotated. */
  get rotateIntervalMs(): number {
    return Math.floor(this.limits.maxAgeMs / this.limits.maxFiles);
  }

  get currentFile(): string | null {
    return this.file?.path ?? null;
  }

  /** Creates the directory, prunes what the limits no longer allow, and continues the newest file if it still fits. */
  open(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    const newest = listRecordFilesSync(this.dir)[0];
    if (newest) {
      this.lastCreatedMs = newest.createdMs;
      if (this.now() - newest.createdMs < this.rotateIntervalMs) this.continueFile(newest.path, newest.createdMs);
    }
    this.prune();
    this.timer = guardedInterval('snat records: file maintenance', () => this.maintain(), Math.min(this.flushIntervalMs, this.rotateIntervalMs));
    this.timer.unref();
  }

  write(line: string): void {
    this.writeLines(Buffer.from(line), 1);
  }

  /**
   * `count` whole lines at once (a batch formatted natively). They stay together in one file, which
   * may then exceed maxFileBytes by less than one batch.
   */
  writeLines(data: Buffer, count: number): void {
    if (count === 0) return;
    const inFile = (this.file?.bytes ?? 0) + this.pendingBytes;
    if (inFile > 0 && inFile + data.length > this.limits.maxFileBytes) this.rotate();
    this.pending.push(data);
    this.pendingBytes += data.length;
    this.pendingLines += count;
    if (this.pendingBytes >= this.flushBytes) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const lines = this.pendingLines;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingLines = 0;
    try {
      const f = this.file ?? this.createFile();
      let off = 0;
      while (off < buf.length) off += writeSync(f.fd, buf, off);
      f.bytes += buf.length;
      this.written += lines;
    } catch (err) {
      this.dropped += lines;
      this.closeFile(); // the next flush starts a fresh file (e.g. after the directory was removed)
      this.onError(new Error(`writing ${lines} SNAT records to ${this.dir}: ${(err as Error).message}`, { cause: err }));
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.flush();
    this.closeFile();
  }

  /** Runs periodically: flushes the batch, rotates a file that reached its age, deletes expired files. */
  maintain(): void {
    this.flush();
    if (this.file && this.now() - this.file.createdMs >= this.rotateIntervalMs) this.rotate();
    else this.prune();
  }

  private rotate(): void {
    this.flush();
    this.closeFile();
    this.prune();
  }

  private createFile(): OpenFile {
    // Strictly increasing creation times keep names unique and ordered even within one ms.
    const createdMs = Math.max(this.now(), this.lastCreatedMs + 1);
    const path = join(this.dir, recordFileName(createdMs));
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    const fd = openSync(path, 'wx', 0o640);
    this.lastCreatedMs = createdMs;
    this.file = { fd, path, createdMs, bytes: 0 };
    this.prune(); // a new file may push the oldest one over maxFiles
    return this.file;
  }

  private continueFile(path: string, createdMs: number): void {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'a+');
      const size = fstatSync(fd).size;
      if (size >= this.limits.maxFileBytes) {
        closeSync(fd);
        return;
      }
      // A crash can leave half a line; end it so the next record starts on its own line.
      let bytes = size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) bytes += writeSync(fd, '\n');
      }
      this.file = { fd, path, createdMs, bytes };
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      this.onError(new Error(`continuing record file ${path}: ${(err as Error).message}`, { cause: err }));
    }
  }

  private closeFile(): void {
    if (!this.file) return;
    try {
      closeSync(this.file.fd);
    } catch {
      // already unusable; nothing more to release
    }
    this.file = null;
  }

  /** Deletes our files beyond maxFiles (oldest first) and those older than maxAgeMs; never the open file. */
  private prune(): void {
    let files;
    try {
      files = listRecordFilesSync(this.dir);
    } catch (err) {
      this.onError(err as Error);
      return;
    }
    const expiredBefore = this.now() - this.limits.maxAgeMs;
    files.forEach((f, i) => {
      if (f.path === this.file?.path) return;
      if (i < this.limits.maxFiles && f.createdMs > expiredBefore) return;
      try {
        unlinkSync(f.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(new Error(`deleting record file ${f.path}: ${(err as Error).message}`, { cause: err }));
      }
    });
  }
}
