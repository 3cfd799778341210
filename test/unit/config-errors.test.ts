// Bad inputs: each case asserts the exact source and key the error names, the value shown and a
// message fragment, and that nothing else went wrong (so the error is attributed precisely).
import t from 'tap';
import { loadConfig, formatConfigErrors, type ConfigError } from '../../agent/config/index.js';

const V4 = { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1' };
const BFD = { POD_IPS: '10.16.0.12', BFD_PEER_IPS: '10.255.255.255' };

function errorsOf(env: Record<string, string>, flags: Record<string, unknown> = {}): ConfigError[] {
  const r = loadConfig({ env, flags });
  return r.ok ? [] : r.errors;
}

interface Case {
  name: string;
  env: Record<string, string>;
  flags?: Record<string, unknown>;
  want: { source: ConfigError['source']; key: string; value: string; message: RegExp };
}

const cases: Case[] = [
  { name: 'IPv6 address in an IPv4 gateway', env: { ...V4, INTERNAL_GATEWAY_IPV4: 'fd00::1' },
    want: { source: 'env', key: 'INTERNAL_GATEWAY_IPV4', value: 'fd00::1', message: /is an IPv6 address, but this setting takes IPv4/ } },
  { name: 'not an IP', env: { ...V4, EXTERNAL_GATEWAY_IPV4: 'gateway.local' },
    want: { source: 'env', key: 'EXTERNAL_GATEWAY_IPV4', value: 'gateway.local', message: /not an IP address/ } },
  { name: 'octet out of range', env: { ...V4, EXTERNAL_GATEWAY_IPV4: '172.17.0.300' },
    want: { source: 'env', key: 'EXTERNAL_GATEWAY_IPV4', value: '172.17.0.300', message: /300 is greater than 255/ } },
  { name: 'loopback gateway', env: { ...V4, INTERNAL_GATEWAY_IPV4: '127.0.0.1' },
    want: { source: 'env', key: 'INTERNAL_GATEWAY_IPV4', value: '127.0.0.1', message: /loopback address, not usable/ } },
  { name: 'IPv4-mapped IPv6 gateway', env: { ...V4, INTERNAL_GATEWAY_IPV6: '::ffff:10.0.0.1', EXTERNAL_GATEWAY_IPV6: 'fd00::1' },
    want: { source: 'env', key: 'INTERNAL_GATEWAY_IPV6', value: '::ffff:10.0.0.1', message: /IPv4-mapped/ } },
  { name: 'prefix out of range', env: { ...V4, NO_SNAT_SOURCES_IPV4: '10.0.0.0/33' },
    want: { source: 'env', key: 'NO_SNAT_SOURCES_IPV4', value: '10.0.0.0/33', message: /\/33 is out of range for IPv4 \(0-32\)/ } },
  { name: 'IPv6 prefix out of range', env: { INTERNAL_GATEWAY_IPV6: 'fd00::1', EXTERNAL_GATEWAY_IPV6: 'fd01::1', NO_SNAT_SOURCES_IPV6: 'fd00:1::/129' },
    want: { source: 'env', key: 'NO_SNAT_SOURCES_IPV6', value: 'fd00:1::/129', message: /\/129 is out of range for IPv6/ } },
  { name: 'wrong family in a CIDR list', env: { ...V4, NO_SNAT_SOURCES_IPV4: 'fd00::/64' },
    want: { source: 'env', key: 'NO_SNAT_SOURCES_IPV4', value: 'fd00::/64', message: /is IPv6, but this list takes IPv4/ } },
  { name: 'stray comma', env: { ...V4, NO_SNAT_SOURCES_IPV4: '10.0.0.0/8,' },
    want: { source: 'env', key: 'NO_SNAT_SOURCES_IPV4', value: '', message: /entry 2 is empty/ } },
  { name: 'BFD_MULTI out of range', env: { ...V4, ...BFD, BFD_MULTI: '256' },
    want: { source: 'env', key: 'BFD_MULTI', value: '256', message: /between 1 and 255/ } },
  { name: 'timer zero', env: { ...V4, ...BFD, BFD_MIN_TX: '0' },
    want: { source: 'env', key: 'BFD_MIN_TX', value: '0', message: /between 1 and 3600000/ } },
  { name: 'timer above the CRD maximum', env: { ...V4, ...BFD, BFD_MIN_RX: '3600001' },
    want: { source: 'env', key: 'BFD_MIN_RX', value: '3600001', message: /between 1 and 3600000/ } },
  { name: 'timer not a number', env: { ...V4, ...BFD, BFD_MIN_RX: 'fast' },
    want: { source: 'env', key: 'BFD_MIN_RX', value: 'fast', message: /expected an integer/ } },
  { name: 'external gateway without internal', env: { ...V4, EXTERNAL_GATEWAY_IPV6: 'fd00:172::1' },
    want: { source: 'env', key: 'EXTERNAL_GATEWAY_IPV6', value: 'fd00:172::1', message: /IPv6 internal gateway is not/ } },
  { name: 'same internal and external gateway', env: { ...V4, EXTERNAL_GATEWAY_IPV4: '10.16.0.1' },
    want: { source: 'env', key: 'EXTERNAL_GATEWAY_IPV4', value: '10.16.0.1', message: /same address as the internal gateway/ } },
  { name: 'no family configured', env: {},
    want: { source: 'env', key: 'INTERNAL_GATEWAY_IPV4', value: '', message: /no address family is configured.*--allow-no-families/ } },
  { name: 'EVPN without BGP', env: { ...V4, ENABLE_EVPN: 'true', VNI: '100' },
    want: { source: 'env', key: 'ENABLE_EVPN', value: 'true', message: /EVPN needs BGP mode: set ENABLE_BGP=true/ } },
  { name: 'EVPN without VNI', env: { ...V4, ENABLE_BGP: 'true', ENABLE_EVPN: 'true' },
    want: { source: 'env', key: 'VNI', value: '', message: /is required with ENABLE_EVPN=true \(1\.\.16777215\)/ } },
  { name: 'VNI 0', env: { ...V4, ENABLE_BGP: 'true', ENABLE_EVPN: 'true', VNI: '0' },
    want: { source: 'env', key: 'VNI', value: '0', message: /between 1 and 16777215/ } },
  { name: 'VNI above 24 bits', env: { ...V4, ENABLE_BGP: 'true', ENABLE_EVPN: 'true', VNI: '16777216' },
    want: { source: 'env', key: 'VNI', value: '16777216', message: /between 1 and 16777215/ } },
  { name: 'VNI not a number', env: { ...V4, ENABLE_BGP: 'true', ENABLE_EVPN: 'true', VNI: 'ten' },
    want: { source: 'env', key: 'VNI', value: 'ten', message: /expected an integer/ } },
  { name: 'bad boolean', env: { ...V4, ENABLE_BGP: 'yes please' },
    want: { source: 'env', key: 'ENABLE_BGP', value: 'yes please', message: /expected true or false/ } },
  { name: 'BFD families do not pair', env: { ...V4, POD_IPS: '10.16.0.12', BFD_PEER_IPS: 'fdff::1' },
    want: { source: 'env', key: 'BFD_PEER_IPS', value: 'fdff::1', message: /local IPv4, peers IPv6.*no BFD session can run/ } },
  { name: 'BFD enabled without peers', env: { ...V4, EGRESS_AGENT_BFD_ENABLED: 'true', POD_IPS: '10.16.0.12' },
    want: { source: 'env', key: 'BFD_PEER_IPS', value: '', message: /BFD is enabled but no peer address/ } },
  { name: 'BFD peers without local addresses', env: { ...V4, BFD_PEER_IPS: '10.255.255.255' },
    want: { source: 'env', key: 'POD_IPS', value: '', message: /no local address/ } },
  { name: 'peer is a local address', env: { ...V4, POD_IPS: '10.16.0.12', BFD_PEER_IPS: '10.16.0.12' },
    want: { source: 'env', key: 'BFD_PEER_IPS', value: '10.16.0.12', message: /is also a local address/ } },
  { name: 'duplicate pod IP', env: { ...V4, POD_IPS: '10.16.0.12,10.16.0.12', BFD_PEER_IPS: '10.255.255.255' },
    want: { source: 'env', key: 'POD_IPS', value: '10.16.0.12', message: /entry 2 "10\.16\.0\.12" duplicates entry 1/ } },
  { name: 'interface name too long', env: { ...V4, EGRESS_AGENT_INTERNAL_INTERFACE: 'a-very-long-ifname' },
    want: { source: 'env', key: 'EGRESS_AGENT_INTERNAL_INTERFACE', value: 'a-very-long-ifname', message: /at most 15 bytes/ } },
  { name: 'same internal and external interface', env: { ...V4, EGRESS_AGENT_INTERNAL_INTERFACE: 'eth0' }, flags: { externalInterface: 'eth0' },
    want: { source: 'flag', key: '--external-interface', value: 'eth0', message: /same interface as the internal one/ } },
  { name: 'relative socket path (flag)', env: V4, flags: { socket: 'agent.sock' },
    want: { source: 'flag', key: '--socket', value: 'agent.sock', message: /must be an absolute path/ } },
  { name: 'socket path longer than sun_path', env: V4, flags: { compatSocket: `/${'x'.repeat(120)}` },
    want: { source: 'flag', key: '--compat-socket', value: `/${'x'.repeat(120)}`, message: /at most 107 bytes/ } },
  { name: 'listen address without colon', env: { ...V4, BFDD_METRICS_ADDRESS: '10669' },
    want: { source: 'env', key: 'BFDD_METRICS_ADDRESS', value: '10669', message: /^no port \(use ":PORT", "HOST:PORT" or "\[IPv6\]:PORT"\)$/ } },
  { name: 'listen port out of range', env: V4, flags: { healthListen: '0.0.0.0:70000' },
    want: { source: 'flag', key: '--health-listen', value: '0.0.0.0:70000', message: /port "70000" is not 0-65535/ } },
  // Empty brackets passed validation and failed only when the server bound, after the dataplane was applied.
  { name: 'listen address with empty brackets', env: V4, flags: { healthListen: '[]:10669' },
    want: { source: 'flag', key: '--health-listen', value: '[]:10669', message: /empty brackets/ } },
  { name: 'listen host that is not an address', env: V4, flags: { healthListen: 'eth0:10669' },
    want: { source: 'flag', key: '--health-listen', value: 'eth0:10669', message: /host "eth0" is not an IPv4 address/ } },
  { name: 'unknown log level', env: { ...V4, EGRESS_AGENT_LOG_LEVEL: 'verbose' },
    want: { source: 'env', key: 'EGRESS_AGENT_LOG_LEVEL', value: 'verbose', message: /expected one of: fatal, error/ } },
  { name: 'reconcile interval too small', env: V4, flags: { reconcileIntervalMs: '10' },
    want: { source: 'flag', key: '--reconcile-interval-ms', value: '10', message: /between 100 and 3600000/ } },
  { name: 'snatTo of the wrong family', env: { ...V4, EGRESS_AGENT_SNAT_TO_IPV4: 'fd00::5' },
    want: { source: 'env', key: 'EGRESS_AGENT_SNAT_TO_IPV4', value: 'fd00::5', message: /takes IPv4/ } },
  { name: 'auth type unknown', env: { ...V4, EGRESS_AGENT_BFD_AUTH_TYPE: 'sha256' },
    want: { source: 'env', key: 'EGRESS_AGENT_BFD_AUTH_TYPE', value: '<redacted>', message: /expected one of: none, simple/ } },
  { name: 'auth key file with auth type none', env: { ...V4, EGRESS_AGENT_BFD_AUTH_KEY_ENV: 'BFD_KEY', BFD_KEY: 'x' },
    want: { source: 'env', key: 'EGRESS_AGENT_BFD_AUTH_KEY_ENV', value: '<redacted>', message: /bfd\.auth\.type is none/ } },
  { name: 'auth key variable not set', env: { ...V4, EGRESS_AGENT_BFD_AUTH_TYPE: 'simple', EGRESS_AGENT_BFD_AUTH_KEY_ID: '1', EGRESS_AGENT_BFD_AUTH_KEY_ENV: 'MISSING_KEY' },
    want: { source: 'env', key: 'EGRESS_AGENT_BFD_AUTH_KEY_ENV', value: '<redacted>', message: /the environment variable it names \(the key\) is not set/ } },
  { name: 'auth key file missing', env: { ...V4, EGRESS_AGENT_BFD_AUTH_TYPE: 'keyed-md5', EGRESS_AGENT_BFD_AUTH_KEY_ID: '1', EGRESS_AGENT_BFD_AUTH_KEY_FILE: '/nonexistent/vcx/bfd.key' },
    want: { source: 'env', key: 'EGRESS_AGENT_BFD_AUTH_KEY_FILE', value: '/nonexistent/vcx/bfd.key', message: /cannot read the key file: ENOENT/ } },
  { name: 'auth key id out of range', env: { ...V4, EGRESS_AGENT_BFD_AUTH_TYPE: 'simple', EGRESS_AGENT_BFD_AUTH_KEY_ID: '256', EGRESS_AGENT_BFD_AUTH_KEY_ENV: 'K', K: 'pw' },
    want: { source: 'env', key: 'EGRESS_AGENT_BFD_AUTH_KEY_ID', value: '<redacted>', message: /between 0 and 255/ } },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const errors = errorsOf(c.env, c.flags);
    t.same(errors, [{ source: c.want.source, key: c.want.key, value: c.want.value, message: errors[0]?.message ?? '' }], 'exactly one error, on the right input');
    t.match(errors[0]?.message ?? '', c.want.message);
  });
}

