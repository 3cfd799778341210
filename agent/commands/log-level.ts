// `egress-agent log-level <level>`: change the running agent's log level.
import type { GlobalOptions } from '../lib/program.js';
import { callAgent, EXIT_FAILED, EXIT_OK } from '../control/cli-support.js';

export default async function logLevel([level]: string[], _opts: unknown, global: GlobalOptions): Promise<number> {
  const r = await callAgent<{ previous: string; level: string }>(global.socket, 'logLevel', { level });
  if (!r) return EXIT_FAILED;
  process.stdout.write(`log level ${r.previous} -> ${r.level}\n`);
  return EXIT_OK;
}
