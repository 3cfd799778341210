// The recorder against a fake `conntrack` executable (a script that prints captured conntrack
// output; the recorder's "conntrack-tool" event source) and a fake table dump: process handling,
// records, overflow and restart reporting, without root or a kernel.
import t, { type Test } from 'tap';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../agent/lib/log.js';
import { DEFAULT_SNAT_RECORDS, type SnatRecordsConfig } from '../../agent/config/snat-records.js';
import { parseRecordLine } from '../../agent/snat/record.js';
import { SnatRecorder, type SnatRecorderDeps } from '../../agent/snat/recorder.js';
import { parseConntrackXmlLine } from '../../agent/snat/conntrack-xml.js';
import type { RecordLine, SnatStatus } from '../../agent/snat/types.js';
import * as fx from './fixtures/snat-conntrack.js';

/** One scratch directory per test (t.testdir() empties the directory each time it is called). */
const scratch = new WeakMap<Test, string>();
function testDir(t: Test): string {
  let d = scratch.get(t);
  if (!d) scratch.set(t, (d = t.testdir()));
  return d;
}

type Step = { out: string } | { err: string } | { sleep: number } | { exit: number };

interface Fake {
  command: string;
  invocations: () => string[];
  /** The table dump the recorder reads (the XML lines given, parsed), and how often it did. */
  dump: NonNullable<SnatRecorderDeps['dump']>;
  dumps: () => number;
}

/**
 * A fake conntrack: `-E` runs the steps of invocation N (the last list repeats) and then waits for
 * SIGTERM. And a fake dump of the given lines (IPv4 then IPv6), or failing with `fail`.
 */
