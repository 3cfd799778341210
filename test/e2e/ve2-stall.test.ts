// BFD does not depend on the Node.js event loop (issue 3): a 3 x 10 ms session with FRR's bfdd,
// IPv4 and IPv6, while the agent's event loop is blocked for 2 s by the control command
// `debug.blockEventLoop`. Zero flaps on both sides: no state change in bfdd's log, none in the
// agent's session counters, and our packets kept flowing while JavaScript could not run.
//
// A 30 ms detection time is at the edge of what a loaded 2-CPU machine (a VM whose CPUs are shared)
// schedules reliably, for bfdd as much as for us: under load both sides sometimes expire in the same
// microsecond, with no stall at all. Both BFD threads therefore run SCHED_FIFO (the agent's
// bfd.realtimePriority, bfdd via `lab.sh frr --rt`), as a gateway with sub-100 ms timers should;
// the busy-waiting JavaScript thread stays at normal priority. The stall window is judged right after two equally long
// windows without a stall in which neither side flapped: that shows the machine can hold these
// sessions right now, and a flap in the stall window then counts against the agent. A machine that
// cannot give such a baseline in a few tries fails the test with the numbers (it never skips).
import t from 'tap';
import { loadavg } from 'node:os';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';
import type { SessionView } from '../helpers/agent-clients.js';
import { Agent, AgentHome } from '../helpers/agent-process.js';

t.setTimeout(120_000);
t.equal(process.getuid?.(), 0, 'e2e tests run as root (CI does); not skipping');
await ensureBuilt();

const BLOCK_MS = 2000;
const WINDOW_MS = BLOCK_MS + 500;
const BASELINE_WINDOWS = 8;
const CLEAN_IN_A_ROW = 2;
const TIMERS = { txMs: 10, rxMs: 10, multiplier: 3 };

const home = await AgentHome.create(t, 've2s');
const lab = await withLab(t, { prefix: 've2s', replicas: 1 });
const RT_PRIORITY = 50;
await lab.frrUp(TIMERS, { rtPriority: RT_PRIORITY });
const info = await lab.info();
const agent = await Agent.start(t, lab, home, 'gw1', {
  env: { BFD_MIN_TX: String(TIMERS.txMs), BFD_MIN_RX: String(TIMERS.rxMs), BFD_MULTI: String(TIMERS.multiplier),
    EGRESS_AGENT_BFD_REALTIME_PRIORITY: String(RT_PRIORITY), EGRESS_AGENT_DEBUG_COMMANDS: 'true' },
});
const peers = [info.ipv4!.gateways.gw1!.eth0!, info.ipv6!.gateways.gw1!.eth0!];

interface WindowResult {
  frrEvents: string[];
  /** Per remote: flaps, transitions, late transmissions, packets out/in during the window. */
  agent: Map<string, { flaps: number; transitions: number; late: number; out: number; in: number; state: string }>;
  ms: number;
}

/** Runs `during` and measures both sides from just before it until WINDOW_MS after it began. */
async function measure(during: () => Promise<void>): Promise<WindowResult> {
  const before = new Map((await agent.sessions()).map((s) => [s.remote, s]));
  const frrBefore = (await lab.frrEvents()).length;
  const t0 = Date.now();
  await during();
  const rest = WINDOW_MS - (Date.now() - t0);
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  const after = await agent.sessions();
  const ms = Date.now() - t0;
  const frrEvents = (await lab.frrEvents()).slice(frrBefore).map((e) => e.line);
  const delta = new Map(after.map((s: SessionView) => {
    const b = before.get(s.remote)!;
    return [s.remote, {
      flaps: s.flaps - b.flaps, transitions: s.counters.transitions - b.counters.transitions,
      late: s.counters.lateTransmissions - b.counters.lateTransmissions,
      out: s.counters.packetsOut - b.counters.packetsOut, in: s.counters.packetsIn - b.counters.packetsIn, state: s.state,
    }];
  }));
  return { frrEvents, agent: delta, ms };
}

const clean = (w: WindowResult): boolean => w.frrEvents.length === 0 && [...w.agent.values()].every((d) => d.transitions === 0 && d.state === 'Up');
const summary = (w: WindowResult): string =>
  `${w.ms} ms: bfdd ${w.frrEvents.length} state changes; agent ${JSON.stringify(Object.fromEntries(w.agent))}`;

