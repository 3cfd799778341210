// `egress-agent probe ready`: exit 0 when the agent is ready, 1 otherwise (reasons on stderr).
import type { GlobalOptions } from '../lib/program.js';
import { probeVerb, type ProbeOptions } from '../control/probe-verb.js';

export default function probeReady(_args: string[], opts: ProbeOptions, global: GlobalOptions): Promise<number> {
  return probeVerb('ready', opts, global.socket);
}
