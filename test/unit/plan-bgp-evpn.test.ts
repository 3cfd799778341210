// BGP and EVPN modes (ENABLE_BGP, ENABLE_EVPN + VNI): config validation and the plan, with the
// outcome of Kube-OVN's init-vpc-egress-gateway.sh: BGP = forwarding sysctls only (no table-1000
// route, no rules, no SNAT); EVPN = vrf-vpn (table 2000) <- br-vpn <- vxlan-vpn (VNI, 4789, local =
// the external interface's first address), the internal interface enslaved to vrf-vpn, no-SNAT
// sources routed in table 2000 via the internal gateway.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../agent/config/load.js';
import { plan, EVPN } from '../../agent/plan/index.js';
import type { GatewayConfig } from '../../agent/config/types.js';
import type { Facts } from '../../agent/plan/types.js';
import { decodeLinkInfo, encodeLinkInfo } from '../../agent/dataplane/netlink.js';
import { linkDrift, kindsToCreate } from '../../agent/dataplane/links.js';

const inputs = JSON.parse(readFileSync(fileURLToPath(new URL('../golden/plan-inputs.json', import.meta.url)), 'utf8')) as Record<string, { config: GatewayConfig; facts: Facts }>;
const scenario = (name: string) => structuredClone(inputs[name]!);
const KUBE_OVN = { INTERNAL_GATEWAY_IPV4: '10.16.0.1', EXTERNAL_GATEWAY_IPV4: '172.17.0.1', NO_SNAT_SOURCES_IPV4: '10.0.1.0/24,192.168.5.0/24' };

t.test('config: ENABLE_BGP=true is accepted; EVPN needs BGP and a VNI', async (t) => {
  const bgp = loadConfig({ env: { ...KUBE_OVN, ENABLE_BGP: 'true' } });
  t.ok(bgp.ok && bgp.config.bgp === true && bgp.config.evpn === undefined);
  const evpn = loadConfig({ env: { ...KUBE_OVN, ENABLE_BGP: 'true', ENABLE_EVPN: 'true', VNI: '1000' } });
  t.ok(evpn.ok && evpn.config.bgp === true);
  t.same(evpn.ok && evpn.config.evpn, { vni: 1000 });
  for (const vni of ['1', '16777215']) t.ok(loadConfig({ env: { ...KUBE_OVN, ENABLE_BGP: 'true', ENABLE_EVPN: 'true', VNI: vni } }).ok, `VNI ${vni} is in range`);
  const stray = loadConfig({ env: { ...KUBE_OVN, VNI: '7' } });
  t.ok(stray.ok, 'a VNI without EVPN is not an error');
  t.same(stray.ok && stray.notices, [{ level: 'warn', key: 'VNI', message: 'ignored: EVPN is not enabled (ENABLE_EVPN is not true)' }]);
  t.notOk(stray.ok && stray.config.evpn);
});

t.test('plan, BGP mode: forwarding sysctls only; no route, rule, ipset or iptables', async (t) => {
  const { config, facts } = scenario('dual');
  const p = plan({ ...config, bgp: true }, facts);
  t.same(p.routes, []);
  t.same(p.rules, []);
  t.same(p.ipsets, []);
  t.same(p.iptables, []);
  t.same(p.links ?? [], []);
  // As in the other modes (this scenario's conf/all/rp_filter is strict, so it is loosened too).
  t.same(p.sysctls.map((s) => s.key), ['net/ipv4/ip_forward', 'net/ipv4/conf/veg-int/rp_filter', 'net/ipv4/conf/all/rp_filter', 'net/ipv6/conf/all/forwarding']);
});

