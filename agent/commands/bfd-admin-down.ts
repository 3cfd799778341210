// `egress-agent bfd admin-down <local> <remote>`: AdminDown (diag 7 unless --diag) until admin-up.
import type { GlobalOptions } from '../lib/program.js';
import { callAgent, EXIT_FAILED, EXIT_OK } from '../control/cli-support.js';

export default async function adminDown([local, remote]: string[], opts: { diag?: string }, global: GlobalOptions): Promise<number> {
  const r = await callAgent<{ sessions: string[] }>(global.socket, 'bfd.adminDown', { local, remote, ...(opts.diag ? { diag: opts.diag } : {}) });
  if (!r) return EXIT_FAILED;
  process.stdout.write(`BFD session ${local} -> ${remote} is administratively down\n`);
  return EXIT_OK;
}
