// Facts discovered from the kernel and the desired dataplane computed from config + facts.
// plan/ is pure: (GatewayConfig, Facts) -> DesiredDataplane. dataplane/ applies and reads back.
import type { IpFamily } from '../lib/ip.js';

export interface InterfaceFact {
  name: string;
  index: number;
  up: boolean;
  /** Address on this interface used toward the gateway (route lookup `src`). */
  address: string;
}

export interface FamilyFacts {
  family: IpFamily;
  internal: InterfaceFact;
  external: InterfaceFact;
}

export interface Facts {
  families: FamilyFacts[];
  /**
   * Current value of net/ipv4/conf/all/rp_filter (0, 1 or 2), when discovery read it. The planner
   * needs it because the effective rp_filter of an interface is max(all, interface): see plan.ts.
   */
  ipv4RpFilterAll?: number;
  /**
   * EVPN only: the external interface's first address, IPv4 before IPv6, in kernel order (the VXLAN
   * local address, as Kube-OVN picks it); undefined when it has none.
   */
  evpnLocal?: string;
}

export interface DesiredSysctl {
  /** Path below /proc/sys, slash separated, e.g. "net/ipv4/ip_forward". */
  key: string;
  value: string;
}

export interface DesiredRoute {
  family: IpFamily;
  table: number;
  /** "default" or a CIDR. */
  dst: string;
  gateway: string;
  oif: string;
}

export interface DesiredRule {
  family: IpFamily;
  priority: number;
  iif?: string;
  /** Source CIDR (host prefix for an address). */
  from?: string;
  table: number;
}

export interface DesiredIpset {
  name: string;
  family: IpFamily;
  type: 'hash:net';
  /** Canonical "network/prefix" CIDRs (prefix 1..32 / 1..128: hash:net cannot hold /0). */
  members: string[];
  /** `maxelem` for `ipset create`: 65536 (ipset's default) or more for larger lists. */
  maxelem: number;
}

/** iptables content owned by the agent for one family: owned chains plus one jump per built-in hook. */
export interface DesiredIptables {
  family: IpFamily;
  /** table -> owned chain name -> rule specs (iptables-save syntax after "-A CHAIN "). */
  chains: Record<string, Record<string, string[]>>;
  /** Jumps from built-in chains into owned chains: table, built-in chain, rule spec. */
  hooks: { table: string; chain: string; rule: string }[];
}

/**
 * A network device the agent owns (EVPN) or enslaves. `kind` undefined: an existing device (the
 * internal interface) that only gets a master. Devices are created, enslaved and set up in list order.
 */
export interface DesiredLink {
  name: string;
  kind?: 'vrf' | 'bridge' | 'vxlan';
  /** vrf: its routing table. */
  table?: number;
  /** vxlan: VNI, UDP destination port, local address. */
  vxlan?: { id: number; port: number; local: string };
  master?: string;
  up: boolean;
}

export interface DesiredDataplane {
  /** EVPN devices; absent or empty otherwise. Applied before routes (enslaving flushes a device's routes). */
  links?: DesiredLink[];
  sysctls: DesiredSysctl[];
  routes: DesiredRoute[];
  rules: DesiredRule[];
  ipsets: DesiredIpset[];
  iptables: DesiredIptables[];
}

/** `iptables-save` output of one family, parsed: table -> chain -> rule specs (text after "-A CHAIN "). */
export interface ParsedIptables {
  tables: Record<string, { chains: Record<string, string[]> }>;
}

/** One difference between the desired owned iptables content and the live one. */
export type IptablesDrift =
  | { kind: 'chain-missing'; family: IpFamily; table: string; chain: string }
  | { kind: 'rule-missing'; family: IpFamily; table: string; chain: string; rule: string; position: number }
  | { kind: 'rule-extra'; family: IpFamily; table: string; chain: string; rule: string }
  | { kind: 'rule-order'; family: IpFamily; table: string; chain: string; expected: string[]; actual: string[] }
  | { kind: 'hook-missing'; family: IpFamily; table: string; chain: string; rule: string }
  | { kind: 'hook-duplicate'; family: IpFamily; table: string; chain: string; rule: string; count: number }
  /** An owned chain that is not desired any more (e.g. left by an older configuration). */
  | { kind: 'chain-stale'; family: IpFamily; table: string; chain: string };
