// BFD session limits, defined once for TypeScript: config validation, the control socket's
// bfd.setTimers and the session specs check against these. The native engine enforces the same
// numbers (native/src/core/types.h; the addon exports them as `limits`, and a unit test compares).
// A leaf module, so config validation does not load the addon.

/** Whole milliseconds only: OVN truncates microseconds to ms, and below 1 ms to "never". */
export const MIN_INTERVAL_MS = 1;
/** The CRD bound of spec.bfd.minRX/minTX (1 h). */
export const MAX_INTERVAL_MS = 3_600_000;
/** Detect Mult is one byte on the wire (RFC 5880 4.1); Kube-OVN's supervisor refuses more too. */
export const MAX_MULTIPLIER = 255;
/** The longest drain the engine accepts (engine.drain's graceMs). */
export const MAX_DRAIN_GRACE_MS = 3_600_000;
