// Options of the upstream monitor: what to watch per address family, which probe targets to try,
// and how failures turn into "not ready" and "withdraw from ECMP". The config module parses flags,
// the JSON file and the environment into UpstreamOptionsInput; resolveUpstreamOptions fills the
// defaults and checks what only makes sense together (a probe's family must be monitored, timeout
// below interval), naming every bad key. It lives in agent/config, below agent/upstream, because
// config validation and the monitor share it: a value accepted by one is accepted by the other.
import { parseIp, type IpFamily } from '../lib/ip.js';

export type ProbeKind = 'icmp' | 'tcp' | 'http';

/**
 * What a failed probe target does. 'report': not ready, logged, BFD stays Up (the safe default when
 * every replica shares the same upstream: pulling all of them helps nobody). 'withdraw': the family's
 * BFD sessions go AdminDown as for a dead link. A dead link or an unresolvable gateway always withdraws.
 */
export type ProbeFailureAction = 'report' | 'withdraw';

export interface ProbeTiming {
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes that bring a failed target back. */
  rise: number;
  /** Consecutive failures that mark a target failed. */
  fall: number;
}

export const DEFAULT_PROBE_TIMING: ProbeTiming = { intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3 };
export const DEFAULT_HOLD_DOWN_MS = 5000;
/** Bounds [min, max] of the timing options, checked here and by config validation (settings.ts). */
export const UPSTREAM_BOUNDS = {
  intervalMs: [100, 3_600_000], timeoutMs: [10, 60_000], rise: [1, 100], fall: [1, 100],
  holdDownMs: [0, 3_600_000], neighbourVerifyIntervalMs: [100, 3_600_000],
} as const;
export const DEFAULT_NEIGHBOUR_VERIFY_INTERVAL_MS = 1000;

interface ProbeCommon {
  /** Stable label for reasons, logs and metrics, e.g. "icmp 198.51.100.10". */
  name: string;
  family: IpFamily;
  /** Target address (the URL host for http). */
  address: string;
}

export type ProbeTarget = ProbeTiming & ProbeCommon & (
  | { kind: 'icmp' }
  | { kind: 'tcp'; port: number }
  | { kind: 'http'; port: number; url: string; path: string; host: string }
);

/** One address family to watch: the interface that reaches the external gateway, and that gateway. */
export interface UpstreamFamily {
  family: IpFamily;
  interface: string;
  gateway: string;
}

export interface UpstreamOptions {
  families: UpstreamFamily[];
  probes: ProbeTarget[];
  /** Time a family stays unhealthy (and withdrawn) after its last failure clears. */
  holdDownMs: number;
  probeFailureAction: ProbeFailureAction;
  /** How often the gateway's neighbour entry is actively re-verified; 0 leaves it to the kernel. */
  neighbourVerifyIntervalMs: number;
}

export type ProbeTargetInput = Partial<ProbeTiming> & { name?: string } & (
  | { kind: 'icmp'; address: string }
  | { kind: 'tcp'; address: string; port: number }
  | { kind: 'http'; url: string }
);

export interface UpstreamOptionsInput {
  families: UpstreamFamily[];
  probes?: ProbeTargetInput[];
  /** Timing for probes that do not set their own. */
  probeDefaults?: Partial<ProbeTiming>;
  holdDownMs?: number;
  probeFailureAction?: ProbeFailureAction;
  neighbourVerifyIntervalMs?: number;
}

/** One problem with the options: the key it is about (e.g. "probes[2].port") and why, for a person. */
export interface UpstreamIssue {
  key: string;
  /** Index of the probe target the problem is about, when it is one. */
  probe?: number;
  /** The probe target's key ("port", "timeoutMs"), when the problem is about one key of it. */
  field?: string;
  message: string;
}

export class UpstreamOptionsError extends Error {
  constructor(readonly issues: UpstreamIssue[]) {
    super(`invalid upstream health options:\n  ${issues.map(formatIssue).join('\n  ')}`);
    this.name = 'UpstreamOptionsError';
  }

  /** One line per issue: "probes[2].port: must be ...". */
  get problems(): string[] {
    return this.issues.map(formatIssue);
  }
}

const formatIssue = (i: UpstreamIssue): string => `${i.key}: ${i.message}`;

