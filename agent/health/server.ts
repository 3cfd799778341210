// The HTTP health server (node:http, read-only): /livez /readyz /status /metrics.
// Kubelet probes it where it can reach the Pod (Kube-OVN's default VPC); Prometheus scrapes it.
// Anyone on the Pod network can connect, so it binds only the Pod's own addresses and loopback by
// default, caps and times out connections, and /status shows a redacted summary (docs/health.md).
// ReadOnlyHttpServer is that hardening without the routes; the observer serves its own on it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AgentStatus } from '../status/types.js';
import type { Logger } from '../lib/log.js';
import { formatListenAddress, listenHosts, parseListenAddress } from '../lib/listen-address.js';
import { publicStatus } from './public-status.js';
import type { Metrics } from './metrics.js';

export interface HealthSources {
  status(): AgentStatus;
  /** Created on the first scrape, so a process nobody scrapes never loads prom-client. */
  metrics(): Promise<Metrics>;
}

/** Bounds against slow or many clients (anyone on the Pod network can connect). */
export interface HealthLimits {
  /**
   * Open connections kept. Beyond it, two event-loop turns later (so a burst of new connections has
   * its first bytes read and a probe among them its answer), the oldest connections that never sent
   * a whole request are closed (slow clients), then, if that is not enough, the oldest.
   */
  maxConnections: number;
  /** A request's headers / the whole request must arrive within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often the request timeouts are checked (Node's default is 30 s). */
  checkIntervalMs: number;
}

/** ~6 KiB per connection (measured): 128 connections stay under 1 MiB. */
export const DEFAULT_HEALTH_LIMITS: HealthLimits = { maxConnections: 128, requestTimeoutMs: 5000, keepAliveTimeoutMs: 5000, checkIntervalMs: 1000 };

/** EADDRNOTAVAIL on a Pod address: an IPv6 address may still be tentative (DAD); retry this long. */
const BIND_RETRY_MS = 5000;

/** A response: status code, content type, body. */
export interface HttpReply {
  code: number;
  type: string;
  body: string;
}

/** GET/HEAD only, bound as listenHosts says, connections capped and timed out; `route` answers a path. */
export abstract class ReadOnlyHttpServer {
  private servers: Server[] = [];
  private bound: string[] = [];
  /** Every open connection of every address, oldest first (a Set keeps insertion order). */
  private readonly connections = new Set<Socket>();
  /** Connections that sent at least one whole request (probes, scrapes): closed for room last. */
  private readonly requested = new WeakSet<Socket>();
  private evictionQueued = false;
  private readonly limits: HealthLimits;
  /** Connections closed because the cap was reached, since start. */
  evicted = 0;

  /** `podIps`: the Pod's own addresses, bound for ":PORT" (see listenHosts). `what` names the server in errors. */
  constructor(
    private readonly listen: string,
    protected readonly log: Logger,
    private readonly podIps: readonly string[] = [],
    limits: Partial<HealthLimits> = {},
    private readonly what = 'health',
  ) {
    this.limits = { ...DEFAULT_HEALTH_LIMITS, ...limits };
  }

  protected abstract route(path: string): Promise<HttpReply>;

  /** The first address bound (port resolved when 0 was asked), or null when not listening. */
  address(): string | null {
    return this.bound[0] ?? null;
  }

  /** Every address bound. */
  addresses(): string[] {
    return [...this.bound];
  }

  /** Open connections now. */
  connectionCount(): number {
    return this.connections.size;
  }

