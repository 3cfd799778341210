// SNAT mapping records in the daemon: whether this process records them, with which settings, and
// what /status shows. Records are written only where the agent manages the dataplane (it owns the
// SNAT rules there); Kube-OVN's bfdd container (no gateways) never records.
import type { GatewayConfig } from '../config/types.js';
import { DEFAULT_SNAT_RECORDS, type SnatRecordsConfig } from '../config/snat-records.js';

export type SnatRecordsPlan = { config: SnatRecordsConfig } | { off: string };

export function planSnatRecords(config: GatewayConfig, managed: boolean): SnatRecordsPlan {
  const s = config.snatRecords;
  if (!s?.enabled) return { off: 'disabled by configuration (snatRecords.enabled is false)' };
  if (!managed) return { off: 'this agent manages no dataplane (no address family has both gateways): no SNAT to record' };
  return { config: { ...s, conntrackCommand: DEFAULT_SNAT_RECORDS.conntrackCommand, eventSource: DEFAULT_SNAT_RECORDS.eventSource } };
}
