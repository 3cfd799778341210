// The flow log's rate limit, a token bucket with golang.org/x/time/rate's behaviour as upstream
// uses it: it starts full (`burst` tokens), refills at `perSecond`, and a record that finds no
// token is dropped (counted as log_drops_total{reason="rate_limit"}), never delayed.

/** Upstream's defaults when the config leaves rateLimit unset. */
export const DEFAULT_RECORDS_PER_SECOND = 100;
export const DEFAULT_BURST = 1000;

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(readonly perSecond: number, readonly burst: number, private readonly now: () => number = () => performance.now()) {
    this.tokens = burst;
    this.last = now();
  }

  allow(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The bucket for a config's rateLimit (0 = unset = upstream's default). */
export function limiterFor(recordsPerSecond: number, burst: number, now?: () => number): TokenBucket {
  return new TokenBucket(recordsPerSecond > 0 ? recordsPerSecond : DEFAULT_RECORDS_PER_SECOND, burst > 0 ? burst : DEFAULT_BURST, now);
}
