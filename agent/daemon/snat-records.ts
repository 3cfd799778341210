// SNAT mapping records in the daemon: whether this process records them, with which settings, and
// what /status shows. Records are written only where the agent manages the dataplane (it owns the
// SNAT rules there); Kube-OVN's bfdd container (no gateways) never records.
import type { GatewayConfig } from '../config/types.js';
import { DEFAULT_SNAT_RECORDS, type SnatRecordsConfig } from '../config/snat-records.js';
import type { Logger } from '../lib/log.js';
import { OptionalSubsystem } from './optional.js';
import type { DaemonPorts, SnatRecorderPort } from './ports.js';

export type SnatRecordsPlan = { config: SnatRecordsConfig } | { off: string };

export function planSnatRecords(config: GatewayConfig, managed: boolean): SnatRecordsPlan {
  const s = config.snatRecords;
  if (!s?.enabled) return { off: 'disabled by configuration (snatRecords.enabled is false)' };
  if (!managed) return { off: 'this agent manages no dataplane (no address family has both gateways): no SNAT to record' };
  return { config: { ...s, conntrackCommand: DEFAULT_SNAT_RECORDS.conntrackCommand, eventSource: DEFAULT_SNAT_RECORDS.eventSource } };
}

/** SNAT records as an optional subsystem: on while planSnatRecords says so; a failed start is only "off". */
export function snatRecordsSubsystem(ports: Pick<DaemonPorts, 'createSnatRecorder'>, log: Logger): OptionalSubsystem<SnatRecordsConfig, SnatRecorderPort> {
  const create = ports.createSnatRecorder;
  return new OptionalSubsystem({
    label: 'SNAT records',
    replaced: 'restarted',
    create: create ? (config) => create.call(ports, config, log) : null,
    start: (recorder) => recorder.start(),
    stop: (recorder) => recorder.stop(),
    describe: (config) => config.dir,
    startFailed: (err, config) => {
      // Records are observability: forwarding and BFD go on without them; /status says why.
      log.error({ err: err.message, dir: config.dir }, 'SNAT records could not start; the agent keeps forwarding without them');
      return `failed to start: ${err.message}`;
    },
  }, log);
}
