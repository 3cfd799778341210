// Upstream health in the daemon: which families to watch (configured families on their discovered
// external interfaces) and the running monitor. Its verdicts become BFD admin state in
// bfd-withdrawal.ts (shared with the dataplane gate).
import type { GatewayConfig } from '../config/types.js';
import { ipFamily, type IpFamily } from '../lib/ip.js';
import {
  resolveUpstreamOptions, type ProbeResultEvent, type UpstreamFamily, type UpstreamFamilyStatus, type UpstreamOptions,
} from '../upstream/index.js';
import type { Logger } from '../lib/log.js';
import { OptionalSubsystem } from './optional.js';
import type { DaemonPorts, UpstreamMonitorPort } from './ports.js';
import type { ProbeCounters, UpstreamView } from '../status/types.js';

/** The discovered interfaces per family (the reconciler's status().interfaces). */
export type ExternalInterfaces = readonly { family: IpFamily; external: string }[];

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

/** Upstream health as an optional subsystem: on while planUpstream finds families to watch. */
export function upstreamSubsystem(
  ports: Pick<DaemonPorts, 'createUpstreamMonitor'>, log: Logger, withdraw: (trigger: string) => void,
): OptionalSubsystem<UpstreamOptions, UpstreamHealth> {
  const create = ports.createUpstreamMonitor;
  return new OptionalSubsystem({
    label: 'upstream health',
    replaced: 're-planned',
    create: create ? async (options) => new UpstreamHealth(options, await create.call(ports, options, log), withdraw) : null,
    start: (health) => health.start(),
    // Re-planned or turned off: the sessions it took down come back. Shutdown: all go AdminDown anyway.
    stop: (health, why) => health.stop(why === 'replace'),
    unchanged: (health) => health.apply('reload'),
    describe: (options) => options.families.map((f) => `IPv${f.family} ${f.interface} gw ${f.gateway}`).join(', '),
  }, log);
}

/** One running monitor; its verdicts go to the daemon's BfdWithdrawal through `onChange`. */
export class UpstreamHealth {
  private readonly probes = new Map<string, ProbeCounters>();
  private running = false;

  constructor(
    readonly options: UpstreamOptions,
    private readonly monitor: UpstreamMonitorPort,
    private readonly onChange: (trigger: string) => void,
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
    if (release) this.onChange('upstream monitor stopped');
  }

  /** Asks for the BFD sessions' admin state to be brought in line (idempotent, cheap). */
  apply(trigger: string): void {
    if (this.running) this.onChange(trigger);
  }

  /** The verdicts per family while running (none once stopped: nothing withdrawn by upstream). */
  statuses(): UpstreamFamilyStatus[] {
    return this.running ? this.monitor.status() : [];
  }

  view(): Omit<UpstreamView, 'off' | 'bfdActions'> {
    return { families: this.monitor.status(), signals: this.monitor.signals(), probes: [...this.probes.values()], netlink: this.monitor.netlink() };
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
