// Current SNAT and forwarded flows, tracked from NEW/DESTROY events and resynchronised from a table
// dump (at start, and after events were lost). While a dump runs, events keep arriving; the result
// is computed as a set: (dumped ∪ new during the dump) − destroyed during the dump, matched by
// conntrack id, so a flow is neither counted twice nor kept after it ended.
import type { FlowClass } from './types.js';

type Counted = Exclude<FlowClass, 'local'>;

export interface FlowCountsSnapshot {
  snat: number;
  forwarded: number;
}

interface Resync {
  counts: FlowCountsSnapshot;
  /** NEW during the dump: id -> class, and whether the dump also listed it. */
  added: Map<number, { cls: Counted; dumped: boolean }>;
  /** DESTROY during the dump: id -> class. */
  destroyed: Map<number, Counted>;
}

/** Events remembered during one resync (~100 bytes each): beyond this it is abandoned. */
export const MAX_RESYNC_PENDING = 100_000;

export class FlowCounts {
  private counts: FlowCountsSnapshot = { snat: 0, forwarded: 0 };
  private resync: Resync | null = null;
  readonly started: FlowCountsSnapshot = { snat: 0, forwarded: 0 };
  /** Whether the last resync was abandoned because too many events arrived while it ran. */
  abandoned = false;

  /** `maxPending`: NEW + DESTROY events remembered while a dump runs (memory bound). */
  constructor(private readonly maxPending = MAX_RESYNC_PENDING) {}

  current(): FlowCountsSnapshot {
    return { ...this.counts };
  }

  get resyncing(): boolean {
    return this.resync !== null;
  }

  onNew(id: number, cls: FlowClass): void {
    if (cls === 'local') return;
    this.started[cls]++;
    if (this.resync) {
      this.resync.added.set(id, { cls, dumped: false });
      this.checkBound();
    } else {
      this.counts[cls]++;
    }
  }

  onDestroy(id: number, cls: FlowClass): void {
    if (cls === 'local') return;
    if (this.resync) {
      this.resync.destroyed.set(id, cls);
      this.checkBound();
    } else {
      this.counts[cls] = Math.max(0, this.counts[cls] - 1);
    }
  }

  beginResync(): void {
    this.abandoned = false;
    this.resync = { counts: { snat: 0, forwarded: 0 }, added: new Map(), destroyed: new Map() };
  }

  /** One entry of the dump. */
  onDumped(id: number, cls: FlowClass): void {
    const r = this.resync;
    if (!r || cls === 'local') return;
    const added = r.added.get(id);
    if (added) added.dumped = true;
    else if (!r.destroyed.has(id)) r.counts[cls]++;
  }

  endResync(): void {
    const r = this.resync;
    if (!r) return;
    for (const [id, a] of r.added) {
      if (!r.destroyed.has(id)) r.counts[a.cls]++;
    }
    this.counts = r.counts;
    this.resync = null;
  }

  /** Too many events during a (slow) dump: give it up rather than grow without bound. */
  private checkBound(): void {
    const r = this.resync!;
    if (r.added.size + r.destroyed.size <= this.maxPending) return;
    this.abortResync();
    this.abandoned = true;
  }

  /** The dump failed: keep the event-tracked counts, applying what happened meanwhile. */
  abortResync(): void {
    const r = this.resync;
    if (!r) return;
    this.resync = null;
    for (const a of r.added.values()) this.counts[a.cls]++;
    for (const cls of r.destroyed.values()) this.counts[cls] = Math.max(0, this.counts[cls] - 1);
  }
}
