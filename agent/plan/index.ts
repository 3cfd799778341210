// agent/plan: pure functions from validated config + discovered facts to the desired dataplane, and
// the pure iptables text helpers the dataplane layer uses to apply and verify it. No I/O.
//
//   plan(config: GatewayConfig, facts: Facts): DesiredDataplane
//       sysctls, table-1000 routes, rules 1001-1004, one hash:net no-SNAT set per family and the
//       owned nat chains + hook jumps per family. Throws only on programmer error (a configured
//       family without facts). Deterministic: same inputs, deep-equal output.
//   renderIptablesRestore(desired: DesiredIptables, present: ParsedIptables): string
//       `iptables-restore --noflush` input for one family: owned chains declared+flushed+filled,
//       missing hooks inserted at the top, duplicate hooks deleted, stale owned chains removed.
//       `present` = parseIptablesSave(<that family's iptables-save>).
//   parseIptablesSave(text): ParsedIptables            tables -> chains -> rule specs
//   diffIptables(desired, actual: ParsedIptables): IptablesDrift[]   (empty = in sync)
//   describeIptablesDrift(drift): string               one log line
//   names: GATEWAY_TABLE, DEFAULT_TABLE, RULE_PRIORITY, CHAIN, OWNED_CHAINS, noSnatSetName(family),
//          NAT_TABLE, BFD_CONTROL_PORT, IPSET_DEFAULT_MAXELEM
export { plan } from './plan.js';
export { renderIptablesRestore } from './iptables-render.js';
export { parseIptablesSave } from './iptables-save.js';
export { diffIptables, describeIptablesDrift, staleOwnedChains } from './iptables-diff.js';
export {
  BFD_CONTROL_PORT, CHAIN, DEFAULT_TABLE, EVPN, GATEWAY_TABLE, IPSET_DEFAULT_MAXELEM, NAT_TABLE, OWNED_CHAINS, RULE_PRIORITY,
  noSnatSetName,
} from './names.js';
export type * from './types.js';
