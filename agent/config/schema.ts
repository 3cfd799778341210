// The one validation every input goes through before anything is applied. Input: one raw value per
// setting id (from sources.ts), checked by that setting's own parser (its record in settings.ts);
// output: typed, canonical values. Field checks run for every field
// and the cross-field checks run even when some fields failed (skipping only what depends on a
// failed field), so a single run reports every mistake. Plain functions rather than a schema
// library: the checks were all ours anyway, and a library cost ~3 MiB of the Pod's memory budget.
import { ipFamily } from '../lib/ip.js';
import { resolveUpstreamOptions, UpstreamOptionsError, type UpstreamFamily } from './upstream-options.js';
import { MIN_ROTATE_INTERVAL_MS } from './snat-records.js';
import type { BfdAuthType } from './types.js';
import type { Field } from './fields.js';
import { SETTINGS, VNI_MAX, type SettingValues } from './settings.js';

/** Internal key carrying the auth key bytes read by sources.ts; never a user-facing setting. */
export const AUTH_KEY_FIELD = 'bfd.auth.key';

/** Longest key per type (RFC 5880 4.2-4.4): passwords and MD5 keys 16 bytes, SHA1 keys 20. */
const AUTH_KEY_MAX: Record<BfdAuthType, number> = {
  none: 0, simple: 16, 'keyed-md5': 16, 'meticulous-md5': 16, 'keyed-sha1': 20, 'meticulous-sha1': 20,
};

const authKey: Field<Buffer> = (v, report) => {
  if (Buffer.isBuffer(v)) return v;
  report('expected the key bytes');
  return undefined;
};

/** One problem found, keyed by setting id. */
export interface SettingIssue {
  id: string;
  message: string;
  /** The offending part of the value, when it is not the whole input. */
  value?: string;
}

/** The validated settings: every setting's value (see SettingValues) and the auth key bytes. */
export type ParsedSettings = SettingValues & { [AUTH_KEY_FIELD]?: Buffer };
/** What the cross-field checks see: any field may have failed. */
type PartialSettings = Partial<ParsedSettings>;

function crossChecks(v: PartialSettings, issues: SettingIssue[]): void {
  const failed = new Set(issues.map((i) => i.id));
  const ok = (...ids: (keyof PartialSettings)[]): boolean => ids.every((id) => !failed.has(id));
  const issue = (id: keyof PartialSettings, message: string, value?: string): void => {
    issues.push({ id, message, ...(value !== undefined ? { value } : {}) });
  };

  // Kube-OVN's controller sets ENABLE_EVPN and VNI only together with ENABLE_BGP (evpnConf needs
  // bgpConf); anything else is not an input it produces, so it is refused rather than guessed at.
  if (ok('enableEvpn', 'enableBgp') && v.enableEvpn && !v.enableBgp) issue('enableEvpn', 'EVPN needs BGP mode: set ENABLE_BGP=true too (Kube-OVN sets evpnConf only with bgpConf)');
  if (ok('enableEvpn', 'vni') && v.enableEvpn && v.vni === undefined) issue('vni', `is required with ENABLE_EVPN=true (1..${VNI_MAX})`);

  let attempted = 0;
  for (const f of [4, 6] as const) {
    const int = `ipv${f}.internalGateway` as const;
    const ext = `ipv${f}.externalGateway` as const;
    if (!ok(int, ext)) { attempted++; continue; }
    if (v[ext] !== undefined && v[int] === undefined) {
      issue(ext, `the IPv${f} external gateway is set but the IPv${f} internal gateway is not; set both, or neither`);
      attempted++;
    } else if (v[int] !== undefined && v[ext] !== undefined) {
      attempted++;
      if (v[int] === v[ext]) issue(ext, 'is the same address as the internal gateway');
    }
  }
  if (attempted === 0 && ok('allowNoFamilies') && !v.allowNoFamilies) {
    issue('ipv4.internalGateway',
      'no address family is configured: set both gateways of IPv4 and/or IPv6 (INTERNAL_GATEWAY_IPVx and EXTERNAL_GATEWAY_IPVx), or allow BFD-only mode (--allow-no-families)');
  }

  if (ok('internalInterface', 'externalInterface') && v.internalInterface !== undefined && v.internalInterface === v.externalInterface) {
    issue('externalInterface', 'is the same interface as the internal one');
  }

  checkBfd(v, ok, issue);
  checkUpstream(v, ok, issue);
  if (ok('snatRecords.maxAgeMs', 'snatRecords.maxFiles')) {
    const age = v['snatRecords.maxAgeMs'];
    const files = v['snatRecords.maxFiles'];
    if (age !== undefined && files !== undefined && age / files < MIN_ROTATE_INTERVAL_MS) {
      issue('snatRecords.maxAgeMs', `snatRecords.maxAgeMs / snatRecords.maxFiles must be at least ${MIN_ROTATE_INTERVAL_MS} ms (here ${age / files} ms): a file rotates every maxAgeMs / maxFiles`);
    }
  }
}

