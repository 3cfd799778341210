// Precedence flags > file > env > default, alias order, empty values, flag key styles, defaults
// and provenance (origins) used to name inputs in later errors.
import t from 'tap';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig, configErrorFor, addConfigOptions, SETTINGS, type LoadResult } from '../../agent/config/index.js';
import type { GatewayConfig } from '../../agent/config/types.js';

const V4 = { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1' };

function ok(r: LoadResult): GatewayConfig {
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.config;
}

t.test('flag beats file beats env, per setting', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ bfd: { minTxMs: 200, minRxMs: 250 }, logLevel: 'debug' }) });
  const file = join(dir, 'c.json');
  const env = { ...V4, BFD_MIN_TX: '100', BFD_MIN_RX: '150', BFD_MULTI: '5', EGRESS_AGENT_LOG_LEVEL: 'warn' };
  const c = ok(loadConfig({ env, file, flags: { bfdMinTx: '300' } }));
  t.equal(c.bfd.minTxMs, 300, 'flag');
  t.equal(c.bfd.minRxMs, 250, 'file over env');
  t.equal(c.bfd.multiplier, 5, 'env when neither flag nor file');
  t.equal(c.logLevel, 'debug', 'file over env');
  t.same(c.origins?.['bfd.minTxMs'], { source: 'flag', key: '--bfd-min-tx' });
  t.same(c.origins?.['bfd.minRxMs'], { source: 'file', key: 'bfd.minRxMs' });
  t.same(c.origins?.['bfd.multiplier'], { source: 'env', key: 'BFD_MULTI' });
  t.same(c.origins?.['reconcileIntervalMs'], { source: 'default', key: 'reconcileIntervalMs' });
  t.equal(c.configFile, file);
});

t.test('the config file path: explicit > --config flag > EGRESS_AGENT_CONFIG', async (t) => {
  const dir = t.testdir({ 'a.json': '{"logLevel": "warn"}', 'b.json': '{"logLevel": "error"}' });
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  t.equal(ok(loadConfig({ env: { ...V4, EGRESS_AGENT_CONFIG: a } })).logLevel, 'warn');
  t.equal(ok(loadConfig({ env: { ...V4, EGRESS_AGENT_CONFIG: a }, flags: { config: b } })).logLevel, 'error');
  t.equal(ok(loadConfig({ env: { ...V4, EGRESS_AGENT_CONFIG: a }, flags: { config: a }, file: b })).logLevel, 'error');
});

t.test('a flag fixes a bad env value: only the effective value is validated', async (t) => {
  const c = ok(loadConfig({ env: { ...V4, BFD_MULTI: 'abc' }, flags: { bfdMultiplier: '4' } }));
  t.equal(c.bfd.multiplier, 4);
});

t.test('flags by commander attribute name or by flag name', async (t) => {
  t.equal(ok(loadConfig({ env: V4, flags: { drainGraceMs: '500' } })).drainGraceMs, 500);
  t.equal(ok(loadConfig({ env: V4, flags: { 'drain-grace-ms': '600' } })).drainGraceMs, 600);
  t.equal(ok(loadConfig({ env: V4, flags: { bfdPassive: true } })).bfd.passive, true, 'bare boolean flag');
  t.equal(ok(loadConfig({ env: V4, flags: { unrelatedOption: 'x', json: true } })).logLevel, 'info', 'other CLI options are ignored');
});

t.test('our env name beats Kube-OVN G3\'s alias; the alias alone is honoured', async (t) => {
  t.equal(ok(loadConfig({ env: { ...V4, BFDD_METRICS_ADDRESS: ':9999' } })).healthListen, ':9999');
  t.equal(ok(loadConfig({ env: { ...V4, BFDD_METRICS_ADDRESS: ':9999', EGRESS_AGENT_HEALTH_LISTEN: '127.0.0.1:8080' } })).healthListen, '127.0.0.1:8080');
  t.equal(ok(loadConfig({ env: { ...V4, BFDD_SUPERVISOR_SOCKET: '/tmp/vcx/s.sock' } })).compatSocket, '/tmp/vcx/s.sock');
  t.equal(ok(loadConfig({ env: { ...V4, EGRESS_AGENT_SOCKET: '/tmp/vcx/c.sock' } })).controlSocket, '/tmp/vcx/c.sock');
});

