// Client of the control socket, used by the CLI. Errors say what to do: start the agent, or run
// as the socket's owner.
import { connect } from 'node:net';
import { lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { PROTOCOL_VERSION, type Command, type ErrorCode, type Reply } from './protocol.js';

/** The CLI's failure to get an answer; `code` is the agent's (protocol.ts ERROR_CODES) when it answered with an error. */
export class ControlError extends Error {
  constructor(message: string, readonly code?: ErrorCode) {
    super(message);
    this.name = 'ControlError';
  }
}

export const DEFAULT_TIMEOUT_MS = 5000;

/** The owner of the socket, or of the nearest directory above it we may look at. */
function ownerOf(path: string): { path: string; uid: number } | null {
  for (let p = path; ; p = dirname(p)) {
    try {
      return { path: p, uid: lstatSync(p).uid };
    } catch {
      if (p === dirname(p)) return null;
    }
  }
}

export function describeConnectError(path: string, err: NodeJS.ErrnoException): ControlError {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
    return new ControlError(`no agent is listening on ${path}: is egress-agent run running?`);
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    const owner = ownerOf(path);
    const you = process.getuid?.() ?? '?';
    const whose = owner === null ? '' : owner.path === path ? ` owned by uid ${owner.uid}` : ` in ${owner.path}, owned by uid ${owner.uid}`;
    return new ControlError(`permission denied on ${path}: the socket is mode 0600${whose}; run as that user (you are uid ${you})`);
  }
  return new ControlError(`cannot connect to ${path}: ${err.message}`);
}

/** Sends one line and resolves with the first reply line. */
function exchange(path: string, line: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new ControlError(`the agent on ${path} did not answer within ${timeoutMs} ms`))),
      timeoutMs,
    );
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(line + '\n'));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(() => resolve(buf.slice(0, nl)));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => finish(() => reject(buf ? new ControlError(`connection to ${path} failed: ${err.message}`) : describeConnectError(path, err))));
    sock.once('end', () => finish(() => (buf ? resolve(buf) : reject(new ControlError(`the agent on ${path} closed the connection without answering`)))));
  });
}

/** Runs one v1 command and returns its result; throws ControlError with the agent's message. */
export async function request(path: string, cmd: Command, args: Record<string, unknown> = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
  const line = await exchange(path, JSON.stringify({ v: PROTOCOL_VERSION, id: 1, cmd, ...args }), timeoutMs);
  let reply: Reply;
  try {
    reply = JSON.parse(line) as Reply;
  } catch {
    throw new ControlError(`the agent on ${path} sent a malformed reply: ${line.slice(0, 200)}`);
  }
  if (!reply.ok) throw new ControlError(reply.error, reply.code);
  return reply.result;
}

/** Sends a plain-text probe request (`live`, `ready`, `status`) and returns the parsed reply line. */
export async function probe(path: string, what: 'live' | 'ready' | 'status', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ status: unknown; error?: string }> {
  const line = await exchange(path, what, timeoutMs);
  try {
    return JSON.parse(line) as { status: unknown; error?: string };
  } catch {
    throw new ControlError(`the agent on ${path} sent a malformed reply: ${line.slice(0, 200)}`);
  }
}
