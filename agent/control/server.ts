// A Unix socket server for the control protocol (protocol.ts). The socket is created mode 0600;
// a watchdog can re-create it if someone deletes or replaces the file while we run.
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, link, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { statSync } from 'node:fs';
import type { Logger } from '../lib/log.js';
import { errorCodeOf, errorReply, MAX_LINE_BYTES, okReply, parseRequest, type Request } from './protocol.js';
import { prepareSocketPath } from './socket-file.js';

export interface ControlHandler {
  /** Runs a v1 command; a thrown Error becomes {"ok":false,"error":message}. */
  command(req: Request): Promise<unknown>;
  /** Answers a plain-text request line (already trimmed) with one reply line. */
  text(line: string): string;
}

export interface ControlStats {
  requests: number;
  failures: number;
  lastError: string;
}

const IDLE_TIMEOUT_MS = 60_000;
/** How long a connection whose line was too long may keep sending before it is closed. */
const REFUSED_LINGER_MS = 1000;
let bindCount = 0;

export class ControlServer {
  readonly stats: ControlStats = { requests: 0, failures: 0, lastError: '' };
  private server: Server | null = null;
  private inode: { dev: number; ino: number } | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(readonly path: string, private readonly handler: ControlHandler, private readonly log: Logger) {}

  async start(): Promise<void> {
    await prepareSocketPath(this.path);
    // libuv unlinks the bound path when the server closes, whatever file is there by then. So we
    // bind a private name and hard-link the socket into place: closing then only removes the
    // private name, and close() removes the real path only if it is still our socket.
    // Short, so it fits sun_path wherever the real path does.
    const bound = join(dirname(this.path), `.${process.pid}-${++bindCount}`);
    await unlink(bound).catch(() => undefined);
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The umask covers the window between bind() and chmod(): nobody else may connect meanwhile.
      const old = process.umask(0o177);
      try {
        server.listen(bound, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    try {
      await chmod(bound, 0o600);
      await link(bound, this.path); // EEXIST if someone took the path meanwhile: never replace it
      await unlink(bound);
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw new Error(`cannot create control socket ${this.path}: ${(err as Error).message}`);
    }
    server.on('error', (err) => this.log.error({ err, socket: this.path }, 'control socket error'));
    const st = await stat(this.path);
    this.inode = { dev: st.dev, ino: st.ino };
    this.server = server;
  }

  /** Listening, and the file at the path is still the socket we bound. */
  serving(): boolean {
    if (!this.server?.listening || !this.inode) return false;
    try {
      const st = statSync(this.path);
      return st.dev === this.inode.dev && st.ino === this.inode.ino;
    } catch {
      return false;
    }
  }

  /** Re-creates the socket when it was deleted or replaced; returns true when it had to. */
  async ensure(): Promise<boolean> {
    if (this.serving()) return false;
    this.log.warn({ socket: this.path }, 'control socket missing or replaced; re-creating it');
    await this.close();
    await this.start();
    return true;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Only remove the file if it is still ours (a new agent may already own the path).
    try {
      const st = await stat(this.path);
      if (this.inode && st.dev === this.inode.dev && st.ino === this.inode.ino) await unlink(this.path);
    } catch {
      /* already gone */
    }
    this.inode = null;
  }

  /**
   * One request at a time per connection, with backpressure: reading stops while a reply is being
   * computed or the socket's write buffer is full, so a client that pipelines and never reads fills
   * the kernel's buffers and then waits, instead of growing our heap by every pending reply.
   */
  private serve(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.setTimeout(IDLE_TIMEOUT_MS, () => sock.destroy());
    let buf = '';
    let first = true;
    let pumping = false;
    let refused = false;
    sock.setEncoding('utf8');
    const pump = async (): Promise<void> => {
      pumping = true;
      sock.pause();
      let nl: number;
      while (!sock.destroyed && (nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (first && line && !line.startsWith('{')) {
          // Plain-text probe: one request, one reply line, then close (Kube-OVN's protocol).
          this.stats.requests++;
          sock.end(this.handler.text(line));
          buf = '';
          return;
        }
        first = false;
        if (!line) continue;
        const reply = await this.answer(line);
        if (sock.destroyed) return;
        if (!sock.write(reply)) await new Promise<void>((resolve) => {
          const done = () => {
            sock.off('drain', done).off('close', done);
            resolve();
          };
          sock.on('drain', done).on('close', done);
        });
      }
      pumping = false;
      if (buf.length > MAX_LINE_BYTES) {
        // Reply, then discard what else arrives (so the client sees the reply rather than a reset)
        // and close within a second whatever the client does.
        refused = true;
        buf = '';
        sock.end(JSON.stringify(errorReply(null, `request line longer than ${MAX_LINE_BYTES} bytes`, 'BAD_REQUEST')) + '\n');
        sock.resume();
        setTimeout(() => sock.destroy(), REFUSED_LINGER_MS).unref();
        return;
      }
      if (!sock.destroyed) sock.resume();
    };
    sock.on('data', (chunk: string) => {
      if (refused) return;
      buf += chunk;
      if (!pumping) void pump().catch((err: Error) => {
        this.log.error({ err: err.message, socket: this.path }, 'control connection failed');
        sock.destroy();
      });
    });
  }

  /** The reply line to one request line. */
  private async answer(line: string): Promise<string> {
    this.stats.requests++;
    const parsed = parseRequest(line);
    let reply;
    if (!parsed.ok) {
      reply = errorReply(parsed.id ?? null, parsed.error, parsed.code);
    } else {
      try {
        reply = okReply(parsed.req.id ?? null, await this.handler.command(parsed.req));
      } catch (err) {
        const message = (err as Error).message;
        const code = errorCodeOf(err);
        this.stats.failures++;
        this.stats.lastError = `${parsed.req.cmd}: ${message}`;
        this.log.warn({ cmd: parsed.req.cmd, code, err: message }, 'control command failed');
        reply = errorReply(parsed.req.id ?? null, message, code);
      }
    }
    return JSON.stringify(reply) + '\n';
  }
}
