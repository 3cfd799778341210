// `egress-agent bfd admin-up <local> <remote>`: releases an administratively down session.
import type { GlobalOptions } from '../lib/program.js';
import { callAgent, EXIT_FAILED, EXIT_OK } from '../control/cli-support.js';

export default async function adminUp([local, remote]: string[], _opts: unknown, global: GlobalOptions): Promise<number> {
  const r = await callAgent<{ sessions: string[] }>(global.socket, 'bfd.adminUp', { local, remote });
  if (!r) return EXIT_FAILED;
  process.stdout.write(`BFD session ${local} -> ${remote} released from AdminDown\n`);
  return EXIT_OK;
}
