// Upstream health and SNAT record settings: every source form (env, flag, file strings and
// objects) parses to the same config, and every bad value is named with its source, key and value.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ConfigError } from '../../agent/config/index.js';

const V4 = { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1' };
const V4file = { ipv4: { internalGateway: '10.16.0.1', externalGateway: '172.17.0.1' } };
const DUAL = { ...V4, INTERNAL_GATEWAY_IPV6: 'fd00:10:16::1', EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1' };

const errorsOf = (env: Record<string, string>, flags: Record<string, unknown> = {}, file?: string): ConfigError[] => {
  const r = loadConfig({ env, flags, ...(file ? { file } : {}) });
  return r.ok ? [] : r.errors;
};
const brief = (e: ConfigError[]) => e.map((x) => ({ source: x.source, key: x.key, value: x.value, message: x.message }));

t.test('upstream: env and flag forms; flags win', async (t) => {
  const r = loadConfig({
    env: { ...DUAL, EGRESS_AGENT_UPSTREAM_PROBES: 'icmp:198.51.100.10, tcp:[2001:db8:100::10]:443,http://198.51.100.10:8080/healthz', EGRESS_AGENT_UPSTREAM_HOLD_DOWN_MS: '2000' },
    flags: { upstreamHoldDownMs: '1500', upstreamProbeFailureAction: 'withdraw', upstreamNeighbourVerifyIntervalMs: '0' },
  });
  t.ok(r.ok, r.ok ? 'loaded' : JSON.stringify(r.errors));
  if (!r.ok) return;
  t.same(r.config.upstream, {
    enabled: true,
    probes: [
      { kind: 'icmp', address: '198.51.100.10' },
      { kind: 'tcp', address: '2001:db8:100::10', port: 443 },
      { kind: 'http', url: 'http://198.51.100.10:8080/healthz' },
    ],
    probeIntervalMs: 1000, probeTimeoutMs: 500, probeRise: 2, probeFall: 3,
    probeFailureAction: 'withdraw', holdDownMs: 1500, neighbourVerifyIntervalMs: 0,
  });
});

t.test('upstream: the file takes strings and objects', async (t) => {
  const file = join(t.testdir(), 'c.json');
  writeFileSync(file, JSON.stringify({
    ipv4: { internalGateway: '10.16.0.1', externalGateway: '172.17.0.1' },
    upstream: { probes: ['icmp:198.51.100.10', { kind: 'tcp', address: '198.51.100.10', port: 8080, fall: 5, name: 'echo' }], probeIntervalMs: 2000, probeTimeoutMs: 1500 },
  }));
  const r = loadConfig({ env: {}, file });
  t.ok(r.ok, r.ok ? 'loaded' : JSON.stringify(r.errors));
  if (!r.ok) return;
  t.same(r.config.upstream!.probes, [{ kind: 'icmp', address: '198.51.100.10' }, { kind: 'tcp', address: '198.51.100.10', port: 8080, fall: 5, name: 'echo' }]);
  t.equal(r.config.upstream!.probeIntervalMs, 2000);
});

t.test('upstream: every bad value is named, all in one run', async (t) => {
  const errors = errorsOf({
    ...V4,
    EGRESS_AGENT_UPSTREAM_ENABLED: 'yes',
    EGRESS_AGENT_UPSTREAM_PROBE_FAILURE_ACTION: 'panic',
    EGRESS_AGENT_UPSTREAM_HOLD_DOWN_MS: '-1',
    EGRESS_AGENT_UPSTREAM_NEIGHBOUR_VERIFY_INTERVAL_MS: '50',
    EGRESS_AGENT_UPSTREAM_PROBE_FALL: '0',
  });
  t.same(brief(errors).map((e) => [e.source, e.key, e.value]), [
    ['env', 'EGRESS_AGENT_UPSTREAM_ENABLED', 'yes'],
    ['env', 'EGRESS_AGENT_UPSTREAM_PROBE_FALL', '0'],
    ['env', 'EGRESS_AGENT_UPSTREAM_PROBE_FAILURE_ACTION', 'panic'],
    ['env', 'EGRESS_AGENT_UPSTREAM_HOLD_DOWN_MS', '-1'],
    ['env', 'EGRESS_AGENT_UPSTREAM_NEIGHBOUR_VERIFY_INTERVAL_MS', '50'],
  ]);
  t.match(errors[2]!.message, /expected one of: report, withdraw/);
  t.match(errors[4]!.message, /must be 0 \(off\) or an integer between 100 and 3600000/);
});

t.test('upstream: probe entries are checked against the configured families and their own rules', async (t) => {
  const errors = errorsOf({ ...V4, EGRESS_AGENT_UPSTREAM_PROBES: 'icmp:198.51.100.10,tcp:[2001:db8::1]:443,tcp:198.51.100.10:70000,http://example.com/x,ping:1.2.3.4' });
  t.same(brief(errors), [
    { source: 'env', key: 'EGRESS_AGENT_UPSTREAM_PROBES', value: 'ping:1.2.3.4', message: 'entry 5: expected icmp:ADDR, tcp:ADDR:PORT, tcp:[IPV6]:PORT or http://ADDR[:PORT]/PATH' },
  ], 'syntax first: the semantic check needs every entry parsed');
  const semantic = errorsOf({ ...V4, EGRESS_AGENT_UPSTREAM_PROBES: 'icmp:198.51.100.10,tcp:[2001:db8::1]:443,tcp:198.51.100.10:70000,http://example.com/x' });
  t.same(brief(semantic).map((e) => [e.key, e.value]), [
    ['EGRESS_AGENT_UPSTREAM_PROBES', 'tcp:[2001:db8::1]:443'],
    ['EGRESS_AGENT_UPSTREAM_PROBES', 'tcp:198.51.100.10:70000'],
    ['EGRESS_AGENT_UPSTREAM_PROBES', 'http://example.com/x'],
  ]);
  t.match(semantic[0]!.message, /^entry 2: tcp \[2001:db8::1\]:443 is IPv6 but no IPv6 upstream family is monitored/);
  t.match(semantic[1]!.message, /^entry 3 port: must be an integer 1\.\.65535/);
  t.match(semantic[2]!.message, /^entry 4 url: the host must be an IP address literal/);
});

t.test('upstream: file objects with unknown or missing keys, and a timeout not below the interval', async (t) => {
  const file = join(t.testdir(), 'c.json');
  writeFileSync(file, JSON.stringify({
    ipv4: { internalGateway: '10.16.0.1', externalGateway: '172.17.0.1' },
    upstream: { probes: [{ kind: 'tcp', address: '198.51.100.10' }, { kind: 'icmp', address: '198.51.100.10', colour: 'red' }] },
  }));
  const errors = errorsOf({}, {}, file);
  t.same(errors.map((e) => [e.source, e.key]), [['file', 'upstream.probes'], ['file', 'upstream.probes']]);
  t.match(errors[0]!.message, /entry 1: a tcp probe needs "port"/);
  t.match(errors[1]!.message, /entry 2: unknown key\(s\) "colour" for a icmp probe/);

  const timing = errorsOf({ ...V4, EGRESS_AGENT_UPSTREAM_PROBE_TIMEOUT_MS: '1000' });
  t.same(brief(timing).map((e) => [e.key, e.value]), [['EGRESS_AGENT_UPSTREAM_PROBE_TIMEOUT_MS', '1000']]);
  t.match(timing[0]!.message, /must be below upstream\.probeIntervalMs \(1000 >= 1000\)/);
  const defaults = errorsOf({ ...V4 }, { upstreamProbeIntervalMs: '400' });
  t.same(defaults.map((e) => [e.key, e.value]), [['upstream.probeTimeoutMs', '500']], 'a default that no longer fits is named, though nobody set it');
  writeFileSync(file, JSON.stringify({ ...V4file, upstream: { probes: [{ kind: 'icmp', address: '198.51.100.10', intervalMs: 400 }] } }));
  const own = errorsOf({}, {}, file);
  t.same(own.map((e) => [e.key, e.value]), [['upstream.probes', '{"kind":"icmp","address":"198.51.100.10","intervalMs":400}']]);
  t.match(own[0]?.message, /^entry 1 timeoutMs: must be below intervalMs \(500 >= 400\)/, 'a probe inherits the default timeout and is checked with it');
});

t.test('upstream: probes with upstream disabled are a warning; without families they are not checked', async (t) => {
  const r = loadConfig({ env: { ...V4, EGRESS_AGENT_UPSTREAM_ENABLED: 'false', EGRESS_AGENT_UPSTREAM_PROBES: 'icmp:198.51.100.10' } });
  t.ok(r.ok);
  t.same(r.ok && r.notices, [{ level: 'warn', key: 'EGRESS_AGENT_UPSTREAM_PROBES', message: 'ignored: upstream health is disabled (upstream.enabled is false)' }]);
  // Kube-OVN's bfdd container: no gateways, a shared config might still carry probes.
  const bfdOnly = loadConfig({ env: { EGRESS_AGENT_ALLOW_NO_FAMILIES: 'true', EGRESS_AGENT_UPSTREAM_PROBES: 'tcp:[2001:db8::1]:443' } });
  t.ok(bfdOnly.ok, bfdOnly.ok ? 'loaded' : JSON.stringify(bfdOnly.errors));
});

t.test('snat records: values from every source, bad ones named', async (t) => {
  const r = loadConfig({
    env: { ...V4, EGRESS_AGENT_SNAT_RECORDS_DIR: '/records', EGRESS_AGENT_SNAT_RECORDS_MAX_FILES: '8', EGRESS_AGENT_SNAT_RECORDS_PORT_WARN_PERCENT: '90' },
    flags: { snatRecordsStdout: true, snatRecordsMaxFileBytes: '1048576', snatRecordsEnabled: 'false' },
  });
  t.ok(r.ok);
  if (r.ok) {
    t.same(r.config.snatRecords, {
      enabled: false, dir: '/records', maxFileBytes: 1048576, maxFiles: 8, maxAgeMs: 86_400_000, stdout: true, recordStart: true, socketBufferBytes: 8_388_608, portWarnRatio: 0.9,
    });
  }
  const errors = errorsOf({
    ...V4,
    EGRESS_AGENT_SNAT_RECORDS_DIR: 'records',
    EGRESS_AGENT_SNAT_RECORDS_MAX_FILE_BYTES: '100',
    EGRESS_AGENT_SNAT_RECORDS_MAX_FILES: '0',
    EGRESS_AGENT_SNAT_RECORDS_MAX_AGE_MS: '10',
    EGRESS_AGENT_SNAT_RECORDS_STDOUT: 'maybe',
    EGRESS_AGENT_SNAT_RECORDS_PORT_WARN_PERCENT: '0',
  });
  t.same(brief(errors).map((e) => [e.key, e.value, e.message]), [
    ['EGRESS_AGENT_SNAT_RECORDS_DIR', 'records', 'must be an absolute path'],
    ['EGRESS_AGENT_SNAT_RECORDS_MAX_FILE_BYTES', '100', 'must be an integer between 1024 and 1099511627776'],
    ['EGRESS_AGENT_SNAT_RECORDS_MAX_FILES', '0', 'must be an integer between 1 and 10000'],
    ['EGRESS_AGENT_SNAT_RECORDS_MAX_AGE_MS', '10', 'must be an integer between 1000 and 31622400000'],
    ['EGRESS_AGENT_SNAT_RECORDS_STDOUT', 'maybe', 'expected true or false'],
    ['EGRESS_AGENT_SNAT_RECORDS_PORT_WARN_PERCENT', '0', 'must be an integer between 1 and 100'],
  ]);
});

t.test('snat records: maxAgeMs / maxFiles below 1 s (a rotation interval of 0) is refused before anything runs', async (t) => {
  const errors = errorsOf({ ...V4, EGRESS_AGENT_SNAT_RECORDS_MAX_FILES: '10000', EGRESS_AGENT_SNAT_RECORDS_MAX_AGE_MS: '5000' });
  t.same(brief(errors).map((e) => [e.key, e.value]), [['EGRESS_AGENT_SNAT_RECORDS_MAX_AGE_MS', '5000']]);
  t.match(errors[0]!.message, /maxAgeMs \/ snatRecords\.maxFiles must be at least 1000 ms \(here 0\.5 ms\)/);
  t.same(errorsOf({ ...V4, EGRESS_AGENT_SNAT_RECORDS_MAX_FILES: '5', EGRESS_AGENT_SNAT_RECORDS_MAX_AGE_MS: '5000' }), []);
});
