// `egress-agent bfd set-timers <local> <remote> [--min-tx ms] [--min-rx ms] [--multiplier n]`:
// changes a running session's timers through a Poll sequence (no flap).
import type { GlobalOptions } from '../lib/program.js';
import { callAgent, EXIT_FAILED, EXIT_OK } from '../control/cli-support.js';

export default async function setTimers([local, remote]: string[], opts: { minTx?: string; minRx?: string; multiplier?: string }, global: GlobalOptions): Promise<number> {
  const timers: Record<string, number> = {};
  for (const [flag, key, v] of [['--min-tx', 'minTxMs', opts.minTx], ['--min-rx', 'minRxMs', opts.minRx], ['--multiplier', 'multiplier', opts.multiplier]] as const) {
    if (v === undefined) continue;
    if (!/^\d+$/.test(v)) {
      process.stderr.write(`egress-agent: ${flag} must be a whole number, got ${JSON.stringify(v)}\n`);
      return EXIT_FAILED;
    }
    timers[key] = Number(v);
  }
  const r = await callAgent<{ sessions: string[] }>(global.socket, 'bfd.setTimers', { local, remote, ...timers });
  if (!r) return EXIT_FAILED;
  process.stdout.write(`BFD session ${local} -> ${remote}: timers changed (${Object.entries(timers).map(([k, v]) => `${k}=${v}`).join(', ')}); the engine runs a Poll sequence\n`);
  return EXIT_OK;
}
