// Domain types for validated agent configuration. Produced by agent/config, consumed by
// plan/, bfd/ and the daemon. Everything here is already validated and normalised.
import type { SnatRecordsConfig } from './snat-records.js';
import type { HandoffUse } from './handoff.js';
import type { ProbeFailureAction, ProbeTargetInput } from './upstream-options.js';
import type { IpFamily } from '../lib/ip.js';

/** One address family the gateway serves (configured only when both gateways are set, as Kube-OVN does). */
export interface FamilyConfig {
  family: IpFamily;
  /** OVN logical router port IP reachable through the internal (VPC) interface. */
  internalGateway: string;
  /** Underlay gateway reachable through the external interface. */
  externalGateway: string;
  /**
   * Canonical CIDRs (network address, explicit prefix) whose traffic is forwarded without SNAT:
   * NO_SNAT_SOURCES_IPV4/6 merged with our extra no-SNAT list, duplicates removed.
   */
  noSnatSources: string[];
  /** Optional explicit SNAT address (our extra); default: MASQUERADE to the external interface address. */
  snatTo?: string;
}

export type BfdAuthType = 'none' | 'simple' | 'keyed-md5' | 'meticulous-md5' | 'keyed-sha1' | 'meticulous-sha1';

export interface BfdAuthConfig {
  type: BfdAuthType;
  keyId: number;
  /** Secret bytes; read from a file or an environment variable, never logged. */
  key: Buffer;
}

export interface BfdConfig {
  enabled: boolean;
  /** POD_IPS: local (eth0) addresses. */
  localIps: string[];
  /** BFD_PEER_IPS: the VPC BFD port addresses. */
  peerIps: string[];
  minTxMs: number;
  minRxMs: number;
  multiplier: number;
  passive: boolean;
  /** Lowest accepted received TTL/hop limit (OVN's packets cross a router hop: 254). */
  minTtl: number;
  /**
   * SCHED_FIFO priority of the engine thread; 0 = normal. On a loaded node a normal thread can be
   * descheduled for tens of ms, which is a flap at 3 x 10 ms.
   */
  realtimePriority: number;
  auth?: BfdAuthConfig;
  /** Where local discriminators are persisted so they stay stable across restarts. */
  statePath: string;
}

/**
 * Upstream health (docs/upstream-health.md). Families and interfaces are not here: the daemon takes
 * them from the configured families and the discovered external interface.
 */
export interface UpstreamConfig {
  enabled: boolean;
  /** Checked against the configured families (agent/upstream resolves them again with the interface). */
  probes: ProbeTargetInput[];
  /** Timing of probes that do not set their own. */
  probeIntervalMs: number;
  probeTimeoutMs: number;
  probeRise: number;
  probeFall: number;
  probeFailureAction: ProbeFailureAction;
  holdDownMs: number;
  /** 0 = leave neighbour verification to the kernel. */
  neighbourVerifyIntervalMs: number;
}

/** SNAT mapping records (docs/snat-records.md); the conntrack executable is not configurable. */
export type SnatRecordsSettings = Omit<SnatRecordsConfig, 'conntrackCommand' | 'eventSource'>;

export interface GatewayConfig {
  families: FamilyConfig[];
  /** Explicit interface names (our extras); default: discovered by route lookup of each gateway. */
  internalInterface?: string;
  externalInterface?: string;
  /** Period of the iptables/ipset verification (netlink objects are repaired on events). */
  reconcileIntervalMs: number;
  /** How long the dataplane may stay unverified (after its first verification) before BFD goes AdminDown; absent = 10 s. */
  dataplaneWithdrawAfterMs?: number;
  bfd: BfdConfig;
  healthListen: string;
  controlSocket: string;
  /** Kube-OVN G3 supervisor socket path, served in addition to our own. */
  compatSocket: string;
  drainGraceMs: number;
  /** Delay of the one-time release of the executable's startup pages; null or absent = never. */
  startupPageReleaseMs?: number | null;
  logLevel: string;
  /** Test-only debug commands on the control socket (debug.blockEventLoop); absent = off. */
  debugCommands?: boolean;
  /** loadConfig always sets it; absent (a config built in code, e.g. a benchmark) = off. */
  upstream?: UpstreamConfig;
  /** loadConfig always sets it; absent = off. */
  snatRecords?: SnatRecordsSettings;
  /** Kube-OVN BGP mode (ENABLE_BGP): only the forwarding sysctls; routes come from BGP (FRR sidecar). */
  bgp?: boolean;
  /** Kube-OVN EVPN mode (ENABLE_EVPN + VNI, only with bgp): the VRF/bridge/VXLAN devices. */
  evpn?: { vni: number };
  /** `run` only: whether the init container's hand-off was adopted (agent/config/handoff.ts). */
  handoff?: HandoffUse;
  /** Path of the JSON config file the settings came from, if any (reload re-reads it). */
  configFile?: string;
  /**
   * Where each setting came from, by setting id (JSON key path, e.g. "ipv4.internalGateway"), so
   * later checks (discovery) can name the input the way the person wrote it. See configErrorFor().
   */
  origins?: Record<string, ConfigOrigin>;
}

export interface ConfigOrigin {
  source: 'env' | 'file' | 'flag' | 'default' | 'handoff';
  /** Env variable, JSON key path or "--flag". */
  key: string;
}
