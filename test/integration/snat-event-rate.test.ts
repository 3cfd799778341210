// Conntrack events through the addon's netlink reader at the rate: short-lived UDP flows
// (1 s conntrack timeout, so DESTROY events from conntrack's garbage collector arrive while NEW ones
// pour in) from one VPC source through gw1's MASQUERADE at 40,000 new flows/s. Every flow sent
// must have its start record and its end record, and the kernel must have dropped no event, over the
// issue's full 10 s (SNAT_RATE_TEST_MS shortens it). High rate: run it under /tmp/egress-heavy.lock.
// Namespace prefix "vcn" (its own; no other test uses it).
// Then, with a deliberately tiny socket buffer, a loss: counted exactly (the socket's drop counter
// equals the events missing), marked with a gap, and the still-open flows recovered from a dump.
import t from 'tap';
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SNAT_RECORDS, type SnatRecordsConfig } from '../../agent/config/snat-records.js';
import { parseRecordLine } from '../../agent/snat/record.js';
import type { RecordLine, SnatRecord } from '../../agent/snat/types.js';
import { ensureBuilt, ROOT, runInit } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';
import { rateFlow, SnatAgent, udpFlowsAtRate, type RateResult } from '../helpers/snat-agent.js';

t.setTimeout(300_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

const INTERFACES = [{ name: 'eth0', role: 'internal' as const }, { name: 'net1', role: 'external' as const }];
const RATE = 40_000;
const RUN_MS = Number(process.env.SNAT_RATE_TEST_MS ?? 10_000);
/** DESTROY events come when conntrack's garbage collector next scans (~37 s measured for few entries). */
const DESTROY_WAIT_MS = 150_000;

/** Flows of the run without a record of `kind` (at most 20, for the message). */
function missing(run: RateResult, recs: RecordLine[], kind: 'start' | 'end'): string[] {
  const have = new Set(recs.filter((r): r is SnatRecord => r.event === kind).map((r) => `${r.original.sport}>${r.original.dport}`));
  const out: string[] = [];
  for (let i = 0; i < run.sent && out.length < 20; i++) {
    const f = rateFlow(run, i);
    if (!have.has(`${f.sport}>${f.dport}`)) out.push(`${f.sport}>${f.dport}`);
  }
  return out;
}

// In gw1's namespace: counts the addon conntrack reader's calls into JavaScript and the NEW records
// they carry; prints one line when subscribed and one summary on 'stop' (stdin).
const BATCH_COUNTER = `
const { netlinkNative } = await import(process.argv[1] + '/agent/native/netlink.js');
const a = netlinkNative();
let batches = 0, records = 0;
const reader = new a.ConntrackReader([1], 8 << 20, (recs) => { batches++; if (recs) records += recs.length / a.conntrackRecordBytes; });
process.stdout.write('subscribed\\n');
process.stdin.on('data', () => { reader.close(); process.stdout.write(JSON.stringify({ batches, records }) + '\\n'); process.exit(0); });
`;

function records(dir: string): RecordLine[] {
  return readdirSync(dir).filter((n) => n.endsWith('.jsonl')).flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => parseRecordLine(l)).filter((r): r is RecordLine => r !== undefined);
}

