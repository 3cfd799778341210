// Upstream health in the daemon: which families to watch (configured families on their discovered
// external interfaces), the running monitor, and its translation into BFD admin state. The
// translation (agent/upstream/bfd-link.ts) is idempotent, so the daemon calls apply() on every
// monitor change, every BFD state event, after reloads and on its periodic check.
import type { Family, GatewayConfig } from '../config/types.js';
import { ipFamily } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';
import type { BfdStateEvent } from '../bfd/types.js';
import {
  resolveUpstreamOptions, upstreamBfdActions, type BfdAdminAction, type BfdAdminPort, type ProbeResultEvent, type SignalStatus,
  type UpstreamFamily, type UpstreamFamilyStatus, type UpstreamOptions,
} from '../upstream/index.js';
import type { UpstreamMonitorPort } from './ports.js';
import type { MulticastStats } from '../dataplane/rtnl-multicast.js';

/** Per probe target, since the monitor started. */
export interface ProbeCounters {
  family: Family;
  name: string;
  kind: ProbeResultEvent['kind'];
  ok: number;
  failed: number;
  lastOk: boolean;
  lastDetail: string;
  lastDurationMs: number;
}

export interface UpstreamView {
  /** Why no monitor runs (null while one runs). */
  off: string | null;
  families: UpstreamFamilyStatus[];
  signals: SignalStatus[];
  probes: ProbeCounters[];
  /** The monitor's link/neighbour notification socket; null when no monitor runs. */
  netlink: MulticastStats | null;
  /** BFD admin actions taken because of the upstream, since start. */
  bfdActions: { adminDown: number; adminUp: number };
}

/** The discovered interfaces per family (the reconciler's status().interfaces). */
export type ExternalInterfaces = readonly { family: Family; external: string }[];

export type UpstreamPlan = { options: UpstreamOptions } | { off: string };

/** What to watch for this config and these interfaces, or why nothing is watched. Throws
 * UpstreamOptionsError only for options the config module would have refused. */
export function planUpstream(config: GatewayConfig, managed: boolean, interfaces: ExternalInterfaces): UpstreamPlan {
  const u = config.upstream;
  if (!u?.enabled) return { off: 'disabled by configuration (upstream.enabled is false)' };
  if (!managed) return { off: 'this agent manages no dataplane (no address family has both gateways): no upstream to watch' };
  const families: UpstreamFamily[] = [];
  for (const f of config.families) {
    const iface = interfaces.find((i) => i.family === f.family)?.external ?? config.externalInterface;
    if (iface) families.push({ family: f.family, interface: iface, gateway: f.externalGateway });
  }
  if (families.length === 0) return { off: 'no external interface is known yet for any family' };
  const watched = new Set(families.map((f) => f.family));
  return {
    options: resolveUpstreamOptions({
      families,
      // A family whose interface is unknown is not watched, and neither are its probes.
      probes: u.probes.filter((p) => {
        const address = p.kind === 'http' ? new URL(p.url).hostname.replace(/^\[(.*)\]$/, '$1') : p.address;
        const family = ipFamily(address);
        return family === undefined || watched.has(family); // an unparsable one is named by resolveUpstreamOptions
      }),
      probeDefaults: { intervalMs: u.probeIntervalMs, timeoutMs: u.probeTimeoutMs, rise: u.probeRise, fall: u.probeFall },
      holdDownMs: u.holdDownMs,
      probeFailureAction: u.probeFailureAction,
      neighbourVerifyIntervalMs: u.neighbourVerifyIntervalMs,
    }),
  };
}

/**
 * How long an admin request counts as still in flight in the engine. The engine applies it on its
 * own thread and reports the transition as an event; until then sessions() shows the old state.
 */
const IN_FLIGHT_MS = 1000;

const sessionKey = (local: string, remote: string): string => `${local}|${remote}`;

/** One running monitor wired to the BFD engine the daemon currently has. */
export class UpstreamHealth {
  private readonly probes = new Map<string, ProbeCounters>();
  /** Requests the engine has not reported back yet, so another trigger does not repeat them. */
  private readonly inFlight = new Map<string, { op: BfdAdminAction['op']; at: number }>();
  private running = false;
  /** Set while a pass runs: an engine that reports transitions synchronously re-enters apply(). */
  private applying = false;
  private again = false;

