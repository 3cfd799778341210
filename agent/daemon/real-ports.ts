// The daemon's ports bound to the real modules. Each is imported on first use so that the CLI's
// light verbs never load them.
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../lib/log.js';
import type { Clock, DaemonPorts, ServerPorts } from './ports.js';
import { ControlServer } from '../control/server.js';
import { HealthServer } from '../health/server.js';
import { guardedInterval, guardedTimeout } from '../lib/guard.js';
import { releaseExecutablePages } from '../native/mem.js';

/** `flags` are the commander options of `run` (camelCase), as agent/config expects them. */
export function realPorts(flags: Record<string, unknown>, log: Logger): DaemonPorts {
  return {
    async loadConfig() {
      const { loadConfig, formatConfigErrors } = await import('../config/index.js');
      const r = loadConfig({ env: process.env, flags, adoptHandoff: true });
      if (!r.ok) return { ok: false, errors: formatConfigErrors(r.errors).split('\n') };
      for (const n of r.notices) log[n.level]({ key: n.key }, n.message);
      return { ok: true, config: r.config };
    },
    async expectedSessions(config: GatewayConfig) {
      const { loadExpectedSessions } = await import('../bfd/index.js');
      const r = await loadExpectedSessions(config.bfd);
      for (const w of r.warnings) log.warn({ statePath: config.bfd.statePath }, w);
      return r.specs;
    },
    async createEngine(config: GatewayConfig) {
      const { BfdEngine } = await import('../bfd/index.js');
      return new BfdEngine({ realtimePriority: config.bfd.realtimePriority });
    },
    async createReconciler(config: GatewayConfig, logger: Logger) {
      if (!config.families.length) return null;
      const { Reconciler } = await import('../reconcile/reconciler.js');
      return new Reconciler({ config, logger: logger.child({ component: 'dataplane' }) });
    },
    async createUpstreamMonitor(options, logger) {
      const { UpstreamMonitor } = await import('../upstream/monitor.js');
      return new UpstreamMonitor(options, logger.child({ component: 'upstream' }));
    },
    async createPeerRoutes() {
      const { Rtnl, RtnlWatcher } = await import('../dataplane/netlink.js');
      const rtnl = Rtnl.open();
      const watcher = new RtnlWatcher();
      return {
        lookup: async (remote: string) => (await rtnl.lookupRoute(remote))?.oif,
        watch(onChange: () => void) {
          watcher.on('change', onChange);
          watcher.on('resync', onChange);
          watcher.start();
        },
        close() {
          watcher.stop();
          rtnl.close();
        },
      };
    },
    releaseStartupPages() {
      return releaseExecutablePages();
    },
    async createSnatRecorder(config, logger) {
      const { SnatRecorder } = await import('../snat/recorder.js');
      return new SnatRecorder(config, { logger });
    },
  };
}

/** The real servers: HTTP health on TCP, control on Unix sockets. */
export const realServers: ServerPorts = {
  health: (listen, sources, log, podIps) => new HealthServer(listen, sources, log, podIps),
  control: (path, handler, log) => new ControlServer(path, handler, log),
};

/** Node's timers (unref'd: they never keep a finished process alive) and Date.now. */
export const realClock: Clock = {
  now: () => Date.now(),
  every(name, ms, fn) {
    const t = guardedInterval(name, fn, ms).unref();
    return () => clearInterval(t);
  },
  after(name, ms, fn) {
    const t = guardedTimeout(name, fn, ms).unref();
    return () => clearTimeout(t);
  },
};
