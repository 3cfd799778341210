// The real daemon (`egress-agent run` from dist/) with upstream health and SNAT records wired in
// (prefix vwi): two replicas, FRR bfdd as OVN's BFD peer (3 x 100 ms), ECMP nexthops that follow
// bfdd's view. Pulling net1's carrier on gw1 must take gw1's sessions AdminDown with diag
// "concatenated path down" as FRR sees it, make gw1 not ready with the reason, and move the VPC's
// traffic to gw2; restoring it brings gw1 back only after the (short) hold-down. A TCP flow through
// the agent must leave a SNAT record that `egress-agent snat lookup --translated` finds.
// Timings are only the generous bounds the feature promises, plus the hold-down as a lower bound.
import t from 'tap';
import { join } from 'node:path';
import type { SnatFlow } from '../../agent/snat/lookup.js';
import { Agent, AgentHome } from '../helpers/agent-process.js';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab, type LabFamilyInfo, type LabNode } from '../helpers/lab.js';

t.setTimeout(300_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');
await ensureBuilt();

const HOLD_MS = 2000;
const SLACK_MS = 3000;
const FAMS = ['ipv4', 'ipv6'] as const;

const home = await AgentHome.create(t, 'vwi');
const lab = await withLab(t, { prefix: 'vwi', replicas: 2 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
await lab.ecmpFollow();
const info = await lab.info();
const fam = (f: (typeof FAMS)[number]): LabFamilyInfo => info[f]!;
const eth0 = (gw: LabNode, f: (typeof FAMS)[number]): string => fam(f).gateways[gw]!.eth0!;
const recordsDir = (gw: LabNode): string => join(home.paths(gw).dir, 'records');

const agents = new Map<LabNode, Agent>();
for (const gw of ['gw1', 'gw2'] as const) {
  agents.set(gw, await Agent.start(t, lab, home, gw, {
    env: { EGRESS_AGENT_UPSTREAM_HOLD_DOWN_MS: String(HOLD_MS), EGRESS_AGENT_SNAT_RECORDS_DIR: recordsDir(gw) },
  }));
}
const gw1 = agents.get('gw1')!;

async function waitEcmp(gws: LabNode[], timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await lab.ecmpShow();
    if (FAMS.every((f) => lab.gateways.every((gw) => shown.includes(`via ${eth0(gw, f)} `) === gws.includes(gw)))) return shown;
    if (Date.now() > deadline) throw new Error(`table 100 nexthops are not ${gws.join(',')} after ${timeoutMs} ms:\n${shown}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const bothUp = async (): Promise<void> => {
  for (const [gw, a] of agents) {
    await a.waitSessionsUp(2, 30_000);
    for (const f of FAMS) await lab.frrWait(eth0(gw, f), 'up', 30);
    await a.waitReady(true, 30_000);
  }
  await waitEcmp(['gw1', 'gw2']);
};

await t.test('both replicas start healthy: upstream watched on net1 for both families, records on', async (t) => {
  await bothUp();
  const s = await gw1.status();
  t.same(s.upstream!.families.map((f) => [f.family, f.healthy, f.withdraw]), [[4, true, false], [6, true, false]]);
  t.same(s.upstream!.signals.filter((x) => x.signal === 'link').map((x) => [x.family, x.name, x.state]), [[4, 'net1', 'ok'], [6, 'net1', 'ok']]);
  t.match(s.snatRecords, { off: null, recorder: { running: true, dir: recordsDir('gw1') } });
});

await t.test('a TCP flow through the agent is found by `snat lookup --translated`', async (t) => {
  const v4 = fam('ipv4');
  const reply = await lab.curl(v4.client!, v4.server!, 'tcp');
  // The echo server saw the translated source: which replica's net1 it is tells who carried it.
  const gw = (['gw1', 'gw2'] as const).find((g) => v4.gateways[g]!.net1 === reply.ip);
  t.ok(gw, `translated source ${reply.ip} is a replica's net1 address`);
  const a = agents.get(gw!)!;
  const found = await a.poll(async () => {
    const r = await a.cli(['snat', 'lookup', '--translated', `${reply.ip}:${reply.port}`, '--json', '--records', recordsDir(gw!)]);
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as { flows: SnatFlow[] }) : null;
  }, 10_000, 'the flow\'s SNAT record');
  t.equal(found.flows.length, 1);
  t.match(found.flows[0], {
    proto: 'tcp',
    original: { src: v4.client, dst: v4.server, dport: info.serverPort },
    translated: { src: reply.ip, sport: reply.port },
  });
  t.ok((await a.status()).snatRecords!.recorder!.recordsWritten >= 1, '/status counts the record');
  const none = await a.cli(['snat', 'lookup', '--translated', `${reply.ip}:1`, '--json', '--records', recordsDir(gw!)]);
  t.equal(none.exitCode, 1, 'a port nobody used finds nothing');
});

await t.test('net1 carrier loss on gw1: FRR sees AdminDown with concatenated path down, gw1 not ready, traffic on gw2; back after the hold-down', async (t) => {
  const ext = (...argv: string[]) => lab.exec('ext', argv);
  const peers = FAMS.map((f) => eth0('gw1', f));
  const boundS = (1000 + SLACK_MS) / 1000; // link events are immediate; FRR sees our next packet
  await ext('ip', 'link', 'set', 'p-gw1', 'down');
  t.teardown(() => ext('ip', 'link', 'set', 'p-gw1', 'up').catch(() => undefined));
  for (const peer of peers) {
    const ms = await lab.frrWait(peer, 'down', boundS);
    t.pass(`FRR saw ${peer} leave Up ${ms} ms after the carrier loss (bound ${boundS} s)`);
  }
  const frr = await lab.frrJson();
  for (const peer of peers) t.equal(frr.find((p) => p.peer === peer)?.['remote-diagnostic'], 'concatenated path down', `${peer}: diag 6 reached FRR`);
  for (const f of FAMS) t.equal(await lab.frrState(eth0('gw2', f)), 'up', `gw2 ${f} stays up`);

  const readyz = await gw1.http('/readyz');
  t.equal(readyz.status, 503);
  t.match(readyz.body, /- upstream IPv4 broken, withdrawn from ECMP: link net1: no carrier/);
  t.match(readyz.body, /- upstream IPv6 broken, withdrawn from ECMP: link net1: no carrier/);
  const metrics = (await gw1.http('/metrics')).body;
  t.match(metrics, /egress_agent_upstream_withdrawn\{family="4"\} 1/);
  t.match(metrics, /egress_agent_upstream_healthy\{family="6"\} 0/);
  t.match((await gw1.sessions()).map((s) => [s.state, s.localDiag]), [['AdminDown', 'ConcatenatedPathDown'], ['AdminDown', 'ConcatenatedPathDown']]);

  await waitEcmp(['gw2']);
  for (const f of FAMS) {
    for (let i = 0; i < 4; i++) {
      const r = await lab.curl(fam(f).client!, fam(f).server!, 'tcp');
      t.equal(r.ip, fam(f).gateways.gw2!.net1, `${f} flow ${i + 1} served by gw2`);
    }
  }

  const mark = gw1.mark();
  const restoredAt = Date.now();
  await ext('ip', 'link', 'set', 'p-gw1', 'up');
  // Link back, gateway re-resolved (verify interval + ARP/ND round trip), then the hold-down.
  const recoverS = (1000 + 2000 + HOLD_MS + SLACK_MS) / 1000;
  for (const peer of peers) {
    const ms = await lab.frrWait(peer, 'up', recoverS);
    t.pass(`FRR saw ${peer} Up again ${ms} ms after the carrier returned (bound ${recoverS} s)`);
  }
  const back = gw1.logsSince(mark, (l) => l.msg === 'upstream healthy: BFD session back from AdminDown, rejoining ECMP');
  t.equal(back.length, 2, 'both sessions were brought back by the upstream, once each');
  for (const l of back) t.ok(Date.parse(l.time) - restoredAt >= HOLD_MS, `not before the hold-down (${Date.parse(l.time) - restoredAt} ms after the carrier returned)`);
  await gw1.waitReady(true, 20_000);
  await waitEcmp(['gw1', 'gw2']);
  t.same((await gw1.status()).upstream!.families.map((f) => [f.family, f.healthy, f.withdraw]), [[4, true, false], [6, true, false]]);
});

await t.test('drain: SIGTERM exits 0 and the recorder has flushed its file', async (t) => {
  for (const a of agents.values()) {
    const exit = await a.terminate();
    t.equal(exit.code, 0, `${a.gw} exited 0`);
    t.ok(a.lines.some((l) => l.step === 'snat-records-stop' && l.msg === 'step done'), `${a.gw} stopped its recorder`);
    t.ok(a.lines.findIndex((l) => l.step === 'upstream-stop') < a.lines.findIndex((l) => l.step === 'bfd-drain'), `${a.gw}: monitor stopped before the BFD drain`);
  }
});
