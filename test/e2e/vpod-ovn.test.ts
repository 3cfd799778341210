// The gateway Pod for real, against a REAL OVN (issue 12): the image run with podman as Kube-OVN's
// controller writes the Pod (scripts/pod/pod.sh; docs/container.md) in a replica of the OVN lab
// (scripts/lab/ovn.sh with --underlay yes: eth0 on OVN's logical switch, net1 to an external
// gateway), ovn-controller's BFD (OVN 23.03) as the peer through an ECMP `--bfd` static route.
// The init container as root configures the replica; the bfdd container as uid 65534 with the
// CRI's capabilities, 64 MiB and 300m, runs BFD with OVN; SIGKILL -> OVN times it out, restart ->
// Up, `podman stop` -> our AdminDown and OVN's Down. Prefix vpo; the Pod is vpo-gw1.
import t from 'tap';
import { ensureImage, withPod } from '../../scripts/pod/pod.js';
import { captureBfd, withOvnLab, type BfdTimersMs } from '../helpers/ovn.js';

type Fam = 'ipv4' | 'ipv6';
const FAMS: Fam[] = ['ipv4', 'ipv6'];
const FAST: BfdTimersMs = { minTx: 100, minRx: 100, mult: 3 };
// Scheduling noise of a loaded 2-CPU machine, the container's 300m quota and OVN's pinctrl thread.
const DETECT_SLACK_MS = 700;

t.setTimeout(420_000);
t.equal(process.getuid?.(), 0, 'e2e tests run as root (CI does); not skipping');
await ensureImage();

const lab = await withOvnLab(t, { prefix: 'vpo', gateways: 1, family: 'dual', underlay: true });
const info = await lab.info();
const gw = info.gateways.gw1!;
const ours = (f: Fam): string => gw[f]!;
const ovnPort = (f: Fam): string => info.routerPort[f]!;
for (const f of FAMS) await lab.bfdRoute(ours(f), FAST);
const env = await lab.env('gw1');
const pod = await withPod(t, 'vpo-gw1');

const until = <T>(what: string, timeoutMs: number, fn: () => Promise<T | null>, periodMs?: number): Promise<T> => pod.until(what, timeoutMs, fn, periodMs);
const ready = () => until('readinessProbe (every session Up)', 60_000, async () => ((await pod.probe('ready')).exitCode === 0 ? true : null), 1000);
async function ovnUp(): Promise<void> {
  for (const f of FAMS) await lab.bfdWait(ours(f), 'up', 30);
}

t.test('init container (root, privileged, the controller\'s command) configures the OVN replica', async (t) => {
  t.ok(env.INTERNAL_GATEWAY_IPV4 && env.EXTERNAL_GATEWAY_IPV6, 'the lab gives the init container its gateway variables');
  await pod.create(lab.ns('gw1'), env); // rejects when the init container exits non-zero
  for (const [f, flag] of [['ipv4', '-4'], ['ipv6', '-6']] as const) {
    const rules = String((await lab.exec('gw1', ['ip', flag, 'rule'])).stdout);
    for (const prio of ['1001:', '1002:', '1003:', '1004:']) t.match(rules, prio, `${f}: rule ${prio}`);
    t.match(String((await lab.exec('gw1', ['ip', flag, 'route', 'show', 'table', '1000'])).stdout), `default via ${ovnPort(f)}`, `${f}: table 1000 default via OVN's router port (the internal gateway)`);
  }
});

t.test('bfdd container (uid 65534, 64 MiB, 300m) and OVN: every session Up on both sides, ECMP routes to the Pod', async (t) => {
  await ready();
  await ovnUp();
  t.pass('OVN SB BFD status up for both families; the readiness probe passes');
  const status = String((await pod.exec(['bfdd-control', 'status'])).stdout);
  t.equal(status.match(/ state=Up /g)?.length, 2, 'bfdd-control status: both sessions Up');
  t.same(await lab.nexthops(), FAMS.map(ours).sort(), 'lr0 routes to the Pod (northd keeps BFD-up nexthops)');
  t.equal(await pod.inspect('{{.State.OOMKilled}} {{.State.Running}}'), 'false true', 'running, not OOM-killed');
});

