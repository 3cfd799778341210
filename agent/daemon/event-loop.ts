// Event-loop delay, measured by Node's own histogram (perf_hooks). The windows rotate so the
// numbers describe the last 10-20 s, not the whole life of the process.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { guardedInterval } from '../lib/guard.js';
import type { EventLoopStats } from '../status/types.js';

const NS_PER_MS = 1e6;

export class EventLoopMonitor {
  private histogram: IntervalHistogram | null = null;
  private timer: NodeJS.Timeout | null = null;
  private previous: EventLoopStats | null = null;
  private rotatedAt = Date.now();

  constructor(private readonly rotateMs = 10_000, private readonly resolutionMs = 10) {}

  start(): void {
    this.histogram = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.histogram.enable();
    this.rotatedAt = Date.now();
    this.timer = guardedInterval('event loop: rotate', () => this.rotate(), this.rotateMs).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.histogram?.disable();
    this.timer = null;
  }

  stats(): EventLoopStats {
    const current = this.current();
    const prev = this.previous;
    if (!prev) return current;
    return {
      p50Ms: Math.max(current.p50Ms, prev.p50Ms),
      p99Ms: Math.max(current.p99Ms, prev.p99Ms),
      maxMs: Math.max(current.maxMs, prev.maxMs),
      meanMs: (current.meanMs + prev.meanMs) / 2,
      windowMs: current.windowMs + prev.windowMs,
    };
  }

  private current(): EventLoopStats {
    const h = this.histogram;
    const windowMs = Date.now() - this.rotatedAt;
    if (!h || h.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0, windowMs };
    // The histogram includes the sampling resolution itself; subtract it to report pure lag.
    const lag = (ns: number) => Math.max(0, ns / NS_PER_MS - this.resolutionMs);
    return { p50Ms: lag(h.percentile(50)), p99Ms: lag(h.percentile(99)), maxMs: lag(h.max), meanMs: lag(h.mean), windowMs };
  }

  private rotate(): void {
    this.previous = this.current();
    this.histogram?.reset();
    this.rotatedAt = Date.now();
  }
}
