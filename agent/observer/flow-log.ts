// The flow log: JSON Lines on stdout (the container log, where upstream writes them), through a
// bounded queue like upstream's (4096 records): records are gathered and written once per event
// loop turn, and a record that finds the queue full is dropped and counted
// (log_drops_total{reason="queue_full"}), so a slow log reader costs records, never memory.
import type { Writable } from 'node:stream';
import { flowLine, type FlowRecord } from './flow.js';
import type { ObserverMetrics } from './metrics.js';

/** Upstream's DefaultLogQueue. */
export const LOG_QUEUE_RECORDS = 4096;

export class FlowLog {
  private pending: FlowRecord[] = [];
  /** Records handed to the stream whose write has not completed. */
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly out: Writable, private readonly metrics: ObserverMetrics, private readonly capacity = LOG_QUEUE_RECORDS) {}

  /** Queues one record; false when the queue was full and it was dropped. */
  push(record: FlowRecord): boolean {
    if (this.pending.length + this.inFlight >= this.capacity) {
      this.metrics.logDrops.inc(this.metrics.labels({ reason: 'queue_full' }));
      return false;
    }
    this.pending.push(record);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Records queued or being written. */
  backlog(): number {
    return this.pending.length + this.inFlight;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.inFlight += batch.length;
    const counts = { start: 0, end: 0 };
    for (const r of batch) counts[r.event === 'end' ? 'end' : 'start']++;
    this.out.write(batch.map(flowLine).join(''), (err) => {
      this.inFlight -= batch.length;
      if (err) {
        this.metrics.logDrops.inc(this.metrics.labels({ reason: 'write_error' }), batch.length);
        return;
      }
      for (const event of ['start', 'end'] as const) if (counts[event] > 0) this.metrics.logRecords.inc(this.metrics.labels({ event }), counts[event]);
    });
  }
}
