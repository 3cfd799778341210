// When a broken dataplane takes this gateway out of ECMP. Pure and clock-injected. BFD sessions
// are held AdminDown (diag 4, Forwarding Plane Reset) until the dataplane has been verified once,
// and again whenever it stays unverified for `afterMs` (a drift the reconciler repairs at once
// never flaps BFD). Otherwise OVN would keep sending traffic to a replica that cannot SNAT or route it.
export interface GateVerdict {
  withdraw: boolean;
  why: string;
}

export class DataplaneGate {
  private verifiedOnce = false;
  private brokenSince: number | null = null;
  private lastError: string | null = null;

  constructor(private readonly afterMs: number) {}

  /** The reconciler's verdict after an apply or verification pass. */
  observe(verified: boolean, error: string | null, now: number): void {
    if (verified) {
      this.verifiedOnce = true;
      this.brokenSince = null;
      this.lastError = null;
      return;
    }
    this.brokenSince ??= now;
    this.lastError = error;
  }

  verdict(now: number): GateVerdict {
    const error = this.lastError ? `: ${this.lastError}` : '';
    if (!this.verifiedOnce) return { withdraw: true, why: `dataplane not verified yet${error}` };
    if (this.brokenSince === null) return { withdraw: false, why: '' };
    const brokenMs = now - this.brokenSince;
    if (brokenMs >= this.afterMs) return { withdraw: true, why: `dataplane broken for ${brokenMs} ms (limit ${this.afterMs} ms)${error}` };
    return { withdraw: false, why: '' };
  }

  /** When verdict() would change on its own (the bound passing), if it will. */
  nextDeadline(now: number): number | undefined {
    if (!this.verifiedOnce || this.brokenSince === null) return undefined;
    const at = this.brokenSince + this.afterMs;
    return at > now ? at : undefined;
  }
}
