// A BFD engine in a child process for the benchmarks (run inside a lab namespace). Sessions come
// from argv as JSON, or from a file given as @PATH (1000 sessions exceed one argument's 128 KiB); state events go to stdout as JSON lines; commands arrive on stdin:
// `sessions`, `stats`, `timers MS`, `block MS` (busy-wait the JS thread, as a stalled event loop would), `exit`.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BfdEngine } from '../../agent/bfd/index.js';
import type { BfdSessionSpec } from '../../agent/bfd/types.js';

const arg = process.argv[2] ?? '[]';
const specs = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg) as BfdSessionSpec[];
// BENCH_BFD_ADDON: path of another egress_native.node build, to compare two builds in one session.
const engine = new BfdEngine({ realtimePriority: Number(process.env.BENCH_BFD_RT ?? 0), addonPath: process.env.BENCH_BFD_ADDON || undefined });
const out = (o: unknown): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
engine.on('state', (ev) => out({ type: 'state', ...ev }));
engine.start();
for (const s of specs) engine.addSession(s);
out({ type: 'ready', pid: process.pid, sessions: specs.length });

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'sessions') out({ type: 'sessions', sessions: engine.sessions() });
  else if (cmd === 'stats') out({ type: 'stats', stats: engine.stats() });
  else if (cmd === 'timers') { // `timers MS`: every session to MS x MS (a Poll Sequence each)
    for (const s of specs) engine.changeSession(s.local, s.remote, { minTxMs: Number(arg), minRxMs: Number(arg) });
    out({ type: 'timers', ms: Number(arg) });
  }
  else if (cmd === 'block') {
    const until = Date.now() + Number(arg);
    while (Date.now() < until) { /* a stalled event loop */ }
    out({ type: 'blocked', ms: Number(arg) });
  } else if (cmd === 'exit') break;
}
engine.close();
process.exit(0);
