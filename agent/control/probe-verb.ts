// `egress-agent probe live|ready` for people and scripts (kubelet uses the native probe client,
// native/probe, which asks the same question without starting Node.js).
import { ControlError, probe } from './client.js';

export interface ProbeOptions {
  timeout?: string;
  quiet?: boolean;
}

/** Exit 0 when the agent answers yes; 1 otherwise, with the reason on stderr unless quiet. */
export async function probeVerb(what: 'live' | 'ready', opts: ProbeOptions, socket: string): Promise<number> {
  const say = (stream: NodeJS.WriteStream, text: string) => void (opts.quiet || stream.write(text));
  const timeout = opts.timeout ?? '5000';
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1) {
    process.stderr.write(`egress-agent: --timeout must be a positive number of milliseconds, got ${JSON.stringify(timeout)}\n`);
    return 1;
  }
  try {
    const r = await probe(socket, what, Number(timeout));
    if (r.error) {
      say(process.stderr, `${r.error}\n`);
      return 1;
    }
    say(process.stdout, `${what}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    say(process.stderr, `egress-agent: ${err.message}\n`);
    return 1;
  }
}
