// The dataplane this process manages: the reconciler (created at start, or by the first reload that
// brings an address family), the running totals of its applies, and the gate that holds BFD
// AdminDown while it is not verified (dataplane-gate.ts), with a timer for the gate's deadline.
import { formatConfigErrors, InputError } from '../config/errors.js';
import type { GatewayConfig } from '../config/types.js';
import { guard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import type { ApplyResult } from '../reconcile/types.js';
import { emptyApplyStats, observeApply } from './apply-stats.js';
import { DataplaneGate, type GateVerdict } from './dataplane-gate.js';
import type { Clock, DaemonPorts, ReconcilerPort } from './ports.js';
import { StartupInputError } from './startup-error.js';

const DEFAULT_WITHDRAW_AFTER_MS = 10_000;

export interface ManagedDataplaneDeps {
  create: DaemonPorts['createReconciler'];
  clock: Clock;
  log: Logger;
  /** The running configuration's bound (read when the first reconciler is attached). */
  withdrawAfterMs: () => number | undefined;
  /** The gate's verdict may have changed: re-apply the BFD admin state. */
  onVerdict: (trigger: string) => void;
}

export class ManagedDataplane {
  private current: ReconcilerPort | null = null;
  readonly applyStats = emptyApplyStats();
  private gate: DataplaneGate | null = null;
  private cancelGateTimer: (() => void) | null = null;

  constructor(private readonly deps: ManagedDataplaneDeps) {}

  /** Null when this process manages no dataplane. */
  get reconciler(): ReconcilerPort | null {
    return this.current;
  }

  /** Creates the reconciler, applies once and starts watching; discovery errors are bad input. */
  async start(config: GatewayConfig): Promise<void> {
    const { create, log } = this.deps;
    const reconciler = await create(config, log);
    if (!reconciler) {
      log.info('no address family has both gateways configured: the dataplane is not managed by this process');
      return;
    }
    this.attach(reconciler);
    try {
      const r = await reconciler.applyOnce('startup').catch((err: unknown) => {
        // Discovery found the inputs wrong (gateway unreachable, interface missing): bad input, exit 2.
        if (err instanceof InputError) throw new StartupInputError(formatConfigErrors(err.errors).split('\n'));
        throw err;
      });
      if (r.error || r.remaining.length) {
        log.warn({ error: r.error, remaining: r.remaining }, 'dataplane not verified after the first apply; the reconciler keeps repairing; BFD stays AdminDown until it is verified');
      }
      this.observe();
      await reconciler.start();
    } catch (err) {
      // A failed start cleans up after itself: the unwind stops only what started.
      await reconciler.stop().catch(() => undefined);
      throw err;
    }
  }

  /** Reload: re-plans or re-applies the running dataplane, or starts managing one; a change line and an error for the reload record. */
  async reload(next: GatewayConfig, replanned: boolean): Promise<{ change: string | null; error: string | null }> {
    const running = this.current;
    if (running && !next.families.length) {
      return { change: null, error: 'the new configuration has no address family: the running dataplane is kept; restart to drop it' };
    }
    if (running) {
      const r = await running.reload(next);
      return {
        change: replanned ? 'dataplane configuration changed: re-planned and applied' : 'dataplane re-applied',
        error: r.error ? `dataplane: ${r.error}` : null,
      };
    }
    if (!next.families.length) return { change: null, error: null };
    const reconciler = await this.deps.create(next, this.deps.log);
    if (!reconciler) return { change: null, error: null };
    this.attach(reconciler);
    await reconciler.applyOnce('reload');
    await reconciler.start();
    return { change: 'dataplane now managed: planned and applied', error: null };
  }

  /** The gate's verdict now, or null when no dataplane is managed. */
  verdict(now: number): GateVerdict | null {
    return this.gate && this.current ? this.gate.verdict(now) : null;
  }

  /** No gate deadline fires any more. */
  cancelTimer(): void {
    this.cancelGateTimer?.();
  }

  /** The reconciler stops watching; what it applied stays, so forwarding continues until the Pod goes. */
  async stop(): Promise<void> {
    this.cancelTimer();
    await this.current?.stop();
  }

  private attach(r: ReconcilerPort): void {
    this.current = r;
    this.gate ??= new DataplaneGate(this.deps.withdrawAfterMs() ?? DEFAULT_WITHDRAW_AFTER_MS);
    // The reconciler logs each pass itself (repairs at warn, failures at error); here we count and gate BFD.
    r.on('applied', guard('daemon: dataplane applied', (result: ApplyResult) => {
      if (this.current !== r) return;
      observeApply(this.applyStats, result);
      this.observe();
    }));
  }

  /** Feeds the reconciler's verdict to the gate and BFD; re-checks when the bound would pass. */
  private observe(): void {
    const r = this.current;
    if (!r || !this.gate) return;
    const st = r.status();
    const { clock, onVerdict } = this.deps;
    const now = clock.now();
    this.gate.observe(st.verified, st.lastError, now);
    onVerdict('dataplane');
    this.cancelGateTimer?.();
    const at = this.gate.nextDeadline(now);
    this.cancelGateTimer = at === undefined ? null : clock.after('daemon: dataplane gate deadline', at - now + 1, () => onVerdict('dataplane broken too long'));
  }
}
