// The SNAT mapping recorder the daemon runs: conntrack events in, record lines out (files with
// rotation, optionally stdout), flow counts, SNAT port capacity and loss counters for /status and
// /metrics.
import type { Logger } from '../lib/log.js';
import { readSysctl, writeSysctl } from '../dataplane/sysctl.js';
import { classifyFlow, localAddressSet, type IsLocalAddress } from './classify.js';
import type { SnatRecordsConfig } from '../config/snat-records.js';
import { ConntrackEventProcess } from './conntrack-process.js';
import {
  decodeRecord, dumpConntrack, formatSnatLines, NetlinkConntrackEvents, RECORD_BYTES, recordId, recordPortKey, recordTranslatedPort, recordType,
  type ConntrackEventHandlers, type ConntrackEventSource, type OpenConntrackReader,
} from './ct-netlink.js';
import { FlowCounts } from './flow-counts.js';
import { flowIdentity, SnatPorts, type PortKey } from './port-capacity.js';
import { readSnatPortRange, rangeSize, type PortRange } from './port-range.js';
import { formatRecord, gapRecord, toRecord } from './record.js';
import { RotatingRecordWriter } from './rotating-writer.js';
import type { ConntrackEvent, GapRecord, RecordLine, SnatStatus } from './types.js';
import { guardedInterval, guardedTimeout } from '../lib/guard.js';

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
  /** The SNAT rule's port range (default: read from iptables-save at start and every minute). */
  portRange?: () => Promise<PortRange>;
  /** The table dump (default: the addon's, synchronous). */
  dump?: typeof dumpConntrack;
  /** The netlink event socket (default: the addon's reader); tests pass a fake. */
  openConntrackReader?: OpenConntrackReader;
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

/** Port keys in status and metrics: the tightest ones (a key per destination would be unbounded). */
const PORT_KEYS_REPORTED = 20;
const RESTART_BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];
/** Overflows are logged at most this often (a burst reports ENOBUFS many times). */
const OVERFLOW_LOG_INTERVAL_MS = 10_000;
/** Overflows within this window share one gap marker. */
const GAP_COALESCE_MS = 1000;
/**
 * After lost events, a table dump recovers the flows whose NEW was lost (while they last: short
 * flows may be gone) and corrects the counts. The dump blocks the event loop (a big table takes
 * hundreds of ms, while events queue), so it waits until a second passed without a new loss, and
 * runs at most every 10 s: under sustained overload it would only add to the loss.
 */
const RESYNC_QUIET_MS = 1000;
const RESYNC_MIN_INTERVAL_MS = 10_000;
/** Port capacity warnings for one key are repeated at most this often. */
const PORT_WARN_INTERVAL_MS = 60_000;
const PORT_RANGE_REFRESH_MS = 60_000;

/** `buf` without the ranges [skip[0], skip[1]), [skip[2], skip[3]), ... (in order, not overlapping). */
function keptRanges(buf: Buffer, skip: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < skip.length; i += 2) {
    parts.push(buf.subarray(at, skip[i]));
    at = skip[i + 1]!;
  }
  parts.push(buf.subarray(at));
  return parts;
}

