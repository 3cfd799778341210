// The kernel side of upstream health: link and neighbour state from rtnetlink (dumps, then
// RTM_NEWLINK/DELLINK and RTM_NEWNEIGH/DELNEIGH notifications), active re-verification of the
// gateway's neighbour entry, and the interface address probes bind to. Complements
// ../dataplane/netlink.ts (whose watcher reports that something changed, not link flags or
// neighbour states); errors and addresses go through it.
import { EventEmitter } from 'node:events';
import type { rt, RtNetlinkSocket } from 'netlink';
import { netlinkPackage } from '../lib/netlink-package.js';
import { afOf, parseNetlinkError, Rtnl } from '../dataplane/netlink.js';
import { RtnlMulticast, type MulticastEvents, type MulticastStats } from '../dataplane/rtnl-multicast.js';
import { addressClass, ipToBuffer, parseIp, type IpFamily } from '../lib/ip.js';
import type { LinkObservation, NudState } from './signals.js';
import { guard, guardedTimeout } from '../lib/guard.js';

const { createRtNetlink, FlagsNew } = netlinkPackage;

export interface NeighbourWatch {
  family: IpFamily;
  interface: string;
  gateway: string;
}

interface KernelEvents {
  link: [name: string, obs: LinkObservation];
  neighbour: [watch: NeighbourWatch, nud: NudState];
  /** A notification was lost or unreadable; the caller may log it (a full re-read follows). */
  resync: [reason: string];
}

/** The rtnetlink requests the kernel side makes (a subset of the netlink package's socket). */
export type NeighbourRequests = Pick<RtNetlinkSocket, 'getLinks' | 'getNeighbors' | 'newNeighbor'> & { close(): void };

/** The link and neighbour notifications (RtnlMulticast). */
export interface NeighbourNotifications extends EventEmitter<MulticastEvents> {
  start(): void;
  stop(): void;
  stats(): MulticastStats;
}

/** Where UpstreamKernel's sockets come from: the real ones, or fakes in unit tests. */
export interface UpstreamKernelIo {
  requests(): NeighbourRequests;
  notifications(): NeighbourNotifications;
  addresses(): Pick<Rtnl, 'addresses' | 'close'>;
}

const RECV_BUFFER = 4 << 20;
const SEND_BUFFER = 1 << 20;
const REQUEST_TIMEOUT_MS = 5000;
const MISSING: LinkObservation = { present: false, up: false, lowerUp: false };
interface NeighbourEntry {
  nud: NudState;
  router: boolean;
}
const ABSENT: NeighbourEntry = { nud: 'absent', router: false };

/** NUD_* flag object (as the netlink package parses ndm_state) -> one state. */
function nudOf(state: rt.NeighborState | undefined): NudState {
  const s = state ?? {};
  const order: (keyof rt.NeighborState & NudState)[] = ['permanent', 'noarp', 'reachable', 'stale', 'delay', 'probe', 'incomplete', 'failed'];
  return order.find((k) => s[k] === true) ?? 'none';
}

function linkObservation(m: rt.LinkMessage): LinkObservation {
  const flags = m.data.flags ?? {};
  return { present: true, up: flags.up === true, lowerUp: flags.lowerUp === true, operstate: m.attrs.operstate };
}

const realIo: UpstreamKernelIo = {
  requests: () => {
    const req = createRtNetlink({ ref: false, recvBufferSize: RECV_BUFFER, sendBufferSize: SEND_BUFFER });
    req.socket.on('error', () => {}); // requests fail through their own promises
    return Object.assign(req, { close: () => req.socket.close() });
  },
  notifications: () => new RtnlMulticast(['LINK', 'NEIGH']),
  addresses: () => Rtnl.open(),
};

