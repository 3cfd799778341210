// Ways to talk to a running agent from a test: the control socket (line-delimited JSON, protocol v1),
// the CLI verbs run inside the replica as an operator or exec probe would, and HTTP on the health
// listener. The Agent class (agent-process.ts) wraps these with its own socket and namespace.
import { connect } from 'node:net';
import { execa } from 'execa';
import type { BfdSessionDetail } from '../../agent/bfd/types.js';
import type { AgentStatus, SessionView as DaemonSessionView, Verdict } from '../../agent/status/types.js';
import { AGENT_MAIN } from './agent-paths.js';

export type { AgentStatus, Verdict };

/** A session as the control socket reports it: the daemon's view plus the engine's details. */
export type SessionView = DaemonSessionView & Partial<Omit<BfdSessionDetail, keyof DaemonSessionView>>;

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface HttpResult {
  status: number;
  body: string;
}

/** A control-socket reply (protocol v1). */
export type ControlReply<T = unknown> = { v: number; id: unknown; ok: true; result: T } | { v: number; id: unknown; ok: false; error: string };

let nextRequestId = 1;

/** One control-socket exchange on `socket`; resolves with the raw reply. `who` labels errors (the replica). */
export function controlRequest<T = unknown>(who: string, socket: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<ControlReply<T>> {
  const id = nextRequestId++;
  return new Promise((resolve, reject) => {
    const sock = connect(socket);
    let buf = '';
    const fail = (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`${who}: control ${cmd}: no reply within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ v: 1, id, cmd, ...args }) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.destroy();
      try {
        const reply = JSON.parse(buf.slice(0, nl)) as ControlReply<T>;
        if (reply.id !== id) throw new Error(`reply id ${JSON.stringify(reply.id)} != request id ${id}`);
        resolve(reply);
      } catch (err) {
        reject(new Error(`${who}: control ${cmd}: bad reply ${JSON.stringify(buf.slice(0, 300))}: ${(err as Error).message}`));
      }
    });
    sock.on('error', (err) => fail(new Error(`${who}: control ${cmd} on ${socket}: ${err.message}`)));
    sock.on('end', () => {
      if (!buf.includes('\n')) fail(new Error(`${who}: control ${cmd}: connection closed without a reply`));
    });
  });
}

/** `egress-agent --socket S ARGS...` inside network namespace `ns`. */
export async function agentCli(ns: string, socket: string, args: string[], timeoutMs = 20_000): Promise<CliResult> {
  const r = await execa('ip', ['netns', 'exec', ns, process.execPath, AGENT_MAIN, '--socket', socket, ...args], {
    reject: false,
    timeout: timeoutMs,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    extendEnv: false,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const HTTP_GET = `
const r = await fetch(process.argv[1], { signal: AbortSignal.timeout(10000) });
process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));
`;

/** GET http://LISTEN/path from inside network namespace `ns`. */
export async function healthGet(ns: string, listen: string, path: string): Promise<HttpResult> {
  const r = await execa('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', HTTP_GET, `http://${listen}${path}`], { timeout: 15_000 });
  return JSON.parse(String(r.stdout)) as HttpResult;
}
