// Public surface of upstream health: the monitor, its options, and the BFD translation.
export { UpstreamMonitor, type ProbeResultEvent } from './monitor.js';
export {
  DEFAULT_HOLD_DOWN_MS, DEFAULT_NEIGHBOUR_VERIFY_INTERVAL_MS, DEFAULT_PROBE_TIMING, parseProbeFlag, resolveUpstreamOptions,
  UpstreamOptionsError, type ProbeFailureAction, type ProbeTarget, type ProbeTargetInput, type UpstreamFamily,
  type UpstreamOptions, type UpstreamOptionsInput,
} from '../config/upstream-options.js';
export type { SignalStatus, UpstreamFamilyStatus, UpstreamReason } from './policy.js';
export {
  applyUpstreamToBfd, upstreamBfdActions, DATAPLANE_DOWN_DIAG, UPSTREAM_DOWN_DIAG, type BfdAdminAction, type BfdAdminPort, type WithdrawStatus,
} from './bfd-link.js';
