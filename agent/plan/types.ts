// Facts discovered from the kernel and the desired dataplane computed from config + facts.
// plan/ is pure: (GatewayConfig, Facts) -> DesiredDataplane. dataplane/ applies and reads back.
import type { Family } from '../config/types.js';

export interface InterfaceFact {
  name: string;
  index: number;
  up: boolean;
  /** Address on this interface used toward the gateway (route lookup `src`). */
  address: string;
}

export interface FamilyFacts {
  family: Family;
  internal: InterfaceFact;
  external: InterfaceFact;
}

export interface Facts {
  families: FamilyFacts[];
}

export interface DesiredSysctl {
  /** Path below /proc/sys, slash separated, e.g. "net/ipv4/ip_forward". */
  key: string;
  value: string;
}

export interface DesiredRoute {
  family: Family;
  table: number;
  /** "default" or a CIDR. */
  dst: string;
  gateway: string;
  oif: string;
}

export interface DesiredRule {
  family: Family;
  priority: number;
  iif?: string;
  /** Source CIDR (host prefix for an address). */
  from?: string;
  table: number;
}

export interface DesiredIpset {
  name: string;
  family: Family;
  type: 'hash:net';
  members: string[];
}

/** iptables content owned by the agent for one family: owned chains plus one jump per built-in hook. */
export interface DesiredIptables {
  family: Family;
  /** table -> owned chain name -> rule specs (iptables-save syntax after "-A CHAIN "). */
  chains: Record<string, Record<string, string[]>>;
  /** Jumps from built-in chains into owned chains: table, built-in chain, rule spec. */
  hooks: { table: string; chain: string; rule: string }[];
}

export interface DesiredDataplane {
  sysctls: DesiredSysctl[];
  routes: DesiredRoute[];
  rules: DesiredRule[];
  ipsets: DesiredIpset[];
  iptables: DesiredIptables[];
}
