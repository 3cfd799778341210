// Fault injection on the dataplane side of one replica (the real agent, FRR's bfdd as the BFD peer,
// IPv4 and IPv6): the nat table flushed by someone else, the table-1000 route deleted, the underlay
// link (net1's far end) down and up, the internal link (eth0's far end) down and up, and the agent
// SIGKILLed and restarted. After each: what the agent did (its log), the owned state back exactly as
// before (nothing lost, nothing duplicated, foreign state kept), traffic through the replica, healthy.
import t from 'tap';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab, type LabNode } from '../helpers/lab.js';
import { Agent, AgentHome, LOG_INFO, LOG_WARN, type LogLine } from '../helpers/agent-process.js';
import { ownedState, stateDuplicates, type OwnedState } from '../helpers/owned-state.js';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

t.setTimeout(240_000);
t.equal(process.getuid?.(), 0, 'fault tests run as root (CI does); not skipping');
await ensureBuilt();

const GW: LabNode = 'gw1';
// iptables/ipset verification period; routes, rules and links are repaired on netlink events.
const RECONCILE_MS = 1000;

const home = await AgentHome.create(t, 'vftd');
const lab = await withLab(t, { prefix: 'vftd', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const info = await lab.info();
const fams = [
  { name: 'ipv4', v: 4, ipt: 'iptables', local: info.ipv4!.gateways.gw1!.eth0!, peer: info.ipv4!.bfdPort!, client: info.ipv4!.client!, noSnat: info.ipv4!.noSnatClient!, server: info.ipv4!.server!, net1: info.ipv4!.gateways.gw1!.net1! },
  { name: 'ipv6', v: 6, ipt: 'ip6tables', local: info.ipv6!.gateways.gw1!.eth0!, peer: info.ipv6!.bfdPort!, client: info.ipv6!.client!, noSnat: info.ipv6!.noSnatClient!, server: info.ipv6!.server!, net1: info.ipv6!.gateways.gw1!.net1! },
] as const;
const startAgent = () => Agent.start(t, lab, home, GW, { env: { EGRESS_AGENT_RECONCILE_INTERVAL_MS: String(RECONCILE_MS) } });
let agent = await startAgent();
const allAgents = [agent];

/** Sessions Up, /readyz 200, and real traffic: SNAT and no-SNAT, TCP and UDP, both families. */
async function healthy(t: TapTest, when: string): Promise<void> {
  await agent.waitSessionsUp(2);
  for (const f of fams) await lab.frrWait(f.local, 'up', 20);
  await agent.waitReady(true);
  const r = await agent.http('/readyz');
  t.equal(r.status, 200, `${when}: /readyz 200`);
  const probe = await agent.cli(['probe', 'ready']);
  t.equal(probe.exitCode, 0, `${when}: \`egress-agent probe ready\` exits 0`);
  for (const f of fams) {
    for (const proto of ['tcp', 'udp'] as const) {
      t.equal((await lab.curl(f.client, f.server, proto)).ip, f.net1, `${when}: ${f.name} ${proto} SNATed to net1`);
      t.equal((await lab.curl(f.noSnat, f.server, proto)).ip, f.noSnat, `${when}: ${f.name} ${proto} no-SNAT source unchanged`);
    }
  }
}

/** The owned state equals the baseline (nothing lost or duplicated); rules 1001-1004 once per family. */
async function sameAsBaseline(t: TapTest, baseline: OwnedState, when: string, extra: Partial<Record<keyof OwnedState, string[]>> = {}): Promise<void> {
  const now = await ownedState(lab, GW);
  const want: OwnedState = { ...baseline };
  for (const [k, lines] of Object.entries(extra) as [keyof OwnedState, string[]][]) want[k] = [...baseline[k], ...lines];
  const sorted = (s: OwnedState) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, [...v].sort()]));
  t.same(sorted(now), sorted(want), `${when}: nat tables, policy rules, table 1000 and ipsets exactly as before${Object.keys(extra).length ? ' (plus the foreign rule)' : ''}`);
  t.same(stateDuplicates(now), {}, `${when}: nothing duplicated`);
  for (const [v, rules] of [[4, now.rules4], [6, now.rules6]] as const) {
    t.same(rules.filter((r) => /^100[1-4]:/.test(r)).map((r) => r.slice(0, 5)), ['1001:', '1002:', '1003:', '1004:'], `${when}: IPv${v} rules 1001-1004 once each`);
  }
}

