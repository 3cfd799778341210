// Environments exactly as Kube-OVN's controller writes them (vpcEgressGatewayInitContainerEnv and
// the bfdd container env, docs/kube-ovn-contract.md §2.2, §2.4), plus the docs table staying complete.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig, SETTINGS, CONFIG_FILE_INPUT, type LoadResult } from '../../agent/config/index.js';

function ok(r: LoadResult): Extract<LoadResult, { ok: true }> {
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r;
}

t.test('init container, dual stack', async (t) => {
  const r = ok(loadConfig({ env: {
    INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', NO_SNAT_SOURCES_IPV4: '10.0.1.0/24,192.168.5.0/24',
    INTERNAL_GATEWAY_IPV6: 'fd00:10:16::1', EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1', NO_SNAT_SOURCES_IPV6: 'fd00:10:1::/64',
  } }));
  t.same(r.config.families, [
    { family: 4, internalGateway: '10.16.0.1', externalGateway: '172.17.0.1', noSnatSources: ['10.0.1.0/24', '192.168.5.0/24'] },
    { family: 6, internalGateway: 'fd00:10:16::1', externalGateway: 'fd00:172:17::1', noSnatSources: ['fd00:10:1::/64'] },
  ]);
  t.same(r.notices, []);
  t.equal(r.config.bfd.enabled, false, 'the init container has no BFD variables');
});

