// Upstream monitor options: defaults, validation errors that name the key, the probe flag syntax.
import t from 'tap';
import { parseProbeFlag, resolveUpstreamOptions, UpstreamOptionsError, type UpstreamFamily } from '../../agent/config/upstream-options.js';

const families: UpstreamFamily[] = [
  { family: 4, interface: 'net1', gateway: '172.17.0.1' },
  { family: 6, interface: 'net1', gateway: 'fd00:172:17::1' },
];

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof UpstreamOptionsError) return err.problems;
    throw err;
  }
  throw new Error('expected an UpstreamOptionsError');
}

t.test('defaults', async (t) => {
  const o = resolveUpstreamOptions({ families, probes: [{ kind: 'icmp', address: '198.51.100.10' }] });
  t.same(o, {
    families, holdDownMs: 5000, probeFailureAction: 'report', neighbourVerifyIntervalMs: 1000,
    probes: [{ kind: 'icmp', address: '198.51.100.10', family: 4, name: 'icmp 198.51.100.10', intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3 }],
  });
});

t.test('probe kinds, names and per-probe timing over probeDefaults', async (t) => {
  const o = resolveUpstreamOptions({
    families,
    probeDefaults: { intervalMs: 2000, fall: 5 },
    probes: [
      { kind: 'tcp', address: '2001:db8:100::10', port: 443, timeoutMs: 800 },
      { kind: 'http', url: 'http://[2001:db8:100::10]:8080/healthz?x=1', name: 'web' },
      { kind: 'http', url: 'http://198.51.100.10/' },
    ],
  });
  t.same(o.probes[0], { kind: 'tcp', address: '2001:db8:100::10', family: 6, port: 443, name: 'tcp [2001:db8:100::10]:443', intervalMs: 2000, timeoutMs: 800, rise: 2, fall: 5 });
  t.match(o.probes[1], { kind: 'http', name: 'web', address: '2001:db8:100::10', family: 6, port: 8080, path: '/healthz?x=1', host: '[2001:db8:100::10]:8080' });
  t.match(o.probes[2], { kind: 'http', name: 'http http://198.51.100.10/', port: 80, path: '/', family: 4 });
});

t.test('every problem is named, nothing is returned half-valid', async (t) => {
  const p = problems(() => resolveUpstreamOptions({
    families: [{ family: 4, interface: 'net1', gateway: 'fd00::1' }, { family: 4, interface: '', gateway: '172.17.0.1' }],
    holdDownMs: -1,
    probeFailureAction: 'panic' as 'report',
    neighbourVerifyIntervalMs: 5,
    probes: [
      { kind: 'icmp', address: '198.51.100.300' },
      { kind: 'tcp', address: '2001:db8::1', port: 0 },
      { kind: 'icmp', address: '198.51.100.10', timeoutMs: 1000 },
      { kind: 'http', url: 'https://198.51.100.10/' },
      { kind: 'http', url: 'http://example.com/' },
      { kind: 'udp', address: '1.2.3.4' } as never,
    ],
  }));
  t.same(p, [
    'holdDownMs: must be an integer 0..3600000 (got -1)',
    'neighbourVerifyIntervalMs: must be an integer 100..3600000 (got 5)',
    'probeFailureAction: must be "report" or "withdraw" (got "panic")',
    'families[0].gateway: fd00::1 is not an IPv4 address',
    'families[1].family: IPv4 is listed twice',
    'families[1].interface: must be an interface name of 1..15 characters (got "")',
    'probes[0].address: "198.51.100.300" not an IPv4 address: 300 is greater than 255',
    'probes[1].port: must be an integer 1..65535 (got 0)',
    'probes[2].timeoutMs: must be below intervalMs (1000 >= 1000)',
    'probes[3].url: only http:// is supported (got https://)',
    'probes[4].url: the host must be an IP address literal (got "example.com")',
    'probes[5].kind: must be icmp, tcp or http (got "udp")',
  ]);
});

t.test('probe family must be monitored; names unique; a family is required', async (t) => {
  t.same(problems(() => resolveUpstreamOptions({
    families: [families[0]!],
    probes: [{ kind: 'icmp', address: '2001:db8::1' }, { kind: 'icmp', address: '198.51.100.10' }, { kind: 'icmp', address: '198.51.100.10' }],
  })), [
    'probes[0]: icmp 2001:db8::1 is IPv6 but no IPv6 upstream family is monitored',
    'probes[2].name: "icmp 198.51.100.10" is used twice',
  ]);
  t.same(problems(() => resolveUpstreamOptions({ families: [] })), ['families: at least one address family is required']);
});

t.test('neighbourVerifyIntervalMs 0 turns active re-verification off', async (t) => {
  t.equal(resolveUpstreamOptions({ families, neighbourVerifyIntervalMs: 0 }).neighbourVerifyIntervalMs, 0);
});

t.test('probe flag syntax', async (t) => {
  t.same(parseProbeFlag('icmp:198.51.100.10'), { kind: 'icmp', address: '198.51.100.10' });
  t.same(parseProbeFlag('icmp:2001:db8::1'), { kind: 'icmp', address: '2001:db8::1' });
  t.same(parseProbeFlag('tcp:198.51.100.10:443'), { kind: 'tcp', address: '198.51.100.10', port: 443 });
  t.same(parseProbeFlag('tcp:[2001:db8::1]:443'), { kind: 'tcp', address: '2001:db8::1', port: 443 });
  t.same(parseProbeFlag('http://198.51.100.10:8080/healthz'), { kind: 'http', url: 'http://198.51.100.10:8080/healthz' });
  t.throws(() => parseProbeFlag('tcp:2001:db8::1:443'), /probe "tcp:2001:db8::1:443": expected icmp:ADDR/);
  t.throws(() => parseProbeFlag('ping 1.2.3.4'), UpstreamOptionsError);
});
