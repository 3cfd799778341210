// `egress-agent reload`: re-read the configuration (as SIGHUP does); exit 1 if it was rejected.
import type { GlobalOptions } from '../lib/program.js';
import { callAgent, EXIT_FAILED, EXIT_OK, printJson } from '../control/cli-support.js';
import type { ReloadRecord } from '../status/types.js';

export default async function reload(_args: string[], opts: { json?: boolean }, global: GlobalOptions): Promise<number> {
  const r = await callAgent<ReloadRecord>(global.socket, 'reload', {}, 30_000);
  if (!r) return EXIT_FAILED;
  if (opts.json) printJson(r);
  else {
    process.stdout.write(r.ok ? 'configuration reloaded\n' : 'configuration rejected; the agent keeps running the previous one\n');
    for (const c of r.changes) process.stdout.write(`  ${c}\n`);
    for (const e of r.errors) process.stdout.write(`  - ${e}\n`);
  }
  return r.ok ? EXIT_OK : EXIT_FAILED;
}
