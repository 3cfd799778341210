// SNAT port exhaustion seen coming: 30,000 UDP flows from one VPC source (each from its own port)
// to one destination address:port through gw1, whose MASQUERADE is narrowed to a 20,000-port range
// (`--to-ports`, so exhaustion comes within the 30,000 flows and the test stays fast). Sent in steps
// of 1,000: the ports-in-use gauge climbs step by step, the warning (log and metric threshold)
// fires at a step before the first failed flow, and every failed flow is counted (insert_failed).
import t from 'tap';
import { DEFAULT_SNAT_RECORDS, type SnatRecordsConfig } from '../../agent/config/snat-records.js';
import { join } from 'node:path';
import { ensureBuilt, runInit } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';
import { SnatAgent, udpBurst } from '../helpers/snat-agent.js';

t.setTimeout(300_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

const INTERFACES = [{ name: 'eth0', role: 'internal' as const }, { name: 'net1', role: 'external' as const }];
const RANGE = { min: 20000, max: 39999 };
const FLOWS = 30_000;
const STEP = 1000;
/** Nothing listens there: one destination address:port, the server answers with (rate-limited) ICMP errors. */
const DPORT = 9;

t.test('SNAT port capacity: the gauge climbs, the warning comes before the first failure, failures are counted', async (t) => {
  const lab = await withLab(t, { prefix: 'vsp', replicas: 1, family: '4' });
  const info = await lab.info();
  const v4 = info.ipv4!;
  await ensureBuilt();
  const init = await runInit(lab, 'gw1', await lab.env('gw1'));
  t.equal(init.exitCode, 0, `egress-agent init applied the dataplane: ${init.stderr}`);
  // Narrow the port range for UDP: the same MASQUERADE with `-p udp --to-ports`, just before ours
  // (--to-ports needs a protocol with ports).
  const rules = String((await lab.exec('gw1', ['iptables', '-t', 'nat', '-S', 'VEG-MASQUERADE'])).stdout).split('\n').filter((l) => l.startsWith('-A '));
  const masq = rules.findIndex((l) => l.includes('-j MASQUERADE'));
  t.ok(masq >= 0, `a MASQUERADE rule in VEG-MASQUERADE: ${rules.join(' | ')}`);
  const spec = rules[masq]!.replace(/^-A VEG-MASQUERADE /, '').replace('-j MASQUERADE', `-p udp -j MASQUERADE --to-ports ${RANGE.min}-${RANGE.max}`);
  await lab.exec('gw1', ['iptables', '-t', 'nat', '-I', 'VEG-MASQUERADE', String(masq + 1), ...spec.split(' ')]);
  // Flows must stay while the range fills.
  await lab.exec('gw1', ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=120', 'net.netfilter.nf_conntrack_udp_timeout_stream=120']);

  const cfg: SnatRecordsConfig = { ...DEFAULT_SNAT_RECORDS, dir: join(t.testdir(), 'records'), recordStart: false };
  const agent = await SnatAgent.start(t, lab, 'gw1', cfg, INTERFACES);
  const metric = async (series: string): Promise<number> => {
    await new Promise((r) => setTimeout(r, 1100)); // the kernel snapshot lives a second
    const line = (await agent.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
    return Number(line?.slice(series.length + 1) ?? NaN);
  };
  const insertFailed = () => metric('egress_agent_conntrack_drops_total{reason="insert_failed"}');
  const failedBefore = await insertFailed();
  t.equal(await metric('egress_agent_snat_port_range_size'), RANGE.max - RANGE.min + 1, 'the range is read from the rule');

  interface Step { sent: number; inUse: number; warnings: number; failed: number }
  const steps: Step[] = [];
  let sent = 0;
  for (let base = 0; base < FLOWS; base += STEP) {
    const b = await udpBurst(lab, { src: v4.client!, dst: v4.server!, dport: DPORT, count: STEP, rate: 10_000, maxMs: 20_000, basePort: 20000 + base, ports: STEP, batch: 250 });
    t.equal(b.failed, 0, `step ${base / STEP}: every datagram left the client`);
    sent += b.sent;
    const failed = (await insertFailed()) - failedBefore;
    // Every flow sent either started (a NEW event) or failed to be inserted.
    const s = await agent.waitFor((s) => s.flowsStarted.snat + failed >= sent, 15_000, `step ${base / STEP} accounted`);
    steps.push({ sent, inUse: s.ports.tightest[0]?.inUse ?? 0, warnings: s.ports.warnings, failed });
  }
  const final = await agent.status();
  const metrics = await agent.metrics();
  await agent.stop();

  const firstFailure = steps.findIndex((s) => s.failed > 0);
  const firstWarning = steps.findIndex((s) => s.warnings > 0);
  t.ok(firstFailure > 0, `flows failed once the range ran out (first at step ${firstFailure}, ${steps[firstFailure]?.inUse} ports in use)`);
  t.ok(firstWarning >= 0 && firstWarning < firstFailure, `the warning (step ${firstWarning}) came before the first failure (step ${firstFailure})`);
  for (let i = 1; i < firstFailure; i++) t.ok(steps[i]!.inUse > steps[i - 1]!.inUse, `step ${i}: the gauge climbed to ${steps[i]!.inUse}`);
  const last = steps[steps.length - 1]!;
  t.equal(last.sent, FLOWS, `${FLOWS} flows sent`);
  t.equal(final.flowsStarted.snat + last.failed, FLOWS, `every flow started (${final.flowsStarted.snat}) or was counted as failed (${last.failed})`);
  t.ok(last.inUse <= RANGE.max - RANGE.min + 1 && last.inUse > 0.95 * (RANGE.max - RANGE.min + 1), `near the range at the end: ${last.inUse} in use`);
  t.equal(final.ports.tightest[0]?.inUse, final.flowsStarted.snat, 'one key: every started flow uses one of its ports');

  const key = `{proto="udp",snat_address="${final.ports.tightest[0]!.snat}",destination="${v4.server}",destination_port="${DPORT}"}`;
  t.match(metrics, new RegExp(`^egress_agent_snat_ports_in_use\\${key.replace(/[.]/g, '\\.')} ${last.inUse}$`, 'm'), 'per-key ports in use exported');
  const ratio = Number(/^egress_agent_snat_port_usage_max_ratio (\S+)$/m.exec(metrics)?.[1]);
  t.ok(ratio > 0.8, `the tightest ratio ${ratio} is above the warning ratio 0.8 (the alert's threshold)`);
  const warned = agent.log.filter((l) => String(l.msg).includes('SNAT source ports to this destination are running out'));
  t.ok(warned.length >= 1 && warned[0]!.level === 40, 'a warning was logged');
  t.match(warned[0], { destination: v4.server, destinationPort: DPORT, proto: 'udp', portRange: RANGE.max - RANGE.min + 1 });
});
