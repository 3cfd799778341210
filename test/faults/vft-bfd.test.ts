// Fault injection on the BFD side of one replica (the real agent, FRR's bfdd as the peer at
// 3 x 100 ms, IPv4 and IPv6): the peer killed and restarted, the peer restarted with a new
// discriminator, 50 malformed BFD packets of many kinds from the peer's own address, and packets
// from addresses that are not peers. For each: what the agent did, that nothing was lost or
// duplicated, and that it ended healthy.
import t from 'tap';
import { ensureBuilt } from '../helpers/dataplane.js';
import { sendUdp, withLab, type LabNode } from '../helpers/lab.js';
import type { SessionView } from '../helpers/agent-clients.js';
import { Agent, AgentHome } from '../helpers/agent-process.js';
import { bfdPacket, type BfdPacketFields } from '../helpers/bfd-packet.js';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

t.setTimeout(180_000);
t.equal(process.getuid?.(), 0, 'fault tests run as root (CI does); not skipping');
await ensureBuilt();

const DETECT_SLACK_MS = 500;
const GW: LabNode = 'gw1';

const home = await AgentHome.create(t, 'vftb');
const lab = await withLab(t, { prefix: 'vftb', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const info = await lab.info();
const fams = [
  { name: 'ipv4', local: info.ipv4!.gateways.gw1!.eth0!, peer: info.ipv4!.bfdPort!, client: info.ipv4!.client!, server: info.ipv4!.server!, net1: info.ipv4!.gateways.gw1!.net1! },
  { name: 'ipv6', local: info.ipv6!.gateways.gw1!.eth0!, peer: info.ipv6!.bfdPort!, client: info.ipv6!.client!, server: info.ipv6!.server!, net1: info.ipv6!.gateways.gw1!.net1! },
] as const;
const agent = await Agent.start(t, lab, home, GW);

const byRemote = async (): Promise<Map<string, SessionView>> => new Map((await agent.sessions()).map((s) => [s.remote, s]));

/** Sessions Up on both sides, exactly the two expected ones, /readyz 200, and SNATed traffic through the replica. */
async function healthy(t: TapTest, when: string): Promise<void> {
  const sessions = await agent.waitSessionsUp(2);
  t.same(sessions.map((s) => `${s.local}|${s.remote}`).sort(), fams.map((f) => `${f.local}|${f.peer}`).sort(), `${when}: exactly the two expected sessions, no duplicate`);
  for (const f of fams) await lab.frrWait(f.local, 'up', 20);
  await agent.waitReady(true);
  const r = await agent.http('/readyz');
  t.equal(r.status, 200, `${when}: /readyz 200`);
  for (const f of fams) {
    const seen = await lab.curl(f.client, f.server, 'tcp');
    t.equal(seen.ip, f.net1, `${when}: ${f.name} traffic SNATed through the replica`);
  }
  t.ok(agent.running(), `${when}: the agent is still running (pid ${agent.pid})`);
}

t.test('peer killed and restarted', async (t) => {
  await healthy(t, 'before');
  const before = await byRemote();
  const mark = agent.mark();
  const killedAt = Date.now();
  await lab.frrKill();
  for (const f of fams) {
    const line = await agent.waitLog((l) => l.msg === 'bfd session left Up' && l.remote === f.peer, 5000, mark, `${f.name} session leaving Up`);
    t.equal(line.diag, 'ControlDetectionTimeExpired', `${f.name}: agent declared the session Down on detection timeout`);
    const at = Date.parse(String(line.at));
    const detect = before.get(f.peer)!.detectTimeMs;
    t.ok(at - killedAt <= detect + DETECT_SLACK_MS, `${f.name}: declared Down ${at - killedAt} ms after the kill (detection time ${detect} ms + ${DETECT_SLACK_MS} ms slack)`);
  }
  const notReady = await agent.waitReady(false);
  t.ok(fams.every((f) => notReady.reasons.some((r) => r.includes(f.peer))), `not ready while the peer is gone, naming both sessions: ${JSON.stringify(notReady.reasons)}`);
  const down = await agent.http('/readyz');
  t.equal(down.status, 503, '/readyz 503 while the peer is gone');
  const live = await agent.http('/livez');
  t.equal(live.status, 200, '/livez stays 200: liveness never depends on peers');
  const st = await agent.status();
  t.same(st.bfd!.expected.map((e) => [e.remote, e.state]).sort(), fams.map((f) => [f.peer, 'Down']).sort(), 'both expected sessions are kept (Down), none garbage-collected');

  await lab.frrStart();
  await healthy(t, 'after the peer restarted');
  const after = await byRemote();
  for (const f of fams) {
    const b = before.get(f.peer)!;
    const a = after.get(f.peer)!;
    t.equal(a.localDiscr, b.localDiscr, `${f.name}: same local discriminator`);
    t.equal(a.flaps, b.flaps + 1, `${f.name}: exactly one flap counted`);
  }
  t.comment(`agent log: ${agent.logsSince(mark, (l) => /bfd/.test(l.msg)).map((l) => `${l.msg} ${String(l.remote ?? '')} ${String(l.from ?? '')}->${String(l.to ?? '')} ${String(l.diag ?? '')}`).join('; ')}`);
});

t.test('peer restarted with a new discriminator', async (t) => {
  await healthy(t, 'before');
  const frrId = async (peer: string) => (await lab.frrJson()).find((p) => p.peer === peer)!.id;
  const oldIds = new Map(await Promise.all(fams.map(async (f) => [f.local, await frrId(f.local)] as const)));
  for (const f of fams) t.equal((await byRemote()).get(f.peer)!.remoteDiscr, oldIds.get(f.local), `${f.name}: agent knows bfdd's discriminator ${oldIds.get(f.local)}`);
  // bfdd picks random discriminators at start; restart until both differ (almost always at once).
  let newIds = oldIds;
  for (let i = 0; i < 3 && fams.some((f) => newIds.get(f.local) === oldIds.get(f.local)); i++) {
    await lab.frrKill();
    await lab.frrStart();
    newIds = new Map(await Promise.all(fams.map(async (f) => [f.local, await frrId(f.local)] as const)));
  }
  for (const f of fams) t.not(newIds.get(f.local), oldIds.get(f.local), `${f.name}: bfdd came back with a new discriminator (${oldIds.get(f.local)} -> ${newIds.get(f.local)})`);
  await healthy(t, 'after the restart');
  const after = await byRemote();
  for (const f of fams) t.equal(after.get(f.peer)!.remoteDiscr, newIds.get(f.local), `${f.name}: agent learned the new discriminator`);
});

// Kinds of malformed packet, each dropped for one reason (RFC 5880 6.8.6 order). `base` is a packet
// that would be valid for the session, so exactly one thing is wrong with each.
function malformedKinds(base: BfdPacketFields, otherLocalDiscr: number): { name: string; reason: string; packet: Buffer; ttl?: number }[] {
  const authSection = Buffer.from([1, 6, 1, 0x61, 0x62, 0x63]); // simple password "abc", key id 1
  return [
    { name: 'version 0', reason: 'badVersion', packet: bfdPacket({ ...base, version: 0 }) },
    { name: 'version 2', reason: 'badVersion', packet: bfdPacket({ ...base, version: 2 }) },
    { name: 'Length 20 (< 24)', reason: 'badLength', packet: bfdPacket({ ...base, length: 20 }) },
    { name: 'A bit set, Length 24 (< 26)', reason: 'badLength', packet: bfdPacket({ ...base, flags: 0x04 }) },
    { name: 'Length 48 > 24-byte payload', reason: 'truncated', packet: bfdPacket({ ...base, length: 48 }) },
    { name: '16-byte datagram', reason: 'truncated', packet: bfdPacket({ ...base, truncateTo: 16 }) },
    { name: 'empty datagram', reason: 'truncated', packet: Buffer.alloc(0) },
    { name: 'Detect Mult 0', reason: 'badMult', packet: bfdPacket({ ...base, mult: 0 }) },
    { name: 'Multipoint bit', reason: 'multipoint', packet: bfdPacket({ ...base, flags: 0x01 }) },
    { name: 'My Discriminator 0', reason: 'zeroMyDiscr', packet: bfdPacket({ ...base, myDiscr: 0 }) },
    { name: 'Your Discriminator 0, State Up', reason: 'zeroYourDiscr', packet: bfdPacket({ ...base, yourDiscr: 0, state: 3 }) },
    { name: 'Your Discriminator 0, State Init', reason: 'zeroYourDiscr', packet: bfdPacket({ ...base, yourDiscr: 0, state: 2 }) },
    { name: 'unknown Your Discriminator', reason: 'unknownDiscr', packet: bfdPacket({ ...base, yourDiscr: 0x7eadbeef }) },
    { name: "the other family's session discriminator", reason: 'notAPeer', packet: bfdPacket({ ...base, yourDiscr: otherLocalDiscr }) },
    { name: 'A bit with an authentication section, no auth configured', reason: 'authUnexpected', packet: bfdPacket({ ...base, flags: 0x04, trailer: authSection }) },
    { name: 'TTL 64 (GTSM: below the 254 minimum)', reason: 'badTtl', packet: bfdPacket(base), ttl: 64 },
  ];
}

t.test('50 malformed BFD packets from the peer address: dropped, counted by reason, no crash, sessions stay Up', async (t) => {
  await healthy(t, 'before');
  const before = await byRemote();
  const frrEventsBefore = (await lab.frrEvents()).length;
  const mark = agent.mark();
  const v4 = fams[0];
  const v6 = fams[1];
  const s4 = before.get(v4.peer)!;
  const s6 = before.get(v6.peer)!;
  // Valid-looking for the IPv4 session: bfdd's discriminator as My, ours as Your, State Up.
  const base4: BfdPacketFields = { state: 3, myDiscr: s4.remoteDiscr, yourDiscr: s4.localDiscr, minTxUs: 100_000, minRxUs: 100_000 };
  const base6: BfdPacketFields = { state: 3, myDiscr: s6.remoteDiscr, yourDiscr: s6.localDiscr, minTxUs: 100_000, minRxUs: 100_000 };
  const kinds4 = malformedKinds(base4, s6.localDiscr);
  const kinds6 = malformedKinds(base6, s4.localDiscr);
  // 3 rounds of the 16 kinds over IPv4 (48) and 2 kinds over IPv6: 50 packets.
  const plan: { fam: typeof v4 | typeof v6; kind: (typeof kinds4)[number] }[] = [];
  for (let round = 0; round < 3; round++) for (const kind of kinds4) plan.push({ fam: v4, kind });
  plan.push({ fam: v6, kind: kinds6.find((k) => k.reason === 'badVersion')! }, { fam: v6, kind: kinds6.find((k) => k.reason === 'zeroYourDiscr')! });
  t.equal(plan.length, 50, '50 malformed packets planned');
  // One sender per (family, TTL): a socket's TTL is per socket.
  const groups = new Map<string, { fam: typeof v4 | typeof v6; ttl: number; payloads: string[] }>();
  for (const p of plan) {
    const ttl = p.kind.ttl ?? 255;
    const key = `${p.fam.name}|${ttl}`;
    if (!groups.has(key)) groups.set(key, { fam: p.fam, ttl, payloads: [] });
    groups.get(key)!.payloads.push(p.kind.packet.toString('hex'));
  }
  for (const g of groups.values()) {
    await sendUdp(lab, 'ovn', { from: g.fam.peer, to: g.fam.local, port: 3784, ttl: g.ttl, payloads: g.payloads });
  }
  // Drops are counted on the engine thread as packets arrive; wait until they all are.
  const expected = new Map<string, Map<string, number>>([[v4.peer, new Map()], [v6.peer, new Map()]]);
  for (const p of plan) {
    // A packet naming the other family's session is counted on that session.
    const counted = p.kind.reason === 'notAPeer' ? (p.fam === v4 ? v6 : v4) : p.fam;
    const m = expected.get(counted.peer)!;
    m.set(p.kind.reason, (m.get(p.kind.reason) ?? 0) + 1);
  }
  const dropsDelta = (now: Map<string, SessionView>, peer: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(now.get(peer)!.counters.drops)) {
      const d = v - (before.get(peer)!.counters.drops[k] ?? 0);
      if (d) out[k] = d;
    }
    return out;
  };
  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  let now = await byRemote();
  const deadline = Date.now() + 5000;
  while (total(dropsDelta(now, v4.peer)) + total(dropsDelta(now, v6.peer)) < 50 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    now = await byRemote();
  }
  for (const f of fams) {
    t.same(dropsDelta(now, f.peer), Object.fromEntries([...expected.get(f.peer)!].sort()), `${f.name}: every malformed packet dropped and counted under its reason`);
    const a = now.get(f.peer)!;
    const b = before.get(f.peer)!;
    t.equal(a.state, 'Up', `${f.name}: session still Up`);
    t.equal(a.flaps, b.flaps, `${f.name}: no flap`);
    t.equal(a.counters.transitions, b.counters.transitions, `${f.name}: no state transition`);
    t.equal(a.remoteDiscr, b.remoteDiscr, `${f.name}: remote discriminator unchanged (no malformed packet was taken as the peer's)`);
  }
  t.same((await lab.frrEvents()).slice(frrEventsBefore).map((e) => e.line), [], 'bfdd saw no state change');
  // The CLI shows the same counters.
  const cli = await agent.cli(['bfd', '--json']);
  t.equal(cli.exitCode, 0, '`egress-agent bfd --json` exits 0');
  const cliSessions = (JSON.parse(cli.stdout) as { sessions: SessionView[] }).sessions;
  t.equal(cliSessions.find((s) => s.remote === v4.peer)!.counters.drops.badVersion - s4.counters.drops.badVersion, 6, '`bfd --json` counts the 6 bad-version packets');
  t.same(agent.logsSince(mark, (l) => l.level >= 40), [], 'nothing worth a warning logged (drops are counted, not logged per packet)');
  await healthy(t, 'after');
});

t.test('BFD packets from addresses that are not peers: dropped and counted', async (t) => {
  await healthy(t, 'before');
  const before = await byRemote();
  const engineBefore = (await agent.status()).bfd!.engineDrops.notAPeer ?? 0;
  const frrEventsBefore = (await lab.frrEvents()).length;
  let sent = 0;
  for (const f of fams) {
    const s = before.get(f.peer)!;
    const spoof = [
      // A session opening from a stranger, and one claiming our discriminator with State Up.
      bfdPacket({ state: 1, myDiscr: 0x1234, yourDiscr: 0 }),
      bfdPacket({ state: 3, myDiscr: s.remoteDiscr, yourDiscr: s.localDiscr }),
      bfdPacket({ state: 0, diag: 7, myDiscr: s.remoteDiscr, yourDiscr: s.localDiscr }),
    ].map((b) => b.toString('hex'));
    // From the VPC client (an address the agent has no session with) ...
    await sendUdp(lab, 'vpc', { from: f.client, to: f.local, port: 3784, payloads: spoof });
    // ... and from the OVN router's interface address, next to the real BFD port address.
    const routerAddr = f.name === 'ipv4' ? info.ipv4!.internalGateway! : info.ipv6!.internalGateway!;
    await sendUdp(lab, 'ovn', { from: routerAddr, to: f.local, port: 3784, payloads: spoof });
    sent += 2 * spoof.length;
  }
  const engineDrops = await agent.poll(async () => {
    const n = (await agent.status()).bfd!.engineDrops.notAPeer ?? 0;
    return n - engineBefore >= sent ? n : null;
  }, 5000, `${sent} notAPeer drops`);
  t.equal(engineDrops - engineBefore, sent, `all ${sent} packets from non-peers dropped as notAPeer (engine counter)`);
  const metrics = await agent.http('/metrics');
  const m = /^egress_agent_bfd_engine_drops_total\{reason="notAPeer"\} (\d+)$/m.exec(metrics.body);
  t.equal(m ? Number(m[1]) : null, engineDrops, '/metrics egress_agent_bfd_engine_drops_total{reason="notAPeer"} shows them');
  const after = await byRemote();
  for (const f of fams) {
    const a = after.get(f.peer)!;
    const b = before.get(f.peer)!;
    t.equal(a.state, 'Up', `${f.name}: session still Up`);
    t.equal(a.counters.transitions, b.counters.transitions, `${f.name}: no state transition (the spoofed AdminDown was ignored)`);
    t.equal(a.remoteDiscr, b.remoteDiscr, `${f.name}: remote discriminator unchanged`);
  }
  t.same((await lab.frrEvents()).slice(frrEventsBefore).map((e) => e.line), [], 'bfdd saw no state change');
  await healthy(t, 'after');
});

// Sends BFD payloads from `from`, an address the namespace does not have (IP_TRANSPARENT: with
// IP_FREEBIND alone the kernel refuses to route from a foreign source), TTL 255, so the packets
// are real and carry the spoofed source on the wire.
const SPOOF_SENDER = `
import json, socket, sys
o = json.loads(sys.argv[1])
fam = socket.AF_INET6 if ':' in o['to'] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, 75, 1)  # IPV6_TRANSPARENT
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
else:
    s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
    s.setsockopt(socket.SOL_IP, socket.IP_TTL, 255)
s.bind((o['from'], 0))
for h in o['payloads']:
    s.sendto(bytes.fromhex(h), (o['to'], o['port']))
`;

const ifindexOf = async (node: LabNode, dev: string): Promise<number> =>
  (JSON.parse(String((await lab.exec(node, ['ip', '-j', 'link', 'show', dev])).stdout)) as { ifindex: number }[])[0]!.ifindex;

t.test('a spoofed AdminDown with the peer address from the external network: dropped as wrongInterface, sessions stay Up', async (t) => {
  await healthy(t, 'before');
  const before = await byRemote();
  const frrEventsBefore = (await lab.frrEvents()).length;
  const eth0 = await ifindexOf(GW, 'eth0');
  const rounds = 3;
  for (const f of fams) {
    const s = before.get(f.peer)!;
    t.equal(s.ifindex, eth0, `${f.name}: the session is bound to eth0 (#${eth0}), the interface of the route to ${f.peer}`);
    // The external router learns a route to the replica's eth0 address through its net1, and sends
    // what the issue describes: source = the OVN BFD port, State AdminDown (diag 7), Your Discr 0.
    const v = f.name === 'ipv4' ? '-4' : '-6';
    const host = f.name === 'ipv4' ? `${f.local}/32` : `${f.local}/128`;
    await lab.exec('ext', ['ip', v, 'route', 'replace', host, 'via', f.net1]);
    t.teardown(() => lab.exec('ext', ['ip', v, 'route', 'del', host]).then(() => undefined, () => undefined));
    const adminDown = bfdPacket({ state: 0, diag: 7, myDiscr: s.remoteDiscr, yourDiscr: 0 }).toString('hex');
    await lab.exec('ext', ['python3', '-c', SPOOF_SENDER, JSON.stringify({ from: f.peer, to: f.local, port: 3784, payloads: Array(rounds).fill(adminDown) })]);
  }
  const after = await agent.poll(async () => {
    const now = await byRemote();
    return fams.every((f) => (now.get(f.peer)!.counters.drops.wrongInterface ?? 0) - (before.get(f.peer)!.counters.drops.wrongInterface ?? 0) >= rounds) ? now : null;
  }, 5000, `${rounds} wrongInterface drops per session`);
  for (const f of fams) {
    const a = after.get(f.peer)!;
    const b = before.get(f.peer)!;
    t.equal(a.counters.drops.wrongInterface! - (b.counters.drops.wrongInterface ?? 0), rounds, `${f.name}: the ${rounds} spoofed packets counted as wrongInterface`);
    t.equal(a.state, 'Up', `${f.name}: session still Up`);
    t.equal(a.flaps, b.flaps, `${f.name}: no flap`);
    t.equal(a.counters.transitions, b.counters.transitions, `${f.name}: no state transition`);
  }
  t.same((await lab.frrEvents()).slice(frrEventsBefore).map((e) => e.line), [], 'bfdd saw no state change');
  const cli = JSON.parse((await agent.cli(['bfd', '--json'])).stdout) as { sessions: SessionView[] };
  t.equal(cli.sessions.find((s) => s.remote === fams[0].peer)!.counters.drops.wrongInterface, after.get(fams[0].peer)!.counters.drops.wrongInterface, '`bfd --json` shows the wrongInterface drops');
  const metrics = await agent.http('/metrics');
  const m = new RegExp(`^egress_agent_bfd_drops_total\\{local="${fams[0].local}",remote="${fams[0].peer}",reason="wrongInterface"\\} (\\d+)$`, 'm').exec(metrics.body);
  t.equal(m ? Number(m[1]) : null, after.get(fams[0].peer)!.counters.drops.wrongInterface, '/metrics egress_agent_bfd_drops_total{reason="wrongInterface"} shows them');
  await healthy(t, 'after');
});

t.test('the route to the peer moves to another interface: the session follows it, and back', async (t) => {
  await healthy(t, 'before');
  const f = fams[0];
  const eth0 = await ifindexOf(GW, 'eth0');
  const net1 = await ifindexOf(GW, 'net1');
  const route = `${f.peer}/32`;
  const restore = () => lab.exec(GW, ['ip', '-4', 'route', 'replace', route, 'via', info.ipv4!.internalGateway!, 'dev', 'eth0']);
  t.teardown(() => restore().then(() => undefined, () => undefined));
  const before = (await byRemote()).get(f.peer)!;
  await lab.exec(GW, ['ip', '-4', 'route', 'replace', route, 'via', info.ipv4!.externalGateway!, 'dev', 'net1']);
  const moved = await agent.poll(async () => {
    const s = (await byRemote()).get(f.peer)!;
    return s.ifindex === net1 ? s : null;
  }, 5000, `the session bound to net1 (#${net1})`);
  t.equal(moved.ifindex, net1, `bound to net1 (#${net1}) after the route moved there`);
  // bfdd still sends through eth0: no longer the interface of the peer, so its packets are dropped.
  const dropped = await agent.poll(async () => {
    const s = (await byRemote()).get(f.peer)!;
    return (s.counters.drops.wrongInterface ?? 0) > (before.counters.drops.wrongInterface ?? 0) ? s : null;
  }, 5000, 'wrongInterface drops of the packets still arriving on eth0');
  t.ok(dropped.counters.drops.wrongInterface! > (before.counters.drops.wrongInterface ?? 0), 'packets on eth0 dropped as wrongInterface while the route points at net1');
  await restore();
  const back = await agent.poll(async () => {
    const s = (await byRemote()).get(f.peer)!;
    return s.ifindex === eth0 ? s : null;
  }, 5000, `the session bound to eth0 (#${eth0}) again`);
  t.equal(back.ifindex, eth0, 'bound to eth0 again after the route came back');
  await healthy(t, 'after the route came back');
});