type Ok = (...ids: (keyof PartialSettings)[]) => boolean;
type Issue = (id: keyof PartialSettings, message: string, value?: string) => void;

function checkBfd(v: PartialSettings, ok: Ok, issue: Issue): void {
  if (!ok('bfd.enabled', 'bfd.peerIps', 'bfd.localIps')) return;
  const peers = v['bfd.peerIps'] ?? [];
  const locals = v['bfd.localIps'] ?? [];
  if (v['bfd.enabled'] ?? peers.length > 0) {
    if (peers.length === 0) issue('bfd.peerIps', 'BFD is enabled but no peer address is set');
    if (locals.length === 0) issue('bfd.localIps', 'BFD is enabled but no local address is set');
    if (peers.length > 0 && locals.length > 0) {
      const fam = (ips: string[]): Set<number> => new Set(ips.map((ip) => ipFamily(ip)!));
      const lf = fam(locals);
      if (![...fam(peers)].some((f) => lf.has(f))) {
        const list = (s: Set<number>): string => [...s].map((f) => `IPv${f}`).join('+');
        issue('bfd.peerIps', `no peer has the address family of a local address (local ${list(lf)}, peers ${list(fam(peers))}): no BFD session can run`);
      }
      for (const p of peers) if (locals.includes(p)) issue('bfd.peerIps', `"${p}" is also a local address`, p);
    }
  }
  checkAuth(v, ok, issue);
}

/**
 * Probe targets against the configured families, with agent/upstream's own resolution (the
 * interface is discovered later; any valid name stands in for it). Without a family there is no
 * upstream to probe (BFD-only mode): the daemon runs no monitor and says so.
 */
function checkUpstream(v: PartialSettings, ok: Ok, issue: Issue): void {
  const timing = ['upstream.probeIntervalMs', 'upstream.probeTimeoutMs', 'upstream.probeRise', 'upstream.probeFall'] as const;
  if (!ok(...timing)) return;
  if (v['upstream.probeTimeoutMs']! >= v['upstream.probeIntervalMs']!) {
    issue('upstream.probeTimeoutMs', `must be below upstream.probeIntervalMs (${v['upstream.probeTimeoutMs']} >= ${v['upstream.probeIntervalMs']}): one probe in flight per target`);
    return;
  }
  const entries = v['upstream.probes'] ?? [];
  if (!ok('upstream.probes', 'ipv4.internalGateway', 'ipv4.externalGateway', 'ipv6.internalGateway', 'ipv6.externalGateway') || entries.length === 0) return;
  const families: UpstreamFamily[] = [];
  for (const f of [4, 6] as const) {
    const gateway = v[`ipv${f}.externalGateway`];
    if (gateway !== undefined && v[`ipv${f}.internalGateway`] !== undefined) families.push({ family: f, interface: 'net1', gateway });
  }
  if (families.length === 0) return;
  try {
    resolveUpstreamOptions({
      families,
      probes: entries.map((e) => e.probe),
      probeDefaults: { intervalMs: v['upstream.probeIntervalMs']!, timeoutMs: v['upstream.probeTimeoutMs']!, rise: v['upstream.probeRise']!, fall: v['upstream.probeFall']! },
    });
  } catch (err) {
    if (!(err instanceof UpstreamOptionsError)) throw err;
    for (const problem of err.issues) {
      // probes[2].port -> "entry 3 port: must be ...", valued with what was written.
      const entry = problem.probe !== undefined ? entries[problem.probe] : undefined;
      if (entry) issue('upstream.probes', `entry ${problem.probe! + 1}${problem.field ? ` ${problem.field}` : ''}: ${problem.message}`, entry.text);
      else issue('upstream.probes', `${problem.key}: ${problem.message}`);
    }
  }
}

