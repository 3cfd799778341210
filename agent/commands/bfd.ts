// `egress-agent bfd`: the BFD sessions the engine runs, with state, timers and counters.
import type { GlobalOptions } from '../lib/program.js';
import { ago, callAgent, EXIT_FAILED, EXIT_OK, printJson, renderTable } from '../control/cli-support.js';
import type { SessionView } from '../status/types.js';

export function formatSessions(sessions: SessionView[], now = Date.now()): string {
  if (!sessions.length) return 'no BFD sessions\n';
  return renderTable(
    ['id', 'local', 'remote', 'state', 'remote state', 'diag', 'tx ms', 'detect ms', 'discr local/remote', 'last change', 'flaps', 'pkts in/out', 'drops'],
    sessions.map((s) => [
      s.id, s.local, s.remote, s.held ? `${s.state} (held)` : s.state, s.remoteState, s.localDiag, s.txIntervalMs, s.detectTimeMs,
      `${s.localDiscr}/${s.remoteDiscr}`, ago(s.lastStateChange, now), s.flaps, `${s.counters.packetsIn}/${s.counters.packetsOut}`,
      Object.values(s.counters.drops).reduce((a, b) => a + b, 0),
    ]),
  );
}

export default async function bfd(_args: string[], opts: { json?: boolean }, global: GlobalOptions): Promise<number> {
  const r = await callAgent<{ sessions: SessionView[] }>(global.socket, 'bfd.sessions');
  if (!r) return EXIT_FAILED;
  if (opts.json) printJson(r);
  else process.stdout.write(formatSessions(r.sessions));
  return EXIT_OK;
}