t.test('SIGKILL of the container: OVN times the sessions out within its detection time; restarted, Up again', async (t) => {
  await ovnUp();
  // The only replica dies: OVN 23.03's pinctrl checks detection only when something wakes it, and
  // with no BFD packet arriving it would stall ~60 s (docs/bfd-requirements.md, OVN-01). In Kube-OVN
  // other replicas' packets wake it; here the lab's kicker does.
  await lab.kickerStart(50);
  t.teardown(() => lab.kickerStop());
  const wire = await captureBfd(lab, 'gw1', FAMS.map(ovnPort), { ms: 4000 });
  const killedAt = Date.now();
  await pod.kill('KILL');
  const packets = await wire.packets;
  for (const f of FAMS) {
    const down = packets.find((p) => p.src === ovnPort(f) && p.at > killedAt && p.state === 'Down');
    t.ok(down, `${f}: OVN's packets say Down after the kill`);
    // OVN's detection time for us: our multiplier x max(its RequiredMinRx, our DesiredMinTx).
    if (down) t.ok(down.at - killedAt <= FAST.mult * FAST.minTx + DETECT_SLACK_MS, `${f}: OVN says Down ${Math.round(down.at - killedAt)} ms after the SIGKILL (detection ${FAST.mult * FAST.minTx} ms)`);
  }
  for (const f of FAMS) await lab.bfdWait(ours(f), 'down', 10);
  t.same(await lab.nexthops(), [], 'lr0 no longer routes to the dead Pod');
  await lab.kickerStop();
  const restartedAt = Date.now();
  await pod.start();
  await ovnUp();
  t.comment(`OVN sees the restarted Pod Up ${Date.now() - restartedAt} ms after podman start (container and Node.js start included)`);
  await ready();
  t.same(await lab.nexthops(), FAMS.map(ours).sort(), 'lr0 routes to the Pod again');
});

t.test('podman stop (SIGTERM, grace 30 s): our AdminDown on the wire, OVN Down at once, exit 0', async (t) => {
  await ovnUp();
  await ready();
  // OVN 23.03's pinctrl sends only when something wakes it (OVN-01): once our drain is over and our
  // packets stop, a lone replica's Down answer may never leave (CI saw it missing for IPv6). In a
  // real gateway the other replicas' packets wake it; the kicker stands in for them, as above.
  await lab.kickerStart(50);
  t.teardown(() => lab.kickerStop());
  // podman stop itself can take seconds on a loaded machine before the agent sees SIGTERM.
  const wire = await captureBfd(lab, 'gw1', [...FAMS.map(ours), ...FAMS.map(ovnPort)], { ms: 10_000 });
  const code = await pod.stop();
  t.equal(code, 0, 'the container exits 0 after draining');
  const packets = await wire.packets;
  for (const f of FAMS) {
    const adminDown = packets.find((p) => p.src === ours(f) && p.state === 'AdminDown');
    t.ok(adminDown, `${f}: our AdminDown is on the wire`);
    if (!adminDown) continue;
    const ovnDown = packets.find((p) => p.src === ovnPort(f) && p.at > adminDown.at && p.state !== 'Up');
    // Our AdminDown packets advertise 1 s, so a timeout would take OVN 3 s: within 1 s it is OVN
    // acting on the AdminDown itself.
    t.ok(ovnDown && ovnDown.at - adminDown.at < 1000, `${f}: OVN's next packet is ${ovnDown?.state ?? 'missing'} ${ovnDown ? Math.round(ovnDown.at - adminDown.at) : '?'} ms after our AdminDown`);
  }
  for (const f of FAMS) await lab.bfdWait(ours(f), 'down', 10);
  t.same(await lab.nexthops(), [], 'lr0 drops the drained Pod');
});
