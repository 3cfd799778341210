// Upstream health -> BFD admin actions. Pure: given the monitor's status and the engine's sessions,
// return what to call. A withdrawn family's sessions go AdminDown with diagnostic 6 (Concatenated
// Path Down, RFC 5880 §6.8.17): OVN ignores diagnostics and removes a nexthop only on Down or
// AdminDown (docs/kube-ovn-contract.md §7, OVN-11 in docs/bfd-requirements.md), so the state carries the signal and the diagnostic says why.
// The same translation holds sessions AdminDown while this gateway's own dataplane is broken
// (diagnostic 4, Forwarding Plane Reset; the status entry carries it). Only sessions we took down
// (AdminDown with one of those two diagnostics) are brought back, so a drain or an operator's
// AdminDown (diagnostic AdministrativelyDown) is never undone here.
import type { BfdDiag, BfdSessionState } from '../bfd/types.js';
import { ipFamily, type IpFamily } from '../lib/ip.js';
import type { UpstreamFamilyStatus } from './policy.js';

export const UPSTREAM_DOWN_DIAG: BfdDiag = 'ConcatenatedPathDown';
/** The dataplane (SNAT, ipset, routes, rules) could not be applied or verified. */
export const DATAPLANE_DOWN_DIAG: BfdDiag = 'ForwardingPlaneReset';
const OUR_DIAGS: readonly BfdDiag[] = [UPSTREAM_DOWN_DIAG, DATAPLANE_DOWN_DIAG];

/** A family's withdrawal verdict; `diag` defaults to UPSTREAM_DOWN_DIAG. */
export interface WithdrawStatus {
  family: IpFamily;
  withdraw: boolean;
  reasons: readonly Pick<UpstreamFamilyStatus['reasons'][number], 'withdraw' | 'message'>[];
  diag?: BfdDiag;
}

export type BfdAdminAction =
  | { op: 'adminDown'; local: string; remote: string; diag: BfdDiag; family: IpFamily; why: string }
  | { op: 'adminUp'; local: string; remote: string; family: IpFamily; why: string };

export function upstreamBfdActions(
  status: readonly WithdrawStatus[],
  sessions: readonly Pick<BfdSessionState, 'local' | 'remote' | 'state' | 'localDiag'>[],
): BfdAdminAction[] {
  const byFamily = new Map(status.map((s) => [s.family, s]));
  const actions: BfdAdminAction[] = [];
  for (const s of sessions) {
    const family = ipFamily(s.local);
    const st = family === undefined ? undefined : byFamily.get(family);
    // Families the monitor does not watch (e.g. an IPv6 session with an IPv4-only underlay) are left alone.
    if (!st || family === undefined) continue;
    if (st.withdraw && s.state !== 'AdminDown') {
      const why = st.reasons.filter((r) => r.withdraw).map((r) => r.message).join('; ') || 'upstream withdrawn';
      actions.push({ op: 'adminDown', local: s.local, remote: s.remote, diag: st.diag ?? UPSTREAM_DOWN_DIAG, family, why });
    } else if (!st.withdraw && s.state === 'AdminDown' && OUR_DIAGS.includes(s.localDiag)) {
      const why = s.localDiag === DATAPLANE_DOWN_DIAG ? 'dataplane verified again' : `IPv${family} upstream healthy again`;
      actions.push({ op: 'adminUp', local: s.local, remote: s.remote, family, why });
    }
  }
  return actions;
}

/** The engine calls applyUpstreamToBfd needs (BfdEngine and the daemon's BfdEnginePort have them). */
export interface BfdAdminPort {
  sessions(): Pick<BfdSessionState, 'local' | 'remote' | 'state' | 'localDiag'>[];
  adminDown(local: string, remote: string, diag?: BfdDiag): void;
  adminUp(local: string, remote: string): void;
}

/**
 * Brings the engine's admin state in line with the upstream status and returns what it did. Call
 * it on every monitor 'change', on every BFD state event and after sessions are (re)created: it
 * is idempotent, so extra calls cost one sessions() read.
 */
export function applyUpstreamToBfd(status: readonly UpstreamFamilyStatus[], engine: BfdAdminPort): BfdAdminAction[] {
  const actions = upstreamBfdActions(status, engine.sessions());
  for (const a of actions) {
    if (a.op === 'adminDown') engine.adminDown(a.local, a.remote, a.diag);
    else engine.adminUp(a.local, a.remote);
  }
  return actions;
}