t.test('empty env is unset; explicit "" in the file overrides env', async (t) => {
  const env = { ...V4, INTERNAL_GATEWAY_IPV6: 'fd00:10:16::1', EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1', BFD_MIN_TX: '' };
  const both = ok(loadConfig({ env }));
  t.same(both.families.map((f) => f.family), [4, 6]);
  t.equal(both.bfd.minTxMs, 1000, 'empty BFD_MIN_TX = default');
  const dir = t.testdir({ 'c.json': JSON.stringify({ ipv6: { externalGateway: '' } }) });
  const r = loadConfig({ env, file: join(dir, 'c.json') });
  t.same(ok(r).families.map((f) => f.family), [4], 'the file removed IPv6');
  t.same(r.ok && r.notices, [{ level: 'info', key: 'ipv6.externalGateway', message: 'IPv6 skipped: the internal gateway is set but the external gateway is not (external subnet without IPv6)' }]);
});

t.test('defaults', async (t) => {
  const c = ok(loadConfig({ env: V4 }));
  const { origins, ...rest } = c;
  t.ok(origins);
  t.same(rest, {
    families: [{ family: 4, internalGateway: '10.16.0.1', externalGateway: '172.17.0.1', noSnatSources: [] }],
    reconcileIntervalMs: 10000,
    dataplaneWithdrawAfterMs: 10000,
    bfd: { enabled: false, localIps: [], peerIps: [], minTxMs: 1000, minRxMs: 1000, multiplier: 3, passive: false, minTtl: 254, realtimePriority: 0, statePath: '/run/egress-agent/bfd-state.json' },
    healthListen: ':10669',
    controlSocket: '/run/egress-agent/control.sock',
    compatSocket: '/var/run/kube-ovn/bfdd-supervisor/control.sock',
    drainGraceMs: 3000,
    startupPageReleaseMs: 5000,
    logLevel: 'info',
    debugCommands: false,
    upstream: {
      enabled: true, probes: [], probeIntervalMs: 1000, probeTimeoutMs: 500, probeRise: 2, probeFall: 3,
      probeFailureAction: 'report', holdDownMs: 5000, neighbourVerifyIntervalMs: 1000,
    },
    snatRecords: {
      enabled: true, dir: '/var/log/egress-agent/snat', maxFileBytes: 16 * 1024 * 1024, maxFiles: 4, maxAgeMs: 24 * 3600 * 1000,
      stdout: false, recordStart: true, socketBufferBytes: 8 * 1024 * 1024, portWarnRatio: 0.7,
    },
  });
});

t.test('startup page release: 0 means never', async (t) => {
  t.equal(ok(loadConfig({ env: { ...V4, EGRESS_AGENT_STARTUP_PAGE_RELEASE_MS: '0' } })).startupPageReleaseMs, null);
  t.equal(ok(loadConfig({ env: V4, flags: { startupPageReleaseMs: '1500' } })).startupPageReleaseMs, 1500);
  const r = loadConfig({ env: { ...V4, EGRESS_AGENT_STARTUP_PAGE_RELEASE_MS: 'soon' } });
  t.match(r.ok ? [] : r.errors, [{ source: 'env', key: 'EGRESS_AGENT_STARTUP_PAGE_RELEASE_MS', value: 'soon' }]);
});

t.test('extras merge with Kube-OVN\'s list without duplicates; canonical text', async (t) => {
  const c = ok(loadConfig({
    env: { ...V4, NO_SNAT_SOURCES_IPV4: '10.0.1.0/24, 192.168.5.0/24', INTERNAL_GATEWAY_IPV6: 'FD00:10:16:0::1', EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1' },
    flags: { ipv4ExtraNoSnatSources: '192.168.5.0/24,10.9.0.7', ipv6SnatTo: 'FD00:172:17:0:0:0:0:5' },
  }));
  t.same(c.families[0]!.noSnatSources, ['10.0.1.0/24', '192.168.5.0/24', '10.9.0.7/32']);
  t.equal(c.families[1]!.internalGateway, 'fd00:10:16::1');
  t.equal(c.families[1]!.snatTo, 'fd00:172:17::5');
});

t.test('allowNoFamilies enables BFD-only mode', async (t) => {
  const c = ok(loadConfig({ env: { POD_IPS: '10.16.0.12', BFD_PEER_IPS: '10.255.255.255' }, flags: { allowNoFamilies: true } }));
  t.same(c.families, []);
  t.equal(c.bfd.enabled, true);
});

t.test('explicit bfd.enabled=false turns BFD off even with peers', async (t) => {
  const c = ok(loadConfig({ env: { ...V4, BFD_PEER_IPS: '10.255.255.255', EGRESS_AGENT_BFD_ENABLED: 'false' } }));
  t.equal(c.bfd.enabled, false);
});

t.test('configErrorFor names the input as it was given', async (t) => {
  const c = ok(loadConfig({ env: V4, flags: { ipv4ExternalGateway: '172.17.0.254' } }));
  t.same(configErrorFor(c, 'ipv4.internalGateway', '10.16.0.1', 'not reachable from any interface'),
    { source: 'env', key: 'INTERNAL_GATEWAY_IPV4', value: '10.16.0.1', message: 'not reachable from any interface' });
  t.same(configErrorFor(c, 'ipv4.externalGateway', '172.17.0.254', 'x').key, '--ipv4-external-gateway');
  t.same(configErrorFor({ ...c, origins: undefined }, 'internalInterface', 'eth9', 'missing'),
    { source: 'env', key: 'EGRESS_AGENT_INTERNAL_INTERFACE', value: 'eth9', message: 'missing' }, 'without origins: the primary env name');
});

t.test('every setting has a JSON key, env var or flag, and ids are unique', async (t) => {
  const ids = SETTINGS.map((s) => s.id);
  t.equal(new Set(ids).size, ids.length);
  const envs = SETTINGS.flatMap((s) => s.env);
  t.equal(new Set(envs).size, envs.length, 'no env var used twice');
  const flags = SETTINGS.flatMap((s) => (s.flag ? [s.flag] : []));
  t.equal(new Set(flags).size, flags.length, 'no flag used twice');
});

t.test('commander: addConfigOptions declares every flag; its opts() feed loadConfig', async (t) => {
  const cmd = addConfigOptions(new Command()).exitOverride();
  cmd.parse(['--ipv4-internal-gateway', '10.16.0.1', '--ipv4-external-gateway', '172.17.0.1', '--bfd-passive', '--bfd-min-tx', '250',
    '--ipv4-no-snat-sources', '10.0.1.0/24,10.0.2.0/24', '--socket', '/tmp/vcx/a.sock'], { from: 'user' });
  const c = ok(loadConfig({ env: {}, flags: cmd.opts() }));
  t.same(c.families[0]!.noSnatSources, ['10.0.1.0/24', '10.0.2.0/24']);
  t.equal(c.bfd.passive, true);
  t.equal(c.bfd.minTxMs, 250);
  t.equal(c.controlSocket, '/tmp/vcx/a.sock');
  const declared = cmd.options.map((o) => o.long);
  for (const s of SETTINGS) if (s.flag) t.ok(declared.includes(`--${s.flag}`), `--${s.flag} declared`);
  t.throws(() => addConfigOptions(new Command()).exitOverride().configureOutput({ writeErr: () => {} }).parse(['--bfd-auth-key', 'x'], { from: 'user' }),
    /unknown option '--bfd-auth-key'/, 'there is no flag for an inline key');
});
