// The whole gateway, end to end: two replicas each running the real agent, FRR's bfdd in the "OVN
// router" namespace as the BFD peer (3 x 100 ms), table-100 ECMP nexthops that follow bfdd's view
// of each replica (as OVN's BFD-gated ECMP does), and real TCP/UDP flows from the VPC client to
// the echo server. The scenarios share one lab and run in order; each starts from both replicas
// healthy and leaves them so.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt } from '../helpers/dataplane.js';
import { FlowLoop, withLab, type EchoProto, type Flow, type LabFamilyInfo, type LabNode } from '../helpers/lab.js';
import { ROOT } from '../helpers/agent-paths.js';
import { Agent, AgentHome, LOG_ERROR, type LogLine } from '../helpers/agent-process.js';
import { ownedState, stateDuplicates } from '../helpers/owned-state.js';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];
type Fam = 'ipv4' | 'ipv6';
const FAMS: Fam[] = ['ipv4', 'ipv6'];
const PROTOS: EchoProto[] = ['tcp', 'udp'];

t.setTimeout(240_000);
t.equal(process.getuid?.(), 0, 'e2e tests run as root (CI does); not skipping');
await ensureBuilt();
t.ok(existsSync(join(ROOT, 'build/Release/egress_native.node')), 'native BFD addon is built (npm run build:native)');

// Slack over the BFD detection time for a loaded 2-CPU machine (kill latency, bfdd scheduling).
const DETECT_SLACK_MS = 300;
// Drift repair runs on this period (iptables/ipset); shorter than the 10 s default to keep CI fast.
const RECONCILE_MS = 2000;