  constructor(
    readonly options: UpstreamOptions,
    private readonly monitor: UpstreamMonitorPort,
    private readonly engine: () => BfdAdminPort | null,
    private readonly log: Logger,
    private readonly actions: { adminDown: number; adminUp: number },
  ) {
    monitor.on('change', () => this.apply('upstream change'));
    monitor.on('probe', (ev) => this.countProbe(ev));
  }

  async start(): Promise<void> {
    await this.monitor.start();
    this.running = true;
    this.apply('upstream monitor started');
  }

  /**
   * Stops watching. With `release`, sessions this monitor took down come back (upstream health was
   * turned off or re-planned); a drain passes false, since every session goes AdminDown anyway.
   */
  async stop(release: boolean): Promise<void> {
    this.running = false;
    await this.monitor.stop();
    if (release) this.applyStatus(() => this.monitor.status().map((s) => ({ ...s, withdraw: false })), 'upstream monitor stopped');
  }

  /** Brings the BFD sessions' admin state in line with the upstream (idempotent, cheap). */
  apply(trigger: string): void {
    if (this.running) this.applyStatus(() => this.monitor.status(), trigger);
  }

  /** A BFD transition: whatever we asked of that session has landed (or was overtaken). */
  onBfdState(ev: BfdStateEvent): void {
    this.inFlight.delete(sessionKey(ev.local, ev.remote));
    this.apply('bfd state');
  }

  view(): Omit<UpstreamView, 'off' | 'bfdActions'> {
    return { families: this.monitor.status(), signals: this.monitor.signals(), probes: [...this.probes.values()], netlink: this.monitor.netlink() };
  }

  /** Passes until nothing changes; a nested call (from a transition we caused) asks for one more pass. */
  private applyStatus(status: () => UpstreamFamilyStatus[], trigger: string): void {
    if (this.applying) {
      this.again = true;
      return;
    }
    this.applying = true;
    try {
      do {
        this.again = false;
        this.applyPass(status(), trigger);
      } while (this.again);
    } finally {
      this.applying = false;
    }
  }

  private applyPass(status: UpstreamFamilyStatus[], trigger: string): void {
    const engine = this.engine();
    if (!engine) return;
    const now = Date.now();
    const todo = upstreamBfdActions(status, engine.sessions()).filter((a) => {
      const pending = this.inFlight.get(sessionKey(a.local, a.remote));
      return !(pending && pending.op === a.op && now - pending.at < IN_FLIGHT_MS);
    });
    for (const a of todo) {
      const key = sessionKey(a.local, a.remote);
      // Before the call: an engine that reports the transition synchronously clears it again.
      this.inFlight.set(key, { op: a.op, at: now });
      try {
        if (a.op === 'adminDown') engine.adminDown(a.local, a.remote, a.diag);
        else engine.adminUp(a.local, a.remote);
      } catch (err) {
        this.inFlight.delete(key);
        // A session removed between sessions() and the call (kill/reload): the next event re-applies.
        this.log.warn({ trigger, local: a.local, remote: a.remote, err: (err as Error).message }, 'upstream: could not apply the BFD admin state');
        continue;
      }
      this.actions[a.op]++;
      const fields = { trigger, family: a.family, local: a.local, remote: a.remote, why: a.why };
      if (a.op === 'adminDown') this.log.warn({ ...fields, diag: a.diag }, 'upstream broken: BFD session AdminDown (Concatenated Path Down), leaving ECMP');
      else this.log.info(fields, 'upstream healthy: BFD session back from AdminDown, rejoining ECMP');
    }
  }

  private countProbe(ev: ProbeResultEvent): void {
    const key = `${ev.family}|${ev.name}`;
    const c = this.probes.get(key) ?? { family: ev.family, name: ev.name, kind: ev.kind, ok: 0, failed: 0, lastOk: ev.ok, lastDetail: '', lastDurationMs: 0 };
    if (ev.ok) c.ok++;
    else c.failed++;
    c.lastOk = ev.ok;
    c.lastDetail = ev.detail;
    c.lastDurationMs = ev.durationMs;
    this.probes.set(key, c);
  }
}