export class UpstreamKernel extends EventEmitter<KernelEvents> {
  private req: NeighbourRequests | undefined;
  private listen: NeighbourNotifications | undefined;
  private rtnl: Pick<Rtnl, 'addresses' | 'close'> | undefined;
  private readonly indexOf = new Map<string, number>();
  private readonly nameOf = new Map<number, string>();
  private readonly neighbours = new Map<NeighbourWatch, NeighbourEntry>();
  /** The entry each watch's last verification acted on (the same object: nothing changed since). */
  private readonly verified = new Map<NeighbourWatch, NeighbourEntry>();
  private readonly gatewayBytes = new Map<NeighbourWatch, Buffer>();
  private resyncing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly interfaces: readonly string[], private readonly watches: readonly NeighbourWatch[],
    private readonly io: UpstreamKernelIo = realIo) {
    super();
    for (const w of watches) this.gatewayBytes.set(w, ipToBuffer(w.gateway));
  }

  /** Subscribes first, then reads the current state, so no change between the two is lost. */
  async start(): Promise<void> {
    if (this.listen) return;
    this.req = this.io.requests();
    const listen = this.io.notifications();
    listen.on('message', guard('upstream: rtnetlink message', (type: number, payload: Buffer) => {
      try {
        this.onMessage(type, payload);
      } catch (err) {
        this.recover(`unparseable rtnetlink message type ${type}: ${(err as Error).message}`);
      }
    }));
    listen.on('loss', guard('upstream: rtnetlink loss', (reason: string) => this.recover(reason)));
    listen.start();
    this.listen = listen;
    this.rtnl = this.io.addresses();
    await this.resync();
  }

  stop(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.listen?.stop();
    this.req?.close();
    this.rtnl?.close();
    this.verified.clear();
    this.listen = this.req = this.rtnl = undefined;
  }

  /** Overflows and the receive buffer of the notification socket; undefined when not started. */
  listenerStats(): MulticastStats | undefined {
    return this.listen?.stats();
  }

  /** Notifications were lost: re-read everything, retrying every second until a read succeeds. */
  private recover(reason: string): void {
    this.emit('resync', reason);
    this.resync().catch((err: Error) => {
      if (!this.listen || this.retry) return;
      this.retry = guardedTimeout('upstream: re-read retry', () => {
        this.retry = undefined;
        if (this.listen) this.recover(`retrying after a failed re-read: ${err.message}`);
      }, 1000);
    });
  }

  /** Re-reads links and neighbours and reports every watched one (coalesces concurrent calls). */
  resync(): Promise<void> {
    this.resyncing ??= this.readAll().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  private async readAll(): Promise<void> {
    const req = this.req;
    if (!req) return;
    let links: rt.LinkMessage[];
    try {
      links = await req.getLinks({}, {}, { timeout: REQUEST_TIMEOUT_MS });
    } catch (err) {
      throw parseNetlinkError(err, 'list links');
    }
    this.indexOf.clear();
    this.nameOf.clear();
    const seen = new Map<string, LinkObservation>();
    for (const m of links) {
      if (m.data.index === undefined || m.attrs.ifname === undefined) continue;
      this.indexOf.set(m.attrs.ifname, m.data.index);
      this.nameOf.set(m.data.index, m.attrs.ifname);
      if (this.interfaces.includes(m.attrs.ifname)) seen.set(m.attrs.ifname, linkObservation(m));
    }
    for (const name of this.interfaces) this.emit('link', name, seen.get(name) ?? MISSING);

    for (const family of new Set(this.watches.map((w) => w.family))) {
      let entries: rt.NeighborMessage[];
      try {
        entries = await req.getNeighbors({ family: afOf(family) }, {}, { timeout: REQUEST_TIMEOUT_MS });
      } catch (err) {
        throw parseNetlinkError(err, `list IPv${family} neighbours`);
      }
      for (const w of this.watches.filter((x) => x.family === family)) {
        const entry = entries.find((e) => this.matches(w, e));
        this.setNeighbour(w, entry ? nudOf(entry.data.state) : 'absent', entry?.data.flags?.router === true);
      }
    }
  }

  private matches(w: NeighbourWatch, m: rt.NeighborMessage): boolean {
    const dst = m.attrs.dst;
    return m.data.ifindex !== undefined && m.data.ifindex === this.indexOf.get(w.interface) &&
      Buffer.isBuffer(dst) && dst.equals(this.gatewayBytes.get(w)!);
  }

  private setNeighbour(w: NeighbourWatch, nud: NudState, router: boolean): void {
    this.neighbours.set(w, { nud, router });  // a new object per report: verifyNeighbour compares identity
    this.emit('neighbour', w, nud);
  }

  private onMessage(type: number, data: Buffer): void {
    const name = netlinkPackage.rt.MessageType[type] as string | undefined;
    if (name !== 'NEWLINK' && name !== 'DELLINK' && name !== 'NEWNEIGH' && name !== 'DELNEIGH') return;
    const msg = netlinkPackage.rt.parseMessage(type, data);
    if (msg.kind === 'link') this.onLink(name === 'NEWLINK', msg);
    else if (msg.kind === 'neighbor') {
      for (const w of this.watches) {
        if (this.matches(w, msg)) this.setNeighbour(w, name === 'NEWNEIGH' ? nudOf(msg.data.state) : 'absent', msg.data.flags?.router === true);
      }
    }
  }

  private onLink(isNew: boolean, m: rt.LinkMessage): void {
    const index = m.data.index;
    if (index === undefined) return;
    const oldName = this.nameOf.get(index);
    const newName = isNew ? m.attrs.ifname ?? oldName : undefined;
    // A rename away from a watched name makes that interface missing, as a deletion does.
    if (oldName !== undefined && oldName !== newName) {
      this.nameOf.delete(index);
      if (this.indexOf.get(oldName) === index) this.indexOf.delete(oldName);
      if (this.interfaces.includes(oldName)) this.emit('link', oldName, MISSING);
    }
    if (newName === undefined) return;
    this.nameOf.set(index, newName);
    this.indexOf.set(newName, index);
    if (this.interfaces.includes(newName)) this.emit('link', newName, linkObservation(m));
  }

  /**
   * Makes the kernel prove the gateway still answers. An entry with a link-layer address
   * (REACHABLE/STALE/DELAY) is set to PROBE: the kernel sends unicast solicitations at once and
   * ends in REACHABLE or, after ucast_solicit x retrans_time unanswered, FAILED. A FAILED or missing
   * entry is re-resolved with NTF_USE (as if a packet were queued): INCOMPLETE, then REACHABLE or
   * FAILED. Entries already probing, static entries and interfaces that do not exist are left alone.
   *
   * The cache can be behind the kernel: a re-read (at start, after lost notifications) can be
   * handled after a newer notification and bring back a PROBE or INCOMPLETE the kernel has left.
   * An entry that went REACHABLE meanwhile is not notified again until its own timers move it
   * (REACHABLE -> DELAY is silent), so it would go unprobed for up to reachable_time (15-45 s)
   * and a dead gateway unseen as long. So a PROBE or INCOMPLETE that no report has changed since
   * the last round is read again before acting on it, and a failed request is treated as a lost
   * notification: everything is re-read (the monitor logs why).
   */
  async verifyNeighbour(w: NeighbourWatch): Promise<void> {
    if (!this.req) return;
    let cur = this.neighbours.get(w) ?? ABSENT;
    if ((cur.nud === 'probe' || cur.nud === 'incomplete') && this.verified.get(w) === cur) {
      await this.resync();
      cur = this.neighbours.get(w) ?? ABSENT;
    }
    const req = this.req;
    const ifindex = this.indexOf.get(w.interface);
    if (!req || ifindex === undefined) return;
    this.verified.set(w, cur);
    const dst = this.gatewayBytes.get(w)!;
    const what = `neighbour ${w.gateway} dev ${w.interface}`;
    try {
      switch (cur.nud) {
        case 'reachable':
        case 'stale':
        case 'delay':
          // NLM_F_REPLACE without NTF_ROUTER would clear an IPv6 router flag: keep it.
          await req.newNeighbor({ family: afOf(w.family), ifindex, state: { probe: true }, flags: cur.router ? { router: true } : {} },
            { dst }, { flags: FlagsNew.REPLACE, timeout: REQUEST_TIMEOUT_MS });
          break;
        case 'failed':
        case 'absent':
        case 'none':
          await req.newNeighbor({ family: afOf(w.family), ifindex, state: {}, flags: { use: true } },
            { dst }, { flags: FlagsNew.CREATE | FlagsNew.REPLACE, timeout: REQUEST_TIMEOUT_MS });
          break;
        default:
          break;
      }
    } catch (err) {
      const error = parseNetlinkError(err, `verify ${what} (was ${cur.nud})`);
      if (this.listen) this.recover(error.message);
      throw error;
    }
  }

  /** The first global address of `family` on the interface (what TCP/HTTP probes bind to). */
  async sourceAddress(ifname: string, family: IpFamily): Promise<string | undefined> {
    const index = this.indexOf.get(ifname);
    if (!this.rtnl || index === undefined) return undefined;
    const addrs = await this.rtnl.addresses(family);
    return addrs.find((a) => {
      const p = parseIp(a.address);
      return a.index === index && p.ok && addressClass(p.value) === 'unicast';
    })?.address;
  }
}