t.test('every error is collected in one run, in a readable form', async (t) => {
  const errors = errorsOf({
    INTERNAL_GATEWAY_IPV4: 'fd00::1', EXTERNAL_GATEWAY_IPV4: '172.17.0.300', NO_SNAT_SOURCES_IPV4: '10.0.1.0/24,,10.0.0.0/33,fd00::/64,10.2.0.0/16,10.2.0.0/16',
    BFD_MULTI: '0', BFD_PEER_IPS: 'x', ENABLE_EVPN: 'true',
  }, { socket: 'rel' });
  t.same(errors.map((e) => e.key), [
    'INTERNAL_GATEWAY_IPV4', 'EXTERNAL_GATEWAY_IPV4', 'NO_SNAT_SOURCES_IPV4', 'NO_SNAT_SOURCES_IPV4', 'NO_SNAT_SOURCES_IPV4',
    'BFD_PEER_IPS', 'BFD_MULTI', '--socket', 'ENABLE_EVPN', 'VNI',
  ]);
  const text = formatConfigErrors(errors);
  t.equal(text.split('\n').length, errors.length, 'one line per error');
  t.match(text, /^env INTERNAL_GATEWAY_IPV4="fd00::1": is an IPv6 address, but this setting takes IPv4$/m);
  t.match(text, /^flag --socket="rel": must be an absolute path$/m);
});

t.test('the auth key never appears in errors', async (t) => {
  const secret = 'this-is-a-secret-longer-than-16';
  const errors = errorsOf({ ...V4, EGRESS_AGENT_BFD_AUTH_TYPE: 'simple', EGRESS_AGENT_BFD_AUTH_KEY_ID: '1', EGRESS_AGENT_BFD_AUTH_KEY_ENV: 'K', K: secret });
  t.same(errors.map((e) => [e.key, e.value]), [['EGRESS_AGENT_BFD_AUTH_KEY_ENV', '<redacted>']]);
  t.match(errors[0]!.message, /the key has 31 bytes; simple takes 1 to 16/);
  t.notMatch(formatConfigErrors(errors), secret);
});

t.test('auth type without key id and key: both named', async (t) => {
  const errors = errorsOf({ ...V4, EGRESS_AGENT_BFD_AUTH_TYPE: 'keyed-sha1' });
  t.same(errors.map((e) => e.key), ['EGRESS_AGENT_BFD_AUTH_KEY_ID', 'EGRESS_AGENT_BFD_AUTH_KEY_FILE']);
  t.match(errors[1]!.message, /a key is required with auth type keyed-sha1.*never inline/);
});