/** Where a problem is: a top-level key, or a key of probe target `probe`. */
interface Where {
  key: string;
  probe?: number;
  field?: string;
}

const at = (key: string): Where => ({ key });
const probeAt = (probe: number, field?: string): Where => ({ key: `probes[${probe}]${field ? `.${field}` : ''}`, probe, ...(field ? { field } : {}) });
const report = (problems: UpstreamIssue[], where: Where, message: string): void => { problems.push({ ...where, message }); };

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function checkInt(problems: UpstreamIssue[], where: Where, v: unknown, min: number, max: number): void {
  if (!isInt(v) || v < min || v > max) report(problems, where, `must be an integer ${min}..${max} (got ${JSON.stringify(v)})`);
}

/** Address text and family, or a problem naming the key. */
function probeAddress(problems: UpstreamIssue[], where: Where, text: unknown): { address: string; family: IpFamily } | undefined {
  if (typeof text !== 'string') {
    report(problems, where, `must be an IP address string (got ${JSON.stringify(text)})`);
    return undefined;
  }
  const r = parseIp(text);
  if (!r.ok) {
    report(problems, where, `"${text}" ${r.reason}`);
    return undefined;
  }
  return { address: text, family: r.value.family };
}

function resolveProbe(problems: UpstreamIssue[], i: number, p: ProbeTargetInput, defaults: ProbeTiming): ProbeTarget | undefined {
  const timing: ProbeTiming = {
    intervalMs: p.intervalMs ?? defaults.intervalMs,
    timeoutMs: p.timeoutMs ?? defaults.timeoutMs,
    rise: p.rise ?? defaults.rise,
    fall: p.fall ?? defaults.fall,
  };
  const before = problems.length;
  checkInt(problems, probeAt(i, 'intervalMs'), timing.intervalMs, ...UPSTREAM_BOUNDS.intervalMs);
  checkInt(problems, probeAt(i, 'timeoutMs'), timing.timeoutMs, ...UPSTREAM_BOUNDS.timeoutMs);
  checkInt(problems, probeAt(i, 'rise'), timing.rise, ...UPSTREAM_BOUNDS.rise);
  checkInt(problems, probeAt(i, 'fall'), timing.fall, ...UPSTREAM_BOUNDS.fall);
  // One probe in flight per target: a timeout at or above the interval would overlap the next run.
  if (problems.length === before && timing.timeoutMs >= timing.intervalMs) {
    report(problems, probeAt(i, 'timeoutMs'), `must be below intervalMs (${timing.timeoutMs} >= ${timing.intervalMs})`);
  }
  if (p.name !== undefined && (typeof p.name !== 'string' || p.name.length === 0)) report(problems, probeAt(i, 'name'), `must be a non-empty string`);

  switch (p.kind) {
    case 'icmp': {
      const a = probeAddress(problems, probeAt(i, 'address'), p.address);
      return a && { ...timing, kind: 'icmp', ...a, name: p.name ?? `icmp ${a.address}` };
    }
    case 'tcp': {
      const a = probeAddress(problems, probeAt(i, 'address'), p.address);
      const before = problems.length;
      checkInt(problems, probeAt(i, 'port'), p.port, 1, 65535);
      if (!a || problems.length > before) return undefined;
      return { ...timing, kind: 'tcp', ...a, port: p.port, name: p.name ?? `tcp ${a.family === 6 ? `[${a.address}]` : a.address}:${p.port}` };
    }
    case 'http': {
      let url: URL;
      try {
        url = new URL(String(p.url));
      } catch {
        report(problems, probeAt(i, 'url'), `not a URL (got ${JSON.stringify(p.url)})`);
        return undefined;
      }
      if (url.protocol !== 'http:') {
        report(problems, probeAt(i, 'url'), `only http:// is supported (got ${url.protocol}//)`);
        return undefined;
      }
      // Name resolution would go through the Pod's DNS (over the internal side), not the upstream.
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const r = parseIp(host);
      if (!r.ok) {
        report(problems, probeAt(i, 'url'), `the host must be an IP address literal (got "${url.hostname}")`);
        return undefined;
      }
      return {
        ...timing, kind: 'http', address: host, family: r.value.family, url: url.href, host: url.host,
        port: url.port === '' ? 80 : Number(url.port), path: `${url.pathname}${url.search}`, name: p.name ?? `http ${url.href}`,
      };
    }
    default:
      report(problems, probeAt(i, 'kind'), `must be icmp, tcp or http (got ${JSON.stringify((p as { kind?: unknown }).kind)})`);
      return undefined;
  }
}

