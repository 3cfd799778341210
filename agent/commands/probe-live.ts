// `egress-agent probe live`: exit 0 when the agent is live, 1 otherwise (reasons on stderr).
import type { GlobalOptions } from '../lib/program.js';
import { probeVerb, type ProbeOptions } from '../control/probe-verb.js';

export default function probeLive(_args: string[], opts: ProbeOptions, global: GlobalOptions): Promise<number> {
  return probeVerb('live', opts, global.socket);
}
