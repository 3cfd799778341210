// What the dataplane reconciler reports to the daemon, health, metrics and the CLI.
import type { DesiredDataplane } from '../plan/types.js';
import type { Drift } from '../dataplane/drift.js';
import type { MulticastStats } from '../dataplane/rtnl-multicast.js';

export interface ApplyResult {
  /** When the apply finished (Unix epoch ms). */
  at: number;
  durationMs: number;
  trigger: 'startup' | 'init' | 'netlink' | 'periodic' | 'manual' | 'reload';
  /** What was wrong before the apply (empty on a no-change pass). */
  drift: Drift[];
  changed: boolean;
  /** Read-back verification after the apply: empty when the live state matches. */
  remaining: Drift[];
  error?: string;
}

export interface DataplaneStatus {
  desired: DesiredDataplane | null;
  verified: boolean;
  lastApply: ApplyResult | null;
  lastError: string | null;
  applies: number;
  repairs: number;
  /** The change listener while running: notifications lost to overflows (ENOBUFS) and its receive buffer. */
  netlink: MulticastStats | null;
  /** Per-family interface facts in use, for /status. */
  interfaces: { family: 4 | 6; internal: string; external: string; internalUp: boolean; externalUp: boolean }[];
}

/** The narrow surface the daemon uses; implemented by agent/reconcile. */
export interface DataplaneReconciler {
  /** Apply once and verify; throws InputError for discovery problems (nothing applied). */
  applyOnce(trigger: ApplyResult['trigger']): Promise<ApplyResult>;
  /** Start watching netlink and the periodic iptables verification. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): DataplaneStatus;
  on(event: 'applied', listener: (r: ApplyResult) => void): this;
}