/** Fills defaults and validates; throws UpstreamOptionsError listing every problem. */
export function resolveUpstreamOptions(input: UpstreamOptionsInput): UpstreamOptions {
  const problems: UpstreamIssue[] = [];
  const defaults: ProbeTiming = { ...DEFAULT_PROBE_TIMING, ...input.probeDefaults };
  const holdDownMs = input.holdDownMs ?? DEFAULT_HOLD_DOWN_MS;
  const neighbourVerifyIntervalMs = input.neighbourVerifyIntervalMs ?? DEFAULT_NEIGHBOUR_VERIFY_INTERVAL_MS;
  const probeFailureAction = input.probeFailureAction ?? 'report';
  checkInt(problems, at('holdDownMs'), holdDownMs, ...UPSTREAM_BOUNDS.holdDownMs);
  if (neighbourVerifyIntervalMs !== 0) checkInt(problems, at('neighbourVerifyIntervalMs'), neighbourVerifyIntervalMs, ...UPSTREAM_BOUNDS.neighbourVerifyIntervalMs);
  if (probeFailureAction !== 'report' && probeFailureAction !== 'withdraw') {
    report(problems, at('probeFailureAction'), `must be "report" or "withdraw" (got ${JSON.stringify(probeFailureAction)})`);
  }

  const seen = new Set<IpFamily>();
  input.families.forEach((f, i) => {
    const key = `families[${i}]`;
    if (f.family !== 4 && f.family !== 6) report(problems, at(`${key}.family`), `must be 4 or 6 (got ${JSON.stringify(f.family)})`);
    else if (seen.has(f.family)) report(problems, at(`${key}.family`), `IPv${f.family} is listed twice`);
    else seen.add(f.family);
    if (typeof f.interface !== 'string' || f.interface.length === 0 || f.interface.length > 15) {
      report(problems, at(`${key}.interface`), `must be an interface name of 1..15 characters (got ${JSON.stringify(f.interface)})`);
    }
    const gw = probeAddress(problems, at(`${key}.gateway`), f.gateway);
    if (gw && gw.family !== f.family) report(problems, at(`${key}.gateway`), `${f.gateway} is not an IPv${f.family} address`);
  });
  if (input.families.length === 0) report(problems, at('families'), 'at least one address family is required');

  const probes: ProbeTarget[] = [];
  const names = new Set<string>();
  (input.probes ?? []).forEach((p, i) => {
    const r = resolveProbe(problems, i, p, defaults);
    if (!r) return;
    if (!seen.has(r.family)) report(problems, probeAt(i), `${r.name} is IPv${r.family} but no IPv${r.family} upstream family is monitored`);
    if (names.has(r.name)) report(problems, probeAt(i, 'name'), `"${r.name}" is used twice`);
    names.add(r.name);
    probes.push(r);
  });

  if (problems.length > 0) throw new UpstreamOptionsError(problems);
  return { families: input.families.map((f) => ({ ...f })), probes, holdDownMs, probeFailureAction, neighbourVerifyIntervalMs };
}

/**
 * The command-line form of a probe target: "icmp:ADDR", "tcp:ADDR:PORT" (IPv6 as "tcp:[ADDR]:PORT")
 * or an http:// URL. Timing comes from the defaults. Throws with the text and what is wrong.
 */
export function parseProbeFlag(text: string): ProbeTargetInput {
  if (text.startsWith('http://')) return { kind: 'http', url: text };
  const icmp = /^icmp:(.+)$/.exec(text);
  if (icmp) return { kind: 'icmp', address: icmp[1]! };
  const tcp = /^tcp:(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text);
  if (tcp) return { kind: 'tcp', address: tcp[1] ?? tcp[2]!, port: Number(tcp[3]) };
  throw new UpstreamOptionsError([{ key: `probe "${text}"`, message: 'expected icmp:ADDR, tcp:ADDR:PORT, tcp:[IPV6]:PORT or http://ADDR[:PORT]/PATH' }]);
}
