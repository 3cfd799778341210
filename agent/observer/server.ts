// The observer's HTTP endpoint (port 10666, read-only): /healthz answers "ok" while the process
// serves (upstream's liveness), /metrics refreshes the interface counters then renders the
// registry. The hardening (GET/HEAD only, connection cap, timeouts, bound addresses) is the health
// server's.
import { ReadOnlyHttpServer, textReply, type HttpReply } from '../health/server.js';
import type { Logger } from '../lib/log.js';

export class ObserverServer extends ReadOnlyHttpServer {
  constructor(listen: string, private readonly metrics: () => Promise<string>, log: Logger, podIps: readonly string[]) {
    super(listen, log, podIps, {}, 'observer metrics');
  }

  protected async route(path: string): Promise<HttpReply> {
    switch (path) {
      case '/healthz':
        return textReply(200, 'ok\n');
      case '/metrics':
        return { code: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body: await this.metrics() };
      default:
        return textReply(404, `not found: ${path} (try /healthz, /metrics)\n`);
    }
  }
}

/** GET url within 1 s (upstream's --health-check); resolves when it answered 200, else rejects saying why. */
export async function checkHealth(url: string, timeoutMs = 1000): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`request observer health endpoint ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`observer health endpoint ${url} returned ${res.status} ${res.statusText}`);
}
