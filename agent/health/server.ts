// The HTTP health server (node:http, read-only): /livez /readyz /status /metrics.
// Kubelet probes it where it can reach the Pod (Kube-OVN's default VPC); Prometheus scrapes it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentStatus } from '../daemon/status.js';
import type { Logger } from '../lib/log.js';
import { formatListenAddress, parseListenAddress } from './listen-address.js';
import type { Metrics } from './metrics.js';

export interface HealthSources {
  status(): AgentStatus;
  /** Created on the first scrape, so a process nobody scrapes never loads prom-client. */
  metrics(): Promise<Metrics>;
}

export class HealthServer {
  private server: Server | null = null;
  private bound: string | null = null;

  constructor(private readonly listen: string, private readonly sources: HealthSources, private readonly log: Logger) {}

  /** The address actually bound (port resolved when 0 was asked), or null when not listening. */
  address(): string | null {
    return this.bound;
  }

  async start(): Promise<void> {
    const { host, port } = parseListenAddress(this.listen);
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.log.error({ err, path: req.url }, 'health request failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${err.message}\n`);
        else res.destroy();
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot listen for health on ${this.listen}: ${err.message}`)));
      server.listen({ host, port }, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err }, 'health server error'));
    const a = server.address() as AddressInfo;
    this.bound = formatListenAddress(host, a.port);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.bound = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', `method ${req.method} not allowed: this endpoint is read-only\n`);
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/livez':
      case '/readyz': {
        const s = this.sources.status();
        const v = path === '/livez' ? s.live : s.ready;
        const what = path === '/livez' ? 'live' : 'ready';
        return send(res, v.ok ? 200 : 503, 'text/plain; charset=utf-8', v.ok ? `${what}\n` : `not ${what}:\n${v.reasons.map((r) => `- ${r}\n`).join('')}`);
      }
      case '/status':
        return send(res, 200, 'application/json', JSON.stringify(this.sources.status(), null, 2) + '\n');
      case '/metrics': {
        const metrics = await this.sources.metrics();
        return send(res, 200, metrics.contentType, await metrics.render(this.sources.status()));
      }
      default:
        return send(res, 404, 'text/plain; charset=utf-8', `not found: ${path} (try /livez, /readyz, /status, /metrics)\n`);
    }
  }
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
