// What a reload changes in place and what only a restart applies, decided from the running and the
// new configuration alone (pure); the daemon carries it out.
import type { GatewayConfig } from '../config/types.js';

export interface ReloadPlan {
  /** The new log level and its change line, or null when it is the same. */
  logLevel: { level: string; change: string } | null;
  /** Settings that take effect only after a restart: reported, not a failure of the reload. */
  restartNeeded: string[];
  /** Inputs of the dataplane plan changed: re-planned rather than re-applied. */
  dataplaneChanged: boolean;
  /** The configuration the agent runs with afterwards: the new one, with the servers' addresses kept. */
  effective: GatewayConfig;
}

/** Fields whose change needs a new dataplane plan. */
const dataplaneKey = (c: GatewayConfig) =>
  JSON.stringify([c.families, c.internalInterface, c.externalInterface, c.reconcileIntervalMs]);

export function planReload(old: GatewayConfig, next: GatewayConfig): ReloadPlan {
  const restartNeeded: string[] = [];
  for (const [what, a, b] of [['health listen address', old.healthListen, next.healthListen], ['control socket', old.controlSocket, next.controlSocket], ['compat socket', old.compatSocket, next.compatSocket]] as const) {
    if (a !== b) restartNeeded.push(`${what} change ${a} -> ${b} takes effect after a restart`);
  }
  return {
    logLevel: next.logLevel === old.logLevel ? null : { level: next.logLevel, change: `log level ${old.logLevel} -> ${next.logLevel}` },
    restartNeeded,
    dataplaneChanged: dataplaneKey(old) !== dataplaneKey(next),
    effective: { ...next, healthListen: old.healthListen, controlSocket: old.controlSocket, compatSocket: old.compatSocket },
  };
}
