// Prints how many ms after SINCE_MS (Unix epoch ms) bfdd logged PEER's first transition to STATE,
// and the reason it logged: "<ms> <reason>". Reads bfdd 8.4 `state-change:` lines on stdin.
// Exit 1 when there is no such transition.
import { createInterface } from 'node:readline';

const [peer, state, sinceArg] = process.argv.slice(2);
const since = Number(sinceArg);
if (!peer || !state || !Number.isFinite(since)) {
  process.stderr.write('usage: frr-transition.mjs PEER STATE SINCE_MS < bfdd.log\n');
  process.exit(2);
}
const re = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6}) .*state-change: \[([^\]]*)\] (\S+) -> (\S+)(?: reason:(\S+))?/;
for await (const line of createInterface({ input: process.stdin })) {
  const m = re.exec(line);
  if (!m) continue;
  const [, y, mo, d, h, mi, s, us, session, , to, reason] = m;
  if (!new RegExp(`(^| )peer:${peer.replace(/[.]/g, '\\.')}( |$)`).test(session) || to !== state) continue;
  const at = new Date(+y, +mo - 1, +d, +h, +mi, +s).getTime() + Number(us) / 1000;
  if (at < since) continue;
  process.stdout.write(`${(at - since).toFixed(1)} ${reason ?? '-'}\n`);
  process.exit(0);
}
process.exit(1);
