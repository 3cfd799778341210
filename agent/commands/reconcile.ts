// `egress-agent reconcile`: one apply + verify pass now; exit 1 unless verified.
import type { GlobalOptions } from '../lib/program.js';
import { callAgent, EXIT_FAILED, EXIT_OK, printJson } from '../control/cli-support.js';
import type { ApplyResult } from '../reconcile/types.js';

export default async function reconcile(_args: string[], opts: { json?: boolean }, global: GlobalOptions): Promise<number> {
  const r = await callAgent<ApplyResult>(global.socket, 'reconcile', {}, 30_000);
  if (!r) return EXIT_FAILED;
  const verified = !r.error && r.remaining.length === 0;
  if (opts.json) printJson(r);
  else {
    const what = r.changed ? `repaired ${r.drift.length} difference(s)` : 'no change needed';
    process.stdout.write(`reconciled in ${r.durationMs.toFixed(1)} ms: ${what}; ${verified ? 'verified' : `NOT verified${r.error ? `: ${r.error}` : ''}`}\n`);
    for (const d of r.remaining) process.stdout.write(`  still different: ${d.kind} ${d.object} (${d.problem})\n`);
  }
  return verified ? EXIT_OK : EXIT_FAILED;
}
