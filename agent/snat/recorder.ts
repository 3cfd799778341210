// The SNAT mapping recorder the daemon runs: conntrack events in, record lines out (files with
// rotation, optionally stdout), flow counts and loss counters for /status and /metrics.
import type { Logger } from '../lib/log.js';
import { readSysctl, writeSysctl } from '../dataplane/sysctl.js';
import { classifyFlow, localAddressSet, type IsLocalAddress } from './classify.js';
import type { SnatRecordsConfig } from './config.js';
import { ConntrackEventProcess, dumpConntrack } from './conntrack-process.js';
import { eventSocketBuffer, readEventSocket } from './event-socket.js';
import type { ConntrackParseError } from './conntrack-xml.js';
import { FlowCounts } from './flow-counts.js';
import { formatRecord, gapRecord, toRecord } from './record.js';
import { RotatingRecordWriter } from './rotating-writer.js';
import type { ConntrackEvent, GapRecord, RecordLine, SnatStatus } from './types.js';
import { guardedTimeout } from '../lib/guard.js';

export interface SysctlAccess {
  read(key: string): Promise<string | undefined>;
  write(key: string, value: string): Promise<void>;
}

export interface SnatRecorderDeps {
  logger: Logger;
  /** Where record lines go when config.stdout is set (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  isLocal?: IsLocalAddress;
  sysctl?: SysctlAccess;
  now?: () => number;
}

/**
 * Per-network-namespace sysctls the records need: byte/packet counters and kernel start/stop
 * times are only attached to flows created while these are on; events must not be disabled.
 */
const REQUIRED_SYSCTLS: { key: string; value: string; unless?: string[] }[] = [
  { key: 'net/netfilter/nf_conntrack_acct', value: '1' },
  { key: 'net/netfilter/nf_conntrack_timestamp', value: '1' },
  // 1 = on; 2 (newer kernels) = on while someone listens, which we do.
  { key: 'net/netfilter/nf_conntrack_events', value: '1', unless: ['1', '2'] },
];

const RESTART_BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];
/** Overflows are logged at most this often (a burst reports ENOBUFS many times). */
const OVERFLOW_LOG_INTERVAL_MS = 10_000;
/** Overflows within this window share one gap marker. */
const GAP_COALESCE_MS = 1000;
/** After lost events, resynchronise the flow counts once things calm down, at most this often. */
const RESYNC_MIN_INTERVAL_MS = 60_000;
const RESYNC_QUIET_MS = 5000;

export class SnatRecorder {
  private readonly writer: RotatingRecordWriter;
  private readonly process: ConntrackEventProcess;
  private readonly counts = new FlowCounts();
  private readonly isLocal: IsLocalAddress;
  private readonly sysctl: SysctlAccess;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly stdout: NodeJS.WritableStream | null;
  private running = false;
  private stopped = false;
  private socketBufferBytes: number | null = null;
  /** Event-socket drops of earlier conntrack processes, and the last count read from the current one. */
  private dropsBefore = 0;
  private dropsNow: number | null = null;
  private eventsReceived = 0;
  private overflows = 0;
  private lastOverflowAt: number | null = null;
  private overflowsSinceLog = 0;
  private lastOverflowLogAt = -Infinity;
  private parseErrors = 0;
  private restarts = 0;
  private lastError: string | null = null;
  private lastErrorLogAt = -Infinity;
  private pendingGap: { reason: GapRecord['reason']; first: number; last: number; count: number } | null = null;
  private gapTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private lastResyncAt = -Infinity;
  private resyncRunning: Promise<void> | null = null;

  constructor(readonly config: SnatRecordsConfig, deps: SnatRecorderDeps) {
    this.log = deps.logger.child({ component: 'snat-records' });
    this.now = deps.now ?? Date.now;
    this.isLocal = deps.isLocal ?? localAddressSet();
    this.sysctl = deps.sysctl ?? { read: readSysctl, write: writeSysctl };
    this.stdout = config.stdout ? (deps.stdout ?? process.stdout) : null;
    this.writer = new RotatingRecordWriter(config.dir, config, {
      now: this.now,
      onError: (err) => this.fail(err.message),
    });
    this.process = new ConntrackEventProcess(
      { command: config.conntrackCommand, bufferBytes: config.socketBufferBytes },
      {
        onEvent: (ev, at) => this.onEvent(ev, at),
        onParseError: (err) => this.onParseError(err),
        onOverflow: () => this.onOverflow(),
        onExit: (reason) => this.onProcessExit(reason),
      },
    );
  }

