// Which interface each BFD peer is reached through, kept current: the kernel's route to the peer
// (`ip route get PEER`, as dataplane discovery does), looked up at start and again after every
// route, rule, link or address change and after lost notifications. The result goes to
// BfdSessions.setIngress, so a session accepts its peer's packets only from that interface
// (RFC 5881 §3: a single-hop session is bound to its interface) and a spoofed packet with the
// peer's address from another network (the external one) is dropped as wrongInterface.
import type { Logger } from '../lib/log.js';

export interface PeerRoutesPort {
  /** Index of the interface the kernel routes `remote` through; undefined when it has no route. */
  lookup(remote: string): Promise<number | undefined>;
  /** Calls onChange after any routing change or lost notification. */
  watch(onChange: () => void): void;
  close(): void;
}

export class BfdIngress {
  private running: Promise<void> | null = null;
  private again = false;
  private readonly unrouted = new Set<string>();
  private readonly extra = new Set<string>();

  constructor(
    private readonly routes: PeerRoutesPort,
    private readonly peers: () => readonly string[],
    private readonly apply: (byRemote: Map<string, number>) => void,
    private readonly log: Logger,
  ) {}

  /** First lookup of `peers` (before their sessions start, so they start bound), then follows changes. */
  async start(peers: readonly string[]): Promise<void> {
    await this.refresh(peers);
    this.routes.watch(() => void this.refresh());
  }

  stop(): void {
    this.routes.close();
  }

  /**
   * Looks every peer up again, plus `extra` ones about to get sessions (a reload); one pass at a
   * time, and one more if asked again meanwhile.
   */
  refresh(extra: readonly string[] = []): Promise<void> {
    for (const p of extra) this.extra.add(p);
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const peers = new Set([...this.peers(), ...this.extra]);
        this.extra.clear();
        this.apply(await this.lookupAll(peers));
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async lookupAll(peers: ReadonlySet<string>): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for (const remote of peers) {
      let ifindex: number | undefined;
      try {
        ifindex = await this.routes.lookup(remote);
      } catch (err) {
        this.log.warn({ remote, err: (err as Error).message }, 'route lookup toward a bfd peer failed; its session keeps the interface it had');
        continue;
      }
      if (ifindex !== undefined) {
        found.set(remote, ifindex);
        this.unrouted.delete(remote);
      } else if (!this.unrouted.has(remote)) {
        this.unrouted.add(remote);  // said once per episode, not on every routing change
        this.log.warn({ remote }, 'no route to a bfd peer; its session keeps the interface it had');
      }
    }
    return found;
  }
}
