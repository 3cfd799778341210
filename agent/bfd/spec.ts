// Validation of session specs and their translation into what the native engine takes. Pure:
// every problem is reported with the session and the field it concerns.
import type { BfdAuthConfig, BfdAuthType } from '../config/types.js';
import { MAX_INTERVAL_MS, MAX_MULTIPLIER, MIN_INTERVAL_MS } from '../lib/bfd-limits.js';
import { parseIp } from '../lib/ip.js';
import type { BfdDiag, BfdSessionSpec } from './types.js';

export const AUTH_TYPE_CODES: Record<BfdAuthType, number> = {
  none: 0, simple: 1, 'keyed-md5': 2, 'meticulous-md5': 3, 'keyed-sha1': 4, 'meticulous-sha1': 5,
};

/**
 * Upper bounds (µs) of the detection-lateness histogram buckets the engine keeps per session
 * (native/src/core/session.h kDetectLatenessBoundsUs; the addon exports its copy and a unit test
 * compares them). One more bucket counts everything later than the last bound.
 */
export const DETECT_LATENESS_BOUNDS_US = [100, 1000, 10_000, 100_000] as const;

export const DIAG_CODES: Record<BfdDiag, number> = {
  None: 0, ControlDetectionTimeExpired: 1, EchoFunctionFailed: 2, NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4, PathDown: 5, ConcatenatedPathDown: 6, AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
};

/** The object the addon's addSession/changeSession read (intervals in microseconds). */
export interface NativeSessionSpec {
  local: string;
  remote: string;
  localDiscr: number;
  minTxUs: number;
  minRxUs: number;
  multiplier: number;
  minTtl: number;
  passive: boolean;
  device?: string;
  ifindex?: number;
  auth?: { type: number; keyId: number; key: Buffer };
}

export const sessionName = (local: string, remote: string): string => `bfd session ${local} -> ${remote}`;

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function authErrors(auth: BfdAuthConfig): string[] {
  const errors: string[] = [];
  if (!(auth.type in AUTH_TYPE_CODES)) return [`auth.type must be one of ${Object.keys(AUTH_TYPE_CODES).join(', ')}, got ${String(auth.type)}`];
  if (auth.type === 'none') return errors;
  if (!isInt(auth.keyId, 0, 255)) errors.push(`auth.keyId must be an integer in 0..255, got ${String(auth.keyId)}`);
  const maxKey = auth.type.endsWith('sha1') ? 20 : 16;
  if (!Buffer.isBuffer(auth.key) || auth.key.length < 1 || auth.key.length > maxKey) {
    // Never echo the key itself: only its length.
    const len = Buffer.isBuffer(auth.key) ? `${auth.key.length} bytes` : 'not a Buffer';
    errors.push(`auth.key must be 1..${maxKey} bytes for ${auth.type}, got ${len}`);
  }
  return errors;
}

const TIMER_KEYS = ['minTxMs', 'minRxMs', 'multiplier'] as const;
type TimerKey = (typeof TIMER_KEYS)[number];

/** Problems of the given timer fields (`keys`: which must be checked; default those present). */
export function timerErrors(t: Partial<Record<TimerKey, unknown>>, keys: readonly TimerKey[] = TIMER_KEYS.filter((k) => t[k] !== undefined)): string[] {
  const errors: string[] = [];
  for (const k of keys) {
    if (k === 'multiplier') {
      if (!isInt(t.multiplier, 1, MAX_MULTIPLIER)) errors.push(`multiplier must be an integer in 1..${MAX_MULTIPLIER}, got ${String(t.multiplier)}`);
    } else if (!isInt(t[k], MIN_INTERVAL_MS, MAX_INTERVAL_MS)) {
      errors.push(`${k} must be a whole number of milliseconds in ${MIN_INTERVAL_MS}..${MAX_INTERVAL_MS}, got ${String(t[k])}`);
    }
  }
  return errors;
}

/** Every problem of a spec, each naming its field; empty when valid. */
export function specErrors(spec: BfdSessionSpec): string[] {
  const errors: string[] = [];
  const local = parseIp(String(spec.local));
  const remote = parseIp(String(spec.remote));
  if (!local.ok) errors.push(`local "${String(spec.local)}" is not an IP address: ${local.reason}`);
  if (!remote.ok) errors.push(`remote "${String(spec.remote)}" is not an IP address: ${remote.reason}`);
  if (local.ok && remote.ok && local.value.family !== remote.value.family)
    errors.push(`local ${spec.local} and remote ${spec.remote} are of different address families`);
  errors.push(...timerErrors(spec, TIMER_KEYS));
  if (!isInt(spec.minTtl, 1, 255)) errors.push(`minTtl must be an integer in 1..255, got ${String(spec.minTtl)}`);
  if (!isInt(spec.localDiscr, 1, 0xffffffff))
    errors.push(`localDiscr must be an integer in 1..4294967295, got ${String(spec.localDiscr)}`);
  if (typeof spec.passive !== 'boolean') errors.push(`passive must be a boolean, got ${String(spec.passive)}`);
  if (spec.device !== undefined && !/^[^\s/:]{0,15}$/.test(String(spec.device)))
    errors.push(`device must be an interface name of at most 15 characters without spaces, '/' or ':' ('' = none), got "${String(spec.device)}"`);
  if (spec.ifindex !== undefined && !isInt(spec.ifindex, 0, 0x7fffffff))
    errors.push(`ifindex must be an interface index in 0..2147483647, got ${String(spec.ifindex)}`);
  if (spec.auth) errors.push(...authErrors(spec.auth));
  return errors;
}

/** Throws a TypeError listing every problem of the spec. */
export function assertSpec(spec: BfdSessionSpec): void {
  const errors = specErrors(spec);
  if (errors.length) throw new TypeError(`${sessionName(String(spec.local), String(spec.remote))}: ${errors.join('; ')}`);
}

export function toNativeSpec(spec: BfdSessionSpec): NativeSessionSpec {
  const out: NativeSessionSpec = {
    local: spec.local,
    remote: spec.remote,
    localDiscr: spec.localDiscr,
    minTxUs: spec.minTxMs * 1000,
    minRxUs: spec.minRxMs * 1000,
    multiplier: spec.multiplier,
    minTtl: spec.minTtl,
    passive: spec.passive,
  };
  if (spec.device) out.device = spec.device;
  if (spec.ifindex) out.ifindex = spec.ifindex;
  if (spec.auth && spec.auth.type !== 'none')
    out.auth = { type: AUTH_TYPE_CODES[spec.auth.type], keyId: spec.auth.keyId, key: spec.auth.key };
  return out;
}
