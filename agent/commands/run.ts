// `egress-agent run`: the Pod entrypoint (see agent/daemon).
import type { GlobalOptions } from '../lib/program.js';

export default async function run(_args: string[], opts: Record<string, unknown>, global: GlobalOptions): Promise<number> {
  const { runDaemon } = await import('../daemon/run.js');
  return runDaemon(opts, global);
}
