// `egress-agent status`: the agent's status (one struct, see agent/status/types.ts).
import type { GlobalOptions } from '../lib/program.js';
import { ago, callAgent, EXIT_FAILED, EXIT_OK, printJson, renderTable } from '../control/cli-support.js';
import type { AgentStatus } from '../status/types.js';

const yes = (b: boolean) => (b ? 'yes' : 'no');

export function formatStatus(s: AgentStatus, now = Date.now()): string {
  const lines: string[] = [];
  lines.push(`egress-agent ${s.version}  pid ${s.pid}  ${s.phase}, started ${ago(s.startedAt, now)}`);
  for (const [name, v] of [['live', s.live], ['ready', s.ready]] as const) {
    lines.push(`${name.padEnd(6)}${yes(v.ok)}`);
    for (const r of v.reasons) lines.push(`  - ${r}`);
  }
  if (s.bfd) {
    const up = s.bfd.expected.filter((e) => e.state === 'Up').length;
    lines.push(`bfd     ${s.bfd.expected.length} expected, ${up} Up; engine thread ${s.bfd.engineAlive ? 'alive' : 'NOT running'}`);
    lines.push(renderTable(['local', 'remote', 'state', 'recovery', 'attempts', 'last action'],
      s.bfd.expected.map((e) => [e.local, e.remote, e.state ?? 'absent', e.recovery.phase, e.recovery.attempts, e.recovery.lastAction]))
      .trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    if (s.bfd.blockedPeers.length) lines.push(`  blocked peers: ${s.bfd.blockedPeers.join(', ')}`);
  } else {
    lines.push('bfd     disabled');
  }
  const dp = s.dataplane;
  if (dp) {
    const last = dp.lastApply;
    lines.push(`dataplane  ${dp.verified ? 'verified' : 'NOT verified'}; ${dp.applies} applies, ${dp.repairs} repairs` +
      (last ? `; last ${last.trigger} apply ${ago(last.at, now)} took ${last.durationMs.toFixed(1)} ms` : ''));
    for (const i of dp.interfaces) {
      lines.push(`  IPv${i.family}: internal ${i.internal} (${i.internalUp ? 'up' : 'DOWN'}), external ${i.external} (${i.externalUp ? 'up' : 'DOWN'})`);
    }
    if (dp.lastError) lines.push(`  last error: ${dp.lastError}`);
  } else {
    lines.push('dataplane  not managed by this process');
  }
  const e = s.eventLoop;
  lines.push(`event loop lag  p50 ${e.p50Ms.toFixed(1)} ms, p99 ${e.p99Ms.toFixed(1)} ms, max ${e.maxMs.toFixed(1)} ms`);
  lines.push(`health  ${s.health.address ?? 'not listening'}`);
  for (const c of s.control) lines.push(`control ${c.path} (${c.serving ? 'serving' : 'NOT serving'})`);
  if (s.lastReload) {
    const r = s.lastReload;
    lines.push(`last reload ${ago(r.at, now)}: ${r.ok ? 'applied' : 'rejected'}${r.changes.length ? `; ${r.changes.join('; ')}` : ''}`);
    for (const err of r.errors) lines.push(`  - ${err}`);
  }
  return lines.join('\n') + '\n';
}

export default async function status(_args: string[], opts: { json?: boolean }, global: GlobalOptions): Promise<number> {
  const s = await callAgent<AgentStatus>(global.socket, 'status');
  if (!s) return EXIT_FAILED;
  if (opts.json) printJson(s);
  else process.stdout.write(formatStatus(s));
  return EXIT_OK;
}
