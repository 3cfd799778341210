// The pure planner: (GatewayConfig, Facts) -> DesiredDataplane, with exactly the traffic semantics of
// Kube-OVN's init-vpc-egress-gateway.sh (docs/kube-ovn-contract.md §4), expressed in chains the agent owns.
// No I/O here; the same inputs always give the same (deep-equal) plan.
import type { FamilyConfig, GatewayConfig } from '../config/types.js';
import { hostCidr } from '../lib/ip.js';
import {
  BFD_CONTROL_PORT, CHAIN, DEFAULT_TABLE, EVPN, GATEWAY_TABLE, IPSET_DEFAULT_MAXELEM, NAT_TABLE, RULE_PRIORITY, noSnatSetName,
} from './names.js';
import type {
  DesiredDataplane, DesiredIpset, DesiredIptables, DesiredRoute, DesiredRule, DesiredSysctl, Facts, FamilyFacts,
} from './types.js';

export function plan(config: GatewayConfig, facts: Facts): DesiredDataplane {
  const out: DesiredDataplane = { sysctls: [], routes: [], rules: [], ipsets: [], iptables: [] };
  const families = [...config.families].sort((a, b) => a.family - b.family);
  for (const fam of families) {
    const f = facts.families.find((x) => x.family === fam.family);
    // Discovery reports a missing interface as an InputError before planning; reaching this is a bug.
    if (!f) throw new Error(`plan: IPv${fam.family} is configured but discovery returned no facts for it`);
    out.sysctls.push(...familySysctls(fam, f, facts));
    // BGP mode: the routes come from BGP (Kube-OVN's FRR sidecar) and nothing is SNATed, so the
    // table-1000 route, rules 1001-1004, the no-SNAT set and the nat chains are all left out.
    if (config.bgp) continue;
    out.routes.push(tableRoute(fam, f));
    out.rules.push(...policyRules(fam, f));
    out.ipsets.push(noSnatSet(fam));
    out.iptables.push(natRules(fam, f, config.bfd.enabled));
  }
  if (config.evpn) evpn(config, config.evpn.vni, facts, out);
  return out;
}

/**
 * Kube-OVN's EVPN block: vrf-vpn (table 2000) <- br-vpn <- vxlan-vpn (VNI, dstport 4789, local = the
 * external interface's first address), the internal interface enslaved to vrf-vpn, and each no-SNAT
 * source routed in table 2000 via the internal gateway. Its script hard-codes eth0 as the enslaved
 * device; we take the discovered internal interface (eth0 in a Kube-OVN Pod).
 */
function evpn(config: GatewayConfig, vni: number, facts: Facts, out: DesiredDataplane): void {
  const internal = facts.families[0]?.internal.name;
  if (!internal) throw new Error('plan: EVPN is configured but discovery returned no interface facts');
  if (facts.evpnLocal === undefined) throw new Error('plan: EVPN is configured but discovery found no external address for the VXLAN device');
  out.links = [
    { name: EVPN.vrf, kind: 'vrf', table: EVPN.table, up: true },
    { name: EVPN.bridge, kind: 'bridge', master: EVPN.vrf, up: true },
    { name: EVPN.vxlan, kind: 'vxlan', vxlan: { id: vni, port: EVPN.port, local: facts.evpnLocal }, master: EVPN.bridge, up: true },
    { name: internal, master: EVPN.vrf, up: true },
  ];
  for (const fam of [...config.families].sort((a, b) => a.family - b.family)) {
    const oif = facts.families.find((x) => x.family === fam.family)?.internal.name ?? internal;
    for (const dst of fam.noSnatSources) out.routes.push({ family: fam.family, table: EVPN.table, dst, gateway: fam.internalGateway, oif });
  }
}

function familySysctls(fam: FamilyConfig, f: FamilyFacts, facts: Facts): DesiredSysctl[] {
  if (fam.family === 6) {
    // IPv6 has no rp_filter; forwarding is the only knob Kube-OVN sets.
    return [{ key: 'net/ipv6/conf/all/forwarding', value: '1' }];
  }
  const s: DesiredSysctl[] = [
    { key: 'net/ipv4/ip_forward', value: '1' },
    { key: `net/ipv4/conf/${f.internal.name}/rp_filter`, value: '0' },
  ];
  // rp_filter: the kernel uses max(conf/all, conf/<iface>). Kube-OVN sets only the interface to 0,
  // which is useless when `all` is 1 (strict): forwarded packets from VPC sources that the main table
  // routes out of net1 (selector pods, whose subnets are not in main) would be dropped on eth0.
  // Setting `all` to 0 would silently turn the check off for every other interface too. We take
  // the smallest change that makes the gateway work: only when `all` is strict, lower it to 2
  // (loose). Loose passes every VPC source (main always holds `default via <external gw>` for a
  // configured family), and other interfaces become at most loose, never unchecked. When `all` is
  // 0 or 2 it is left alone and not owned.
  if (facts.ipv4RpFilterAll === 1) s.push({ key: 'net/ipv4/conf/all/rp_filter', value: '2' });
  return s;
}