  /** Sets the sysctls, opens the record directory, subscribes to conntrack events and counts the flows already there. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.ensureSysctls();
    try {
      this.writer.open();
      await this.process.start();
    } catch (err) {
      this.writer.close();
      this.lastError = (err as Error).message;
      throw new Error(`SNAT records: ${(err as Error).message}`, { cause: err });
    }
    this.running = true;
    await this.inspectEventSocket();
    this.log.info({ dir: this.config.dir, socketBufferBytes: this.socketBufferBytes, command: this.config.conntrackCommand }, 'recording SNAT mappings from conntrack events');
    // Counting the flows already in the table can take a while on a big table: not on the start path.
    void this.resync('start');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.restartTimer, this.resyncTimer, this.gapTimer]) if (t) clearTimeout(t);
    this.restartTimer = this.resyncTimer = this.gapTimer = null;
    await this.process.stop();
    await this.resyncRunning;
    this.running = false;
    this.flushGap();
    this.writer.close();
  }

  status(): SnatStatus {
    this.readDrops();
    return {
      running: this.running,
      dir: this.config.dir,
      currentFile: this.writer.currentFile,
      socketBufferBytes: this.socketBufferBytes,
      eventsDropped: this.dropsNow === null && this.dropsBefore === 0 ? null : this.dropsBefore + (this.dropsNow ?? 0),
      eventsReceived: this.eventsReceived,
      recordsWritten: this.writer.written,
      recordsDropped: this.writer.dropped,
      overflows: this.overflows,
      lastOverflowAt: this.lastOverflowAt === null ? null : new Date(this.lastOverflowAt).toISOString(),
      parseErrors: this.parseErrors,
      restarts: this.restarts,
      lastError: this.lastError,
      flows: this.counts.current(),
      flowsStarted: { ...this.counts.started },
    };
  }

  /**
   * Finds the event socket of the conntrack process and asks the kernel for its real buffer: warn
   * when it is smaller than configured (conntrack-tools applies --buffer-size to another socket).
   */
  private async inspectEventSocket(): Promise<void> {
    const pid = this.process.pid;
    const sock = pid === undefined ? undefined : readEventSocket(pid);
    this.dropsNow = sock ? sock.drops : null;
    this.socketBufferBytes = sock ? ((await eventSocketBuffer(sock.portid).catch(() => undefined)) ?? null) : null;
    if (this.socketBufferBytes !== null && this.socketBufferBytes < this.config.socketBufferBytes) {
      this.log.warn(
        { socketBufferBytes: this.socketBufferBytes, requested: this.config.socketBufferBytes },
        'the conntrack event socket did not get the configured buffer (conntrack-tools sets --buffer-size on another socket; ' +
          'the event socket has the node\'s net.core.rmem_default): bursts of new flows may overflow it',
      );
    }
  }

  /** The kernel's drop counter of the current event socket (cheap: one small /proc read). */
  private readDrops(): void {
    const pid = this.process.pid;
    if (pid === undefined || !this.running) return;
    const sock = readEventSocket(pid);
    if (sock) this.dropsNow = sock.drops;
  }

  private async ensureSysctls(): Promise<void> {
    for (const s of REQUIRED_SYSCTLS) {
      try {
        const current = await this.sysctl.read(s.key);
        if (current === undefined) throw new Error('not present (is nf_conntrack available in this kernel?)');
        if (current === s.value || s.unless?.includes(current)) continue;
        await this.sysctl.write(s.key, s.value);
        this.log.info({ sysctl: s.key, from: current, to: s.value }, 'set sysctl for SNAT records');
      } catch (err) {
        // Records still work without counters/timestamps; say what will be missing.
        this.log.warn({ sysctl: s.key, err: (err as Error).message }, 'could not set sysctl: SNAT records may lack counters, kernel timestamps or events');
      }
    }
  }

  private emit(r: RecordLine): void {
    const line = formatRecord(r);
    this.writer.write(line);
    this.stdout?.write(line);
  }

  private onEvent(ev: ConntrackEvent, receivedAt: number): void {
    this.eventsReceived++;
    const cls = classifyFlow(ev, this.isLocal);
    if (ev.type === 'new') {
      this.counts.onNew(ev.id, cls);
      if (cls === 'snat' && this.config.recordStart) this.emit(toRecord(ev, receivedAt));
    } else if (ev.type === 'destroy') {
      this.counts.onDestroy(ev.id, cls);
      if (cls === 'snat') this.emit(toRecord(ev, receivedAt));
    }
  }