export class SnatRecorder {
  private readonly writer: RotatingRecordWriter;
  private readonly source: ConntrackEventSource;
  private readonly counts = new FlowCounts();
  private readonly ports = new SnatPorts(rangeSize({ min: 1024, max: 65535 }));
  private readonly portRange: () => Promise<PortRange>;
  private readonly dump: typeof dumpConntrack;
  private portRangeTimer: NodeJS.Timeout | null = null;
  private readonly portWarnedAt = new Map<PortKey, number>();
  private portWarnings = 0;
  private recovered = 0;
  private resyncPending = false;
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
    this.portRange = deps.portRange ?? readSnatPortRange;
    this.dump = deps.dump ?? dumpConntrack;
    const handlers: ConntrackEventHandlers = {
      onEvent: (ev, at) => this.onEvent(ev, at),
      onRecords: (records, at) => this.onRecords(records, at),
      onParseError: (message, count) => this.onParseError(message, count),
      onOverflow: (reports) => this.onOverflow(reports),
      onBatchEnd: () => this.onBatchEnd(),
      onExit: (reason) => this.onProcessExit(reason),
    };
    this.source = config.eventSource === 'conntrack-tool'
      ? new ConntrackEventProcess({ command: config.conntrackCommand, bufferBytes: config.socketBufferBytes }, handlers)
      : new NetlinkConntrackEvents(config.socketBufferBytes, handlers, { open: deps.openConntrackReader });
  }

  /** Sets the sysctls, opens the record directory, subscribes to conntrack events and counts the flows already there. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.ensureSysctls();
    try {
      this.writer.open();
      await this.refreshPortRange();
      await this.source.start();
    } catch (err) {
      this.writer.close();
      this.lastError = (err as Error).message;
      throw new Error(`SNAT records: ${(err as Error).message}`, { cause: err });
    }
    this.running = true;
    await this.inspectEventSocket();
    this.log.info({ dir: this.config.dir, socketBufferBytes: this.socketBufferBytes, eventSource: this.config.eventSource, portRange: this.ports.range },
      'recording SNAT mappings from conntrack events');
    // The flows already in the table (no records: they predate us, their starts were not lost).
    this.resync('start');
    this.portRangeTimer = guardedInterval('snat records: port range refresh', () => this.refreshPortRange(), PORT_RANGE_REFRESH_MS);
    this.portRangeTimer.unref();
  }

  private async refreshPortRange(): Promise<void> {
    try {
      this.ports.setRange(rangeSize(await this.portRange()));
    } catch (err) {
      this.fail(`reading the SNAT port range: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.restartTimer, this.resyncTimer, this.gapTimer, this.portRangeTimer]) if (t) clearTimeout(t);
    this.restartTimer = this.resyncTimer = this.gapTimer = this.portRangeTimer = null;
    await this.source.stop();
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
      recovered: this.recovered,
      ports: this.portStatus(),
    };
  }

  /** The tightest SNAT port keys (the metrics export these, not every key). */
  private portStatus(): SnatStatus['ports'] {
    const top = this.ports.usage(PORT_KEYS_REPORTED);
    return { range: this.ports.range, warnRatio: this.config.portWarnRatio, warnings: this.portWarnings, tightest: top };
  }

  /** Asks the kernel for the event socket's real buffer: warn when it is smaller than configured. */
  private async inspectEventSocket(): Promise<void> {
    const sock = await this.source.socket();
    this.dropsNow = sock.drops;
    this.socketBufferBytes = sock.bufferBytes;
    // The kernel doubles the request (SO_RCVBUF bookkeeping): less than the request means it was capped.
    if (this.socketBufferBytes !== null && this.socketBufferBytes < this.config.socketBufferBytes) {
      this.log.warn(
        { socketBufferBytes: this.socketBufferBytes, requested: this.config.socketBufferBytes, eventSource: this.config.eventSource },
        'the conntrack event socket did not get the configured buffer (no CAP_NET_ADMIN for SO_RCVBUFFORCE, or conntrack-tools, ' +
          'which sets --buffer-size on another socket): bursts of new flows may overflow it',
      );
    }
  }

  /** The kernel's drop counter of the current event socket (cheap: one getsockopt or /proc read). */
  private readDrops(): void {
    if (!this.running) return;
    const d = this.source.drops();
    if (d !== null) this.dropsNow = d;
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
      const key = cls === 'snat' ? this.ports.onNew(ev) : null;
      if (key === undefined) {
        // Recovered from a dump already (its start record is written): the NEW was only queued
        // behind the dump, not lost. Started, but already counted as current.
        this.counts.started.snat++;
        this.recovered--;
        return;
      }
      this.counts.onNew(ev.id, cls);
      if (cls !== 'snat') return;
      if (this.config.recordStart) this.emit(toRecord(ev, receivedAt));
      if (key) this.checkPorts(key, receivedAt);
    } else if (ev.type === 'destroy') {
      this.counts.onDestroy(ev.id, cls);
      if (cls !== 'snat') return;
      this.ports.onDestroy(ev);
      this.emit(toRecord(ev, receivedAt));
    }
  }

  /**
   * A batch from the netlink reader: its SNAT lines are formatted in C++ and written as one buffer;
   * per record, JS only updates the flow counts and port keys (from a few fields read in place).
   * Records that are not SNAT (rare on a gateway) take the general path.
   */
  private onRecords(records: Buffer, receivedAt: number): void {
    const { lines, snat, ends } = formatSnatLines(records, receivedAt, this.config.recordStart);
    // Line ranges [from, to) of records whose line must not be written (their flow was recovered from a dump).
    let skipped: number[] | null = null;
    let count = 0;
    for (let i = 0, o = 0; o < records.length; i++, o += RECORD_BYTES) {
      const lineEnd = ends[i]!;
      const lineStart = i === 0 ? 0 : ends[i - 1]!;
      if (lineEnd > lineStart) count++;
      if (!snat[i]) {
        this.onEvent(decodeRecord(records, o), receivedAt);
        continue;
      }
      this.eventsReceived++;
      const type = recordType(records, o);
      const id = recordId(records, o);
      if (type === 'new') {
        const key = this.ports.onNewFlow(flowIdentity(id, recordTranslatedPort(records, o)), recordPortKey(records, o));
        if (key === undefined) {
          this.counts.started.snat++;
          this.recovered--;
          if (lineEnd > lineStart) (skipped ??= []).push(lineStart, lineEnd), count--;
          continue;
        }
        this.counts.onNew(id, 'snat');
        if (key) this.checkPorts(key, receivedAt);
      } else if (type === 'destroy') {
        this.counts.onDestroy(id, 'snat');
        this.ports.onDestroyFlow(flowIdentity(id, recordTranslatedPort(records, o)));
      }
    }
    if (count === 0) return;
    const out = skipped ? Buffer.concat(keptRanges(lines, skipped)) : lines;
    this.writer.writeLines(out, count);
    this.stdout?.write(out);
  }

  /** Warns (per key, at most once a minute) when a key's ports in use cross the warning ratio. */
  private checkPorts(key: PortKey, now: number): void {
    const range = this.ports.range;
    if (key.inUse < this.config.portWarnRatio * range) return;
    const last = this.portWarnedAt.get(key);
    if (last !== undefined && now - last < PORT_WARN_INTERVAL_MS) return;
    this.portWarnedAt.set(key, now);
    if (this.portWarnedAt.size > PORT_KEYS_REPORTED * 4) {
      for (const [k] of this.portWarnedAt) if (k.inUse === 0 || now - this.portWarnedAt.get(k)! >= PORT_WARN_INTERVAL_MS) this.portWarnedAt.delete(k);
    }
    this.portWarnings++;
    this.log.warn(
      { proto: key.proto, snatAddress: key.snat, destination: key.dst, destinationPort: key.dport, portsInUse: key.inUse, portRange: range, ratio: key.inUse / range },
      'SNAT source ports to this destination are running out: new flows will fail (conntrack insert_failed) once none is free',
    );
  }

  private onParseError(message: string, count: number): void {
    this.parseErrors += count;
    if (this.parseErrors <= 10 || this.parseErrors % 1000 === 0) this.log.warn({ err: message, parseErrors: this.parseErrors }, 'unparsable conntrack event');
  }

  private onOverflow(reports: number): void {
    const now = this.now();
    this.overflows += reports;
    this.lastOverflowAt = now;
    this.overflowsSinceLog += reports;
    if (now - this.lastOverflowLogAt >= OVERFLOW_LOG_INTERVAL_MS) {
      this.readDrops();
      this.log.warn(
        { overflows: this.overflowsSinceLog, total: this.overflows, eventsDropped: this.dropsBefore + (this.dropsNow ?? 0), socketBufferBytes: this.socketBufferBytes },
        'conntrack event queue overflowed (ENOBUFS): SNAT records were lost; raise the socket buffer if this repeats',
      );
      this.overflowsSinceLog = 0;
      this.lastOverflowLogAt = now;
    }
    this.noteGap('overflow', now, reports);
    this.resyncPending = true;
  }

  /** After a batch that reported losses: recover from a dump once losses stopped for a while. */
  private onBatchEnd(): void {
    if (!this.resyncPending || this.stopped) return;
    this.resyncPending = false;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    const wait = Math.max(RESYNC_QUIET_MS, this.lastResyncAt + RESYNC_MIN_INTERVAL_MS - this.now());
    this.resyncTimer = guardedTimeout('snat records: resync', () => {
      this.resyncTimer = null;
      this.resync('overflow');
    }, wait);
    this.resyncTimer.unref();
  }

  private noteGap(reason: GapRecord['reason'], at: number, count = 1): void {
    if (this.pendingGap && this.pendingGap.reason === reason) {
      this.pendingGap.last = at;
      this.pendingGap.count += count;
      return;
    }
    this.flushGap();
    this.pendingGap = { reason, first: at, last: at, count };
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
    this.fail(`conntrack event source ended: ${reason}`);
    this.noteGap('restart', this.now());
    this.scheduleRestart(0);
  }

  private scheduleRestart(attempt: number): void {
    if (this.stopped) return;
    const delay = RESTART_BACKOFF_MS[Math.min(attempt, RESTART_BACKOFF_MS.length - 1)]!;
    this.restartTimer = guardedTimeout('snat records: conntrack restart', () => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.source.start().then(
        async () => {
          this.running = true;
          await this.inspectEventSocket();
          this.log.info({ attempt: attempt + 1 }, 'conntrack event source restarted');
          this.resync('restart');
        },
        (err: Error) => {
          this.fail(`restarting the conntrack event source: ${err.message}`);
          this.scheduleRestart(attempt + 1);
        },
      );
    }, delay);
    this.restartTimer.unref();
  }

  /**
   * Reconciles the flow counts and the open SNAT flows with a table dump. Synchronous (the native
   * dump), so no event interleaves. After a loss (not at start: those flows predate us), SNAT flows
   * the dump shows that we never saw start get their start record, marked `recovered`.
   */
  private resync(trigger: 'start' | 'restart' | 'overflow'): void {
    if (this.stopped) return;
    this.resyncPending = false;
    this.lastResyncAt = this.now();
    const at = this.now();
    const snat: ConntrackEvent[] = [];
    this.counts.beginResync();
    try {
      const r = this.dump((ev) => {
        const cls = classifyFlow(ev, this.isLocal);
        this.counts.onDumped(ev.id, cls);
        if (cls === 'snat') snat.push(ev);
      });
      if (r.malformed > 0) this.onParseError('malformed conntrack dump entries', r.malformed);
      this.counts.endResync();
      const unknown = this.ports.reconcile(snat);
      if (trigger !== 'start' && this.config.recordStart) {
        for (const ev of unknown) this.emit({ ...toRecord({ ...ev, type: 'new' }, at), recovered: true });
        this.recovered += unknown.length;
      }
      this.log.debug({ trigger, flows: this.counts.current(), entries: r.entries, recovered: trigger === 'start' ? 0 : unknown.length, interrupted: r.interrupted },
        'flow state resynchronised from the conntrack table');
    } catch (err) {
      this.counts.abortResync();
      this.fail(`reading the conntrack table: ${(err as Error).message}`);
    }
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
