// BFD in the daemon: the engine, the expected sessions on it (bfd-sessions.ts) and the peers'
// ingress interfaces (bfd-ingress.ts). Started by the `bfd` hook, or by the first reload that
// enables BFD; a reload applies the new session set all or nothing.
import type { BfdStateEvent } from '../bfd/types.js';
import type { GatewayConfig } from '../config/types.js';
import { guard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import { BfdIngress } from './bfd-ingress.js';
import { BfdSessions, type SessionChanges } from './bfd-sessions.js';
import type { BfdEnginePort, DaemonPorts } from './ports.js';

export interface BfdServiceDeps {
  ports: Pick<DaemonPorts, 'createEngine' | 'expectedSessions' | 'createPeerRoutes'>;
  log: Logger;
  now: () => number;
  /** Every state event of the engine (the withdrawal re-applies on it). */
  onState: (ev: BfdStateEvent) => void;
  /** The session set changed: bring the sessions' admin state in line at once. */
  onSessions: (trigger: string) => void;
}

/** A reload's BFD outcome: the session changes, or the refusal (the running set was kept). */
export type BfdReload = { changes: SessionChanges } | { refused: Error };

export class BfdService {
  private engineRef: BfdEnginePort | null = null;
  private sessionsRef: BfdSessions | null = null;
  private ingress: BfdIngress | null = null;

  constructor(private readonly deps: BfdServiceDeps) {}

  get engine(): BfdEnginePort | null {
    return this.engineRef;
  }

  /** Null while BFD has not started (disabled). */
  get sessions(): BfdSessions | null {
    return this.sessionsRef;
  }

  async start(config: GatewayConfig): Promise<void> {
    const { ports, log } = this.deps;
    const engine = await ports.createEngine(config, log);
    await engine.start();
    this.engineRef = engine;
    const sessions = new BfdSessions(engine, log, this.deps.now);
    this.sessionsRef = sessions;
    // A session that (re)appears or is brought up by someone else while its upstream is broken
    // goes straight back to AdminDown.
    engine.on('state', guard('daemon: bfd state change', this.deps.onState));
    const { realtimePriority, realtimeError } = engine.stats();
    if (realtimeError) {
      log.warn({ requested: config.bfd.realtimePriority, error: realtimeError }, 'bfd engine thread runs with normal scheduling');
    }
    const specs = await ports.expectedSessions(config);
    if (ports.createPeerRoutes) {
      // Before the sessions start, so they are bound to their peers' interfaces from the first packet.
      const ingress = new BfdIngress(await ports.createPeerRoutes(log), () => sessions.peers(), (byRemote) => sessions.setIngress(byRemote), log);
      await ingress.start(specs.map((s) => s.remote));
      this.ingress = ingress;
    }
    const c = sessions.applyExpected(specs);
    // At once: a session must not come Up while the dataplane is not verified yet.
    this.deps.onSessions('bfd sessions started');
    log.info({ sessions: c.added, realtimePriority: realtimePriority ?? 0 }, 'bfd sessions started');
  }

  /**
   * Reload: starts BFD when it was off, then makes the engine run exactly the new expected sessions
   * (none when BFD is now disabled). Refused, nothing changed (applyExpected rolls back).
   */
  async reload(next: GatewayConfig): Promise<BfdReload> {
    if (!this.sessionsRef) await this.start(next);
    const specs = next.bfd.enabled ? await this.deps.ports.expectedSessions(next) : [];
    await this.ingress?.refresh(specs.map((s) => s.remote)); // new peers start bound to their interface
    let changes: SessionChanges;
    try {
      changes = this.sessionsRef!.applyExpected(specs);
    } catch (err) {
      return { refused: err as Error };
    }
    this.deps.onSessions('reload');
    return { changes };
  }

  /** AdminDown on every session, kept up for `graceMs` (see BfdEnginePort.drain). */
  drain(graceMs: number): Promise<void> | undefined {
    return this.engineRef?.drain(graceMs);
  }

  /** Closes the engine and the peer-route watcher (also what a failed start leaves behind). */
  close(): void {
    this.engineRef?.close();
    this.ingress?.stop();
  }
}
