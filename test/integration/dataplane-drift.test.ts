// The running reconciler repairs drift: routes and rules through netlink notifications (promised
// within ~1 s; the bound below adds slack for a loaded 2-CPU machine), iptables and ipsets through
// the periodic verification (interval set to 1 s here). Each repair is logged with what drifted.
// Also: interface down/up and an address change (re-discover, re-plan, re-apply).
import t from 'tap';
import { withLab, type Lab } from '../helpers/lab.js';
import {
  AgentProcess, addForeignRules, checkFamilyApplied, checkForeignRules, checkTraffic, ensureBuilt, foreignRules, iptablesSave, iptablesTool,
  type FamilyKey, type LogLine,
} from '../helpers/dataplane.js';

t.setTimeout(300_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const NETLINK_BOUND_MS = 3000;
const PERIODIC_INTERVAL_MS = 1000;
const PERIODIC_BOUND_MS = PERIODIC_INTERVAL_MS * 2 + 3000;

const isRepair = (l: LogLine): boolean => l.msg === 'dataplane drift repaired';

async function startAgent(t: TapTest, lab: Lab): Promise<AgentProcess> {
  await ensureBuilt();
  const env = { ...(await lab.env('gw1')), EGRESS_AGENT_RECONCILE_INTERVAL_MS: String(PERIODIC_INTERVAL_MS) };
  const agent = new AgentProcess(lab, 'gw1', env);
  t.teardown(() => agent.stop());
  await agent.waitFor((l) => l.msg === 'reconciler started', 30_000);
  return agent;
}

/** Breaks something, waits for the repair log line whose drift matches, and returns it. */
async function breakAndRepair(
  t: TapTest, lab: Lab, agent: AgentProcess, what: string, argvs: (string[] | { argv: string[]; input: string })[],
  match: (d: NonNullable<LogLine['drift']>[number]) => boolean, boundMs: number,
): Promise<LogLine> {
  const mark = agent.lines.length;
  const started = Date.now();
  for (const a of argvs) await (Array.isArray(a) ? lab.exec('gw1', a) : lab.exec('gw1', a.argv, { input: a.input }));
  const line = await agent.waitFor((l) => isRepair(l) && (l.drift ?? []).some(match), boundMs, mark);
  t.comment(`${what}: repair logged after ${Date.now() - started} ms`);
  t.ok(line.drift!.some(match), `${what}: repaired, and the log line names the drift: ${JSON.stringify(line.drift!.filter(match))}`);
  t.same(line.remaining, [], `${what}: nothing remaining after the repair`);
  return line;
}

async function checkApplied(t: TapTest, lab: Lab, fams: FamilyKey[]): Promise<void> {
  const info = await lab.info();
  for (const fam of fams) {
    const f = info[fam]!;
    const g = f.gateways.gw1!;
    await checkFamilyApplied(t, lab, 'gw1', fam, { eth0: g.eth0!, net1: g.net1!, internalGateway: f.internalGateway! });
  }
}

t.test('drift in routes, rules, iptables and ipsets is repaired (dual stack)', async (t) => {
  const lab = await withLab(t, { prefix: 'vdtr', replicas: 1, family: 'dual' });
  for (const fam of ['ipv4', 'ipv6'] as const) await addForeignRules(lab, 'gw1', fam);
  const agent = await startAgent(t, lab);
  await checkApplied(t, lab, ['ipv4', 'ipv6']);

  await breakAndRepair(t, lab, agent, 'IPv4 table-1000 route deleted', [['ip', '-4', 'route', 'del', 'default', 'table', '1000']],
    (d) => d.kind === 'route' && d.family === 4 && d.problem === 'missing' && d.object === 'table 1000 default via 10.16.0.1 dev eth0', NETLINK_BOUND_MS);
  await breakAndRepair(t, lab, agent, 'IPv6 table-1000 route deleted', [['ip', '-6', 'route', 'del', 'default', 'table', '1000']],
    (d) => d.kind === 'route' && d.family === 6 && d.problem === 'missing', NETLINK_BOUND_MS);
  await breakAndRepair(t, lab, agent, 'IPv4 rule 1002 deleted', [['ip', '-4', 'rule', 'del', 'priority', '1002']],
    (d) => d.kind === 'rule' && d.family === 4 && d.object === 'rule 1002' && d.problem === 'missing' && d.expected === '1002: from all iif net1 lookup 1000', NETLINK_BOUND_MS);
  // One `ip -batch` so no pass runs between the delete and the add.
  await breakAndRepair(t, lab, agent, 'IPv6 rule 1003 replaced by another', [
    { argv: ['ip', '-6', '-batch', '-'], input: 'rule del priority 1003\nrule add priority 1003 from fd00:10:16::99 lookup 1000\n' },
  ], (d) => d.kind === 'rule' && d.family === 6 && d.object === 'rule 1003' && d.problem === 'different' && d.actual === '1003: from fd00:10:16::99 lookup 1000', NETLINK_BOUND_MS);
  await checkApplied(t, lab, ['ipv4', 'ipv6']);

  // A foreign rule at another priority is never touched.
  await lab.exec('gw1', ['ip', '-4', 'rule', 'add', 'priority', '999', 'from', '192.0.2.1', 'lookup', 'main']);
  await breakAndRepair(t, lab, agent, 'IPv4 rule 1004 deleted next to a foreign rule', [['ip', '-4', 'rule', 'del', 'priority', '1004']],
    (d) => d.kind === 'rule' && d.object === 'rule 1004', NETLINK_BOUND_MS);
  t.match(String((await lab.exec('gw1', ['ip', '-4', 'rule'])).stdout), /^999:\s+from 192\.0\.2\.1 lookup main/m, 'foreign rule at priority 999 kept');

  await breakAndRepair(t, lab, agent, 'iptables nat table flushed', [['iptables', '-t', 'nat', '-F']],
    (d) => d.kind === 'iptables' && d.family === 4 && d.object === 'iptables -t nat POSTROUTING' && d.problem === 'missing' && d.expected === '-j VEG-POSTROUTING', PERIODIC_BOUND_MS);
  // In one ip6tables-restore (an empty nat table): as two commands, a repair pass between -F and -X
  // put the jump back and -X failed with EBUSY (seen in CI).
  await breakAndRepair(t, lab, agent, 'ip6tables nat flushed and owned chains deleted', [{ argv: ['ip6tables-restore'], input: '*nat\nCOMMIT\n' }],
    (d) => d.kind === 'iptables' && d.family === 6 && d.object === 'ip6tables -t nat VEG-MASQUERADE' && d.problem === 'missing', PERIODIC_BOUND_MS);
  await breakAndRepair(t, lab, agent, 'duplicate jump into the owned chain', [['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'VEG-POSTROUTING']],
    (d) => d.kind === 'iptables' && d.object === 'iptables -t nat POSTROUTING' && d.problem === 'extra', PERIODIC_BOUND_MS);
  await breakAndRepair(t, lab, agent, 'no-SNAT member removed from the ipset', [['ipset', 'del', 'VEG-NOSNAT4', '10.20.0.0/16']],
    (d) => d.kind === 'ipset' && d.object === 'ipset VEG-NOSNAT4 members' && d.problem === 'missing' && d.expected === '10.20.0.0/16', PERIODIC_BOUND_MS);
  await breakAndRepair(t, lab, agent, 'rule changed inside an owned chain', [['iptables', '-t', 'nat', '-R', 'VEG-MASQUERADE', '2', '-j', 'MASQUERADE']],
    (d) => d.kind === 'iptables' && d.object === 'iptables -t nat VEG-MASQUERADE', PERIODIC_BOUND_MS);

  await checkApplied(t, lab, ['ipv4', 'ipv6']);
  // The flushes removed the foreign nat rules too (that was the point of the drift); raw is untouched.
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const raw = await iptablesSave(lab, 'gw1', fam, 'raw');
    t.equal(raw.filter((l) => l.includes('-j CT --notrack')).length, 1, `${fam}: foreign raw PREROUTING rule survived every repair`);
  }
  // Foreign nat rules added back (the flushes took them) survive the next repair of our hooks.
  for (const fam of ['ipv4', 'ipv6'] as const) {
    for (const r of foreignRules(fam).filter((x) => x.table === 'nat')) await lab.exec('gw1', [iptablesTool(fam), '-t', 'nat', '-A', r.chain, ...r.spec.split(' ')]);
  }
  for (const fam of ['ipv4', 'ipv6'] as const) {
    await breakAndRepair(t, lab, agent, `${fam}: jump into VEG-PREROUTING deleted next to foreign rules`, [[iptablesTool(fam), '-t', 'nat', '-D', 'PREROUTING', '-j', 'VEG-PREROUTING']],
      (d) => d.kind === 'iptables' && d.family === (fam === 'ipv4' ? 4 : 6) && d.problem === 'missing' && d.expected === '-j VEG-PREROUTING', PERIODIC_BOUND_MS);
    await checkForeignRules(t, lab, 'gw1', fam, `${fam}: after the hook repair`);
  }

  const info = await lab.info();
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const f = info[fam]!;
    await checkTraffic(t, lab, fam, { client: f.client!, noSnatClient: f.noSnatClient!, server: f.server!, net1: f.gateways.gw1!.net1! });
  }
  const repairs = agent.lines.filter(isRepair).map((l) => l.repairs as number);
  t.ok(repairs.length >= 12, `every repair logged (${repairs.length} lines)`);
  t.same(repairs, [...repairs].sort((a, b) => a - b), 'repairs are counted (monotonic counter in the log lines)');
});

t.test('interface down/up and an address change: re-discover, re-plan, re-apply (IPv4)', async (t) => {
  const lab = await withLab(t, { prefix: 'vdtl', replicas: 1, family: '4' });
  const agent = await startAgent(t, lab);
  const info = await lab.info();
  const f = info.ipv4!;

  let mark = agent.lines.length;
  await lab.exec('gw1', ['ip', 'link', 'set', 'eth0', 'down']);
  // The kernel drops routes through a down interface; the gateway is then unreachable: reported, not fatal.
  // A pass whose discovery ran just before the link went down fails on the route itself (ENETUNREACH);
  // the events of the link going down queue the next pass, which names the input.
  const failed = await agent.waitFor((l) => l.msg === 'dataplane not in the desired state after apply' && /INTERNAL_GATEWAY_IPV4/.test(String(l.error)), NETLINK_BOUND_MS + PERIODIC_BOUND_MS, mark);
  t.match(String(failed.error), /INTERNAL_GATEWAY_IPV4="10\.16\.0\.1"/, 'with eth0 down the pass reports the unreachable internal gateway by name');
  t.ok((failed.remaining as { kind: string }[]).some((d) => d.kind === 'route'), 'and the table-1000 route as still missing');
  mark = agent.lines.length;
  await lab.exec('gw1', ['ip', 'link', 'set', 'eth0', 'up']);
  const up = await agent.waitFor((l) => isRepair(l) && (l.drift ?? []).some((d) => d.kind === 'route'), NETLINK_BOUND_MS + 2000, mark);
  t.same(up.remaining, [], 'eth0 up: table-1000 route restored');
  await checkApplied(t, lab, ['ipv4']);
  await checkTraffic(t, lab, 'ipv4', { client: f.client!, noSnatClient: f.noSnatClient!, server: f.server!, net1: f.gateways.gw1!.net1! });

  // net1 gets a new address: rule 1004 (from <net1 ip>) must follow it.
  mark = agent.lines.length;
  await lab.exec('gw1', ['ip', 'addr', 'flush', 'dev', 'net1']);
  await lab.exec('gw1', ['ip', 'addr', 'add', '172.17.0.21/16', 'dev', 'net1']);
  await lab.exec('gw1', ['ip', 'route', 'replace', 'default', 'via', f.externalGateway!, 'dev', 'net1']);
  const moved = await agent.waitFor((l) => isRepair(l) && (l.drift ?? []).some((d) => d.object === 'rule 1004' && d.expected === '1004: from 172.17.0.21 iif lo lookup default'), NETLINK_BOUND_MS + 2000, mark);
  t.same(moved.remaining, [], 'address change re-planned and applied');
  t.match(String((await lab.exec('gw1', ['ip', 'rule'])).stdout), /^1004:\s+from 172\.17\.0\.21 iif lo lookup default/m, 'rule 1004 follows the new net1 address');
  const reply = await lab.curl(f.client!, f.server!);
  t.equal(reply.ip, '172.17.0.21', 'SNAT traffic leaves with the new net1 address');
});
