// `egress-agent dataplane`: desired vs actual dataplane and the last apply/repair.
import type { GlobalOptions } from '../lib/program.js';
import { ago, callAgent, EXIT_FAILED, EXIT_OK, printJson, renderTable } from '../control/cli-support.js';
import type { DataplaneView } from '../control/commands.js';

export function formatDataplane(v: DataplaneView, now = Date.now()): string {
  if (!v.managed || !v.status) return 'the dataplane is not managed by this agent (no address family has both gateways configured)\n';
  const s = v.status;
  const lines = [`dataplane ${s.verified ? 'verified' : 'NOT verified'}: ${s.applies} applies, ${s.repairs} repairs`];
  for (const i of s.interfaces) lines.push(`IPv${i.family}: internal ${i.internal} (${i.internalUp ? 'up' : 'DOWN'}), external ${i.external} (${i.externalUp ? 'up' : 'DOWN'})`);
  const last = s.lastApply;
  if (last) {
    lines.push(`last apply: ${last.trigger}, ${ago(last.at, now)}, ${last.durationMs.toFixed(1)} ms, ${last.changed ? 'changed something' : 'no change'}${last.error ? `, error: ${last.error}` : ''}`);
  }
  const d = s.desired;
  if (d) {
    lines.push(`desired: ${d.sysctls.length} sysctls, ${d.routes.length} routes, ${d.rules.length} rules, ${d.ipsets.length} ipsets, ${d.iptables.length} iptables families`);
  }
  const drift = (v.inspection as { drift?: { kind: string; object: string; problem: string; expected?: string; actual?: string }[] } | null)?.drift ?? [];
  if (drift.length) {
    lines.push('differences from the desired state right now:');
    lines.push(renderTable(['kind', 'object', 'problem', 'expected', 'actual'], drift.map((x) => [x.kind, x.object, x.problem, x.expected ?? '', x.actual ?? ''])).trimEnd());
  } else {
    lines.push('the live state matches the desired state');
  }
  if (last?.drift.length) {
    lines.push('repaired by the last apply:');
    lines.push(renderTable(['kind', 'object', 'problem'], last.drift.map((x) => [x.kind, x.object, x.problem])).trimEnd());
  }
  return lines.join('\n') + '\n';
}

export default async function dataplane(_args: string[], opts: { json?: boolean }, global: GlobalOptions): Promise<number> {
  const v = await callAgent<DataplaneView>(global.socket, 'dataplane');
  if (!v) return EXIT_FAILED;
  if (opts.json) printJson(v);
  else process.stdout.write(formatDataplane(v));
  return EXIT_OK;
}
