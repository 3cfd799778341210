// Public surface of the BFD facade.
import type { BfdConfig } from '../config/types.js';
import { assignDiscriminators } from './discriminators.js';
import { expectedPairs, expectedSessions } from './sessions.js';
import type { BfdSessionSpec } from './types.js';

export { BfdEngine, type BfdEngineOptions, type BfdSessionChange } from './engine.js';
export { assignDiscriminators, hashedDiscriminator, type DiscriminatorResult } from './discriminators.js';
export { expectedPairs, expectedSessions, pairKey, type SessionPair } from './sessions.js';
export { specErrors, assertSpec, DETECT_LATENESS_BOUNDS_US } from './spec.js';
export type * from './types.js';

/** The expected sessions of a config with discriminators kept stable in cfg.statePath. */
export async function loadExpectedSessions(cfg: BfdConfig): Promise<{ specs: BfdSessionSpec[]; persisted: boolean; warnings: string[] }> {
  if (!cfg.enabled) return { specs: [], persisted: true, warnings: [] };
  const r = await assignDiscriminators(cfg.statePath, expectedPairs(cfg.localIps, cfg.peerIps));
  return { specs: expectedSessions(cfg, r.discriminators), persisted: r.persisted, warnings: r.warnings };
}
