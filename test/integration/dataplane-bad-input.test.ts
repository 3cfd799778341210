// Bad input to the real `bin/egress-agent init` in a lab gateway: a non-zero exit, a message naming the
// input (and, for config validation and kernel discovery alike, why), and the kernel state the agent
// could touch (iptables-save, ip rule, every route table, ipsets, sysctls) byte-identical afterwards.
// The lab is dual-stack internal with IPv4-only external, so IPv6 has no route to an external gateway.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../helpers/lab.js';
import { ensureBuilt, runInit, settleIpv6, snapshot } from '../helpers/dataplane.js';

t.setTimeout(240_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

interface BadCase {
  name: string;
  /** Changes to the lab's Kube-OVN environment (undefined = remove the variable). */
  env?: Record<string, string | undefined>;
  /** Replace the environment entirely (PATH is always kept). */
  onlyEnv?: Record<string, string>;
  args?: string[];
  /** Every pattern must appear in stderr. */
  stderr: RegExp[];
}

t.test('bad inputs: clear error, non-zero exit, nothing applied', async (t) => {
  await ensureBuilt();
  const lab = await withLab(t, { prefix: 'vdtb', replicas: 1, family: 'dual', extFamily: '4' });
  const base = await lab.env('gw1');
  t.equal(base.INTERNAL_GATEWAY_IPV4, '10.16.0.1', 'lab environment as expected');

  const dir = mkdtempSync(join(tmpdir(), 'vdtb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const brokenJson = join(dir, 'broken.json');
  writeFileSync(brokenJson, '{ "ipv4": { "internalGateway": "10.16.0.1", }\n');
  const typoJson = join(dir, 'typo.json');
  writeFileSync(typoJson, JSON.stringify({ ipv4: { internalGateway: '10.16.0.1', extrnalGateway: '172.17.0.1' } }));

  const cases: BadCase[] = [
    { name: 'gateway is not an IP address', env: { INTERNAL_GATEWAY_IPV4: '10.16.0.256' }, stderr: [/INTERNAL_GATEWAY_IPV4/, /10\.16\.0\.256/] },
    { name: 'gateway of the wrong family', env: { INTERNAL_GATEWAY_IPV4: 'fd00:10:16::1' }, stderr: [/INTERNAL_GATEWAY_IPV4/, /IPv6|IPv4/] },
    { name: 'gateway given as a CIDR', env: { EXTERNAL_GATEWAY_IPV4: '172.17.0.1/16' }, stderr: [/EXTERNAL_GATEWAY_IPV4/] },
    { name: 'no-SNAT prefix out of range', env: { NO_SNAT_SOURCES_IPV4: '10.20.0.0/33' }, stderr: [/NO_SNAT_SOURCES_IPV4/, /33/] },
    { name: 'no-SNAT list with an IPv6 CIDR', env: { NO_SNAT_SOURCES_IPV4: '10.20.0.0/16,fd00:10:20::/64' }, stderr: [/NO_SNAT_SOURCES_IPV4/, /fd00:10:20::\/64/] },
    { name: 'internal gateway only reachable through another router', env: { INTERNAL_GATEWAY_IPV4: '192.0.2.1' }, stderr: [/INTERNAL_GATEWAY_IPV4="192\.0\.2\.1"/, /not directly reachable/] },
    { name: 'both gateways behind the same interface', env: { EXTERNAL_GATEWAY_IPV4: '10.16.0.50' }, stderr: [/EXTERNAL_GATEWAY_IPV4="10\.16\.0\.50"/, /same interface/] },
    { name: 'gateway is a local address', env: { INTERNAL_GATEWAY_IPV4: '10.16.0.11' }, stderr: [/INTERNAL_GATEWAY_IPV4/, /10\.16\.0\.11/] },
    { name: 'external gateway unreachable (no IPv6 underlay)', env: { EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1' }, stderr: [/EXTERNAL_GATEWAY_IPV6="fd00:172:17::1"/, /not reachable from any interface/] },
    { name: 'explicit interface does not exist', env: { EGRESS_AGENT_INTERNAL_INTERFACE: 'net9' }, stderr: [/EGRESS_AGENT_INTERNAL_INTERFACE="net9"/, /does not exist/] },
    { name: 'explicit interface that does not reach the gateway', env: { EGRESS_AGENT_EXTERNAL_INTERFACE: 'eth0' }, stderr: [/EXTERNAL_GATEWAY_IPV4/, /eth0/] },
    { name: 'config file is not valid JSON', args: ['--config', brokenJson], stderr: [new RegExp(brokenJson.replace(/[.]/g, '\\.'))] },
    { name: 'config file with a misspelt key', args: ['--config', typoJson], stderr: [/ipv4\.extrnalGateway/] },
    { name: 'BFD timer not a number', env: { BFD_MIN_TX: 'abc' }, stderr: [/BFD_MIN_TX="abc"/] },
    { name: 'EVPN without BGP', env: { ENABLE_EVPN: 'true', VNI: '100' }, stderr: [/ENABLE_EVPN/] },
    { name: 'EVPN without a VNI', env: { ENABLE_BGP: 'true', ENABLE_EVPN: 'true' }, stderr: [/VNI/] },
    { name: 'no gateway configured at all', onlyEnv: {}, stderr: [/GATEWAY/] },
    { name: 'several errors at once, each reported', env: { INTERNAL_GATEWAY_IPV4: 'ten.sixteen', BFD_MULTI: '0' }, stderr: [/INTERNAL_GATEWAY_IPV4="ten\.sixteen"/, /BFD_MULTI="0"/] },
  ];
  t.ok(cases.length >= 12, `${cases.length} distinct bad inputs`);

  await settleIpv6(lab, 'gw1');
  const before = await snapshot(lab, 'gw1');
  for (const c of cases) {
    const env: Record<string, string> = c.onlyEnv ? { ...c.onlyEnv } : { ...base };
    for (const [k, v] of Object.entries(c.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const r = await runInit(lab, 'gw1', env, c.args);
    t.not(r.exitCode, 0, `${c.name}: non-zero exit (${r.exitCode})`);
    for (const re of c.stderr) t.match(r.stderr, re, `${c.name}: stderr names the input: ${re}`);
    t.equal(r.stdout, '', `${c.name}: no apply summary printed`);
    t.same(await snapshot(lab, 'gw1'), before, `${c.name}: iptables, rules, routes, ipsets, sysctls byte-identical`);
  }

  // The same environment without the fault applies cleanly, so the cases above failed for their fault.
  const ok = await runInit(lab, 'gw1', base);
  t.equal(ok.exitCode, 0, `the unmodified environment applies (stderr: ${ok.stderr})`);
});