t.test('init container, IPv4 only (no IPv6 variables at all)', async (t) => {
  const r = ok(loadConfig({ env: { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', NO_SNAT_SOURCES_IPV4: '' } }));
  t.same(r.config.families, [{ family: 4, internalGateway: '10.16.0.1', externalGateway: '172.17.0.1', noSnatSources: [] }]);
  t.same(r.notices, []);
});

t.test('init container, IPv6 only', async (t) => {
  const r = ok(loadConfig({ env: { INTERNAL_GATEWAY_IPV6: 'fd00:10:16::1', EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1', NO_SNAT_SOURCES_IPV6: 'fd00:10:1::/64,fd00:10:2::/64' } }));
  t.same(r.config.families.map((f) => [f.family, f.noSnatSources]), [[6, ['fd00:10:1::/64', 'fd00:10:2::/64']]]);
});

t.test('dual-stack internal subnet, IPv4-only external: EXTERNAL_GATEWAY_IPV6="" skips IPv6 with an info notice', async (t) => {
  const r = ok(loadConfig({ env: {
    INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', NO_SNAT_SOURCES_IPV4: '10.0.1.0/24',
    INTERNAL_GATEWAY_IPV6: 'fd00:10:16::1', EXTERNAL_GATEWAY_IPV6: '', NO_SNAT_SOURCES_IPV6: 'fd00:10:1::/64',
  } }));
  t.same(r.config.families.map((f) => f.family), [4]);
  t.same(r.notices, [{ level: 'info', key: 'EXTERNAL_GATEWAY_IPV6', message: 'IPv6 skipped: the internal gateway is set but the external gateway is not (external subnet without IPv6)' }]);
});

t.test('bfdd container (all generations): POD_IPS, BFD_PEER_IPS and timers', async (t) => {
  const r = ok(loadConfig({ env: {
    INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1',
    POD_IPS: '10.16.0.12,fd00:10:16::c', BFD_PEER_IPS: '169.255.255.255,fdff::1', BFD_MIN_TX: '300', BFD_MIN_RX: '500', BFD_MULTI: '5',
    BFDD_SUPERVISOR_SOCKET: '/var/run/kube-ovn/bfdd-supervisor/control.sock', BFDD_METRICS_ADDRESS: ':10669',
  } }));
  t.same(r.config.bfd, {
    enabled: true, localIps: ['10.16.0.12', 'fd00:10:16::c'], peerIps: ['169.255.255.255', 'fdff::1'],
    minTxMs: 300, minRxMs: 500, multiplier: 5, passive: false, minTtl: 254, realtimePriority: 0, statePath: '/run/egress-agent/bfd-state.json',
  });
  t.same(r.notices, []);
});

t.test('bfdd container with a CRD-valid but tiny timer: accepted with a warning', async (t) => {
  const r = ok(loadConfig({ env: { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', POD_IPS: '10.16.0.12', BFD_PEER_IPS: '10.255.255.255', BFD_MIN_TX: '5' } }));
  t.equal(r.config.bfd.minTxMs, 5);
  t.same(r.notices.map((n) => [n.level, n.key]), [['warn', 'BFD_MIN_TX']]);
  t.match(r.notices[0]!.message, /below 10 ms; accepted/);
});

t.test('policy CIDRs with host bits or duplicates work as with the stock script: corrected, with a warning each', async (t) => {
  // The controller passes ipBlocks as written; iptables and ipset cleared host bits silently.
  const r = ok(loadConfig({ env: {
    INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1',
    NO_SNAT_SOURCES_IPV4: '10.0.1.5/24,10.1.0.0/16,10.0.0.5,10.0.0.5/32,10.0.1.0/24',
  } }));
  t.same(r.config.families[0]!.noSnatSources, ['10.0.1.0/24', '10.1.0.0/16', '10.0.0.5/32']);
  t.same(r.notices.map((n) => [n.level, n.key]), [['warn', 'NO_SNAT_SOURCES_IPV4'], ['warn', 'NO_SNAT_SOURCES_IPV4'], ['warn', 'NO_SNAT_SOURCES_IPV4']]);
  t.match(r.notices.map((n) => n.message), [
    /^entry 1 "10\.0\.1\.5\/24" has host bits set; using 10\.0\.1\.0\/24/,
    /^entry 4 "10\.0\.0\.5\/32" duplicates entry 3 "10\.0\.0\.5"; used once$/,
    /^entry 5 "10\.0\.1\.0\/24" duplicates entry 1 "10\.0\.1\.5\/24"; used once$/,
  ]);
});

t.test('a CIDR list with a real mistake is still refused, and the corrections are not reported as errors', async (t) => {
  const r = loadConfig({ env: { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', NO_SNAT_SOURCES_IPV4: '10.0.1.5/24,10.0.0.0/33' } });
  t.notOk(r.ok);
  t.same(r.ok ? [] : r.errors.map((e) => [e.key, e.value]), [['NO_SNAT_SOURCES_IPV4', '10.0.0.0/33']]);
});

t.test('extras for a family that is not configured are ignored with a warning', async (t) => {
  const r = ok(loadConfig({ env: { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', EGRESS_AGENT_SNAT_TO_IPV6: 'fd00::5' } }));
  t.same(r.notices, [{ level: 'warn', key: 'EGRESS_AGENT_SNAT_TO_IPV6', message: 'ignored: IPv6 is not configured' }]);
});

t.test('ENABLE_BGP=false / ENABLE_EVPN="" (non-BGP gateways on v1.16+) are fine', async (t) => {
  const r = ok(loadConfig({ env: { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', ENABLE_BGP: 'false', ENABLE_EVPN: '', VNI: '' } }));
  t.same(r.config.families.map((f) => f.family), [4]);
});

t.test('docs/configuration.md names every env var, JSON key and flag', async (t) => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');
  for (const s of SETTINGS) {
    for (const e of s.env) t.ok(doc.includes(`\`${e}\``), `env ${e}`);
    if (s.json) t.ok(doc.includes(`\`${s.id}\``), `JSON key ${s.id}`);
    if (s.flag) t.ok(doc.includes(`\`--${s.flag}`), `flag --${s.flag}`);
  }
  t.ok(doc.includes(`\`${CONFIG_FILE_INPUT.env}\``) && doc.includes(`\`--${CONFIG_FILE_INPUT.flag}`), 'config file inputs');
  for (const s of SETTINGS) {
    if (s.default === undefined) continue;
    const row = doc.split('\n').find((l) => l.startsWith('|') && (s.json ? l.includes(`\`${s.id}\``) : l.includes(`\`${s.env[0]}\``)));
    t.ok(row?.includes(`\`${String(s.default)}\``), `default of ${s.id} documented as ${String(s.default)}`);
  }
});
