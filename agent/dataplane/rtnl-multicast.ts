// rtnetlink change notifications (links, addresses, routes, rules, neighbours) through the addon's
// own reader (native/src/netlink/rtnl_reader.cc), not the `netlink` package: that package aborts the whole
// process when its multicast socket overflows (its native poll callback throws a C++ exception
// through libuv when epoll reports the pending ENOBUFS), and it caps the receive buffer at the
// node's net.core.rmem_max. Here an overflow is counted and reported as a 'loss' (the listeners
// re-read everything), reading goes on, and the buffer is forced past rmem_max when we hold
// CAP_NET_ADMIN. Messages are still parsed with the package's `rt` module.
import { EventEmitter } from 'node:events';
import type { rt } from 'netlink';
import { netlinkPackage } from '../lib/netlink-package.js';
import { netlinkNative, type NativeNetlinkReader, type RtnlBatchCallback } from '../native/netlink.js';
import { guardedTimeout } from '../lib/guard.js';

/**
 * Receive buffer to ask for; the kernel doubles it. A queued route notification takes about 830
 * bytes, so this holds some 40,000 changes while the event loop is busy. With CAP_NET_ADMIN
 * (SO_RCVBUFFORCE) we get it; without, SO_RCVBUF caps it at twice net.core.rmem_max.
 */
export const RECEIVE_BUFFER_BYTES = 16 << 20;
const NLMSG_HDRLEN = 16;

export type RtGroup = keyof typeof rt.MulticastGroups;

export interface RtnlMessage {
  type: number;
  /** The message after its 16-byte nlmsghdr (a view into the batch, not a copy). */
  payload: Buffer;
}

/** Splits datagrams stored back to back (each padded to 4 bytes) into rtnetlink messages; throws on broken framing. */
export function splitMessages(batch: Buffer): RtnlMessage[] {
  const out: RtnlMessage[] = [];
  let off = 0;
  while (off < batch.length) {
    if (batch.length - off < NLMSG_HDRLEN) throw new Error(`rtnetlink batch: ${batch.length - off} trailing bytes at offset ${off}, less than a message header`);
    const len = batch.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > batch.length) throw new Error(`rtnetlink batch: message length ${len} at offset ${off} does not fit the ${batch.length}-byte batch`);
    out.push({ type: batch.readUInt16LE(off + 4), payload: batch.subarray(off + NLMSG_HDRLEN, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

export interface MulticastStats {
  /** ENOBUFS reports: the receive queue overflowed and notifications were lost (each report may cover many). */
  overflows: number;
  /** Notifications too long for the reader (none is expected): lost as well. */
  truncated: number;
  /** What the kernel will queue for us (getsockopt SO_RCVBUF); 0 while no socket is open. */
  receiveBufferBytes: number;
  /** SO_RCVBUFFORCE was allowed (CAP_NET_ADMIN); otherwise the buffer is capped by net.core.rmem_max. */
  forced: boolean;
  /** The socket's netlink port id (the Pid column of /proc/net/netlink); 0 while no socket is open. */
  portId: number;
}

export interface MulticastEvents {
  message: [type: number, payload: Buffer];
  /** Notifications were lost (overflow, truncation, a broken batch or a socket failure): re-read everything. */
  loss: [reason: string];
}

export type OpenReader = (groups: number[], receiveBufferBytes: number, onBatch: RtnlBatchCallback) => NativeNetlinkReader;

export interface MulticastOptions {
  /** The native reader (tests pass a fake). */
  open?: OpenReader;
  /** After the socket failed and a new one could not be opened, the next try (default 1 s). */
  reopenRetryMs?: number;
}

const CLOSED = { receiveBufferBytes: 0, forced: false, portId: 0 };

const openNative: OpenReader = (groups, bytes, onBatch) => new (netlinkNative().RtnlReader)(groups, bytes, onBatch);

/** Listens to rtnetlink multicast groups; emits 'message' per notification and 'loss' when some were lost. */
export class RtnlMulticast extends EventEmitter<MulticastEvents> {
  private reader: NativeNetlinkReader | undefined;
  private info: Pick<MulticastStats, 'receiveBufferBytes' | 'forced' | 'portId'> = CLOSED;
  private overflows = 0;
  private truncated = 0;
  private retry: NodeJS.Timeout | undefined;
  private running = false;
  private readonly open: OpenReader;
  private readonly reopenRetryMs: number;

  constructor(private readonly groups: readonly RtGroup[], opts: MulticastOptions = {}) {
    super();
    this.open = opts.open ?? openNative;
    this.reopenRetryMs = opts.reopenRetryMs ?? 1000;
  }

  /** Throws when the socket cannot be opened (the message names the step that failed). */
  start(): void {
    if (this.running) return;
    this.openReader();
    this.running = true;
  }

  stop(): void {
    this.running = false;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.reader?.close();
    this.closed();
  }

  stats(): MulticastStats {
    return { overflows: this.overflows, truncated: this.truncated, ...this.info };
  }

  private closed(): void {
    this.reader = undefined;
    this.info = CLOSED;
  }

  private openReader(): void {
    const reader = this.open(this.groups.map((g) => netlinkPackage.rt.MulticastGroups[g]), RECEIVE_BUFFER_BYTES, (datagrams, overflows, truncated, error) =>
      this.onBatch(reader, datagrams, overflows, truncated, error));
    const { receiveBufferBytes, forced, portId } = reader.info();
    this.reader = reader;
    this.info = { receiveBufferBytes, forced, portId };
  }

  private onBatch(from: NativeNetlinkReader, datagrams: Buffer | null, overflows: number, truncated: number, error: string | null): void {
    if (from !== this.reader) return; // a batch of a reader already closed
    let broken: string | undefined;
    if (datagrams) {
      let messages: RtnlMessage[] = [];
      try {
        messages = splitMessages(datagrams);
      } catch (err) {
        broken = (err as Error).message;
      }
      for (const m of messages) {
        if (from !== this.reader) return; // a listener stopped us
        this.emit('message', m.type, m.payload);
      }
    }
    this.overflows += overflows;
    this.truncated += truncated;
    const losses = [
      ...(overflows > 0 ? [`ENOBUFS: the ${this.info.receiveBufferBytes}-byte receive queue overflowed (${overflows}x), notifications lost`] : []),
      ...(truncated > 0 ? [`${truncated} notification(s) longer than the reader's 64 KiB lost`] : []),
      ...(broken ? [broken] : []),
    ];
    if (error) {
      // The native side closed the socket: listen again on a new one.
      this.closed();
      this.reopen(`${error}; listening on a new socket`, losses);
    } else if (losses.length > 0) {
      this.emit('loss', losses.join('; '));
    }
  }

  private reopen(reason: string, earlier: string[] = []): void {
    if (!this.running) return;
    this.emit('loss', [...earlier, reason].join('; '));
    if (!this.running) return; // a 'loss' listener stopped us
    try {
      this.openReader();
    } catch (err) {
      this.retry = guardedTimeout('rtnetlink: reopen', () => {
        this.retry = undefined;
        this.reopen(`retrying after: ${(err as Error).message}`);
      }, this.reopenRetryMs);
    }
  }
}