t.test('plan, EVPN mode: Kube-OVN\'s devices, enslavement and table-2000 routes', async (t) => {
  const { config, facts } = scenario('dual');
  config.families.find((f) => f.family === 4)!.noSnatSources = ['10.0.1.0/24', '192.168.5.0/24'];
  config.families.find((f) => f.family === 6)!.noSnatSources = ['fd00:1::/64'];
  const p = plan({ ...config, bgp: true, evpn: { vni: 4242 } }, { ...facts, evpnLocal: '172.17.0.5' });
  t.equal(EVPN.table, 2000);
  t.same(p.links, [
    { name: 'vrf-vpn', kind: 'vrf', table: 2000, up: true },
    { name: 'br-vpn', kind: 'bridge', master: 'vrf-vpn', up: true },
    { name: 'vxlan-vpn', kind: 'vxlan', vxlan: { id: 4242, port: 4789, local: '172.17.0.5' }, master: 'br-vpn', up: true },
    { name: 'veg-int', master: 'vrf-vpn', up: true },
  ]);
  t.same(p.routes, [
    { family: 4, table: 2000, dst: '10.0.1.0/24', gateway: '10.16.0.1', oif: 'veg-int' },
    { family: 4, table: 2000, dst: '192.168.5.0/24', gateway: '10.16.0.1', oif: 'veg-int' },
    { family: 6, table: 2000, dst: 'fd00:1::/64', gateway: 'fd00:10:16::1', oif: 'veg-int' },
  ]);
  t.same(p.rules, [], 'no rules 1001-1004 (BGP)');
  t.same(p.iptables, [], 'no SNAT (BGP)');
  t.same(plan({ ...config, bgp: true, evpn: { vni: 4242 } }, { ...facts, evpnLocal: '172.17.0.5' }), p, 'deterministic');
  t.throws(() => plan({ ...config, bgp: true, evpn: { vni: 1 } }, facts), /no external address for the VXLAN device/);
});

t.test('link info: vrf table and vxlan id/port/local survive encode -> decode', async (t) => {
  t.same(decodeLinkInfo(encodeLinkInfo({ kind: 'vrf', table: 2000 })), { kind: 'vrf', vrfTable: 2000 });
  t.same(decodeLinkInfo(encodeLinkInfo({ kind: 'bridge' })), { kind: 'bridge' });
  t.same(decodeLinkInfo(encodeLinkInfo({ kind: 'vxlan', id: 16777215, port: 4789, local: '172.17.0.5' })), { kind: 'vxlan', vxlan: { id: 16777215, port: 4789, local: '172.17.0.5' } });
  t.same(decodeLinkInfo(encodeLinkInfo({ kind: 'vxlan', id: 5, port: 4789, local: 'fd00:172::5' })).vxlan, { id: 5, port: 4789, local: 'fd00:172::5' });
});

t.test('link drift: missing, wrong data, wrong master, down; what would be created', async (t) => {
  const desired = [
    { name: 'vrf-vpn', kind: 'vrf' as const, table: 2000, up: true },
    { name: 'br-vpn', kind: 'bridge' as const, master: 'vrf-vpn', up: true },
    { name: 'vxlan-vpn', kind: 'vxlan' as const, vxlan: { id: 7, port: 4789, local: '172.17.0.5' }, master: 'br-vpn', up: true },
    { name: 'eth0', master: 'vrf-vpn', up: true },
  ];
  const base = { up: true, carrier: true };
  const live = [
    { ...base, index: 2, name: 'eth0' },
    { ...base, index: 5, name: 'br-vpn', kind: 'bridge', up: false },
    { ...base, index: 6, name: 'vxlan-vpn', kind: 'vxlan', vxlan: { id: 8, port: 4789, local: '172.17.0.5' }, master: 5 },
  ];
  t.same(linkDrift(desired, live).map((d) => `${d.object} ${d.problem} ${d.expected} ${d.actual ?? ''}`.trim()), [
    'device vrf-vpn missing vrf-vpn type vrf table 2000 up',
    'device br-vpn different master vrf-vpn master none',
    'device br-vpn different up down',
    'device vxlan-vpn different vxlan-vpn type vxlan id 7 dstport 4789 local 172.17.0.5 master br-vpn up id 8 dstport 4789 local 172.17.0.5',
    'device eth0 different master vrf-vpn master none',
  ]);
  t.same([...kindsToCreate(desired, live)].sort(), ['vrf', 'vxlan'], 'vrf (missing) and vxlan (re-created for its VNI); not the bridge');
  const good = [
    { ...base, index: 4, name: 'vrf-vpn', kind: 'vrf', vrfTable: 2000 },
    { ...base, index: 5, name: 'br-vpn', kind: 'bridge', master: 4 },
    { ...base, index: 6, name: 'vxlan-vpn', kind: 'vxlan', vxlan: { id: 7, port: 4789, local: '172.17.0.5' }, master: 5 },
    { ...base, index: 2, name: 'eth0', master: 4 },
  ];
  t.same(linkDrift(desired, good), [], 'in sync');
});