  async start(): Promise<void> {
    const addr = parseListenAddress(this.listen);
    let port = addr.port;
    try {
      for (const host of listenHosts(addr, this.podIps)) {
        const server = this.createServer();
        // Port 0: the first bind picks one, the other addresses use the same.
        port = await this.bind(server, host, port);
        this.servers.push(server);
        this.bound.push(formatListenAddress(host, port));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    this.bound = [];
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    })));
    for (const c of this.connections) c.destroy();
  }

  private createServer(): Server {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.log.error({ err, path: req.url }, `${this.what} request failed`);
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${err.message}\n`);
        else res.destroy();
      });
    });
    server.headersTimeout = this.limits.requestTimeoutMs;
    server.requestTimeout = this.limits.requestTimeoutMs;
    server.keepAliveTimeout = this.limits.keepAliveTimeoutMs;
    // A client that connects and sends nothing: the socket's own idle timeout closes it.
    server.timeout = this.limits.requestTimeoutMs;
    (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = this.limits.checkIntervalMs;
    server.on('connection', (sock: Socket) => {
      this.connections.add(sock);
      sock.once('close', () => this.connections.delete(sock));
      if (this.connections.size > this.limits.maxConnections) this.queueEviction();
    });
    server.on('request', (req: { socket: Socket }) => this.requested.add(req.socket));
    server.on('error', (err) => this.log.error({ err }, `${this.what} server error`));
    return server;
  }

  /**
   * Closing the oldest at once closed probes: libuv accepts a whole burst before it reads any of it,
   * so a probe accepted among 3,000 slow clients was the oldest again 128 connections later, before
   * its request was read. Two turns later that request has been read and answered. Until then the
   * excess is what one accept burst holds (the listen backlog), a few MiB at most.
   */
  private queueEviction(): void {
    if (this.evictionQueued) return;
    this.evictionQueued = true;
    setImmediate(() => setImmediate(() => {
      this.evictionQueued = false;
      this.evictExcess();
    }));
  }

  /** Closes connections beyond the cap: the oldest that never sent a whole request first (slow clients), then the oldest. */
  private evictExcess(): void {
    let excess = this.connections.size - this.limits.maxConnections;
    for (const pass of [false, true]) {
      for (const c of this.connections) {
        if (excess <= 0) return;
        if (!pass && this.requested.has(c)) continue;
        this.connections.delete(c);
        c.destroy();
        this.evicted++;
        excess--;
      }
    }
  }

  private async bind(server: Server, host: string, port: number): Promise<number> {
    const deadline = Date.now() + BIND_RETRY_MS;
    for (;;) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        return (server.address() as AddressInfo).port;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRNOTAVAIL' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        throw new Error(`cannot listen for ${this.what} on ${formatListenAddress(host, port)} (from ${JSON.stringify(this.listen)}): ${e.message}`);
      }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', `method ${req.method} not allowed: this endpoint is read-only\n`);
    }
    const r = await this.route((req.url ?? '/').split('?')[0]!);
    send(res, r.code, r.type, r.body);
  }
}

export const textReply = (code: number, body: string): HttpReply => ({ code, type: 'text/plain; charset=utf-8', body });

export class HealthServer extends ReadOnlyHttpServer {
  constructor(listen: string, private readonly sources: HealthSources, log: Logger, podIps: readonly string[] = [], limits: Partial<HealthLimits> = {}) {
    super(listen, log, podIps, limits);
  }

  protected async route(path: string): Promise<HttpReply> {
    switch (path) {
      case '/livez':
      case '/readyz': {
        const s = this.sources.status();
        const v = path === '/livez' ? s.live : s.ready;
        const what = path === '/livez' ? 'live' : 'ready';
        return textReply(v.ok ? 200 : 503, v.ok ? `${what}\n` : `not ${what}:\n${v.reasons.map((r) => `- ${r}\n`).join('')}`);
      }
      case '/status':
        return { code: 200, type: 'application/json', body: JSON.stringify(publicStatus(this.sources.status()), null, 2) + '\n' };
      case '/metrics': {
        const metrics = await this.sources.metrics();
        return { code: 200, type: metrics.contentType, body: await metrics.render(this.sources.status()) };
      }
      default:
        return textReply(404, `not found: ${path} (try /livez, /readyz, /status, /metrics)\n`);
    }
  }
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
