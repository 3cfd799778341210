// EVPN devices through rtnetlink on the real kernel, in a fresh network namespace. This kernel has
// bridge and vxlan but no vrf, so: (1) the device code creates, enslaves, verifies and repairs a
// bridge + vxlan (+ an existing veth enslaved), idempotently; (2) the full EVPN device list fails
// with an error naming vrf, with nothing created (no br-vpn, no vxlan-vpn, no probe device left).
import t from 'tap';
import { execa } from 'execa';
import { join } from 'node:path';
import { ensureBuilt } from '../helpers/dataplane.js';
import { ROOT } from '../helpers/agent-paths.js';

t.setTimeout(120_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');
await ensureBuilt();

const NS = 'vev-links';
const ip = (...a: string[]) => execa('ip', ['-n', NS, ...a]);
await execa('ip', ['netns', 'del', NS], { reject: false });
await execa('ip', ['netns', 'add', NS]);
t.teardown(() => execa('ip', ['netns', 'del', NS], { reject: false }));
await ip('link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1');
await ip('link', 'add', 'int0', 'type', 'veth', 'peer', 'name', 'int1');
await ip('addr', 'add', '172.31.0.5/24', 'dev', 'ext0');
for (const d of ['ext0', 'ext1', 'int0', 'int1']) await ip('link', 'set', d, 'up');

/** Runs `code` (an async function body getting { nl, links }) in the namespace; returns its JSON. */
async function inNs(code: string): Promise<unknown> {
  const dist = join(ROOT, 'dist/agent/dataplane');
  const script = `
import { Rtnl } from ${JSON.stringify(join(dist, 'netlink.js'))};
import * as links from ${JSON.stringify(join(dist, 'links.js'))};
import { applyDataplane } from ${JSON.stringify(join(dist, 'apply.js'))};
const nl = Rtnl.open();
try { const r = await (async () => { ${code} })(); process.stdout.write(JSON.stringify(r ?? null)); }
catch (err) { process.stdout.write(JSON.stringify({ error: err.message })); }
finally { nl.close(); }`;
  const r = await execa('ip', ['netns', 'exec', NS, 'node', '--input-type=module', '-e', script]);
  return JSON.parse(String(r.stdout));
}

const BRIDGED = [
  { name: 'br-vpn', kind: 'bridge', up: true },
  { name: 'vxlan-vpn', kind: 'vxlan', vxlan: { id: 4242, port: 4789, local: '172.31.0.5' }, master: 'br-vpn', up: true },
  { name: 'int0', master: 'br-vpn', up: true },
];
const linkJson = async (dev: string) => (JSON.parse(String((await ip('-d', '-j', 'link', 'show', 'dev', dev)).stdout)) as Record<string, any>[])[0]!;

t.test('bridge + vxlan: created, enslaved, up, verified; a second pass changes nothing; drift repaired', async (t) => {
  const d = JSON.stringify(BRIDGED);
  const first = await inNs(`const before = await nl.linkDetails(); await links.applyLinks(nl, ${d}, before); return links.linkDrift(${d}, await nl.linkDetails());`);
  t.same(first, [], 'no drift after the apply');
  const vx = await linkJson('vxlan-vpn');
  t.equal(vx.linkinfo.info_kind, 'vxlan');
  t.equal(vx.linkinfo.info_data.id, 4242);
  t.equal(vx.linkinfo.info_data.port, 4789);
  t.equal(vx.linkinfo.info_data.local, '172.31.0.5');
  t.equal(vx.master, 'br-vpn');
  t.equal((await linkJson('int0')).master, 'br-vpn', 'the existing device is enslaved');
  t.ok(((await linkJson('br-vpn')).flags as string[]).includes('UP'), 'br-vpn is up');
  const again = await inNs(`const before = await nl.linkDetails(); return links.linkDrift(${d}, before);`);
  t.same(again, [], 'idempotent: nothing to do on the second pass');

  await ip('link', 'set', 'vxlan-vpn', 'nomaster');
  await ip('link', 'del', 'br-vpn');
  const drift = await inNs(`return links.linkDrift(${d}, await nl.linkDetails());`) as { object: string; problem: string }[];
  t.same(drift.map((x) => `${x.object} ${x.problem}`), ['device br-vpn missing', 'device vxlan-vpn different', 'device int0 different']);
  const repaired = await inNs(`await links.applyLinks(nl, ${d}, await nl.linkDetails()); return links.linkDrift(${d}, await nl.linkDetails());`);
  t.same(repaired, [], 'repaired');

  // A wrong VNI is re-created, not left as found.
  const other = JSON.stringify(BRIDGED.map((l) => (l.name === 'vxlan-vpn' ? { ...l, vxlan: { ...l.vxlan!, id: 7 } } : l)));
  const r = await inNs(`await links.applyLinks(nl, ${other}, await nl.linkDetails()); return links.linkDrift(${other}, await nl.linkDetails());`);
  t.same(r, []);
  t.equal((await linkJson('vxlan-vpn')).linkinfo.info_data.id, 7);
  await ip('link', 'del', 'vxlan-vpn');
  await ip('link', 'del', 'br-vpn');
});

t.test('EVPN on a kernel without vrf: an error naming vrf, nothing created', async (t) => {
  const desired = {
    links: [
      { name: 'vrf-vpn', kind: 'vrf', table: 2000, up: true },
      { name: 'br-vpn', kind: 'bridge', master: 'vrf-vpn', up: true },
      { name: 'vxlan-vpn', kind: 'vxlan', vxlan: { id: 4242, port: 4789, local: '172.31.0.5' }, master: 'br-vpn', up: true },
      { name: 'int0', master: 'vrf-vpn', up: true },
    ],
    sysctls: [{ key: 'net/ipv4/ip_forward', value: '1' }],
    routes: [{ family: 4, table: 2000, dst: '10.0.1.0/24', gateway: '172.31.0.1', oif: 'int0' }],
    rules: [], ipsets: [], iptables: [],
  };
  const before = String((await ip('-o', 'link')).stdout);
  const forward = String((await execa('ip', ['netns', 'exec', NS, 'sysctl', '-n', 'net.ipv4.ip_forward'])).stdout).trim();
  const r = await inNs(`return await applyDataplane(nl, ${JSON.stringify(desired)});`) as { error?: string };
  t.match(r.error, /this kernel has no vrf device type .*nothing was changed/, 'the error names the missing device type');
  t.equal(String((await ip('-o', 'link')).stdout), before, 'no device created (no br-vpn, vxlan-vpn or probe left)');
  t.equal(String((await execa('ip', ['netns', 'exec', NS, 'sysctl', '-n', 'net.ipv4.ip_forward'])).stdout).trim(), forward, 'no sysctl written');
  // `ip route show table 2000` fails when the table does not exist at all, which is the point.
  t.notMatch(String((await ip('-4', 'route', 'show', 'table', 'all')).stdout), /\btable 2000\b/, 'no route written');
});
