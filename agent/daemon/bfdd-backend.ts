// The OpenBFDD adapter: Kube-OVN's bfdd-control commands (agent/compat/bfdd-control.ts) mapped onto
// the daemon's BFD sessions. Every operation that changes something goes through `bfd()`, which
// refuses during the drain; status and version always answer.
import type { BfddBackend, BfddTarget, TimerItem } from '../compat/bfdd-control.js';
import { guard } from '../lib/guard.js';
import type { SessionSelector } from '../status/types.js';
import { NoSuchSessionError, type BfdSessions } from './bfd-sessions.js';

export interface BfddBackendDeps {
  /** The running sessions, or null when BFD is disabled. */
  sessions(): BfdSessions | null;
  /** The sessions to change; throws while draining or when BFD is disabled. */
  bfd(): BfdSessions;
  /** Whether bfdd-control commands are logged at info (OpenBFDD's "log type command"). */
  logCommands: { get(): boolean; set(enable: boolean): void };
  /** Absent: "stop" is refused. */
  onStopRequest?: () => void;
  version: string;
}

export function bfddBackend(deps: BfddBackendDeps): BfddBackend {
  const { bfd } = deps;
  const selectorOf = (t: BfddTarget): SessionSelector => t;
  // Operations on one named session report "no such session" as false, like OpenBFDD.
  const single = (fn: () => unknown): boolean => {
    try {
      fn();
      return true;
    } catch (err) {
      if (err instanceof NoSuchSessionError) return false;
      throw err;
    }
  };
  const timer = (item: TimerItem, value: number) =>
    item === 'multi' ? { multiplier: value } : item === 'mintx' ? { minTxMs: value / 1000 } : { minRxMs: value / 1000 };
  return {
    sessions: () => (deps.sessions()?.status().sessions ?? []).map((s) => ({ id: s.id, local: s.local, remote: s.remote, state: s.state, passive: s.passive })),
    allow: (ip) => void bfd().allow(ip),
    block: (ip) => bfd().block(ip),
    kill: (t) => single(() => bfd().kill(selectorOf(t))),
    reset: (t) => single(() => bfd().reset(selectorOf(t))),
    adminDown: (t, diag) => single(() => bfd().adminDown(selectorOf(t), diag)),
    adminUp: (t) => single(() => bfd().adminUp(selectorOf(t))),
    setTimers: (t, item, value) =>
      t === 'new' ? single(() => bfd().setDefaults(timer(item, value))) : single(() => bfd().setTimers(selectorOf(t), timer(item, value))),
    setLogType: (type, enable) => {
      if (type !== 'command') return null;
      const was = deps.logCommands.get();
      deps.logCommands.set(enable);
      return was;
    },
    stop: () => {
      if (!deps.onStopRequest) throw new Error('stopping is not available');
      setImmediate(guard('daemon: stop request', deps.onStopRequest));
    },
    version: () => `egress-agent v${deps.version}`,
  };
}