  private onParseError(err: ConntrackParseError): void {
    this.parseErrors++;
    if (this.parseErrors <= 10 || this.parseErrors % 1000 === 0) this.log.warn({ err: err.message, parseErrors: this.parseErrors }, 'unparsable conntrack event line');
  }

  private onOverflow(): void {
    const now = this.now();
    this.overflows++;
    this.lastOverflowAt = now;
    this.overflowsSinceLog++;
    if (now - this.lastOverflowLogAt >= OVERFLOW_LOG_INTERVAL_MS) {
      this.readDrops();
      this.log.warn(
        { overflows: this.overflowsSinceLog, total: this.overflows, eventsDropped: this.dropsBefore + (this.dropsNow ?? 0), socketBufferBytes: this.socketBufferBytes },
        'conntrack event queue overflowed (ENOBUFS): SNAT records were lost; raise the socket buffer if this repeats',
      );
      this.overflowsSinceLog = 0;
      this.lastOverflowLogAt = now;
    }
    this.noteGap('overflow', now);
    this.scheduleResync();
  }

  private noteGap(reason: GapRecord['reason'], at: number): void {
    if (this.pendingGap && this.pendingGap.reason === reason) {
      this.pendingGap.last = at;
      this.pendingGap.count++;
      return;
    }
    this.flushGap();
    this.pendingGap = { reason, first: at, last: at, count: 1 };
    this.gapTimer = guardedTimeout('snat records: gap record', () => this.flushGap(), GAP_COALESCE_MS);
    this.gapTimer.unref();
  }

  private flushGap(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    const g = this.pendingGap;
    this.pendingGap = null;
    if (g) this.emit(gapRecord(g.reason, g.first, g.last, g.count));
  }

  private onProcessExit(reason: string): void {
    this.running = false;
    this.dropsBefore += this.dropsNow ?? 0;
    this.dropsNow = null;
    this.restarts++;
    this.fail(`conntrack event process ended: ${reason}`);
    this.noteGap('restart', this.now());
    this.scheduleRestart(0);
  }

  private scheduleRestart(attempt: number): void {
    if (this.stopped) return;
    const delay = RESTART_BACKOFF_MS[Math.min(attempt, RESTART_BACKOFF_MS.length - 1)]!;
    this.restartTimer = guardedTimeout('snat records: conntrack restart', () => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.process.start().then(
        async () => {
          this.running = true;
          await this.inspectEventSocket();
          this.log.info({ attempt: attempt + 1 }, 'conntrack event process restarted');
          void this.resync('restart');
        },
        (err: Error) => {
          this.fail(`restarting the conntrack event process: ${err.message}`);
          this.scheduleRestart(attempt + 1);
        },
      );
    }, delay);
    this.restartTimer.unref();
  }

  /** After lost events the flow counts drift; recount from a dump once the burst has calmed. */
  private scheduleResync(): void {
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    const wait = Math.max(RESYNC_QUIET_MS, this.lastResyncAt + RESYNC_MIN_INTERVAL_MS - this.now());
    this.resyncTimer = guardedTimeout('snat records: resync', () => {
      this.resyncTimer = null;
      return this.resync('overflow');
    }, wait);
    this.resyncTimer.unref();
  }

  private async resync(trigger: string): Promise<void> {
    if (this.resyncRunning || this.stopped) return;
    this.lastResyncAt = this.now();
    this.counts.beginResync();
    const run = dumpConntrack(
      (ev) => this.counts.onDumped(ev.id, classifyFlow(ev, this.isLocal)),
      (err) => this.onParseError(err),
      this.config.conntrackCommand,
    ).then(
      () => {
        if (this.counts.abandoned) {
          this.log.warn({ trigger }, 'flow count resync abandoned: too many events while the table was dumped; counts stay event-tracked');
          return;
        }
        this.counts.endResync();
        this.log.debug({ trigger, flows: this.counts.current() }, 'flow counts resynchronised from the conntrack table');
      },
      (err: Error) => {
        this.counts.abortResync();
        this.fail(`counting flows from the conntrack table: ${err.message}`);
      },
    );
    this.resyncRunning = run;
    await run;
    this.resyncRunning = null;
  }

  /** Records the error for status; logs it unless the same error was logged in the last 10 s (disk full repeats per batch). */
  private fail(message: string): void {
    const now = this.now();
    if (message !== this.lastError || now - this.lastErrorLogAt >= OVERFLOW_LOG_INTERVAL_MS) {
      this.log.error({ err: message }, 'SNAT records');
      this.lastErrorLogAt = now;
    }
    this.lastError = message;
  }
}
