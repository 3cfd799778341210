// The lab (scripts/lab/lab.sh) on the real kernel: topology, echo server reached through net1 with
// real packets, OVN-style ECMP, FRR bfdd as the BFD port, Kube-OVN env, family variants, and a
// `down` that removes exactly what `up` created. No agent runs here, so VPC client traffic must
// NOT get through (the gateways do not forward yet) and BFD sessions must stay down.
import t from 'tap';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_RUN_DIR, LAB_SH, Lab, parseFrrEvents, withLab, type LabInfo, type LabNode } from '../helpers/lab.js';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

// Several labs come up and down in here; generous for a loaded 2-CPU machine (typically ~30 s).
t.setTimeout(120_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

const nsExists = (name: string) => existsSync(`/run/netns/${name}`);
const ipNetns = (...args: string[]) => execa('ip', ['netns', ...args]);

/** Global addresses of an interface in a lab node, per family. */
async function globalAddrs(lab: Lab, node: LabNode, dev: string, fam: 4 | 6): Promise<string[]> {
  const { stdout } = await lab.exec(node, ['ip', '-j', `-${fam}`, 'addr', 'show', 'dev', dev, 'scope', 'global']);
  // iproute2 6.1 prints an empty object for each address that the scope filter drops.
  const links = JSON.parse(String(stdout)) as { addr_info: { local?: string }[] }[];
  return links.flatMap((l) => l.addr_info.flatMap((a) => (a.local ? [a.local] : [])));
}

/** Which gateway's eth0 the "OVN router" picks for each flow (kernel FIB lookups with L4 hash, one ip -batch). */
async function ecmpNexthops(lab: Lab, src: string, dst: string, sports: number[]): Promise<string[]> {
  const input = sports
    .map((sport) => `route get ${dst} from ${src} iif br-vpc ipproto tcp sport ${sport} dport 8080\n`)
    .join('');
  const { stdout } = await lab.exec('ovn', ['ip', '-batch', '-'], { input });
  const vias = [...String(stdout).matchAll(/^\S+ from \S+ via (\S+) /gm)].map((m) => m[1]!);
  if (vias.length !== sports.length) throw new Error(`expected ${sports.length} nexthops in: ${String(stdout)}`);
  return vias;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** The server's view of flows from a gateway's own net1 address (TCP and UDP). */
async function checkGatewayReachesServer(t: TapTest, lab: Lab, info: LabInfo, gw: LabNode, fam: 'ipv4' | 'ipv6') {
  const f = info[fam]!;
  const net1 = f.gateways[gw]!.net1!;
  await Promise.all(
    (['tcp', 'udp'] as const).map(async (proto) => {
      const reply = await lab.curl(net1, f.server!, proto, gw);
      t.equal(reply.ip, net1, `${gw} ${fam} ${proto}: server saw the net1 address`);
      t.ok(reply.port > 0 && reply.port < 65536, `${gw} ${fam} ${proto}: server saw a source port`);
    }),
  );
}

t.test('dual stack, 2 replicas', async (t) => {
  const foreign = 'vlt-foreign';
  if (nsExists(foreign)) await ipNetns('del', foreign);
  await ipNetns('add', foreign);
  t.teardown(async () => {
    if (nsExists(foreign)) await ipNetns('del', foreign);
  });

  const lab = await withLab(t, { prefix: 'vlt', replicas: 2, family: 'dual' });
  const info = await lab.info();
  t.same(
    { family: info.family, extFamily: info.extFamily, replicas: info.replicas },
    { family: 'dual', extFamily: 'dual', replicas: 2 },
    'info describes the lab',
  );
  for (const name of Object.values(info.namespaces)) t.ok(nsExists(name), `namespace ${name} exists`);

  t.test('(a) each gateway reaches the echo server through net1', async (t) => {
    for (const gw of lab.gateways) {
      t.same(await globalAddrs(lab, gw, 'net1', 4), [info.ipv4!.gateways[gw]!.net1], `${gw} net1 IPv4`);
      t.same(await globalAddrs(lab, gw, 'net1', 6), [info.ipv6!.gateways[gw]!.net1], `${gw} net1 IPv6`);
      t.same(await globalAddrs(lab, gw, 'eth0', 4), [info.ipv4!.gateways[gw]!.eth0], `${gw} eth0 IPv4`);
      t.same(await globalAddrs(lab, gw, 'eth0', 6), [info.ipv6!.gateways[gw]!.eth0], `${gw} eth0 IPv6`);
      await checkGatewayReachesServer(t, lab, info, gw, 'ipv4');
      await checkGatewayReachesServer(t, lab, info, gw, 'ipv6');
    }
  });

  t.test('without an agent, VPC client traffic does not get through', async (t) => {
    await Promise.all([
      t.rejects(lab.curl(info.ipv4!.client!, info.ipv4!.server!, 'tcp'), 'IPv4 client -> server fails'),
      t.rejects(lab.curl(info.ipv6!.client!, info.ipv6!.server!, 'udp'), 'IPv6 client -> server fails'),
    ]);
  });

  t.test('OVN-style ECMP spreads VPC flows over the gateways; ecmp set rewrites it', async (t) => {
    for (const key of ['ipv4', 'ipv6'] as const) {
      const f = info[key]!;
      const eth0s = lab.gateways.map((gw) => f.gateways[gw]!.eth0!);
      for (const src of [f.client!, f.noSnatClient!]) {
        const seen = new Set(await ecmpNexthops(lab, src, f.server!, range(20000, 32)));
        t.same([...seen].sort(), [...eth0s].sort(), `${key} from ${src}: flows hashed over every gateway eth0`);
      }
    }
    await lab.ecmpSet(['gw2']);
    const shown = await lab.ecmpShow();
    t.notMatch(shown, /10\.16\.0\.11|fd00:10:16::11\b/, 'ecmp show: gw1 removed');
    t.match(shown, /via 10\.16\.0\.12 /, 'ecmp show: gw2 IPv4');
    t.match(shown, /via fd00:10:16::12 /, 'ecmp show: gw2 IPv6');
    for (const key of ['ipv4', 'ipv6'] as const) {
      const f = info[key]!;
      const vias = new Set(await ecmpNexthops(lab, f.client!, f.server!, range(20000, 32)));
      t.same([...vias], [f.gateways.gw2!.eth0], `${key}: every flow now goes to gw2`);
    }
    await t.rejects(lab.ecmpSet(['gw3']), /unknown gateway 'gw3'/, 'unknown gateway refused');
    await lab.ecmpSet(['gw1', 'gw2']);
    t.match(await lab.ecmpShow(), /nexthop via 10\.16\.0\.11 .*\n.*nexthop via 10\.16\.0\.12 /, 'both restored');
  });

  t.test('(b) FRR bfdd in ovn has one peer per replica and family, none up', async (t) => {
    await lab.frrUp();
    const expected = lab.gateways
      .flatMap((gw) => [
        { peer: info.ipv4!.gateways[gw]!.eth0!, local: info.ipv4!.bfdPort! },
        { peer: info.ipv6!.gateways[gw]!.eth0!, local: info.ipv6!.bfdPort! },
      ])
      .sort((a, b) => a.peer.localeCompare(b.peer));
    const peers = await lab.frrJson();
    t.same(
      peers.map((p) => ({ peer: p.peer, local: p.local })).sort((a, b) => a.peer.localeCompare(b.peer)),
      expected,
      'configured peers',
    );
    for (const p of peers) {
      t.not(p.status, 'up', `${p.peer} is not up (no agent answers)`);
      t.same(
        [p['transmit-interval'], p['receive-interval'], p['detect-multiplier']],
        [100, 100, 3],
        `${p.peer} timers 100/100/3`,
      );
      t.equal(await lab.frrState(p.peer), p.status, `frr state ${p.peer}`);
    }
    t.equal(await lab.frrState('10.16.0.99'), 'absent', 'unknown peer is absent');
    await t.rejects(lab.frrWait(info.ipv4!.gateways.gw1!.eth0!, 'up', 0.3), /not up after 0.3 s/, 'wait for up times out');

    // Real BFD control packets from the BFD port reach gw1's eth0 (TTL/hop limit 255, single hop).
    // FRR sends about once a second while down; 8 s leaves room for a loaded machine.
    const capture = (fam: 4 | 6, src: string) =>
      lab.exec('gw1', [
        'timeout', '8', 'tcpdump', '-i', 'eth0', '-c', '1', '-n', '-v', `ip${fam === 6 ? '6' : ''} and udp dst port 3784 and src host ${src}`,
      ]);
    const [c4, c6] = await Promise.all([capture(4, info.ipv4!.bfdPort!), capture(6, info.ipv6!.bfdPort!)]);
    t.match(String(c4.stdout), /ttl 255.*\n?.*10\.255\.255\.255\.\d+ > 10\.16\.0\.11\.3784/, 'IPv4 BFD packet at gw1');
    t.match(String(c6.stdout), /hlim 255.*fdff::1\.\d+ > fd00:10:16::11\.3784/, 'IPv6 BFD packet at gw1');

    t.same(await lab.frrEvents(), [], 'no session changed state (nothing answers)');

    await lab.frrKill();
    await t.rejects(lab.frrJson(), /bfdd is not running/, 'json fails after kill');
    await lab.frrStart();
    t.equal((await lab.frrJson()).length, expected.length, 'peers kept across kill/start');

    await lab.frrUp({ txMs: 300, rxMs: 200, multiplier: 5 });
    for (const p of await lab.frrJson()) {
      t.same([p['transmit-interval'], p['receive-interval'], p['detect-multiplier']], [300, 200, 5], `${p.peer} new timers`);
    }
    t.match(await lab.frrVtysh(['-c', 'show bfd peers brief']), /10\.16\.0\.12/, 'vtysh passthrough');
  });

  t.test('frr events parser reads bfdd 8.4 state-change lines', async (t) => {
    const lines = [
      '2026/11/26 14:15:16.576078 BFD: [PSB4R-8T1TJ] session-new: mhop:no peer:fd00:10:16::11 local:fdff::1 vrf:default',
      '2026/11/26 14:15:36.937984 BFD: [J1C6V-VMRW5] state-change: [mhop:no peer:10.16.0.11 local:10.255.255.255 vrf:default] init -> up',
      '2026/11/26 14:15:37.315291 BFD: [SEY1D-NT8EQ] state-change: [mhop:no peer:10.16.0.11 local:10.255.255.255 vrf:default] up -> down reason:control-expired',
    ];
    const ev = parseFrrEvents(lines.join('\n'));
    t.equal(ev.length, 2, 'only state changes');
    t.match(ev[0], { peer: '10.16.0.11', local: '10.255.255.255', from: 'init', to: 'up' });
    t.match(ev[1], { from: 'up', to: 'down', reason: 'control-expired' });
    t.equal(ev[1]!.timeUs - ev[0]!.timeUs, 377307, 'µs timestamps');
  });

  t.test('(c) env gw1 is the Kube-OVN environment', async (t) => {
    t.same(await lab.env('gw1'), {
      INTERNAL_GATEWAY_IPV4: '10.16.0.1',
      EXTERNAL_GATEWAY_IPV4: '172.17.0.1',
      NO_SNAT_SOURCES_IPV4: '10.20.0.0/16',
      INTERNAL_GATEWAY_IPV6: 'fd00:10:16::1',
      EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1',
      NO_SNAT_SOURCES_IPV6: 'fd00:10:20::/64',
      POD_IPS: '10.16.0.11,fd00:10:16::11',
      BFD_PEER_IPS: '10.255.255.255,fdff::1',
      BFD_MIN_TX: '100',
      BFD_MIN_RX: '100',
      BFD_MULTI: '3',
    });
    t.match((await lab.env('gw2')).POD_IPS, '10.16.0.12,fd00:10:16::12', 'gw2 POD_IPS');
    await t.rejects(lab.env('gw3'), /unknown gateway 'gw3'/);
  });

  t.test('up refuses a lab that is already up', async (t) => {
    await t.rejects(lab.up(), /already exists/);
  });

  t.test('(f) down removes everything it created and nothing else', async (t) => {
    const stateDir = info.stateDir;
    const pids = ['echo-server.pid', 'frr/bfdd.pid'].map((f) => Number(readFileSync(join(stateDir, f), 'utf8')));
    await lab.down();
    for (const name of Object.values(info.namespaces)) t.notOk(nsExists(name), `namespace ${name} removed`);
    t.ok(nsExists(foreign), `foreign namespace ${foreign} left alone`);
    t.notOk(existsSync(stateDir), 'state directory removed');
    const { stdout } = await execa('ip', ['-o', 'link', 'show']);
    t.notMatch(String(stdout), /: vlt-/, 'no temporary veth left in the root namespace');
    for (const pid of pids) t.notOk(isLive(pid), `process ${pid} stopped`);
    await ipNetns('del', foreign);
    t.notOk(nsExists(foreign));
    t.match(String((await lab.run('down')).stdout), /not up/, 'second down is a no-op');
  });
});

/** Alive and not a zombie (killed daemons stay zombies until PID 1 reaps them). */
function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

t.test('(d) single-family labs', async (t) => {
  for (const [prefix, family, fam, other] of [
    ['vlt4', '4', 'ipv4', 6],
    ['vlt6', '6', 'ipv6', 4],
  ] as const) {
    await t.test(`family ${family}`, async (t) => {
      const lab = await withLab(t, { prefix, replicas: 1, family });
      const info = await lab.info();
      t.ok(info[fam], `info has ${fam}`);
      t.notOk(info[other === 4 ? 'ipv4' : 'ipv6'], `info has no IPv${other}`);
      await checkGatewayReachesServer(t, lab, info, 'gw1', fam);
      for (const [node, dev] of [['gw1', 'eth0'], ['gw1', 'net1'], ['vpc', 'eth0'], ['ovn', 'br-vpc'], ['ext', 'br-ext']] as const) {
        t.same(await globalAddrs(lab, node, dev, other), [], `${node} ${dev}: no IPv${other} address`);
      }
      const env = await lab.env('gw1');
      t.same(Object.keys(env).filter((k) => k.endsWith(`_IPV${other}`)), [], `env has no IPv${other} variables`);
      t.equal(env.POD_IPS, info[fam]!.gateways.gw1!.eth0, 'POD_IPS');
      await lab.frrUp();
      t.same((await lab.frrJson()).map((p) => p.peer), [info[fam]!.gateways.gw1!.eth0], 'one BFD peer');
    });
  }
});

t.test('(e) dual internal, IPv4-only external', async (t) => {
  const lab = await withLab(t, { prefix: 'vlte', replicas: 2, family: 'dual', extFamily: '4' });
  const info = await lab.info();
  t.equal(info.extFamily, '4');
  for (const gw of lab.gateways) {
    t.same(await globalAddrs(lab, gw, 'net1', 6), [], `${gw} net1 has no IPv6`);
    t.same(await globalAddrs(lab, gw, 'eth0', 6), [info.ipv6!.gateways[gw]!.eth0], `${gw} eth0 keeps IPv6`);
    const { stdout } = await lab.exec(gw, ['ip', '-6', 'route', 'show', 'default']);
    t.equal(String(stdout), '', `${gw} has no IPv6 default route`);
    await checkGatewayReachesServer(t, lab, info, gw, 'ipv4');
  }
  t.same(await globalAddrs(lab, 'ext', 'lo', 6), [], 'no IPv6 server address');
  t.notOk(info.ipv6!.server, 'info: no IPv6 server');
  const env = await lab.env('gw1');
  t.equal(env.EXTERNAL_GATEWAY_IPV6, '', 'EXTERNAL_GATEWAY_IPV6 is empty (external subnet lacks IPv6)');
  t.equal(env.INTERNAL_GATEWAY_IPV6, 'fd00:10:16::1');
  t.equal(env.POD_IPS, '10.16.0.11,fd00:10:16::11');
});

t.test('an interrupted up is cleaned up', async (t) => {
  // Interrupt `up` once it has created some namespaces but before it is ready.
  async function interruptedUp(prefix: string, signal: 'SIGTERM' | 'SIGKILL') {
    const stateDir = join(LAB_RUN_DIR, prefix);
    const child = execa(LAB_SH, ['up', '-p', prefix, '--replicas', '2'], { reject: false });
    const deadline = Date.now() + 10_000;
    let created: string[] = [];
    while (Date.now() < deadline && child.exitCode === null) {
      created = existsSync(join(stateDir, 'netns')) ? readdirSync(join(stateDir, 'netns')) : [];
      if (created.length >= 3) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    const halfway = !existsSync(join(stateDir, 'ready'));
    child.kill(signal);
    const res = await child;
    return { res, created, halfway };
  }

  t.test('SIGTERM: up undoes its own work', async (t) => {
    const lab = new Lab('vltt');
    await lab.down();
    t.teardown(() => lab.down());
    const { res, created, halfway } = await interruptedUp('vltt', 'SIGTERM');
    t.ok(halfway && created.length >= 3, `interrupted half-way (had ${created.join(', ')})`);
    t.not(res.exitCode, 0, 'up failed');
    t.match(String(res.stderr), /up failed; removing what it created/);
    for (const name of created) t.notOk(nsExists(name), `${name} removed by up itself`);
    t.notOk(existsSync(join(LAB_RUN_DIR, 'vltt')), 'no state left');
  });

  t.test('SIGKILL: down cleans a half-built lab', async (t) => {
    const lab = new Lab('vltk');
    await lab.down();
    t.teardown(() => lab.down());
    const { res, created, halfway } = await interruptedUp('vltk', 'SIGKILL');
    t.ok(halfway && created.length >= 3, `interrupted half-way (had ${created.join(', ')})`);
    t.equal(res.signal, 'SIGKILL');
    t.ok(created.some(nsExists), 'namespaces were left behind by the killed up');
    await lab.down();
    for (const name of ['vpc', 'ovn', 'ext', 'gw1', 'gw2']) t.notOk(nsExists(`vltk-${name}`), `vltk-${name} gone`);
    const { stdout } = await execa('ip', ['-o', 'link', 'show']);
    t.notMatch(String(stdout), /: vltk-/, 'no temporary veth left in the root namespace');
    t.notOk(existsSync(join(LAB_RUN_DIR, 'vltk')), 'no state left');
  });
});

t.test('bad input', async (t) => {
  const noArgs = await execa(LAB_SH, [], { reject: false });
  t.equal(noArgs.exitCode, 2, 'no arguments: exit 2');
  t.match(String(noArgs.stderr), /^usage: lab\.sh/);
  for (const [args, re] of [
    [['up', '-p', 'vltbad', '--replicas', '0'], /--replicas must be 1\.\.99, got '0'/],
    [['up', '-p', 'vltbad', '--family', '5'], /--family must be 4, 6 or dual, got '5'/],
    [['up', '-p', 'Bad-Prefix'], /invalid prefix 'Bad-Prefix'/],
    [['env', '-p', 'vltbad', 'gw1'], /lab 'vltbad' is not up/],
  ] as const) {
    const res = await execa(LAB_SH, [...args], { reject: false });
    t.equal(res.exitCode, 1, `${args.join(' ')}: exit 1`);
    t.match(String(res.stderr), re, `${args.join(' ')}: names the problem`);
  }
  t.notOk(existsSync(join(LAB_RUN_DIR, 'vltbad')), 'nothing created');
});
