// The control socket protocol, version 1: one JSON object per line each way.
//   request  {"v":1,"id":<any>,"cmd":"<command>", ...arguments}
//   reply    {"v":1,"id":<same>,"ok":true,"result":<any>} | {"v":1,"id":<same>,"ok":false,"error":"<text>","code":"<CODE>"}
// The code (ERROR_CODES) is for programs, the text for people: decide on the code, never the text.
// A first line that does not start with "{" is a plain-text probe request (`live`, `ready`,
// `status`) answered with Kube-OVN's supervisor reply line; see agent/compat/supervisor-status.ts.
export const PROTOCOL_VERSION = 1;

export const COMMANDS = [
  'status', 'bfd.sessions', 'dataplane', 'reconcile', 'bfd.adminDown', 'bfd.adminUp', 'bfd.setTimers', 'reload',
  'logLevel', 'live', 'ready', 'debug.blockEventLoop', 'compat.bfddControl',
] as const;
export type Command = (typeof COMMANDS)[number];

export interface Request {
  v: number;
  id?: unknown;
  cmd: Command;
  [arg: string]: unknown;
}

/** Why a request failed. FAILED: the command ran and did not succeed (the text says why). */
export const ERROR_CODES = ['BAD_REQUEST', 'UNSUPPORTED_VERSION', 'UNKNOWN_COMMAND', 'BAD_ARGUMENT', 'NO_SUCH_SESSION', 'DISABLED', 'FAILED'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error whose code a reply carries (the daemon's typed errors have a `code` too). */
export class ControlCommandError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'ControlCommandError';
  }
}

/** The code of an error thrown by a command: its own when it is one of ERROR_CODES, else FAILED. */
export function errorCodeOf(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  return (ERROR_CODES as readonly unknown[]).includes(code) ? (code as ErrorCode) : 'FAILED';
}

export type Reply =
  | { v: number; id?: unknown; ok: true; result: unknown }
  | { v: number; id?: unknown; ok: false; error: string; code: ErrorCode };

/** Longest request line accepted; anything longer is a client bug, not a command. */
export const MAX_LINE_BYTES = 64 * 1024;

/** Parses one request line; errors name what was wrong. */
export function parseRequest(line: string): { ok: true; req: Request } | { ok: false; id?: unknown; error: string; code: ErrorCode } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `request is not valid JSON: ${(err as Error).message}`, code: 'BAD_REQUEST' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'request must be a JSON object', code: 'BAD_REQUEST' };
  const obj = raw as Record<string, unknown>;
  if (obj.v !== PROTOCOL_VERSION) return { ok: false, id: obj.id, error: `unsupported protocol version ${JSON.stringify(obj.v)} (this agent speaks v${PROTOCOL_VERSION})`, code: 'UNSUPPORTED_VERSION' };
  if (typeof obj.cmd !== 'string' || !(COMMANDS as readonly string[]).includes(obj.cmd)) {
    return { ok: false, id: obj.id, error: `unknown command ${JSON.stringify(obj.cmd)}; known: ${COMMANDS.join(', ')}`, code: 'UNKNOWN_COMMAND' };
  }
  return { ok: true, req: obj as Request };
}

export function okReply(id: unknown, result: unknown): Reply {
  return { v: PROTOCOL_VERSION, id, ok: true, result };
}

export function errorReply(id: unknown, error: string, code: ErrorCode): Reply {
  return { v: PROTOCOL_VERSION, id, ok: false, error, code };
}