t.test(`event loop blocked for ${BLOCK_MS} ms with 3 x 10 ms sessions: zero flaps on both sides`, async (t) => {
  await agent.waitSessionsUp(2);
  for (const p of peers) await lab.frrWait(p, 'up', 20);
  // Both ends run the configured 10 ms timers (after FRR's Poll out of its 1 s "not Up" rate).
  const negotiated = await agent.poll(async () => {
    const s = await agent.sessions();
    return s.length === 2 && s.every((x) => x.state === 'Up' && x.txIntervalMs === 10 && x.detectTimeMs === 30 && !x.pollActive) ? s : null;
  }, 10_000, 'negotiated 10 ms timers');
  t.equal(negotiated.length, 2, 'agent: both sessions Up at tx 10 ms, detection 30 ms');
  const rtStatus = (await agent.status()) as { bfd: { realtime: { priority: number; error: string | null } } };
  t.same(rtStatus.bfd.realtime, { priority: RT_PRIORITY, error: null }, 'the engine thread runs SCHED_FIFO as configured');
  const frr = await lab.frrJson();
  for (const p of peers) {
    const f = frr.find((x) => x.peer === p)!;
    t.equal(f['remote-transmit-interval'], 10, `bfdd: ${p} transmits every 10 ms`);
    t.equal(f['remote-detect-multiplier'], 3, `bfdd: ${p} multiplier 3`);
  }

  const windows: WindowResult[] = [];
  let inARow = 0;
  while (inARow < CLEAN_IN_A_ROW && windows.length < BASELINE_WINDOWS) {
    await agent.waitSessionsUp(2);
    const w = await measure(async () => undefined);
    windows.push(w);
    inARow = clean(w) ? inARow + 1 : 0;
  }
  const dirty = windows.filter((w) => !clean(w)).map(summary);
  if (inARow < CLEAN_IN_A_ROW) {
    t.fail(`no ${CLEAN_IN_A_ROW} flap-free ${WINDOW_MS} ms windows in a row without any stall in ${BASELINE_WINDOWS}: this machine cannot hold 3 x 10 ms sessions right now (load ${loadavg().map((l) => l.toFixed(1)).join(' ')}): ${dirty.join(' | ')}`);
    return;
  }
  t.comment(`baseline (no stall) ${summary(windows[windows.length - 1]!)}${dirty.length ? `; ${dirty.length} noisy baseline windows before: ${dirty.join(' | ')}` : ''}`);

  let blockedMs = 0;
  const stall = await measure(async () => {
    blockedMs = (await agent.request<{ blockedMs: number }>('debug.blockEventLoop', { ms: BLOCK_MS }, BLOCK_MS + 10_000)).blockedMs;
  });
  t.ok(blockedMs >= BLOCK_MS, `the agent's event loop was blocked for ${Math.round(blockedMs)} ms`);
  const status = await agent.status();
  t.ok(status.eventLoop.maxMs >= BLOCK_MS * 0.9, `the agent's own event-loop monitor saw the stall (max lag ${Math.round(status.eventLoop.maxMs)} ms)`);
  t.comment(`stall window ${summary(stall)}`);

  t.same(stall.frrEvents, [], 'bfdd logged no state change during or after the stall');
  for (const p of peers) t.equal(await lab.frrState(p), 'up', `bfdd: ${p} Up`);
  for (const [remote, d] of stall.agent) {
    t.equal(d.state, 'Up', `agent: session with ${remote} Up`);
    t.equal(d.flaps, 0, `agent: session with ${remote} did not flap`);
    t.equal(d.transitions, 0, `agent: session with ${remote} had no state transition`);
    // 10 ms minus up to 25 % jitter is >= 100 packets a second; ask for 3/4 of the 10 ms rate.
    t.ok(d.out >= (stall.ms / 10) * 0.75, `agent: sent ${d.out} packets to ${remote} in ${stall.ms} ms (the engine thread kept transmitting)`);
    t.ok(d.in >= (stall.ms / 10) * 0.75, `agent: received ${d.in} packets from ${remote} in ${stall.ms} ms`);
  }
  const ready = await agent.http('/readyz');
  t.equal(ready.status, 200, '/readyz 200 after the stall');
});
