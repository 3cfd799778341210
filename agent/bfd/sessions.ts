// The sessions Kube-OVN expects: one per same-family pair of POD_IPS x BFD_PEER_IPS, with the
// configured timers. Pure; discriminators come from the caller (see discriminators.ts).
import type { BfdConfig } from '../config/types.js';
import { canonicalIp, ipFamily } from '../lib/ip.js';
import type { BfdSessionSpec } from './types.js';

export interface SessionPair {
  local: string;
  remote: string;
}

export const pairKey = (p: SessionPair): string => `${p.local}|${p.remote}`;

/** Same-family pairs of local x peer addresses, canonical, without duplicates, in input order. */
export function expectedPairs(localIps: readonly string[], peerIps: readonly string[]): SessionPair[] {
  const seen = new Set<string>();
  const out: SessionPair[] = [];
  for (const l of localIps) {
    for (const r of peerIps) {
      if (ipFamily(l) === undefined || ipFamily(l) !== ipFamily(r)) continue;
      const p = { local: canonicalIp(l), remote: canonicalIp(r) };
      if (seen.has(pairKey(p))) continue;
      seen.add(pairKey(p));
      out.push(p);
    }
  }
  return out;
}

/** The session specs for a BFD config; `discriminators` maps pairKey() to a local discriminator. */
export function expectedSessions(cfg: BfdConfig, discriminators: ReadonlyMap<string, number>): BfdSessionSpec[] {
  if (!cfg.enabled) return [];
  return expectedPairs(cfg.localIps, cfg.peerIps).map((p) => {
    const localDiscr = discriminators.get(pairKey(p));
    if (localDiscr === undefined) throw new Error(`bfd session ${p.local} -> ${p.remote}: no local discriminator assigned`);
    const spec: BfdSessionSpec = {
      local: p.local,
      remote: p.remote,
      minTxMs: cfg.minTxMs,
      minRxMs: cfg.minRxMs,
      multiplier: cfg.multiplier,
      passive: cfg.passive,
      minTtl: cfg.minTtl,
      localDiscr,
    };
    if (cfg.auth) spec.auth = cfg.auth;
    return spec;
  });
}