/** One short line per log line: the message and the fields that say what happened. */
const describeLog = (lines: LogLine[]): string =>
  lines
    .map((l) => {
      const parts = [l.msg];
      if (l.trigger) parts.push(`[${String(l.trigger)}]`);
      if (l.remote) parts.push(`${String(l.remote)} ${String(l.from)}->${String(l.to)} ${String(l.diag)}`);
      if (Array.isArray(l.drift) && l.drift.length) parts.push(`drift=${JSON.stringify((l.drift as { object: string; problem: string }[]).map((d) => `${d.object} ${d.problem}`))}`);
      return parts.join(' ');
    })
    .join('; ') || '(nothing)';

// Set by the first subtest: the owned state every fault must end with.
let baseline: OwnedState;

t.test('started healthy: the baseline', async (t) => {
  await healthy(t, 'start');
  baseline = await ownedState(lab, GW);
  t.same(stateDuplicates(baseline), {}, 'baseline: nothing duplicated');
  t.ok(baseline.nat4.includes('-A POSTROUTING -j VEG-POSTROUTING') && baseline.nat6.includes('-A POSTROUTING -j VEG-POSTROUTING'), 'baseline: the nat jumps are in place');
  t.equal(baseline.table1000v4.length + baseline.table1000v6.length, 2, 'baseline: one table 1000 route per family');
});

t.test('nat table flushed by someone else: repaired, foreign rule kept', async (t) => {
  const mark = agent.mark();
  for (const f of fams) await lab.exec(GW, [f.ipt, '-t', 'nat', '-F']);
  // Someone else's rule, added after the flush: the repair must not touch it.
  const foreign = { 4: '-A POSTROUTING -d 192.0.2.8/32 -j RETURN', 6: '-A POSTROUTING -d 2001:db8:ffff::8/128 -j RETURN' } as const;
  for (const f of fams) await lab.exec(GW, [f.ipt, '-t', 'nat', ...foreign[f.v].split(' ')]);
  const repaired = await agent.waitLog((l) => l.msg === 'dataplane drift repaired', RECONCILE_MS + 5000, mark, 'nat repair');
  const drift = repaired.drift as { kind: string; family: number; problem: string }[];
  for (const f of fams) t.ok(drift.some((d) => d.kind === 'iptables' && d.family === f.v && d.problem === 'missing'), `${f.name}: the agent found its nat rules missing`);
  t.comment(`agent: ${describeLog(agent.logsSince(mark, (l) => l.level >= LOG_WARN))}`);
  await sameAsBaseline(t, baseline, 'after the repair', { nat4: [foreign[4]], nat6: [foreign[6]] });
  await healthy(t, 'after the repair');
  for (const f of fams) await lab.exec(GW, [f.ipt, '-t', 'nat', ...foreign[f.v].replace('-A', '-D').split(' ')]);
  // Removing the foreign rule is not drift: the next pass changes nothing.
  const next = agent.mark();
  await agent.waitLog((l) => l.msg === 'dataplane verified, no change' && l.trigger === 'periodic', RECONCILE_MS + 5000, next, 'a quiet periodic pass');
  await sameAsBaseline(t, baseline, 'after the foreign rule went');
});

t.test('table 1000 route deleted: repaired on the netlink event', async (t) => {
  const mark = agent.mark();
  for (const f of fams) await lab.exec(GW, ['ip', `-${f.v}`, 'route', 'del', 'default', 'table', '1000']);
  const repaired = await agent.waitLog((l) => l.msg === 'dataplane drift repaired' && (l.drift as { kind: string }[]).some((d) => d.kind === 'route'), 5000, mark, 'route repair');
  t.comment(`agent: ${describeLog(agent.logsSince(mark, (l) => l.level >= LOG_WARN))}`);
  t.equal(repaired.trigger, 'netlink', 'repaired on the netlink notification, not the periodic pass');
  // Both families may be repaired in one pass or two.
  await agent.poll(async () => {
    const st = await ownedState(lab, GW);
    return st.table1000v4.length && st.table1000v6.length ? st : null;
  }, 5000, 'both table 1000 routes back');
  await sameAsBaseline(t, baseline, 'after the repair');
  await healthy(t, 'after the repair');
});

