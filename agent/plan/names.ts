// Names and numbers of the dataplane objects. Table and rule numbers are Kube-OVN's (tools and people
// grep for them); chain and set names are ours, with VEG-MASQUERADE kept from Kube-OVN's script.
import type { IpFamily } from '../lib/ip.js';

/** Policy routing table holding `default via <internal gateway>`. */
export const GATEWAY_TABLE = 1000;
/** RT_TABLE_DEFAULT ("lookup default"): normally empty, so lookups fall through to main. */
export const DEFAULT_TABLE = 253;

export const RULE_PRIORITY = {
  /** iif <internal> lookup default: VPC traffic falls through to main (default via external gw). */
  fromInternal: 1001,
  /** iif <external> lookup 1000: replies and inbound traffic go back through the internal gateway. */
  fromExternal: 1002,
  /** iif lo from <internal ip>: locally generated packets (BFD, ICMP) sourced from eth0. */
  localInternal: 1003,
  /** iif lo from <external ip>: locally generated packets sourced from net1. */
  localExternal: 1004,
} as const;

export const NAT_TABLE = 'nat';

export const CHAIN = {
  prerouting: 'VEG-PREROUTING',
  postrouting: 'VEG-POSTROUTING',
  masquerade: 'VEG-MASQUERADE',
} as const;

/**
 * Every chain name the agent has ever created. Ownership is by this exact list, not by the "VEG-"
 * prefix, so a chain somebody else named VEG-something is never touched.
 */
export const OWNED_CHAINS: readonly string[] = [CHAIN.prerouting, CHAIN.postrouting, CHAIN.masquerade];

export function noSnatSetName(family: IpFamily): string {
  return family === 4 ? 'VEG-NOSNAT4' : 'VEG-NOSNAT6';
}

/** Kube-OVN's EVPN devices and VRF table (init-vpc-egress-gateway.sh). */
export const EVPN = {
  vrf: 'vrf-vpn',
  bridge: 'br-vpn',
  vxlan: 'vxlan-vpn',
  table: 2000,
  /** IANA VXLAN port. */
  port: 4789,
} as const;

/** BFD single-hop control port (RFC 5881). */
export const BFD_CONTROL_PORT = 3784;

/** ipset's default maxelem; larger lists get the next power of two. */
export const IPSET_DEFAULT_MAXELEM = 65536;
