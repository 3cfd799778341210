// SNAT port capacity: the open SNAT flows, and per SNAT address x destination
// address:port x protocol the translated source ports in use. The kernel needs a free source port
// per such key (the reply tuple must be unique), so a busy source talking to one destination runs
// out long before the table does, and new flows then fail silently (insert_failed). Kept from the
// event stream (O(1) per event) and reconciled with table dumps: nothing scans the table per scrape.
import type { ConntrackEvent } from './types.js';

export interface PortKey {
  /** The map key: protocol, SNAT address, destination address and port. */
  name: string;
  proto: string;
  /** The translated source address (the reply tuple's destination). */
  snat: string;
  /** The destination as the kernel matches replies: the reply tuple's source address and port. */
  dst: string;
  dport: number;
  inUse: number;
}

/** What identifies a key (PortKey without the counters). */
export type PortKeySpec = Pick<PortKey, 'proto' | 'snat' | 'dst' | 'dport'>;

function keyOf(ev: ConntrackEvent): PortKeySpec | null {
  return ev.reply.sport === null ? null : { proto: ev.proto, snat: ev.reply.dst, dst: ev.reply.src, dport: ev.reply.sport };
}

/**
 * A live flow's identity: the conntrack id with the translated source port. The id alone is a
 * 32-bit hash (nf_ct_get_id), and among 20,000 open flows two share one about once in twenty
 * tables; two open flows of one key never share a translated port.
 */
export const flowIdentity = (id: number, translatedPort: number | null): number => id * 65536 + (translatedPort ?? 0);
const identityOf = (ev: ConntrackEvent): number => flowIdentity(ev.id, ev.reply.dport);

export interface PortUsage extends Omit<PortKey, 'name'> {
  available: number;
  /** inUse / range. */
  ratio: number;
}

/** A flow known from a NEW event or a dump; `recovered`: first seen in a dump after a loss. */
interface OpenFlow {
  key: PortKey | null;
  recovered: boolean;
}

export class SnatPorts {
  private flows = new Map<number, OpenFlow>();
  private readonly keys = new Map<string, PortKey>();

  /** `rangeSize`: ports the NAT rule can allocate per key. */
  constructor(private rangeSize: number) {}

  get size(): number {
    return this.flows.size;
  }

  setRange(size: number): void {
    this.rangeSize = size;
  }

  get range(): number {
    return this.rangeSize;
  }

  /**
   * A SNAT flow started. Returns its key (null for flows without ports), or undefined when the flow
   * was already known from the dump that recovered it (its start record was written then).
   */
  onNew(ev: ConntrackEvent): PortKey | null | undefined {
    return this.onNewFlow(identityOf(ev), keyOf(ev));
  }

  /** onNew from the flow's identity (flowIdentity) and key (null: no ports), for callers that read records, not events. */
  onNewFlow(id: number, spec: PortKeySpec | null): PortKey | null | undefined {
    const known = this.flows.get(id);
    if (known?.recovered) {
      known.recovered = false;
      return undefined;
    }
    if (known) this.release(id, known); // its DESTROY was lost and the id and port reused
    const key = this.acquire(spec);
    this.flows.set(id, { key, recovered: false });
    return key;
  }

  /** A SNAT flow ended. */
  onDestroy(ev: ConntrackEvent): void {
    this.onDestroyFlow(identityOf(ev));
  }

  /** onDestroy from the flow's identity (flowIdentity), for callers that read records. */
  onDestroyFlow(id: number): void {
    const f = this.flows.get(id);
    if (f) this.release(id, f);
  }

  /**
   * Replaces the open flows with a table dump's SNAT entries (the caller runs the dump
   * synchronously, so no event interleaves). Returns the entries not known before: their NEW
   * events were lost. Flows missing from the dump ended while their DESTROY was lost.
   */
  reconcile(dumped: ConntrackEvent[]): ConntrackEvent[] {
    const before = this.flows;
    this.flows = new Map();
    this.keys.clear();
    const unknown: ConntrackEvent[] = [];
    for (const ev of dumped) {
      const was = before.get(identityOf(ev));
      if (!was) unknown.push(ev);
      this.flows.set(identityOf(ev), { key: this.acquire(keyOf(ev)), recovered: !was || was.recovered });
    }
    return unknown;
  }

  /** The keys sorted tightest first, at most `limit`. */
  usage(limit = Infinity): PortUsage[] {
    const all = [...this.keys.values()].sort((a, b) => b.inUse - a.inUse);
    return all.slice(0, limit).map((k) => this.usageOf(k));
  }

  usageOf(k: PortKey): PortUsage {
    const { name: _name, ...rest } = k;
    return { ...rest, available: Math.max(0, this.rangeSize - k.inUse), ratio: this.rangeSize > 0 ? k.inUse / this.rangeSize : 1 };
  }

  private acquire(spec: PortKeySpec | null): PortKey | null {
    if (spec === null) return null;
    const name = `${spec.proto} ${spec.snat} ${spec.dst} ${spec.dport}`;
    let k = this.keys.get(name);
    if (!k) {
      k = { name, ...spec, inUse: 0 };
      this.keys.set(name, k);
    }
    k.inUse++;
    return k;
  }

  private release(id: number, f: OpenFlow): void {
    this.flows.delete(id);
    const k = f.key;
    if (!k) return;
    k.inUse--;
    if (k.inUse <= 0) this.keys.delete(k.name);
  }
}
