// What the daemon's periodic check does, decided from the daemon's state alone (pure); the daemon
// runs the actions in order.
import type { AgentPhase } from '../status/types.js';

export interface CheckState {
  phase: AgentPhase;
  /** BFD sessions are running (recovery has something to look after). */
  bfd: boolean;
  /** The upstream monitor runs. */
  upstreamRunning: boolean;
  /** A configuration was loaded (false only before the config hook ran). */
  hasConfig: boolean;
  /** The control sockets being served. */
  sockets: readonly string[];
}

export type CheckAction =
  /** One bounded recovery step for the expected BFD sessions (session-recovery.ts). */
  | { do: 'recover-sessions' }
  /** Re-apply the BFD admin state from the withdrawal verdicts. */
  | { do: 'reapply-withdrawal' }
  /** Try to start the upstream monitor again. */
  | { do: 'retry-upstream' }
  /** Re-create the control socket at `path` if someone deleted it. */
  | { do: 'ensure-socket'; path: string };

export function planPeriodicCheck(s: CheckState): CheckAction[] {
  // Starting, draining or stopped: nothing is recovered or re-created behind the lifecycle's back.
  if (s.phase !== 'running') return [];
  const actions: CheckAction[] = [];
  if (s.bfd) actions.push({ do: 'recover-sessions' });
  // Sessions re-created by recovery or an operator (kill, reset, allow) start outside AdminDown.
  actions.push({ do: 'reapply-withdrawal' });
  // Not watching yet because discovery had not found the external interface: try again.
  if (!s.upstreamRunning && s.hasConfig) actions.push({ do: 'retry-upstream' });
  for (const path of s.sockets) actions.push({ do: 'ensure-socket', path });
  return actions;
}