t.test('conntrack events at 40,000 new flows/s', async (t) => {
  const lab = await withLab(t, { prefix: 'vcn', replicas: 1, family: '4' });
  const info = await lab.info();
  const v4 = info.ipv4!;
  const base = t.testdir();
  await ensureBuilt();
  const init = await runInit(lab, 'gw1', await lab.env('gw1'));
  t.equal(init.exitCode, 0, `egress-agent init applied the dataplane: ${init.stderr}`);
  await lab.exec('gw1', ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=1', 'net.netfilter.nf_conntrack_udp_timeout_stream=1']);

  await t.test('every flow sent has its start and end record; no event dropped', async (t) => {
    const cfg: SnatRecordsConfig = { ...DEFAULT_SNAT_RECORDS, dir: join(base, 'rate'), maxFileBytes: 256 << 20, maxFiles: 4 };
    const agent = await SnatAgent.start(t, lab, 'gw1', cfg, INTERFACES);
    // Destination ports 10000.. (one flow each; nothing listens there, the server answers with
    // rate-limited ICMP errors), from one client socket: one new conntrack entry per datagram.
    const sent = await udpFlowsAtRate(lab, { src: v4.client!, dst: v4.server!, rate: RATE, ms: RUN_MS, basePort: 10000 });
    // The claim is about 40,000 flows/s: a generator starved of CPU (each datagram's forwarding, NAT
    // and event cost it) sends them all, but slower, and would test an easier rate. On this 2-core
    // machine type it reaches 39,900/s, and 37,800/s with stress-ng holding one core (CI once saw
    // 31,800/s when the reader still woke per event and the generator was Python).
    const reached = Math.round(sent.sent / (sent.ms / 1000));
    t.ok(sent.sent >= (RATE * RUN_MS) / 1000 * 0.8 && reached >= RATE * 0.8, `the generator kept up: ${sent.sent} flows in ${sent.ms} ms (${reached}/s)`);
    t.equal(sent.failed, 0, 'no send failed');

    const s = await agent.waitFor((s) => s.flowsStarted.snat >= sent.sent, 30_000, 'every NEW event');
    t.equal(s.flowsStarted.snat, sent.sent, 'one NEW event per flow sent');
    const ended = await agent.waitFor((s) => s.recordsWritten >= 2 * sent.sent, DESTROY_WAIT_MS, 'every DESTROY event');
    await agent.stop();

    t.equal(ended.overflows, 0, 'no overflow (ENOBUFS)');
    t.equal(ended.eventsDropped, 0, 'the kernel dropped no event');
    t.equal(ended.parseErrors, 0);
    t.ok(ended.socketBufferBytes !== null && ended.socketBufferBytes >= 2 * cfg.socketBufferBytes, `the buffer was forced: ${ended.socketBufferBytes} bytes`);

    const mine = records(cfg.dir).filter((r): r is SnatRecord => r.event !== 'gap' && r.original.src === v4.client!);
    t.same(missing(sent, mine, 'start'), [], `every flow sent has a start record (${mine.filter((r) => r.event === 'start').length} start records)`);
    t.same(missing(sent, mine, 'end'), [], `every flow sent has an end record (${mine.filter((r) => r.event === 'end').length} end records)`);
    t.notOk(mine.some((r) => r.recovered), 'nothing needed recovering');
  });

  await t.test('a loss is counted exactly, marked, and open flows are recovered from a dump', async (t) => {
    // A 4 KiB request: the kernel's minimum, a handful of events. Long UDP timeouts keep the flows
    // in the table for the dump, so the NEW events lost in the burst are recoverable.
    await lab.exec('gw1', ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=60', 'net.netfilter.nf_conntrack_udp_timeout_stream=60']);
    const cfg: SnatRecordsConfig = { ...DEFAULT_SNAT_RECORDS, dir: join(base, 'loss'), socketBufferBytes: 4096 };
    const agent = await SnatAgent.start(t, lab, 'gw1', cfg, INTERFACES);
    const sent = await udpFlowsAtRate(lab, { src: v4.client!, dst: v4.server!, rate: RATE, ms: 250, basePort: 30000 });
    t.equal(sent.failed, 0, 'no send failed');
    const s = await agent.waitFor((s) => s.flowsStarted.snat + s.recovered >= sent.sent, 15_000, 'every flow started or recovered');
    const metrics = await agent.metrics();
    await agent.stop();
    t.ok(s.overflows > 0, `overflows counted: ${s.overflows}`);
    t.ok(s.eventsDropped !== null && s.eventsDropped > 0, `drops: ${s.eventsDropped}`);
    // Nothing ended, so every lost event is a NEW: the drop counter is exactly the NEW events missing.
    t.equal(s.eventsDropped, sent.sent - s.flowsStarted.snat, `drops (${s.eventsDropped}) = flows sent (${sent.sent}) - NEW events received (${s.flowsStarted.snat})`);
    t.equal(s.recovered, s.eventsDropped, 'every lost start recovered from the dump');
    const lines = records(cfg.dir);
    const starts = lines.filter((r): r is SnatRecord => r.event === 'start' && r.original.src === v4.client!);
    t.same(missing(sent, starts, 'start'), [], 'a start record for every flow sent');
    const recovered = starts.filter((r) => r.recovered);
    // A NEW still queued behind the dump finds its flow recovered already: such records are marked
    // too, but not counted as recovered (their event was not lost).
    t.ok(recovered.length >= s.recovered && recovered.length <= s.recovered + 1000, `recovered records are marked (${recovered.length}; ${s.recovered} lost)`);
    t.ok(recovered.every((r) => r.start !== null && Date.parse(r.start) <= Date.now()), 'with the kernel\'s start time');
    t.match(lines.find((r) => r.event === 'gap'), { reason: 'overflow' }, 'a gap marker');
    t.match(metrics, new RegExp(`^egress_agent_snat_events_dropped_total ${s.eventsDropped}$`, 'm'), 'the exact loss is exported');
    t.match(metrics, new RegExp(`^egress_agent_snat_records_recovered_total ${s.recovered}$`, 'm'), 'and the recovered records');
  });

  await t.test('the reader hands events to JavaScript in batches, not one call each', async (t) => {
    // Last: its flows stay in the table (for the loss test's 60 s), and this reader wants NEW events only.
    // The addon's reader in gw1's namespace, with a callback that only counts: before the reader
    // paced itself (nl_reader.h, Pace), a reader that kept up woke once per event (182,108 calls for
    // 200,000 events at 40,000/s) and that per-call cost alone starved a 2-core machine.
    const child = execa('ip', ['netns', 'exec', lab.ns('gw1'), process.execPath, '--input-type=module', '-e', BATCH_COUNTER, join(ROOT, 'dist')], { reject: false, stdin: 'pipe' });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        void child.then((r) => reject(new Error(`batch counter exited: ${String(r.stderr)}`)));
      });
      const sent = await udpFlowsAtRate(lab, { src: v4.client!, dst: v4.server!, rate: RATE, ms: 500, basePort: 40000 });
      await new Promise((r) => setTimeout(r, 1000));
      child.stdin!.end('stop\n');
      const out = JSON.parse(String((await child).stdout).trim().split('\n').pop()!) as { batches: number; records: number };
      t.equal(out.records, sent.sent, `every NEW event read (${out.records} of ${sent.sent} flows)`);
      t.ok(out.batches * 5 <= out.records, `at least 5 events per JavaScript call on average: ${out.batches} calls for ${out.records} events`);
    } finally {
      child.kill();
    }
  });
});