function checkAuth(v: PartialSettings, ok: Ok, issue: Issue): void {
  if (!ok('bfd.auth.type', 'bfd.auth.keyFile', 'bfd.auth.keyEnv', 'bfd.auth.keyId')) return;
  const type = v['bfd.auth.type'] ?? 'none';
  const given = (['bfd.auth.keyFile', 'bfd.auth.keyEnv', 'bfd.auth.keyId'] as const).filter((id) => v[id] !== undefined);
  if (type === 'none') {
    for (const id of given) issue(id, 'is set but bfd.auth.type is none; set the auth type or remove this');
    return;
  }
  if (v['bfd.auth.keyId'] === undefined) issue('bfd.auth.keyId', `is required with auth type ${type}`);
  const file = v['bfd.auth.keyFile'];
  const env = v['bfd.auth.keyEnv'];
  if (file !== undefined && env !== undefined) {
    issue('bfd.auth.keyEnv', 'set only one of bfd.auth.keyFile and bfd.auth.keyEnv');
  } else if (file === undefined && env === undefined) {
    issue('bfd.auth.keyFile', `a key is required with auth type ${type}: set bfd.auth.keyFile or bfd.auth.keyEnv (never inline)`);
  } else {
    const key = v[AUTH_KEY_FIELD];
    const max = AUTH_KEY_MAX[type];
    // An unreadable key was already reported by sources.ts; only the length is checked here.
    if (key && (key.length < 1 || key.length > max)) {
      issue(file !== undefined ? 'bfd.auth.keyFile' : 'bfd.auth.keyEnv', `the key has ${key.length} bytes; ${type} takes 1 to ${max}`);
    }
  }
}

/** `notes`: values corrected on the way in (host bits cleared, duplicates dropped). */
export type SettingsResult = { ok: true; settings: ParsedSettings; notes: SettingIssue[] } | { ok: false; issues: SettingIssue[] };

/** Every field, then every cross-field check; settings not in the table are ignored. */
export function validateSettings(input: Readonly<Record<string, unknown>>): SettingsResult {
  const issues: SettingIssue[] = [];
  const notes: SettingIssue[] = [];
  const out: Record<string, unknown> = {};
  const fields: [string, Field<unknown>][] = [...SETTINGS.map((st): [string, Field<unknown>] => [st.id, st.parse]), [AUTH_KEY_FIELD, authKey]];
  for (const [id, parse] of fields) {
    const raw = input[id];
    if (raw === undefined) continue;
    let failed = false;
    const value = parse(raw, (message, part) => {
      failed = true;
      issues.push({ id, message, ...(part !== undefined ? { value: part } : {}) });
    }, (message, part) => notes.push({ id, message, ...(part !== undefined ? { value: part } : {}) }));
    if (!failed && value !== undefined) out[id] = value;
  }
  crossChecks(out as PartialSettings, issues);
  // Every setting with a default had a value (sources.ts supplies defaults), so with no issue each
  // one parsed: the values are complete.
  return issues.length === 0 ? { ok: true, settings: out as ParsedSettings, notes } : { ok: false, issues };
}
