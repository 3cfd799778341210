// Control commands: argument validation (every error names the argument) and dispatch to the
// running agent. Shared by the agent's own socket and Kube-OVN's supervisor socket.
import { isIP } from 'node:net';
import type { BfdDiag, BfdRxSocket } from '../bfd/types.js';
import type { BfddReply } from '../compat/bfdd-control.js';
import { DIAG_NAMES } from '../compat/bfdd-control.js';
import type { AgentStatus, ApplyStats, ReloadRecord, SessionSelector, SessionView, Verdict } from '../status/types.js';
import { MAX_INTERVAL_MS, MAX_MULTIPLIER } from '../lib/bfd-limits.js';
import { LOG_LEVELS } from '../lib/log.js';
import type { ApplyResult, DataplaneStatus } from '../reconcile/types.js';
import { ControlCommandError, type Request } from './protocol.js';
import type { ControlHandler } from './server.js';

export interface DataplaneView {
  /** False when this process manages no dataplane (no family has both gateways configured). */
  managed: boolean;
  status: DataplaneStatus | null;
  /** Desired vs actual, read from the kernel for this request (null when not managed). */
  inspection: unknown;
  applies: ApplyStats;
}

/** What the running agent offers to the control socket. */
export interface AgentControl {
  status(): AgentStatus;
  bfdSessions(): SessionView[];
  /** The BFD engine's receive sockets (buffer, queue, kernel drop count). */
  bfdRxSockets(): BfdRxSocket[];
  dataplane(): Promise<DataplaneView>;
  reconcile(): Promise<ApplyResult>;
  adminDown(sel: SessionSelector, diag?: BfdDiag): string[];
  adminUp(sel: SessionSelector): string[];
  setTimers(sel: SessionSelector, timers: { minTxMs?: number; minRxMs?: number; multiplier?: number }): string[];
  reload(): Promise<ReloadRecord>;
  setLogLevel(level: string): { previous: string; level: string };
  bfddControl(args: string[]): BfddReply;
  /** Plain-text probe line reply (Kube-OVN supervisor format). */
  probeLine(request: string): string;
}

const badArgument = (message: string) => new ControlCommandError('BAD_ARGUMENT', message);

/** Longest event-loop block the debug command accepts. */
export const MAX_BLOCK_MS = 60_000;

function ip(req: Request, name: string): string {
  const v = req[name];
  if (typeof v !== 'string' || !isIP(v)) throw badArgument(`argument "${name}" must be an IPv4 or IPv6 address, got ${JSON.stringify(v)}`);
  return v;
}

function selector(req: Request): SessionSelector {
  if (req.all === true) return { all: true };
  return { local: ip(req, 'local'), remote: ip(req, 'remote') };
}

function positiveInt(req: Request, name: string, max: number): number | undefined {
  const v = req[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw badArgument(`argument "${name}" must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Busy-waits the JS thread (never the BFD engine thread): proves BFD does not depend on it. */
export function blockEventLoop(ms: number): number {
  const start = performance.now();
  while (performance.now() - start < ms) {
    /* spin */
  }
  return performance.now() - start;
}

/** `debugCommands`: accept debug.* (test-only, see docs/configuration.md); refused otherwise. */
export function createControlHandler(agent: AgentControl, opts: { debugCommands?: boolean } = {}): ControlHandler {
  const commands: Record<Request['cmd'], (req: Request) => unknown> = {
    status: () => agent.status(),
    live: (): Verdict => agent.status().live,
    ready: (): Verdict => agent.status().ready,
    'bfd.sessions': () => ({ sessions: agent.bfdSessions(), rxSockets: agent.bfdRxSockets() }),
    dataplane: () => agent.dataplane(),
    reconcile: () => agent.reconcile(),
    'bfd.adminDown': (req) => {
      const diag = req.diag;
      if (diag !== undefined && !DIAG_NAMES.includes(diag as BfdDiag)) {
        throw badArgument(`argument "diag" must be one of ${DIAG_NAMES.join(', ')}, got ${JSON.stringify(diag)}`);
      }
      return { sessions: agent.adminDown(selector(req), diag as BfdDiag | undefined) };
    },
    'bfd.adminUp': (req) => ({ sessions: agent.adminUp(selector(req)) }),
    'bfd.setTimers': (req) => {
      const timers = {
        minTxMs: positiveInt(req, 'minTxMs', MAX_INTERVAL_MS),
        minRxMs: positiveInt(req, 'minRxMs', MAX_INTERVAL_MS),
        multiplier: positiveInt(req, 'multiplier', MAX_MULTIPLIER),
      };
      const set = Object.fromEntries(Object.entries(timers).filter(([, v]) => v !== undefined));
      if (!Object.keys(set).length) throw badArgument('give at least one of "minTxMs", "minRxMs", "multiplier"');
      return { sessions: agent.setTimers(selector(req), set) };
    },
    reload: () => agent.reload(),
    logLevel: (req) => {
      const level = req.level;
      if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
        throw badArgument(`argument "level" must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
      }
      return agent.setLogLevel(level);
    },
    'debug.blockEventLoop': (req) => {
      if (!opts.debugCommands) throw new ControlCommandError('DISABLED', 'debug commands are off (they are for tests: set EGRESS_AGENT_DEBUG_COMMANDS=true or --debug-commands)');
      const ms = req.ms;
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_BLOCK_MS) {
        throw badArgument(`argument "ms" must be a number from 0 to ${MAX_BLOCK_MS}, got ${JSON.stringify(ms)}`);
      }
      return { blockedMs: blockEventLoop(ms) };
    },
    'compat.bfddControl': (req) => {
      const args = req.args;
      if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw badArgument('argument "args" must be an array of strings');
      return agent.bfddControl(args as string[]);
    },
  };
  return {
    command: async (req) => commands[req.cmd](req),
    text: (line) => agent.probeLine(line),
  };
}
