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

export class UpstreamOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid upstream health options:\n  ${problems.join('\n  ')}`);
    this.name = 'UpstreamOptionsError';
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function checkInt(problems: string[], key: string, v: unknown, min: number, max: number): void {
  if (!isInt(v) || v < min || v > max) problems.push(`${key}: must be an integer ${min}..${max} (got ${JSON.stringify(v)})`);
}

/** Address text and family, or a problem naming the key. */
function probeAddress(problems: string[], key: string, text: unknown): { address: string; family: IpFamily } | undefined {
  if (typeof text !== 'string') {
    problems.push(`${key}: must be an IP address string (got ${JSON.stringify(text)})`);
    return undefined;
  }
  const r = parseIp(text);
  if (!r.ok) {
    problems.push(`${key}: "${text}" ${r.reason}`);
    return undefined;
  }
  return { address: text, family: r.value.family };
}

function resolveProbe(problems: string[], key: string, p: ProbeTargetInput, defaults: ProbeTiming): ProbeTarget | undefined {
  const timing: ProbeTiming = {
    intervalMs: p.intervalMs ?? defaults.intervalMs,
    timeoutMs: p.timeoutMs ?? defaults.timeoutMs,
    rise: p.rise ?? defaults.rise,
    fall: p.fall ?? defaults.fall,
  };
  const before = problems.length;
  checkInt(problems, `${key}.intervalMs`, timing.intervalMs, 100, 3_600_000);
  checkInt(problems, `${key}.timeoutMs`, timing.timeoutMs, 10, 60_000);
  checkInt(problems, `${key}.rise`, timing.rise, 1, 100);
  checkInt(problems, `${key}.fall`, timing.fall, 1, 100);
  // One probe in flight per target: a timeout at or above the interval would overlap the next run.
  if (problems.length === before && timing.timeoutMs >= timing.intervalMs) {
    problems.push(`${key}.timeoutMs: must be below intervalMs (${timing.timeoutMs} >= ${timing.intervalMs})`);
  }
  if (p.name !== undefined && (typeof p.name !== 'string' || p.name.length === 0)) problems.push(`${key}.name: must be a non-empty string`);

  switch (p.kind) {
    case 'icmp': {
      const a = probeAddress(problems, `${key}.address`, p.address);
      return a && { ...timing, kind: 'icmp', ...a, name: p.name ?? `icmp ${a.address}` };
    }
    case 'tcp': {
      const a = probeAddress(problems, `${key}.address`, p.address);
      const before = problems.length;
      checkInt(problems, `${key}.port`, p.port, 1, 65535);
      if (!a || problems.length > before) return undefined;
      return { ...timing, kind: 'tcp', ...a, port: p.port, name: p.name ?? `tcp ${a.family === 6 ? `[${a.address}]` : a.address}:${p.port}` };
    }
    case 'http': {
      let url: URL;
      try {
        url = new URL(String(p.url));
      } catch {
        problems.push(`${key}.url: not a URL (got ${JSON.stringify(p.url)})`);
        return undefined;
      }
      if (url.protocol !== 'http:') {
        problems.push(`${key}.url: only http:// is supported (got ${url.protocol}//)`);
        return undefined;
      }
      // Name resolution would go through the Pod's DNS (over the internal side), not the upstream.
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const r = parseIp(host);
      if (!r.ok) {
        problems.push(`${key}.url: the host must be an IP address literal (got "${url.hostname}")`);
        return undefined;
      }
      return {
        ...timing, kind: 'http', address: host, family: r.value.family, url: url.href, host: url.host,
        port: url.port === '' ? 80 : Number(url.port), path: `${url.pathname}${url.search}`, name: p.name ?? `http ${url.href}`,
      };
    }
    default:
      problems.push(`${key}.kind: must be icmp, tcp or http (got ${JSON.stringify((p as { kind?: unknown }).kind)})`);
      return undefined;
  }
}

/** Fills defaults and validates; throws UpstreamOptionsError listing every problem. */
export function resolveUpstreamOptions(input: UpstreamOptionsInput): UpstreamOptions {
  const problems: string[] = [];
  const defaults: ProbeTiming = { ...DEFAULT_PROBE_TIMING, ...input.probeDefaults };
  const holdDownMs = input.holdDownMs ?? DEFAULT_HOLD_DOWN_MS;
  const neighbourVerifyIntervalMs = input.neighbourVerifyIntervalMs ?? DEFAULT_NEIGHBOUR_VERIFY_INTERVAL_MS;
  const probeFailureAction = input.probeFailureAction ?? 'report';
  checkInt(problems, 'holdDownMs', holdDownMs, 0, 3_600_000);
  if (neighbourVerifyIntervalMs !== 0) checkInt(problems, 'neighbourVerifyIntervalMs', neighbourVerifyIntervalMs, 100, 3_600_000);
  if (probeFailureAction !== 'report' && probeFailureAction !== 'withdraw') {
    problems.push(`probeFailureAction: must be "report" or "withdraw" (got ${JSON.stringify(probeFailureAction)})`);
  }

  const seen = new Set<IpFamily>();
  input.families.forEach((f, i) => {
    const key = `families[${i}]`;
    if (f.family !== 4 && f.family !== 6) problems.push(`${key}.family: must be 4 or 6 (got ${JSON.stringify(f.family)})`);
    else if (seen.has(f.family)) problems.push(`${key}.family: IPv${f.family} is listed twice`);
    else seen.add(f.family);
    if (typeof f.interface !== 'string' || f.interface.length === 0 || f.interface.length > 15) {
      problems.push(`${key}.interface: must be an interface name of 1..15 characters (got ${JSON.stringify(f.interface)})`);
    }
    const gw = probeAddress(problems, `${key}.gateway`, f.gateway);
    if (gw && gw.family !== f.family) problems.push(`${key}.gateway: ${f.gateway} is not an IPv${f.family} address`);
  });
  if (input.families.length === 0) problems.push('families: at least one address family is required');

  const probes: ProbeTarget[] = [];
  const names = new Set<string>();
  (input.probes ?? []).forEach((p, i) => {
    const key = `probes[${i}]`;
    const r = resolveProbe(problems, key, p, defaults);
    if (!r) return;
    if (!seen.has(r.family)) problems.push(`${key}: ${r.name} is IPv${r.family} but no IPv${r.family} upstream family is monitored`);
    if (names.has(r.name)) problems.push(`${key}.name: "${r.name}" is used twice`);
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
  throw new UpstreamOptionsError([`probe "${text}": expected icmp:ADDR, tcp:ADDR:PORT, tcp:[IPV6]:PORT or http://ADDR[:PORT]/PATH`]);
}