const home = await AgentHome.create(t, 've2g');
const lab = await withLab(t, { prefix: 've2g', replicas: 2 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
await lab.ecmpFollow();
const info = await lab.info();
const fam = (f: Fam): LabFamilyInfo => info[f]!;
const eth0 = (gw: LabNode, f: Fam): string => fam(f).gateways[gw]!.eth0!;
const net1 = (gw: LabNode, f: Fam): string => fam(f).gateways[gw]!.net1!;

const agents = new Map<LabNode, Agent>();
const allAgents: Agent[] = [];
async function startAgent(gw: LabNode): Promise<Agent> {
  const a = await Agent.start(t, lab, home, gw, { env: { EGRESS_AGENT_RECONCILE_INTERVAL_MS: String(RECONCILE_MS) } });
  agents.set(gw, a);
  allAgents.push(a);
  return a;
}
const agent = (gw: LabNode): Agent => agents.get(gw)!;

/** FRR's detection time for our session with `peer`: our multiplier x max(its RequiredMinRx, our DesiredMinTx). */
async function frrDetectMs(peer: string): Promise<number> {
  const p = (await lab.frrJson()).find((x) => x.peer === peer);
  if (!p) throw new Error(`bfdd has no peer ${peer}`);
  return p['remote-detect-multiplier'] * Math.max(p['receive-interval'], p['remote-transmit-interval']);
}

/** Polls `ip route show default table 100` in the ovn namespace until exactly `gws` are its nexthops. */
async function waitEcmp(gws: LabNode[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let shown = '';
  for (;;) {
    shown = await lab.ecmpShow();
    const ok = FAMS.every((f) => lab.gateways.every((gw) => shown.includes(`via ${eth0(gw, f)} `) === gws.includes(gw)));
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`table 100 nexthops are not ${gws.join(',')} after ${timeoutMs} ms:\n${shown}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** n new flows (overlapping, 50 ms apart) from src to the server. */
async function flows(src: string, f: Fam, proto: EchoProto, n: number): Promise<Flow[]> {
  const loop = new FlowLoop(lab, { src, dst: fam(f).server!, port: info.serverPort, proto, intervalMs: 50, timeoutMs: 2000 });
  try {
    await loop.waitFor((fl) => fl.length >= n, 20_000, `${n} flows`);
  } finally {
    await loop.stop();
  }
  return loop.flows;
}

const describe = (fl: Flow[]): string => JSON.stringify(fl.map((x) => (x.ok ? x.ip : `FAIL:${x.error}`)));

/** Both replicas healthy: sessions Up on both sides, nexthops for both, /readyz 200. */
async function bothHealthy(t: TapTest): Promise<void> {
  for (const gw of lab.gateways) {
    await agent(gw).waitSessionsUp(2);
    for (const f of FAMS) await lab.frrWait(eth0(gw, f), 'up', 20);
  }
  await waitEcmp(lab.gateways);
  for (const gw of lab.gateways) {
    await agent(gw).waitReady(true);
    const r = await agent(gw).http('/readyz');
    t.equal(r.status, 200, `${gw}: /readyz 200 (${r.body.trim()})`);
  }
}

await Promise.all(lab.gateways.map((gw) => startAgent(gw)));

t.test('sessions Up; traffic SNATed to a replica and no-SNAT sources unchanged, IPv4 and IPv6, TCP and UDP', async (t) => {
  await bothHealthy(t);
  for (const gw of lab.gateways) {
    const sessions = await agent(gw).sessions();
    t.same(sessions.map((s) => [s.local, s.remote, s.state]).sort(), FAMS.map((f) => [eth0(gw, f), fam(f).bfdPort, 'Up']).sort(), `${gw}: one Up session per family with the BFD port`);
  }
  const combos = FAMS.flatMap((f) => PROTOS.map((proto) => ({ f, proto })));
  const snat = await Promise.all(combos.map(({ f, proto }) => flows(fam(f).client!, f, proto, 16)));
  combos.forEach(({ f, proto }, i) => {
    const fl = snat[i]!;
    const replicas = lab.gateways.map((gw) => net1(gw, f));
    t.ok(fl.every((x) => x.ok && replicas.includes(x.ip!)), `${f} ${proto}: every flow from ${fam(f).client} reaches the server SNATed to a replica's net1 address ${describe(fl)}`);
    for (const gw of lab.gateways) t.ok(fl.some((x) => x.ip === net1(gw, f)), `${f} ${proto}: ${gw} carries some of the flows (ECMP over both)`);
  });
  const plain = await Promise.all(combos.map(({ f, proto }) => flows(fam(f).noSnatClient!, f, proto, 8)));
  combos.forEach(({ f, proto }, i) => {
    const fl = plain[i]!;
    t.ok(fl.every((x) => x.ok && x.ip === fam(f).noSnatClient), `${f} ${proto}: no-SNAT source ${fam(f).noSnatClient} is seen unchanged ${describe(fl)}`);
  });
});

t.test('drift repaired while traffic flows: nat table flushed in gw1', async (t) => {
  await bothHealthy(t);
  const before = await ownedState(lab, 'gw1');
  const loops = FAMS.map((f) => new FlowLoop(lab, { src: fam(f).client!, dst: fam(f).server!, port: info.serverPort, proto: 'tcp', intervalMs: 100, timeoutMs: 1000 }));
  try {
    for (const l of loops) await l.waitFor((fl) => fl.filter((x) => x.ok).length >= 4, 10_000, 'flows before the flush');
    const mark = agent('gw1').mark();
    const flushedAt = Date.now();
    await lab.exec('gw1', ['iptables', '-t', 'nat', '-F']);
    await lab.exec('gw1', ['ip6tables', '-t', 'nat', '-F']);
    const repaired = await agent('gw1').waitLog((l) => l.msg === 'dataplane drift repaired', RECONCILE_MS + 5000, mark, 'drift repair after the nat flush');
    const repairedAt = Date.parse(repaired.time);
    const drift = (repaired.drift ?? []) as { kind: string; family?: number; object: string; problem: string }[];
    for (const f of [4, 6]) {
      const jumps = drift.filter((d) => d.kind === 'iptables' && d.family === f && d.problem === 'missing' && /nat (PRE|POST)ROUTING$/.test(d.object));
      t.equal(jumps.length, 2, `IPv${f}: the repair found both nat jumps missing (${JSON.stringify(drift.filter((d) => d.family === f))})`);
    }
    t.comment(`repaired ${repairedAt - flushedAt} ms after the flush (trigger ${String(repaired.trigger)})`);
    // Flows that start after the repair must all work, including those hashed to gw1.
    for (const [i, f] of FAMS.entries()) {
      await loops[i]!.waitFor(
        (fl) => fl.filter((x) => x.start > repairedAt && x.ip === net1('gw1', f)).length >= 3,
        20_000,
        `${f}: 3 flows through gw1 after the repair`,
      );
    }
    await Promise.all(loops.map((l) => l.stop()));
    for (const [i, f] of FAMS.entries()) {
      const l = loops[i]!;
      const during = l.flows.filter((x) => x.start >= flushedAt && x.start <= repairedAt);
      t.comment(`${f}: ${during.filter((x) => !x.ok).length} of ${during.length} flows started between flush and repair failed`);
      const after = l.since(repairedAt);
      t.ok(after.length > 0 && after.every((x) => x.ok), `${f}: every flow started after the repair succeeded ${describe(after)}`);
      t.ok(after.some((x) => x.ip === net1('gw1', f)), `${f}: gw1 SNATs again after the repair`);
    }
    const now = await ownedState(lab, 'gw1');
    t.same(now, before, 'gw1 nat tables, rules, table 1000 and ipsets are back exactly as before the flush');
    t.same(stateDuplicates(now), {}, 'no duplicated rule, route or set entry');
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
  }
});

t.test('replica SIGKILL: FRR declares it Down within the detection time; new flows take the other replica', async (t) => {
  await bothHealthy(t);
  await saveDiscriminators('gw1');
  const detect = await Promise.all(FAMS.map((f) => frrDetectMs(eth0('gw1', f))));
  const killedAt = Date.now();
  const exit = await agent('gw1').kill();
  t.equal(exit.signal, 'SIGKILL', 'gw1 agent killed');
  for (const [i, f] of FAMS.entries()) {
    await lab.frrWait(eth0('gw1', f), 'down', 10);
    const tr = await lab.frrTransition(eth0('gw1', f), 'down', killedAt);
    t.equal(tr.reason, 'control-expired', `${f}: bfdd saw the session time out (no AdminDown from a killed process)`);
    t.ok(tr.ms <= detect[i]! + DETECT_SLACK_MS, `${f}: bfdd declared gw1 Down ${tr.ms} ms after the kill (detection time ${detect[i]} ms + ${DETECT_SLACK_MS} ms slack)`);
  }
  await waitEcmp(['gw2']);
  for (const f of FAMS) {
    for (const proto of PROTOS) {
      const fl = await flows(fam(f).client!, f, proto, 8);
      t.ok(fl.every((x) => x.ok && x.ip === net1('gw2', f)), `${f} ${proto}: every new flow leaves through gw2 ${describe(fl)}`);
    }
  }
  for (const f of FAMS) t.equal(await lab.frrState(eth0('gw2', f)), 'up', `${f}: gw2 stays Up`);
});

/** Local discriminators per remote, saved before a replica stops (they must survive its restart). */
const savedDiscr = new Map<LabNode, Map<string, number>>();
async function saveDiscriminators(gw: LabNode): Promise<void> {
  savedDiscr.set(gw, new Map((await agent(gw).sessions()).map((s) => [s.remote, s.localDiscr])));
}

/** Restarts gw's agent (same state dir) and checks it is Up again and carries traffic. */
async function restartScenario(t: TapTest, gw: LabNode): Promise<void> {
  t.notOk(agent(gw).running(), `${gw} agent is not running before the restart`);
  const discrBefore = savedDiscr.get(gw)!;
  const restartedAt = Date.now();
  const a = await startAgent(gw);
  await a.waitSessionsUp(2);
  for (const f of FAMS) {
    await lab.frrWait(eth0(gw, f), 'up', 20);
    const tr = await lab.frrTransition(eth0(gw, f), 'up', restartedAt);
    t.comment(`${f}: bfdd saw ${gw} Up ${tr.ms} ms after the restart began`);
  }
  for (const s of await a.sessions()) {
    t.equal(s.localDiscr, discrBefore.get(s.remote), `${gw}: local discriminator with ${s.remote} kept across the restart`);
  }
  await waitEcmp(lab.gateways);
  await a.waitReady(true);
  const r = await a.http('/readyz');
  t.equal(r.status, 200, `${gw}: /readyz 200 after the restart`);
  for (const f of FAMS) {
    const fl = await flows(fam(f).client!, f, 'tcp', 16);
    t.ok(fl.every((x) => x.ok), `${f}: every flow succeeds ${describe(fl)}`);
    t.ok(fl.some((x) => x.ip === net1(gw, f)), `${f}: ${gw} carries flows again`);
  }
  const st = await ownedState(lab, gw);
  t.same(stateDuplicates(st), {}, `${gw}: nothing duplicated after the restart`);
  for (const [v, rules] of [[4, st.rules4], [6, st.rules6]] as const) {
    t.same(rules.filter((r) => /^100[1-4]:/.test(r)).map((r) => r.slice(0, 5)), ['1001:', '1002:', '1003:', '1004:'], `${gw}: IPv${v} rules 1001-1004 once each`);
  }
}

t.test('replica restarted after SIGKILL: back Up and carrying traffic', async (t) => {
  await restartScenario(t, 'gw1');
});

t.test('replica SIGTERM: FRR sees AdminDown at once, the agent exits 0 within its grace', async (t) => {
  await bothHealthy(t);
  const a = agent('gw2');
  await saveDiscriminators('gw2');
  const graceMs = (await a.status()).config!.drainGraceMs;
  const detect = await frrDetectMs(eth0('gw2', 'ipv4'));
  const mark = a.mark();
  const termAt = Date.now();
  a.signal('SIGTERM');
  const exit = await a.exited;
  t.equal(exit.code, 0, 'the agent exits 0 after draining');
  t.ok(exit.at - termAt <= graceMs, `the agent exited ${exit.at - termAt} ms after SIGTERM, within its ${graceMs} ms grace`);
  for (const f of FAMS) {
    await lab.frrWait(eth0('gw2', f), 'down', 5);
    const tr = await lab.frrTransition(eth0('gw2', f), 'down', termAt);
    t.equal(tr.reason, 'neighbor-down', `${f}: bfdd saw "neighbor signaled session down" (our AdminDown)`);
    t.ok(tr.ms < detect / 2, `${f}: bfdd saw it ${tr.ms} ms after SIGTERM, well inside the ${detect} ms detection time`);
  }
  const drainLog = a.logsSince(mark);
  t.ok(drainLog.some((l) => l.msg === 'draining' && l.reason === 'SIGTERM'), 'agent logged the drain');
  t.equal(drainLog.filter((l) => l.to === 'AdminDown' && l.diag === 'AdministrativelyDown').length, 2, 'agent logged both sessions AdminDown (diag 7)');
  t.ok(drainLog.some((l) => l.msg === 'drained; exiting'), 'agent logged the end of the drain');
  const st = await ownedState(lab, 'gw2');
  t.ok(st.nat4.includes('-A POSTROUTING -j VEG-POSTROUTING') && st.rules4.some((r) => r.startsWith('1002:')), 'the dataplane stays in place after the exit (forwarding continues until the Pod goes)');
  await waitEcmp(['gw1']);
  for (const f of FAMS) {
    const fl = await flows(fam(f).client!, f, 'udp', 8);
    t.ok(fl.every((x) => x.ok && x.ip === net1('gw1', f)), `${f}: every new flow leaves through gw1 ${describe(fl)}`);
  }
});

t.test('replica restarted after SIGTERM: back Up and carrying traffic', async (t) => {
  await restartScenario(t, 'gw2');
});

t.test('no agent logged an error in any scenario', async (t) => {
  const errors: string[] = [];
  for (const a of allAgents) errors.push(...a.lines.filter((l: LogLine) => l.level >= LOG_ERROR).map((l) => `${a.gw}: ${JSON.stringify(l)}`));
  t.same(errors, [], 'no error or fatal log lines');
});
