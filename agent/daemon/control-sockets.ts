// The control sockets the daemon serves: its own (required) and Kube-OVN's supervisor socket
// (optional), both with the same handler; re-created when someone deletes one.
import type { GatewayConfig } from '../config/types.js';
import type { ControlHandler } from '../control/server.js';
import type { Logger } from '../lib/log.js';
import type { ControlServerPort, ServerPorts } from './ports.js';

export class ControlSockets {
  private serving: ControlServerPort[] = [];

  constructor(private readonly servers: ServerPorts, private readonly log: Logger) {}

  /** The paths being served, own socket first. */
  paths(): string[] {
    return this.serving.map((c) => c.path);
  }

  /** What /status shows of each socket. */
  endpoints(): { path: string; serving: boolean; stats: ControlServerPort['stats'] }[] {
    return this.serving.map((s) => ({ path: s.path, serving: s.serving(), stats: s.stats }));
  }

  async serve(config: Pick<GatewayConfig, 'controlSocket' | 'compatSocket'>, handler: ControlHandler): Promise<void> {
    const main = this.servers.control(config.controlSocket, handler, this.log);
    await main.start();
    this.serving.push(main);
    if (config.compatSocket && config.compatSocket !== config.controlSocket) {
      // Kube-OVN's supervisor socket is a convenience for its tooling: without it the agent still
      // works (e.g. several agents on one host in a lab, or a path we may not create).
      const compat = this.servers.control(config.compatSocket, handler, this.log);
      try {
        await compat.start();
        this.serving.push(compat);
      } catch (err) {
        this.log.warn({ socket: config.compatSocket, err: (err as Error).message }, 'not serving Kube-OVN\'s supervisor socket');
      }
    }
  }

  /** Re-creates the socket at `path` when someone deleted it; a failure is logged, never thrown. */
  async ensure(path: string): Promise<void> {
    const c = this.serving.find((s) => s.path === path);
    await c?.ensure().catch((err: Error) => this.log.error({ socket: c.path, err: err.message }, 'cannot re-create control socket'));
  }

  async close(): Promise<void> {
    await Promise.all(this.serving.map((c) => c.close()));
  }
}
