// loadConfig: sources -> one validation (schema.ts) -> GatewayConfig, or every error found, each naming its
// input. Nothing here touches the kernel; discovery checks what needs it.
import { redactErrors, type ConfigError } from './errors.js';
import { AUTH_KEY_FIELD, validateSettings, type ParsedSettings, type SettingIssue } from './schema.js';
import { SETTINGS, primaryInput } from './settings.js';
import { collectSources, type Collected, type ConfigSources, type Provided } from './sources.js';
import type { BfdConfig, ConfigOrigin, FamilyConfig, GatewayConfig, SnatRecordsSettings, UpstreamConfig } from './types.js';

/** Something worth logging about an accepted configuration (the caller logs it). */
export interface ConfigNotice {
  level: 'info' | 'warn';
  key: string;
  message: string;
}

export type LoadResult =
  | { ok: true; config: GatewayConfig; notices: ConfigNotice[] }
  | { ok: false; errors: ConfigError[] };

/** Timers below this are accepted (the CRD allows 1 ms) but warned about. */
const BFD_TIMER_WARN_MS = 10;

function showRaw(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw.join(',');
  return JSON.stringify(raw) ?? String(raw);
}

function toConfigErrors(issues: readonly SettingIssue[], c: Collected): ConfigError[] {
  return issues.map((i) => {
    const p: Provided | undefined = c.values.get(i.id);
    const origin = p ? { source: p.source, key: p.key } : primaryInput(i.id);
    const value = i.value ?? (p ? showRaw(p.raw) : '');
    return { ...origin, value, message: i.message };
  });
}

function familyConfig(v: ParsedSettings, f: 4 | 6): FamilyConfig | undefined {
  const internalGateway = v[`ipv${f}.internalGateway`];
  const externalGateway = v[`ipv${f}.externalGateway`];
  if (internalGateway === undefined || externalGateway === undefined) return undefined;
  const noSnatSources = [...new Set([...(v[`ipv${f}.noSnatSources`] ?? []), ...(v[`ipv${f}.extraNoSnatSources`] ?? [])])];
  const snatTo = v[`ipv${f}.snatTo`];
  return { family: f, internalGateway, externalGateway, noSnatSources, ...(snatTo !== undefined ? { snatTo } : {}) };
}

function bfdConfig(v: ParsedSettings): BfdConfig {
  const peerIps = v['bfd.peerIps'] ?? [];
  const type = v['bfd.auth.type'];
  const key = v[AUTH_KEY_FIELD];
  const keyId = v['bfd.auth.keyId'];
  return {
    enabled: v['bfd.enabled'] ?? peerIps.length > 0,
    localIps: v['bfd.localIps'] ?? [],
    peerIps,
    minTxMs: v['bfd.minTxMs'],
    minRxMs: v['bfd.minRxMs'],
    multiplier: v['bfd.multiplier'],
    passive: v['bfd.passive'],
    minTtl: v['bfd.minTtl'],
    realtimePriority: v['bfd.realtimePriority'],
    statePath: v['bfd.statePath'],
    // validateSettings refuses an auth type other than none without a key id and a key.
    ...(type !== 'none' && key && keyId !== undefined ? { auth: { type, keyId, key } } : {}),
  };
}

function upstreamConfig(v: ParsedSettings): UpstreamConfig {
  return {
    enabled: v['upstream.enabled'],
    probes: (v['upstream.probes'] ?? []).map((e) => e.probe),
    probeIntervalMs: v['upstream.probeIntervalMs'],
    probeTimeoutMs: v['upstream.probeTimeoutMs'],
    probeRise: v['upstream.probeRise'],
    probeFall: v['upstream.probeFall'],
    probeFailureAction: v['upstream.probeFailureAction'],
    holdDownMs: v['upstream.holdDownMs'],
    neighbourVerifyIntervalMs: v['upstream.neighbourVerifyIntervalMs'],
  };
}

function snatRecordsConfig(v: ParsedSettings): SnatRecordsSettings {
  return {
    enabled: v['snatRecords.enabled'],
    dir: v['snatRecords.dir'],
    maxFileBytes: v['snatRecords.maxFileBytes'],
    maxFiles: v['snatRecords.maxFiles'],
    maxAgeMs: v['snatRecords.maxAgeMs'],
    stdout: v['snatRecords.stdout'],
    recordStart: v['snatRecords.recordStart'],
    socketBufferBytes: v['snatRecords.socketBufferBytes'],
    portWarnRatio: v['snatRecords.portWarnPercent'] / 100,
  };
}