function tableRoute(fam: FamilyConfig, f: FamilyFacts): DesiredRoute {
  return { family: fam.family, table: GATEWAY_TABLE, dst: 'default', gateway: fam.internalGateway, oif: f.internal.name };
}

function policyRules(fam: FamilyConfig, f: FamilyFacts): DesiredRule[] {
  const family = fam.family;
  return [
    { family, priority: RULE_PRIORITY.fromInternal, iif: f.internal.name, table: DEFAULT_TABLE },
    { family, priority: RULE_PRIORITY.fromExternal, iif: f.external.name, table: GATEWAY_TABLE },
    { family, priority: RULE_PRIORITY.localInternal, iif: 'lo', from: hostCidr(f.internal.address), table: GATEWAY_TABLE },
    { family, priority: RULE_PRIORITY.localExternal, iif: 'lo', from: hostCidr(f.external.address), table: DEFAULT_TABLE },
  ];
}

/**
 * Set members from the (already canonical, see FamilyConfig) list; the whole address space, which
 * hash:net cannot store as /0, becomes its two halves.
 */
function setMembers(fam: FamilyConfig): string[] {
  const seen = new Set<string>();
  for (const n of fam.noSnatSources) {
    if (n.endsWith('/0')) {
      for (const half of fam.family === 4 ? ['0.0.0.0/1', '128.0.0.0/1'] : ['::/1', '8000::/1']) seen.add(half);
    } else {
      seen.add(n);
    }
  }
  return [...seen];
}

function noSnatSet(fam: FamilyConfig): DesiredIpset {
  const members = setMembers(fam);
  let maxelem = IPSET_DEFAULT_MAXELEM;
  while (maxelem < members.length) maxelem *= 2;
  // Always present, possibly empty, so the iptables rules that match it never change with the list.
  return { name: noSnatSetName(fam.family), family: fam.family, type: 'hash:net', members, maxelem };
}

function natRules(fam: FamilyConfig, f: FamilyFacts, bfdEnabled: boolean): DesiredIptables {
  const set = noSnatSetName(fam.family);
  const postrouting: string[] = [];
  if (bfdEnabled) {
    // Kube-OVN masquerades everything, including the pod's own BFD packets to the VPC BFD port. The
    // source address stays the same (eth0's), but `--random-fully` rewrites the source port (verified
    // on this kernel: 50000 -> 9396), which breaks RFC 5881's "source port 49152-65535, constant per
    // session" (our S-02). OVN does not check the port, so this is not a semantic change for it; we
    // exempt only locally generated UDP to the BFD control port, leaving forwarded traffic as is.
    postrouting.push(`-p udp -m addrtype --src-type LOCAL -m udp --dport ${BFD_CONTROL_PORT} -j RETURN`);
  }
  postrouting.push(
    `-m set --match-set ${set} src -j RETURN`,
    `-m set --match-set ${set} dst -j RETURN`,
    `-j ${CHAIN.masquerade}`,
  );
  // Kube-OVN masquerades on any output interface (no -o); kept as is.
  const snat = fam.snatTo ? `-j SNAT --to-source ${fam.snatTo} --random-fully` : '-j MASQUERADE --random-fully';
  return {
    family: fam.family,
    chains: {
      [NAT_TABLE]: {
        // Vestigial in Kube-OVN (nothing matches the mark) but observable, so reproduced.
        [CHAIN.prerouting]: [`-i ${f.internal.name} -j MARK --set-xmark 0x4000/0x4000`],
        [CHAIN.postrouting]: postrouting,
        [CHAIN.masquerade]: ['-j MARK --set-xmark 0x0/0xffffffff', snat],
      },
    },
    // Kube-OVN also flushes raw PREROUTING and nat PREROUTING/POSTROUTING wholesale. We do not
    // reproduce that: those built-in chains are not ours, and flushing them destroys other
    // software's rules (docs/kube-ovn-contract.md §9). Our rules live in owned chains behind one jump each.
    hooks: [
      { table: NAT_TABLE, chain: 'PREROUTING', rule: `-j ${CHAIN.prerouting}` },
      { table: NAT_TABLE, chain: 'POSTROUTING', rule: `-j ${CHAIN.postrouting}` },
    ],
  };
}
