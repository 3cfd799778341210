// The kernel's conntrack events through Debian's `conntrack` tool (conntrack-tools) as a child
// process: the recorder's first event source, kept as `eventSource: "conntrack-tool"` for the
// benchmark's same-run baseline. The default is the addon's reader (ct-netlink.ts): conntrack-tools
// leaves its event socket at the node's rmem_default, so bursts overflow it (docs/snat-records.md).
import { execa, type ResultPromise } from 'execa';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { ConntrackEventHandlers, ConntrackEventSource, EventSocketInfo } from './ct-netlink.js';
import { ConntrackParseError, parseConntrackXmlLine } from './conntrack-xml.js';
import { eventSocketBuffer, readEventSocket } from './event-socket.js';
import type { ConntrackEvent } from './types.js';

/**
 * Splits a text stream into lines, keeping the unfinished tail for the next chunk. A "line" longer
 * than maxLine is passed on as it is (it will not parse) rather than buffered without bound.
 */
export class LineSplitter {
  private tail = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly onLine: (line: string) => void, private readonly maxLine = 1 << 20) {}

  push(chunk: Buffer): void {
    const text = this.tail + this.decoder.write(chunk);
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      this.onLine(text.slice(from, nl));
      from = nl + 1;
    }
    this.tail = text.slice(from);
    if (this.tail.length > this.maxLine) {
      this.onLine(this.tail);
      this.tail = '';
    }
  }

  end(): void {
    const rest = this.tail + this.decoder.end();
    this.tail = '';
    if (rest !== '') this.onLine(rest);
  }
}

function pipeLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  const split = new LineSplitter(onLine);
  stream.on('data', (chunk: Buffer) => split.push(chunk));
  stream.on('end', () => split.end());
}

/** What conntrack prints on stderr, classified. */
export type ConntrackNotice =
  /** "buffer size has been set": printed once subscribed (the size is of another socket, see event-socket.ts). */
  | { kind: 'buffer' }
  | { kind: 'overflow' }
  | { kind: 'ignore' }
  | { kind: 'other'; text: string };

export function classifyStderrLine(line: string): ConntrackNotice {
  if (/Netlink socket buffer size has been set to \d+ bytes/.test(line)) return { kind: 'buffer' };
  if (line.includes('hit ENOBUFS')) return { kind: 'overflow' };
  // The rest of the ENOBUFS warning, and the summary printed at exit.
  if (line.trim() === '' || line.startsWith('This message means that') || line.startsWith('Please, check --buffer-size') || /flow (events|entries) ha(ve|s) been shown/.test(line)) {
    return { kind: 'ignore' };
  }
  return { kind: 'other', text: line.trim() };
}

export interface ConntrackProcessOptions {
  /** The conntrack executable (default "conntrack" from PATH). */
  command?: string;
  /** Requested socket receive buffer (--buffer-size); the kernel doubles it. */
  bufferBytes: number;
  /** How long start() waits for the subscription to be confirmed. */
  startTimeoutMs?: number;
}

/** `conntrack -E -e NEW,DESTROY -o xml,ktimestamp,id --buffer-size N`, parsed line by line. */
export class ConntrackEventProcess implements ConntrackEventSource {
  private child: ResultPromise | null = null;
  private stopping = false;

  constructor(private readonly opts: ConntrackProcessOptions, private readonly handlers: ConntrackEventHandlers) {}

  /** Pid of the running conntrack process. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get args(): string[] {
    return ['-E', '-e', 'NEW,DESTROY', '-o', 'xml,ktimestamp,id', '--buffer-size', String(this.opts.bufferBytes)];
  }

  /**
   * Resolves once conntrack is subscribed: its event socket is bound to the groups (seen in
   * /proc/net/netlink), or it printed its buffer notice, whichever comes first.
   */
  start(): Promise<void> {
    const command = this.opts.command ?? 'conntrack';
    this.stopping = false;
    const child = execa(command, this.args, { buffer: false, stdin: 'ignore', reject: false, cleanup: true });
    this.child = child;
    const stderrTail: string[] = [];

    return new Promise((resolve, reject) => {
      let started = false;
      const subscribed = (): void => {
        if (started) return;
        started = true;
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      };
      const timer = setTimeout(() => {
        if (started) return;
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error(`${command} ${this.args.join(' ')}: no subscription confirmation within ${this.opts.startTimeoutMs ?? 5000} ms`));
      }, this.opts.startTimeoutMs ?? 5000);
      const poll = setInterval(() => {
        if (child.pid !== undefined && readEventSocket(child.pid)) subscribed();
      }, 20);

      pipeLines(child.stdout, (line) => {
        const receivedAt = Date.now();
        let ev: ConntrackEvent | null;
        try {
          ev = parseConntrackXmlLine(line);
        } catch (err) {
          if (err instanceof ConntrackParseError) return this.handlers.onParseError(err.message, 1);
          throw err;
        }
        if (ev) this.handlers.onEvent(ev, receivedAt);
      });
      pipeLines(child.stderr, (line) => {
        const n = classifyStderrLine(line);
        if (n.kind === 'buffer') {
          subscribed();
        } else if (n.kind === 'overflow') {
          this.handlers.onOverflow(1);
        } else if (n.kind === 'other') {
          stderrTail.push(n.text);
          if (stderrTail.length > 5) stderrTail.shift();
        }
      });

      void child.then((result) => {
        clearTimeout(timer);
        clearInterval(poll);
        if (this.child === child) this.child = null;
        const why = result.failed && result.exitCode === undefined
          ? (result.originalMessage ?? result.message ?? 'did not run')
          : `exited (code ${result.exitCode ?? 'none'}, signal ${result.signal ?? 'none'})`;
        const detail = `${command} ${why}${stderrTail.length ? `: ${stderrTail.join(' | ')}` : ''}`;
        if (!started) reject(new Error(detail));
        else if (!this.stopping) this.handlers.onExit(detail);
      });
    });
  }

  /** The event socket found through /proc (drops) and `ss` (its real buffer). */
  async socket(): Promise<EventSocketInfo> {
    const sock = this.pid === undefined ? undefined : readEventSocket(this.pid);
    return { drops: sock ? sock.drops : null, bufferBytes: sock ? ((await eventSocketBuffer(sock.portid).catch(() => undefined)) ?? null) : null };
  }

  drops(): number | null {
    const sock = this.pid === undefined ? undefined : readEventSocket(this.pid);
    return sock ? sock.drops : null;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await child;
    clearTimeout(timer);
  }
}
