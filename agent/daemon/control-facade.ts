// The control surface (agent/control's AgentControl) over the daemon's state: reads answer at any
// time; every command that changes something is refused once the drain began, since it could bring
// sessions back Up after the drain took them AdminDown.
import type { BfdDiag, BfdRxSocket } from '../bfd/types.js';
import { bfddControl, type BfddReply } from '../compat/bfdd-control.js';
import { probeReply } from '../compat/supervisor-status.js';
import type { AgentControl, DataplaneView } from '../control/commands.js';
import type { Logger } from '../lib/log.js';
import type { ApplyResult } from '../reconcile/types.js';
import type { AgentPhase, AgentStatus, ApplyStats, ReloadRecord, SessionSelector, SessionView } from '../status/types.js';
import type { BfdSessions } from './bfd-sessions.js';
import { bfddBackend } from './bfdd-backend.js';
import type { ReconcilerPort } from './ports.js';

/** What the facade reads of the daemon. */
export interface ControlCore {
  readonly version: string;
  readonly log: Logger;
  readonly onStopRequest?: () => void;
  phase(): AgentPhase;
  status(): AgentStatus;
  reload(): Promise<ReloadRecord>;
  /** Null when BFD is disabled. */
  sessions(): BfdSessions | null;
  /** Null when this process manages no dataplane. */
  reconciler(): ReconcilerPort | null;
  applyStats(): ApplyStats;
}

/** Null, or the error for a command that would change something once the drain began. */
export function refusedWhileDraining(phase: AgentPhase, what: string): Error | null {
  if (phase !== 'draining' && phase !== 'stopped') return null;
  return new Error(`${what} refused: the agent is draining for shutdown (${phase}); nothing is changed any more`);
}

export class ControlFacade implements AgentControl {
  private logCommands = true;

  constructor(private readonly core: ControlCore) {}

  status(): AgentStatus {
    return this.core.status();
  }

  reload(): Promise<ReloadRecord> {
    return this.core.reload();
  }

  bfdSessions(): SessionView[] {
    return this.core.sessions()?.status().sessions ?? [];
  }

  bfdRxSockets(): BfdRxSocket[] {
    return this.core.sessions()?.status().rxSockets ?? [];
  }

  async dataplane(): Promise<DataplaneView> {
    const r = this.core.reconciler();
    return { managed: r !== null, status: r?.status() ?? null, inspection: r ? await r.inspect() : null, applies: this.core.applyStats() };
  }

  async reconcile(): Promise<ApplyResult> {
    this.mutating('reconcile');
    const r = this.core.reconciler();
    if (!r) throw new Error('this agent manages no dataplane (no address family has both gateways configured)');
    return r.applyOnce('manual');
  }

  adminDown(sel: SessionSelector, diag?: BfdDiag): string[] {
    this.mutating('admin down');
    return this.bfd().adminDown(sel, diag);
  }

  adminUp(sel: SessionSelector): string[] {
    this.mutating('admin up');
    return this.bfd().adminUp(sel);
  }

  setTimers(sel: SessionSelector, timers: { minTxMs?: number; minRxMs?: number; multiplier?: number }): string[] {
    this.mutating('set timers');
    return this.bfd().setTimers(sel, timers);
  }

  setLogLevel(level: string): { previous: string; level: string } {
    const { log } = this.core;
    const previous = log.level;
    log.level = level;
    log.info({ previous, level }, 'log level changed');
    return { previous, level };
  }

  bfddControl(args: string[]): BfddReply {
    const reply = bfddControl(args, bfddBackend({
      sessions: () => this.core.sessions(),
      // Every operation that changes something is refused during the drain; status and version answer.
      bfd: () => {
        this.mutating('bfdd-control');
        return this.bfd();
      },
      logCommands: { get: () => this.logCommands, set: (enable) => void (this.logCommands = enable) },
      onStopRequest: this.core.onStopRequest,
      version: this.core.version,
    }));
    const fields = { args, exitCode: reply.exitCode };
    if (this.logCommands) this.core.log.info(fields, 'bfdd-control command');
    else this.core.log.debug(fields, 'bfdd-control command');
    return reply;
  }

  probeLine(request: string): string {
    return probeReply(request, this.core.status());
  }

  private mutating(what: string): void {
    const refused = refusedWhileDraining(this.core.phase(), what);
    if (refused) throw refused;
  }

  private bfd(): BfdSessions {
    const sessions = this.core.sessions();
    if (!sessions) throw new Error('BFD is disabled in this agent\'s configuration');
    return sessions;
  }
}
