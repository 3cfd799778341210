// The real agent gives its startup pages back (native/src/mem/release.h): run as in the image, with
// its own copy of node, against FRR's bfdd (prefix vmr). The release must free memory, report
// it, and leave BFD and the dataplane untouched. How low RSS goes is measured in the benchmarks.
import t from 'tap';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, AgentHome } from '../helpers/agent-process.js';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';

t.setTimeout(120_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');
await ensureBuilt();

const home = await AgentHome.create(t, 'vmr');
const lab = await withLab(t, { prefix: 'vmr', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
// No other process maps this copy, so its pages can really go (the tests' own node maps /usr/bin/node).
const nodeDir = join(home.dir, 'node-bin');
mkdirSync(nodeDir, { recursive: true });
copyFileSync(process.execPath, join(nodeDir, 'node'));

t.test('startup pages are released once, BFD stays Up, the dataplane stays verified', async (t) => {
  const agent = await Agent.start(t, lab, home, 'gw1', { nodeDir, env: { EGRESS_AGENT_STARTUP_PAGE_RELEASE_MS: '3000' } });
  await agent.waitSessionsUp(2, 30_000);
  const line = await agent.waitLog((l) => l.msg === 'startup pages released' || l.msg === 'startup pages not released', 20_000);
  t.equal(line.msg, 'startup pages released', 'the kernel took the advice');
  const before = Number(line.rssBeforeBytes), after = Number(line.rssAfterBytes);
  t.ok(Number(line.mappings) >= 2, `the executable's read-only mappings were advised (${String(line.mappings)})`);
  t.ok(before - after >= 8 * 2 ** 20, `RSS dropped by at least 8 MiB (${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB)`);
  const status = await agent.status();
  t.match(status.memory.startupRelease, { rssBeforeBytes: before, rssAfterBytes: after, error: null }, '/status keeps the record');
  t.ok(status.memory.anonBytes > 0 && status.memory.fileBytes > 0);
  // The pages the agent still needs come back on use: it keeps working.
  await new Promise((r) => setTimeout(r, 3000));
  const later = await agent.status();
  t.ok(later.live.ok, 'live');
  t.ok(later.ready.ok, `ready: ${later.ready.reasons.join('; ')}`);
  t.same(later.bfd!.sessions.map((s) => [s.state, s.flaps]), [['Up', 0], ['Up', 0]], 'both sessions Up, no flap');
  const frr = await lab.frrJson();
  t.ok(frr.length >= 2 && frr.every((p) => p.status === 'up'), 'FRR sees both sessions up');
  const exit = await agent.terminate();
  t.equal(exit.code, 0, 'drains and exits 0');
});