function fakeConntrack(t: Test, events: Step[][], dump: { ipv4?: string[]; ipv6?: string[]; fail?: string } = {}): Fake {
  const dir = join(testDir(t), `fake-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const spec = join(dir, 'spec.json');
  const calls = join(dir, 'calls.log');
  writeFileSync(spec, JSON.stringify({ events, dump }));
  writeFileSync(calls, '');
  const script = join(dir, 'conntrack');
  writeFileSync(script, `#!/usr/bin/env node
const fs = require('node:fs');
const spec = JSON.parse(fs.readFileSync(${JSON.stringify(spec)}, 'utf8'));
fs.appendFileSync(${JSON.stringify(calls)}, process.argv.slice(2).join(' ') + '\\n');
const args = process.argv.slice(2);
const n = fs.readFileSync(${JSON.stringify(calls)}, 'utf8').split('\\n').filter((l) => l.startsWith('-E')).length - 1;
const steps = spec.events[Math.min(n, spec.events.length - 1)];
const size = Number(args[args.indexOf('--buffer-size') + 1]) * 2;
process.on('SIGTERM', () => process.exit(0));
(async () => {
  for (const s of steps) {
    if ('out' in s) process.stdout.write(s.out + '\\n');
    else if ('err' in s) process.stderr.write(s.err + '\\n');
    else if ('sleep' in s) await new Promise((r) => setTimeout(r, s.sleep));
    else if ('exit' in s) process.exit(s.exit);
  }
  setInterval(() => {}, 1000);
})();
`.replace("(async () => {", `process.stderr.write('NOTICE: Netlink socket buffer size has been set to ' + size + ' bytes.\\n');\n(async () => {`));
  chmodSync(script, 0o755);
  let dumps = 0;
  const fakeDump: Fake['dump'] = (onEntry) => {
    dumps++;
    if (dump.fail) throw new Error(dump.fail);
    const lines = [...(dump.ipv4 ?? []), ...(dump.ipv6 ?? [])];
    for (const l of lines) onEntry(parseConntrackXmlLine(l)!);
    return { entries: lines.length, malformed: 0, interrupted: false };
  };
  return { command: script, invocations: () => readFileSync(calls, 'utf8').split('\n').filter(Boolean), dump: fakeDump, dumps: () => dumps };
}

function harness(t: Test, fake: Pick<Fake, 'command'> & Partial<Fake>, overrides: Partial<SnatRecordsConfig> = {}) {
  const dir = join(testDir(t), `records-${Math.random().toString(36).slice(2)}`);
  const logs: Record<string, unknown>[] = [];
  const stdoutLines: string[] = [];
  const sysctlWrites: [string, string][] = [];
  const sysctls: Record<string, string> = {
    'net/netfilter/nf_conntrack_acct': '0',
    'net/netfilter/nf_conntrack_timestamp': '0',
    'net/netfilter/nf_conntrack_events': '2',
  };
  const config: SnatRecordsConfig = { ...DEFAULT_SNAT_RECORDS, dir, eventSource: 'conntrack-tool', conntrackCommand: fake.command, socketBufferBytes: 4096, ...overrides };
  const logger = createLogger('debug', { destination: new Writable({ write(chunk, _e, cb) { logs.push(JSON.parse(String(chunk))); cb(); } }) });
  const recorder = new SnatRecorder(config, {
    logger,
    stdout: new Writable({ write(chunk, _e, cb) { stdoutLines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } }),
    isLocal: (ip) => ['172.17.0.11', '10.16.0.11'].includes(ip),
    sysctl: { read: async (k) => sysctls[k], write: async (k, v) => { sysctlWrites.push([k, v]); sysctls[k] = v; } },
    dump: fake.dump ?? (() => ({ entries: 0, malformed: 0, interrupted: false })),
    portRange: async () => ({ min: 1024, max: 65535 }),
  });
  t.teardown(() => recorder.stop());
  const records = (): RecordLine[] => readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean)).map((l) => parseRecordLine(l)!);
  return { recorder, dir, logs, stdoutLines, sysctlWrites, records };
}

/** Polls the status until `ok` (bounded: the fake prints immediately; 10 s covers a loaded machine). */
async function until(recorder: SnatRecorder, ok: (s: SnatStatus) => boolean, what: string): Promise<SnatStatus> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = recorder.status();
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const out = (line: string): Step => ({ out: line });

t.test('records SNAT flows, counts flows, sets the sysctls', async (t) => {
  const fake = fakeConntrack(t, [[
    out(fx.XML_HEADER), out('<conntrack>'),
    out(fx.NEW_TCP4_SNAT), out(fx.NEW_TCP4_FORWARDED), out(fx.NEW_UDP4_LOCAL), out(fx.NEW_UDP6_SNAT),
    out(fx.DESTROY_TCP4_SNAT), out(fx.DESTROY_TCP4_FORWARDED), out(fx.DESTROY_ICMP4_SNAT),
  ]], { ipv4: [fx.DUMP_TCP4_SNAT] });
  const h = harness(t, fake, { stdout: true });
  await h.recorder.start();
  t.same(h.sysctlWrites, [['net/netfilter/nf_conntrack_acct', '1'], ['net/netfilter/nf_conntrack_timestamp', '1']], 'events=2 (on while listening) left alone');
  t.ok(fake.invocations().includes('-E -e NEW,DESTROY -o xml,ktimestamp,id --buffer-size 4096'));
  const s = await until(h.recorder, (s) => s.eventsReceived === 7, '7 events');
  t.equal(s.running, true);
  t.equal(s.socketBufferBytes, null, 'the fake has no kernel event socket to ask about');
  t.equal(s.eventsDropped, null);
  t.equal(s.parseErrors, 0);
  t.equal(s.overflows, 0);
  t.same(s.flowsStarted, { snat: 2, forwarded: 1 });
  await h.recorder.stop();
  const recs = h.records();
  t.same(recs.map((r) => (r.event === 'gap' ? 'gap' : `${r.event} ${r.proto} ${r.original.src}`)), [
    'start tcp 10.16.0.100', 'start udp fd00:10:16::100', 'end tcp 10.16.0.100', 'end icmp 10.16.0.100',
  ], 'SNAT flows only; forwarded and local flows are not recorded');
  t.equal(h.recorder.status().recordsWritten, 4);
  t.same(h.stdoutLines.map((l) => parseRecordLine(l)), recs, 'the same lines on stdout');
  t.equal(fake.dumps(), 1, 'counted the table');
  t.equal(h.recorder.status().running, false);
});

t.test('flow counts start from the table dump', async (t) => {
  const fake = fakeConntrack(t, [[{ sleep: 300 }, out(fx.NEW_TCP4_FORWARDED)]], { ipv4: [fx.DUMP_TCP4_SNAT, fx.DUMP_TCP4_SNAT.replace('<id>2492823622</id>', '<id>7</id>')] });
  const h = harness(t, fake);
  await h.recorder.start();
  const s = await until(h.recorder, (s) => s.eventsReceived === 1 && s.flows.forwarded === 1, 'the dump and one event');
  t.same(s.flows, { snat: 2, forwarded: 1 });
});

t.test('start records can be turned off', async (t) => {
  const fake = fakeConntrack(t, [[out(fx.NEW_TCP4_SNAT), out(fx.DESTROY_TCP4_SNAT)]]);
  const h = harness(t, fake, { recordStart: false });
  await h.recorder.start();
  await until(h.recorder, (s) => s.eventsReceived === 2, '2 events');
  await h.recorder.stop();
  t.same(h.records().map((r) => r.event), ['end']);
});

t.test('overflows are counted, logged once per burst, marked in the records and shown in status', async (t) => {
  const fake = fakeConntrack(t, [[out(fx.NEW_TCP4_SNAT), ...fx.ENOBUFS_WARNING.map((err) => ({ err })), ...fx.ENOBUFS_WARNING.map((err) => ({ err })), out(fx.DESTROY_TCP4_SNAT)]]);
  const h = harness(t, fake);
  await h.recorder.start();
  const s = await until(h.recorder, (s) => s.eventsReceived === 2 && s.overflows === 2, 'two overflows');
  t.ok(s.lastOverflowAt && Math.abs(Date.parse(s.lastOverflowAt) - Date.now()) < 60_000, 'lastOverflowAt is recent');
  await h.recorder.stop();
  const gaps = h.records().filter((r) => r.event === 'gap');
  t.equal(gaps.length, 1, 'one marker for the burst');
  t.match(gaps[0], { reason: 'overflow', count: 2 });
  const warned = h.logs.filter((l) => String(l.msg).includes('ENOBUFS'));
  t.equal(warned.length, 1, 'logged once');
  t.equal(warned[0]!.level, 40, 'at warn');
});

t.test('unparsable lines are counted and skipped', async (t) => {
  const fake = fakeConntrack(t, [[out('<flow type="new">broken</flow>'), out(fx.DESTROY_TCP4_SNAT)]]);
  const h = harness(t, fake);
  await h.recorder.start();
  const s = await until(h.recorder, (s) => s.eventsReceived === 1 && s.parseErrors === 1, 'one parse error');
  t.equal(s.parseErrors, 1);
});

t.test('an unexpected exit is reported and the process restarted', async (t) => {
  const fake = fakeConntrack(t, [[out(fx.NEW_TCP4_SNAT), { err: 'conntrack v1.4.7 (conntrack-tools): something broke' }, { sleep: 100 }, { exit: 1 }], [out(fx.DESTROY_TCP4_SNAT)]]);
  const h = harness(t, fake);
  await h.recorder.start();
  const s = await until(h.recorder, (s) => s.restarts === 1 && s.running && s.eventsReceived === 2, 'a restart');
  t.match(s.lastError, /conntrack event source ended: .*exited \(code 1.*something broke/);
  await h.recorder.stop();
  t.same(h.records().map((r) => r.event), ['start', 'gap', 'end']);
  t.match(h.records()[1], { event: 'gap', reason: 'restart', count: 1 });
});

t.test('start fails with the reason when conntrack cannot subscribe or is missing', async (t) => {
  // What conntrack 1.4.7 prints as uid 65534 without CAP_NET_ADMIN (captured).
  const denied = fakeConntrack(t, [[{ err: 'mnl_socket_bind: Operation not permitted' }, { err: "conntrack v1.4.7 (conntrack-tools): Can't open netlink socket" }, { exit: 1 }]]);
  // This fake prints the NOTICE first; a real conntrack fails before it. Drop the NOTICE line:
  writeFileSync(denied.command, readFileSync(denied.command, 'utf8').replace(/process\.stderr\.write\('NOTICE[^\n]*\n/, ''));
  const h = harness(t, denied);
  await t.rejects(h.recorder.start(), /SNAT records: .*exited \(code 1.*mnl_socket_bind: Operation not permitted \| .*Can't open netlink socket/);
  t.equal(h.recorder.status().running, false);
  t.match(h.recorder.status().lastError, /Operation not permitted/);

  const missing = harness(t, { command: join(testDir(t), 'no-such-conntrack') });
  await t.rejects(missing.recorder.start(), /SNAT records: .*no-such-conntrack/);
});

t.test('a sysctl that cannot be set is logged, recording still starts', async (t) => {
  const fake = fakeConntrack(t, [[out(fx.NEW_TCP4_SNAT)]]);
  const h = harness(t, fake);
  const failing = new SnatRecorder({ ...h.recorder.config }, {
    logger: createLogger('silent'),
    sysctl: { read: async () => undefined, write: async () => { throw new Error('read-only'); } },
    isLocal: () => false,
    dump: fake.dump,
    portRange: async () => ({ min: 1024, max: 65535 }),
  });
  t.teardown(() => failing.stop());
  await failing.start();
  await until(failing, (s) => s.eventsReceived === 1, 'one event');
  t.pass('started without the sysctls');
});