function notices(v: ParsedSettings, config: GatewayConfig, c: Collected, corrected: readonly SettingIssue[]): ConfigNotice[] {
  const keyOf = (id: string): string => c.values.get(id)?.key ?? primaryInput(id).key;
  const out: ConfigNotice[] = corrected.map((n) => ({ level: 'warn', key: keyOf(n.id), message: n.message }));
  for (const f of [4, 6] as const) {
    if (config.families.some((x) => x.family === f)) continue;
    if (v[`ipv${f}.internalGateway`] !== undefined) {
      out.push({ level: 'info', key: keyOf(`ipv${f}.externalGateway`), message: `IPv${f} skipped: the internal gateway is set but the external gateway is not (external subnet without IPv${f})` });
    }
    for (const id of [`ipv${f}.snatTo`, `ipv${f}.extraNoSnatSources`] as const) {
      const val = v[id];
      if (val !== undefined && (!Array.isArray(val) || val.length > 0)) out.push({ level: 'warn', key: keyOf(id), message: `ignored: IPv${f} is not configured` });
    }
  }
  if (config.bfd.enabled) {
    for (const id of ['bfd.minTxMs', 'bfd.minRxMs'] as const) {
      if (v[id] < BFD_TIMER_WARN_MS) out.push({ level: 'warn', key: keyOf(id), message: `${v[id]} ms is below ${BFD_TIMER_WARN_MS} ms; accepted (the CRD allows it) but unlikely to hold on a loaded node` });
    }
    for (const f of [4, 6] as const) {
      const has = (ips: string[]): boolean => ips.some((ip) => ip.includes(':') === (f === 6));
      if (has(config.bfd.localIps) !== has(config.bfd.peerIps)) {
        out.push({ level: 'info', key: keyOf(has(config.bfd.localIps) ? 'bfd.peerIps' : 'bfd.localIps'), message: `no IPv${f} BFD session: only one side has an IPv${f} address` });
      }
    }
  }
  const h = c.handoff;
  if (h?.adopted) out.push({ level: 'info', key: h.path, message: `gateway settings adopted from the init container's hand-off (revision ${h.revision}, written ${h.writtenAt} by agent ${h.agentVersion})` });
  else if (h && c.handoffConflicts?.length) out.push({ level: 'warn', key: h.path, message: `hand-off not used: ${h.reason}; it differs in ${c.handoffConflicts.join(', ')}` });
  else if (h) out.push({ level: 'info', key: h.path, message: `hand-off not used: ${h.reason}` });
  if (v.vni !== undefined && !v.enableEvpn) out.push({ level: 'warn', key: keyOf('vni'), message: 'ignored: EVPN is not enabled (ENABLE_EVPN is not true)' });
  if (config.upstream && !config.upstream.enabled && config.upstream.probes.length > 0) {
    out.push({ level: 'warn', key: keyOf('upstream.probes'), message: 'ignored: upstream health is disabled (upstream.enabled is false)' });
  }
  return out;
}

export function loadConfig(sources: ConfigSources): LoadResult {
  const c = collectSources(sources);
  // Without the file, the remaining inputs are incomplete: validating them would mostly report
  // consequences ("no address family") of the one real problem.
  if (c.fileUnusable) return { ok: false, errors: redactErrors(c.errors) };
  const input: Record<string, unknown> = {};
  for (const [id, p] of c.values) input[id] = p.raw;
  if (c.authKey) input[AUTH_KEY_FIELD] = c.authKey;
  const parsed = validateSettings(input);
  const errors = [...c.errors, ...(parsed.ok ? [] : toConfigErrors(parsed.issues, c))];
  if (!parsed.ok || errors.length > 0) return { ok: false, errors: redactErrors(errors) };
  const v = parsed.settings;
  const origins: Record<string, ConfigOrigin> = {};
  for (const s of SETTINGS) {
    const p = c.values.get(s.id);
    if (p) origins[s.id] = { source: p.source, key: p.key };
  }
  const config: GatewayConfig = {
    families: [familyConfig(v, 4), familyConfig(v, 6)].filter((f): f is FamilyConfig => f !== undefined),
    ...(v.internalInterface !== undefined ? { internalInterface: v.internalInterface } : {}),
    ...(v.externalInterface !== undefined ? { externalInterface: v.externalInterface } : {}),
    reconcileIntervalMs: v.reconcileIntervalMs,
    dataplaneWithdrawAfterMs: v.dataplaneWithdrawAfterMs,
    bfd: bfdConfig(v),
    healthListen: v.healthListen,
    controlSocket: v.controlSocket,
    compatSocket: v.compatSocket,
    drainGraceMs: v.drainGraceMs,
    startupPageReleaseMs: v.startupPageReleaseMs || null,
    logLevel: v.logLevel,
    debugCommands: v.debugCommands ?? false,
    upstream: upstreamConfig(v),
    snatRecords: snatRecordsConfig(v),
    ...(v.enableBgp ? { bgp: true } : {}),
    ...(v.enableEvpn && v.vni !== undefined ? { evpn: { vni: v.vni } } : {}),
    ...(c.configFile !== undefined ? { configFile: c.configFile } : {}),
    ...(c.handoff ? { handoff: c.handoff } : {}),
    origins,
  };
  return { ok: true, config, notices: notices(v, config, c, parsed.notes) };
}
