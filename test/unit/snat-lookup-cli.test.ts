import t, { type Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import snatLookup, { parseAddressPort, parseTime, type SnatLookupOptions } from '../../agent/commands/snat-lookup.js';
import { formatRecord } from '../../agent/snat/record.js';
import { recordFileName } from '../../agent/snat/record-files.js';
import type { SnatRecord } from '../../agent/snat/types.js';

const END: SnatRecord = {
  schemaVersion: 1, event: 'end', proto: 'tcp',
  original: { src: '10.16.0.100', sport: 40001, dst: '198.51.100.10', dport: 8080 },
  translated: { src: '172.17.0.11', sport: 41234 },
  start: '2026-11-26T03:11:00.000Z', end: '2026-11-26T03:13:00.000Z', durationMs: 120000,
  bytes: { orig: 100, reply: 200 }, packets: { orig: 2, reply: 3 }, id: 1,
};
const END6: SnatRecord = { ...END, original: { ...END.original, src: 'fd00:10:16::100' }, translated: { src: 'fd00:172:17::11', sport: 41234 }, id: 2 };

function records(t: Test): string {
  const dir = join(t.testdir(), 'records');
  mkdirSync(dir);
  writeFileSync(join(dir, recordFileName(Date.parse('2026-11-26T03:00:00Z'))), formatRecord(END) + formatRecord(END6));
  return dir;
}

async function run(opts: SnatLookupOptions): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await snatLookup([], opts, { socket: '/nonexistent', logLevel: 'info' });
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

t.test('address:port and time arguments', async (t) => {
  t.same(parseAddressPort('172.17.0.10:41234'), { ip: '172.17.0.10', port: 41234 });
  t.same(parseAddressPort('[FD00:172:17::0011]:41234'), { ip: 'fd00:172:17::11', port: 41234 });
  t.throws(() => parseAddressPort('fd00::1:41234'), /expected IP:PORT \(IPv6 in brackets/);
  t.throws(() => parseAddressPort('172.17.0.10'), /expected IP:PORT/);
  t.throws(() => parseAddressPort('172.17.0.10:70000'), /port 70000 is not 0-65535/);
  t.throws(() => parseAddressPort('172.17.0.300:1'), /--translated "172.17.0.300:1": invalid IP address/);
  t.equal(parseTime('--at', '2026-11-26T03:12:00Z').toISOString(), '2026-11-26T03:12:00.000Z');
  t.equal(parseTime('--at', '2026-11-26T03:12:00.250+01:00').toISOString(), '2026-11-26T02:12:00.250Z');
  t.throws(() => parseTime('--at', '3:12'), /--at "3:12": not an ISO 8601 time/);
  t.throws(() => parseTime('--at', '2026-13-45T99:00:00Z'), /not an ISO 8601 time/);
});

t.test('translated lookup prints a table and exits 0', async (t) => {
  const dir = records(t);
  const r = await run({ translated: '172.17.0.11:41234', at: '2026-11-26T03:12:00Z', records: dir });
  t.equal(r.code, 0);
  const [header, row, ...rest] = r.stdout.trimEnd().split('\n');
  t.match(header, /^START\s+END\s+PROTO\s+SOURCE\s+DESTINATION\s+TRANSLATED\s+BYTES O\/R\s+PACKETS O\/R$/);
  t.match(row, /^2026-11-26T03:11:00.000Z\s+2026-11-26T03:13:00.000Z\s+tcp\s+10.16.0.100:40001\s+198.51.100.10:8080\s+172.17.0.11:41234\s+100\/200\s+2\/3$/);
  t.same(rest, []);
  t.equal(r.stderr, '');
});

t.test('IPv6 and --json', async (t) => {
  const dir = records(t);
  const r = await run({ translated: '[fd00:172:17::11]:41234', json: true, records: dir });
  t.equal(r.code, 0);
  const parsed = JSON.parse(r.stdout) as { flows: { original: { src: string } }[] };
  t.same(parsed.flows.map((f) => f.original.src), ['fd00:10:16::100']);
});

t.test('source lookup', async (t) => {
  const dir = records(t);
  const r = await run({ source: '10.16.0.100', from: '2026-11-26T03:00:00Z', to: '2026-11-26T03:30:00Z', records: dir });
  t.equal(r.code, 0);
  t.match(r.stdout, /172\.17\.0\.11:41234/);
});

t.test('no match exits 1 and says so; an old time warns about retention', async (t) => {
  const dir = records(t);
  const r = await run({ translated: '172.17.0.11:41234', at: '2026-11-25T03:12:00Z', records: dir });
  t.equal(r.code, 1);
  t.match(r.stdout, /no matching flows/);
  t.match(r.stderr, /records are retained only since 2026-11-26T03:00:00.000Z/);
});

t.test('bad input exits 2 naming the input', async (t) => {
  const dir = records(t);
  const cases: [SnatLookupOptions, RegExp][] = [
    [{}, /exactly one of --translated IP:PORT or --source IP/],
    [{ translated: '172.17.0.11:1', source: '10.16.0.100' }, /exactly one of/],
    [{ translated: '172.17.0.11' }, /--translated "172.17.0.11": expected IP:PORT/],
    [{ translated: '172.17.0.11:1', from: '2026-11-26T00:00:00Z' }, /--from\/--to go with --source/],
    [{ source: '10.16.0.100', at: '2026-11-26T00:00:00Z' }, /--at goes with --translated/],
    [{ source: '10.16.0' }, /--source "10.16.0": invalid IP address/],
    [{ source: '10.16.0.100', from: 'yesterday' }, /--from "yesterday": not an ISO 8601 time/],
    [{ source: '10.16.0.100', from: '2026-11-26T04:00:00Z', to: '2026-11-26T03:00:00Z' }, /--from .* is after --to/],
    [{ source: '10.16.0.100', limit: '0' }, /--limit "0": expected a positive integer/],
  ];
  for (const [opts, re] of cases) {
    const r = await run({ ...opts, records: dir });
    t.equal(r.code, 2, JSON.stringify(opts));
    t.match(r.stderr, re);
    t.equal(r.stdout, '');
  }
});
