// Running totals of dataplane applies (durations as a cumulative histogram, drift by kind), kept
// by the daemon from the reconciler's 'applied' events so /metrics can read them at scrape time.
import type { ApplyResult } from '../reconcile/types.js';
import { APPLY_BUCKETS_MS, type ApplyStats } from '../status/types.js';

export const emptyApplyStats = (): ApplyStats => ({
  count: 0, sumMs: 0, buckets: APPLY_BUCKETS_MS.map(() => 0), driftByKind: {}, failures: 0, last: null,
});

export function observeApply(stats: ApplyStats, r: ApplyResult): void {
  stats.count++;
  stats.sumMs += r.durationMs;
  APPLY_BUCKETS_MS.forEach((le, i) => {
    if (r.durationMs <= le) stats.buckets[i]!++;
  });
  for (const d of r.drift) stats.driftByKind[d.kind] = (stats.driftByKind[d.kind] ?? 0) + 1;
  if (r.error) stats.failures++;
  stats.last = r;
}
