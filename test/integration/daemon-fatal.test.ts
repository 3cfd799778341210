// A truly fatal error (an exception no guard catches) in the real `egress-agent run`: the agent
// logs it, drains (FRR's bfdd, the peer, sees AdminDown, "neighbor down", not a timeout), then exits
// non-zero (70). The error is injected with NODE_OPTIONS=--import: a module that, once the agent
// is up, throws from a bare timer, outside every guarded callback; nothing in the product changes.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, AgentHome } from '../helpers/agent-process.js';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';
import { EXIT_FATAL } from '../../agent/daemon/fatal.js';

t.setTimeout(180_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');
await ensureBuilt();

const home = await AgentHome.create(t, 'vdf');
const lab = await withLab(t, { prefix: 'vdf', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const info = await lab.info();
const peers = [info.ipv4!.gateways.gw1!.eth0!, info.ipv6!.gateways.gw1!.eth0!];

t.test('an uncaught exception drains (AdminDown seen by the peer), then exits 70', async (t) => {
  const dir = home.paths('gw1').dir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const inject = join(dir, 'inject-fatal.mjs');
  const trigger = join(dir, 'throw-now');
  // Polls for a trigger file, so the throw comes when the test says (after the sessions are Up).
  writeFileSync(inject, `import { existsSync } from 'node:fs';
const poll = setInterval(() => {
  if (!existsSync(${JSON.stringify(trigger)})) return;
  clearInterval(poll);
  throw new Error('injected fatal error');
}, 20);
poll.unref();
`);
  const agent = await Agent.start(t, lab, home, 'gw1', {
    env: { NODE_OPTIONS: `--import=${inject}`, EGRESS_AGENT_DRAIN_GRACE_MS: '2000', BFD_MIN_TX: '100', BFD_MIN_RX: '100' },
    withoutSnapshot: true, // a process started from a snapshot runs no NODE_OPTIONS preload
  });
  await agent.waitSessionsUp(2, 30_000);
  const t0 = Date.now();
  writeFileSync(trigger, '');
  const exit = await agent.exited;
  t.equal(exit.code, EXIT_FATAL, `exit ${EXIT_FATAL}, not 0 and not a crash by signal`);
  const fatal = agent.lines.find((l) => l.msg === 'fatal error: draining, then exiting');
  t.match(fatal, { level: 60, kind: 'uncaughtException', err: 'injected fatal error' }, 'the error is logged at fatal');
  t.ok(agent.lines.some((l) => l.msg === 'step done' && l.step === 'bfd-drain'), 'the BFD drain ran');
  for (const peer of peers) {
    const tr = await lab.frrTransition(peer, 'down', t0);
    t.match(tr.reason, /neighbor-down|neighbor_down|signaled/, `${peer}: the peer was told (AdminDown), not timed out`);
  }
});