t.test('underlay link down and up (net1\'s far end)', async (t) => {
  const mark = agent.mark();
  await lab.exec('ext', ['ip', 'link', 'set', 'p-gw1', 'down']);
  try {
    const v = await agent.waitReady(false, 10_000);
    t.ok(v.reasons.some((r) => /net1/.test(r)), `not ready, naming the external interface: ${JSON.stringify(v.reasons)}`);
    const r = await agent.http('/readyz');
    t.equal(r.status, 503, `/readyz 503 while the underlay is down (${r.body.trim().replace(/\n/g, ' ')})`);
    t.equal((await agent.cli(['probe', 'ready'])).exitCode, 1, '`probe ready` exits 1 while the underlay is down');
    t.equal((await agent.http('/livez')).status, 200, '/livez stays 200');
  } finally {
    await lab.exec('ext', ['ip', 'link', 'set', 'p-gw1', 'up']);
  }
  await healthy(t, 'after the link came back');
  t.comment(`agent (info and above): ${describeLog(agent.logsSince(mark, (l) => l.level >= LOG_INFO && l.msg !== 'step done'))}`);
  await sameAsBaseline(t, baseline, 'after the link came back');
});

t.test('internal link down and up (eth0\'s far end)', async (t) => {
  const mark = agent.mark();
  const before = new Map((await agent.sessions()).map((s) => [s.remote, s]));
  await lab.exec('ovn', ['ip', 'link', 'set', 'p-gw1', 'down']);
  try {
    for (const f of fams) {
      const line = await agent.waitLog((l) => l.msg === 'bfd session left Up' && l.remote === f.peer, 5000, mark, `${f.name} session down`);
      t.equal(line.diag, 'ControlDetectionTimeExpired', `${f.name}: the agent's session timed out`);
    }
    const v = await agent.waitReady(false, 10_000);
    t.ok(fams.every((f) => v.reasons.some((r) => r.includes(f.peer))), `not ready, naming both BFD sessions: ${JSON.stringify(v.reasons)}`);
    t.equal((await agent.http('/readyz')).status, 503, '/readyz 503 while the internal link is down');
    for (const f of fams) await lab.frrWait(f.local, 'down', 5);
  } finally {
    await lab.exec('ovn', ['ip', 'link', 'set', 'p-gw1', 'up']);
  }
  await healthy(t, 'after the link came back');
  const after = await agent.sessions();
  for (const s of after) t.equal(s.localDiscr, before.get(s.remote)!.localDiscr, `${s.remote}: same local discriminator`);
  t.comment(`agent (info and above): ${describeLog(agent.logsSince(mark, (l) => l.level >= LOG_INFO && l.msg !== 'step done'))}`);
  await sameAsBaseline(t, baseline, 'after the link came back');
});

t.test('agent SIGKILL and restart: converges without duplicates and recovers BFD', async (t) => {
  const before = new Map((await agent.sessions()).map((s) => [s.remote, s.localDiscr]));
  const killedAt = Date.now();
  await agent.kill();
  for (const f of fams) {
    await lab.frrWait(f.local, 'down', 5);
    t.equal((await lab.frrTransition(f.local, 'down', killedAt)).reason, 'control-expired', `${f.name}: bfdd timed the killed agent out`);
  }
  await sameAsBaseline(t, baseline, 'while the agent is dead (the dataplane stays)');
  agent = await startAgent();
  allAgents.push(agent);
  const first = await agent.waitLog((l) => l.component === 'dataplane' && l.trigger === 'startup' && /^dataplane /.test(l.msg), 10_000, 0, 'startup apply');
  t.equal(first.msg, 'dataplane verified, no change', `the restarted agent found its dataplane intact and changed nothing (${describeLog([first])})`);
  await healthy(t, 'after the restart');
  for (const s of await agent.sessions()) t.equal(s.localDiscr, before.get(s.remote), `${s.remote}: local discriminator kept across the restart`);
  const frr = await lab.frrJson();
  for (const f of fams) t.equal(frr.find((p) => p.peer === f.local)!['remote-id'], before.get(f.peer), `${f.name}: bfdd sees the same discriminator`);
  await sameAsBaseline(t, baseline, 'after the restart');
});

t.test('no agent logged an error', async (t) => {
  const errors = allAgents.flatMap((a) => a.lines.filter((l) => l.level >= 50).map((l) => JSON.stringify(l)));
  t.same(errors, [], 'no error or fatal log lines');
});
