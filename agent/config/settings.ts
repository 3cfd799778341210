// Every setting the agent reads, one record each: its names in each source, its parser (with the
// bounds), its default and its doc. This table is the single list that sources.ts reads from,
// schema.ts validates with, flags.ts declares and docs/configuration.md documents (a unit test keeps
// the document complete); the parsed settings' type is derived from it. The setting id is also its
// JSON key path in the config file.
import { MAX_INTERVAL_MS, MAX_MULTIPLIER, MIN_INTERVAL_MS } from '../lib/bfd-limits.js';
import { LOG_LEVELS } from '../lib/log.js';
import { DEFAULT_SOCKET } from '../lib/program.js';
import {
  absolutePath, boolean, cidrList, envName, integer, integerOrOff, interfaceName, ipAddress, ipList, listenAddress, oneOf, probeList,
  type Field,
} from './fields.js';
import { DEFAULT_SNAT_RECORDS } from './snat-records.js';
import type { BfdAuthType } from './types.js';
import { DEFAULT_HOLD_DOWN_MS, DEFAULT_NEIGHBOUR_VERIFY_INTERVAL_MS, DEFAULT_PROBE_TIMING, UPSTREAM_BOUNDS, type ProbeFailureAction } from './upstream-options.js';

type Default = string | number | boolean;

export interface Setting<Id extends string = string, T = unknown, D extends Default | undefined = Default | undefined> {
  id: Id;
  /** Raw value (string from env/flags, JSON value from the file) -> typed, canonical value, or a reason. */
  parse: Field<T>;
  /** Environment variables, first match wins (empty values count as unset, as in Kube-OVN). */
  env: readonly string[];
  /** Long flag without the dashes; undefined = not settable by flag. */
  flag?: string;
  /** False for Kube-OVN switches that have no meaning in the config file. */
  json: boolean;
  /** Value placeholder for --help, e.g. "<ip>"; booleans take an optional value. */
  arg: string;
  /** Used when no source sets the value; it goes through the same validation. */
  default?: D;
  doc: string;
}

/** One record, with its id and value type kept for the derived ParsedSettings. */
const setting = <const Id extends string, T, const D extends Default | undefined = undefined>(s: Setting<Id, T, D>): Setting<Id, T, D> => s;

/** VXLAN network identifiers are 24 bits; 0 is reserved. */
export const VNI_MAX = 16_777_215;
const AUTH_TYPES = ['none', 'simple', 'keyed-md5', 'meticulous-md5', 'keyed-sha1', 'meticulous-sha1'] as const satisfies readonly BfdAuthType[];
/** sun_path is 108 bytes including the terminating NUL. */
const SOCKET_PATH_MAX = 107;
const PROBE_FAILURE_ACTIONS = ['report', 'withdraw'] as const satisfies readonly ProbeFailureAction[];

const family = <F extends 4 | 6>(f: F) => [
  setting({ id: `ipv${f}.internalGateway`, parse: ipAddress(f), env: [`INTERNAL_GATEWAY_IPV${f}`], flag: `ipv${f}-internal-gateway`, json: true, arg: '<ip>',
    doc: `Internal (VPC) subnet gateway, reached through the internal interface. IPv${f} is configured only when both gateways are set.` }),
  setting({ id: `ipv${f}.externalGateway`, parse: ipAddress(f), env: [`EXTERNAL_GATEWAY_IPV${f}`], flag: `ipv${f}-external-gateway`, json: true, arg: '<ip>',
    doc: 'External subnet gateway, reached through the external interface. Empty with the internal gateway set = family skipped (Kube-OVN sends this for an external subnet without this family).' }),
  setting({ id: `ipv${f}.noSnatSources`, parse: cidrList(f), env: [`NO_SNAT_SOURCES_IPV${f}`], flag: `ipv${f}-no-snat-sources`, json: true, arg: '<cidrs>',
    doc: 'Comma-separated CIDRs (or addresses) whose traffic, as source or destination, is not SNATed.' }),
  setting({ id: `ipv${f}.extraNoSnatSources`, parse: cidrList(f), env: [`EGRESS_AGENT_EXTRA_NO_SNAT_SOURCES_IPV${f}`], flag: `ipv${f}-extra-no-snat-sources`, json: true, arg: '<cidrs>',
    doc: 'More no-SNAT CIDRs, merged with the list above (overlap with it is allowed).' }),
  setting({ id: `ipv${f}.snatTo`, parse: ipAddress(f), env: [`EGRESS_AGENT_SNAT_TO_IPV${f}`], flag: `ipv${f}-snat-to`, json: true, arg: '<ip>',
    doc: 'SNAT to this address (`-j SNAT --to-source`) instead of MASQUERADE to the outgoing interface address.' }),
] as const;

export const SETTINGS = [
  ...family(4),
  ...family(6),
  setting({ id: 'internalInterface', parse: interfaceName, env: ['EGRESS_AGENT_INTERNAL_INTERFACE'], flag: 'internal-interface', json: true, arg: '<name>',
    doc: 'Internal interface name; default: discovered by a route lookup of the internal gateway (as Kube-OVN does).' }),
  setting({ id: 'externalInterface', parse: interfaceName, env: ['EGRESS_AGENT_EXTERNAL_INTERFACE'], flag: 'external-interface', json: true, arg: '<name>',
    doc: 'External interface name; default: discovered by a route lookup of the external gateway.' }),
  setting({ id: 'allowNoFamilies', parse: boolean, default: false, env: ['EGRESS_AGENT_ALLOW_NO_FAMILIES'], flag: 'allow-no-families', json: true, arg: '[bool]',
    doc: 'Accept a configuration without any address family (BFD-only mode). Without it, zero families is an error.' }),
  setting({ id: 'enableBgp', parse: boolean, default: false, env: ['ENABLE_BGP'], json: false, arg: '',
    doc: 'Kube-OVN BGP mode (spec.bgpConf): forwarding sysctls only; no table-1000 route, no rules 1001-1004, no SNAT (routes come from BGP).' }),
  setting({ id: 'enableEvpn', parse: boolean, default: false, env: ['ENABLE_EVPN'], json: false, arg: '',
    doc: 'Kube-OVN EVPN mode (spec.evpnConf, needs ENABLE_BGP=true and VNI): vrf-vpn (table 2000), br-vpn, vxlan-vpn, the internal interface enslaved to vrf-vpn, no-SNAT sources routed in table 2000.' }),
  setting({ id: 'vni', parse: integer(1, VNI_MAX), env: ['VNI'], json: false, arg: '',
    doc: 'EVPN VXLAN network identifier, 1..16777215 (required with ENABLE_EVPN=true).' }),
  setting({ id: 'reconcileIntervalMs', parse: integer(100, 3_600_000), default: 10000, env: ['EGRESS_AGENT_RECONCILE_INTERVAL_MS'], flag: 'reconcile-interval-ms', json: true, arg: '<ms>',
    doc: 'Period of the iptables/ipset verification and repair (netlink objects are repaired on change events).' }),
  setting({ id: 'dataplaneWithdrawAfterMs', parse: integer(0, 3_600_000), default: 10_000, env: ['EGRESS_AGENT_DATAPLANE_WITHDRAW_AFTER_MS'], flag: 'dataplane-withdraw-after-ms', json: true, arg: '<ms>',
    doc: 'BFD sessions stay AdminDown (diag 4, Forwarding Plane Reset) until the dataplane is verified, and go AdminDown again when it stays unverified this long.' }),
  setting({ id: 'bfd.enabled', parse: boolean, env: ['EGRESS_AGENT_BFD_ENABLED'], flag: 'bfd-enabled', json: true, arg: '[bool]',
    doc: 'Run BFD. Default: on when BFD_PEER_IPS is non-empty (Kube-OVN sets it only with BFD enabled).' }),
  setting({ id: 'bfd.localIps', parse: ipList, env: ['POD_IPS'], flag: 'bfd-local-ips', json: true, arg: '<ips>',
    doc: 'Local (eth0) addresses, comma-separated; one session per same-family (local, peer) pair.' }),
  setting({ id: 'bfd.peerIps', parse: ipList, env: ['BFD_PEER_IPS'], flag: 'bfd-peer-ips', json: true, arg: '<ips>',
    doc: 'VPC BFD port addresses, comma-separated.' }),
  // The CRD's range. Kube-OVN passes any CRD-valid value; refusing one would crash-loop a gateway
  // the controller considers valid, so small values are accepted with a warning (see load.ts).
  setting({ id: 'bfd.minTxMs', parse: integer(MIN_INTERVAL_MS, MAX_INTERVAL_MS), default: 1000, env: ['BFD_MIN_TX'], flag: 'bfd-min-tx', json: true, arg: '<ms>',
    doc: 'Desired minimum transmit interval (ms).' }),
  setting({ id: 'bfd.minRxMs', parse: integer(MIN_INTERVAL_MS, MAX_INTERVAL_MS), default: 1000, env: ['BFD_MIN_RX'], flag: 'bfd-min-rx', json: true, arg: '<ms>',
    doc: 'Required minimum receive interval (ms).' }),
  // The CRD allows up to 3600000, but the wire field is one byte (Kube-OVN's supervisor refuses > 255).
  setting({ id: 'bfd.multiplier', parse: integer(1, MAX_MULTIPLIER), default: 3, env: ['BFD_MULTI'], flag: 'bfd-multiplier', json: true, arg: '<n>',
    doc: 'Detection multiplier.' }),
  setting({ id: 'bfd.passive', parse: boolean, default: false, env: ['EGRESS_AGENT_BFD_PASSIVE'], flag: 'bfd-passive', json: true, arg: '[bool]',
    doc: 'Passive role: wait for the peer to speak first (RFC 5880 6.1).' }),
  setting({ id: 'bfd.minTtl', parse: integer(1, 255), default: 254, env: ['EGRESS_AGENT_BFD_MIN_TTL'], flag: 'bfd-min-ttl', json: true, arg: '<ttl>',
    doc: 'Lowest accepted received TTL / hop limit. OVN\'s packets arrive with 254, so 255 (strict GTSM) breaks interop.' }),
  setting({ id: 'bfd.realtimePriority', parse: integer(0, 99), default: 0, env: ['EGRESS_AGENT_BFD_REALTIME_PRIORITY'], flag: 'bfd-realtime-priority', json: true, arg: '<0-99>',
    doc: 'SCHED_FIFO priority of the BFD engine thread (0: normal scheduling). Needs CAP_SYS_NICE; refused, the engine runs normally and says why in /status.' }),
  setting({ id: 'bfd.statePath', parse: absolutePath(), default: '/run/egress-agent/bfd-state.json', env: ['EGRESS_AGENT_BFD_STATE_PATH'], flag: 'bfd-state-path', json: true, arg: '<path>',
    doc: 'File where local discriminators are kept across restarts (absolute path).' }),
  setting({ id: 'bfd.auth.type', parse: oneOf(AUTH_TYPES), default: 'none', env: ['EGRESS_AGENT_BFD_AUTH_TYPE'], flag: 'bfd-auth-type', json: true, arg: '<type>',
    doc: 'BFD authentication: none, simple, keyed-md5, meticulous-md5, keyed-sha1, meticulous-sha1. OVN does not authenticate; for other peers.' }),
  setting({ id: 'bfd.auth.keyId', parse: integer(0, 255), env: ['EGRESS_AGENT_BFD_AUTH_KEY_ID'], flag: 'bfd-auth-key-id', json: true, arg: '<0-255>',
    doc: 'Authentication key id (required with a type other than none).' }),
  setting({ id: 'bfd.auth.keyFile', parse: absolutePath(), env: ['EGRESS_AGENT_BFD_AUTH_KEY_FILE'], flag: 'bfd-auth-key-file', json: true, arg: '<path>',
    doc: 'File holding the key bytes (one trailing newline is dropped). Exactly one of keyFile / keyEnv. Keys are never accepted inline and never logged.' }),
  setting({ id: 'bfd.auth.keyEnv', parse: envName, env: ['EGRESS_AGENT_BFD_AUTH_KEY_ENV'], flag: 'bfd-auth-key-env', json: true, arg: '<name>',
    doc: 'Name of the environment variable holding the key.' }),
  setting({ id: 'upstream.enabled', parse: boolean, default: true, env: ['EGRESS_AGENT_UPSTREAM_ENABLED'], flag: 'upstream-enabled', json: true, arg: '[bool]',
    doc: 'Watch the external link and gateway neighbour of every configured family; a broken upstream takes that family\'s BFD sessions AdminDown (diag 6). Needs a managed dataplane.' }),
  setting({ id: 'upstream.probes', parse: probeList, env: ['EGRESS_AGENT_UPSTREAM_PROBES'], flag: 'upstream-probes', json: true, arg: '<list>',
    doc: 'Probe targets reached through the external interface: icmp:ADDR, tcp:ADDR:PORT, tcp:[IPV6]:PORT, http://ADDR[:PORT]/PATH (comma-separated; in the file also objects).' }),
  setting({ id: 'upstream.probeIntervalMs', parse: integer(...UPSTREAM_BOUNDS.intervalMs), default: DEFAULT_PROBE_TIMING.intervalMs, env: ['EGRESS_AGENT_UPSTREAM_PROBE_INTERVAL_MS'], flag: 'upstream-probe-interval-ms', json: true, arg: '<ms>',
    doc: 'Default probe interval.' }),
  setting({ id: 'upstream.probeTimeoutMs', parse: integer(...UPSTREAM_BOUNDS.timeoutMs), default: DEFAULT_PROBE_TIMING.timeoutMs, env: ['EGRESS_AGENT_UPSTREAM_PROBE_TIMEOUT_MS'], flag: 'upstream-probe-timeout-ms', json: true, arg: '<ms>',
    doc: 'Default probe timeout (below the interval).' }),
  setting({ id: 'upstream.probeRise', parse: integer(...UPSTREAM_BOUNDS.rise), default: DEFAULT_PROBE_TIMING.rise, env: ['EGRESS_AGENT_UPSTREAM_PROBE_RISE'], flag: 'upstream-probe-rise', json: true, arg: '<n>',
    doc: 'Consecutive successes that bring a failed probe target back.' }),
  setting({ id: 'upstream.probeFall', parse: integer(...UPSTREAM_BOUNDS.fall), default: DEFAULT_PROBE_TIMING.fall, env: ['EGRESS_AGENT_UPSTREAM_PROBE_FALL'], flag: 'upstream-probe-fall', json: true, arg: '<n>',
    doc: 'Consecutive failures that mark a probe target failed.' }),
  setting({ id: 'upstream.probeFailureAction', parse: oneOf(PROBE_FAILURE_ACTIONS), default: 'report', env: ['EGRESS_AGENT_UPSTREAM_PROBE_FAILURE_ACTION'], flag: 'upstream-probe-failure-action', json: true, arg: '<report|withdraw>',
    doc: 'What a failed probe does: report (not ready, BFD stays Up) or withdraw (BFD AdminDown, as for a dead link).' }),
  setting({ id: 'upstream.holdDownMs', parse: integer(...UPSTREAM_BOUNDS.holdDownMs), default: DEFAULT_HOLD_DOWN_MS, env: ['EGRESS_AGENT_UPSTREAM_HOLD_DOWN_MS'], flag: 'upstream-hold-down-ms', json: true, arg: '<ms>',
    doc: 'How long a family stays withdrawn / not ready after its last upstream failure clears.' }),
  setting({ id: 'upstream.neighbourVerifyIntervalMs', parse: integerOrOff(...UPSTREAM_BOUNDS.neighbourVerifyIntervalMs), default: DEFAULT_NEIGHBOUR_VERIFY_INTERVAL_MS, env: ['EGRESS_AGENT_UPSTREAM_NEIGHBOUR_VERIFY_INTERVAL_MS'], flag: 'upstream-neighbour-verify-interval-ms', json: true, arg: '<ms>',
    doc: 'Period of the active re-verification of the external gateway\'s ARP/ND entry; 0 = leave it to the kernel.' }),
  setting({ id: 'snatRecords.enabled', parse: boolean, default: DEFAULT_SNAT_RECORDS.enabled, env: ['EGRESS_AGENT_SNAT_RECORDS_ENABLED'], flag: 'snat-records-enabled', json: true, arg: '[bool]',
    doc: 'Retain SNAT mapping records from conntrack events. Needs a managed dataplane and the conntrack tool.' }),
  setting({ id: 'snatRecords.dir', parse: absolutePath(), default: DEFAULT_SNAT_RECORDS.dir, env: ['EGRESS_AGENT_SNAT_RECORDS_DIR'], flag: 'snat-records-dir', json: true, arg: '<path>',
    doc: 'Record directory (an emptyDir volume in the Pod).' }),
  // The writer needs room for at least one record line per file; 1 TiB is far beyond any Pod volume.
  setting({ id: 'snatRecords.maxFileBytes', parse: integer(1024, 2 ** 40), default: DEFAULT_SNAT_RECORDS.maxFileBytes, env: ['EGRESS_AGENT_SNAT_RECORDS_MAX_FILE_BYTES'], flag: 'snat-records-max-file-bytes', json: true, arg: '<bytes>',
    doc: 'A record file is rotated before it would grow beyond this.' }),
  setting({ id: 'snatRecords.maxFiles', parse: integer(1, 10_000), default: DEFAULT_SNAT_RECORDS.maxFiles, env: ['EGRESS_AGENT_SNAT_RECORDS_MAX_FILES'], flag: 'snat-records-max-files', json: true, arg: '<n>',
    doc: 'Record files kept, the one being written included.' }),
  setting({ id: 'snatRecords.maxAgeMs', parse: integer(1000, 366 * 24 * 3600 * 1000), default: DEFAULT_SNAT_RECORDS.maxAgeMs, env: ['EGRESS_AGENT_SNAT_RECORDS_MAX_AGE_MS'], flag: 'snat-records-max-age-ms', json: true, arg: '<ms>',
    doc: 'A record file is deleted once its first record is this old.' }),
  setting({ id: 'snatRecords.stdout', parse: boolean, default: DEFAULT_SNAT_RECORDS.stdout, env: ['EGRESS_AGENT_SNAT_RECORDS_STDOUT'], flag: 'snat-records-stdout', json: true, arg: '[bool]',
    doc: 'Also write every record line to stdout, for a log shipper (logs go to stderr).' }),
  setting({ id: 'snatRecords.recordStart', parse: boolean, default: DEFAULT_SNAT_RECORDS.recordStart, env: ['EGRESS_AGENT_SNAT_RECORDS_RECORD_START'], flag: 'snat-records-record-start', json: true, arg: '[bool]',
    doc: 'Write a start record when a flow begins, as well as the end record.' }),
  setting({ id: 'snatRecords.socketBufferBytes', parse: integer(4096, 2 ** 30), default: DEFAULT_SNAT_RECORDS.socketBufferBytes, env: ['EGRESS_AGENT_SNAT_RECORDS_SOCKET_BUFFER_BYTES'], flag: 'snat-records-socket-buffer-bytes', json: true, arg: '<bytes>',
    doc: 'Requested conntrack event socket buffer (forced past net.core.rmem_max with CAP_NET_ADMIN; the kernel doubles it).' }),
  setting({ id: 'snatRecords.portWarnPercent', parse: integer(1, 100), default: DEFAULT_SNAT_RECORDS.portWarnRatio * 100, env: ['EGRESS_AGENT_SNAT_RECORDS_PORT_WARN_PERCENT'], flag: 'snat-records-port-warn-percent', json: true, arg: '<percent>',
    doc: 'Warn when the SNAT source ports in use to one destination address:port reach this share of the SNAT port range.' }),
  setting({ id: 'healthListen', parse: listenAddress, default: ':10669', env: ['EGRESS_AGENT_HEALTH_LISTEN', 'BFDD_METRICS_ADDRESS'], flag: 'health-listen', json: true, arg: '<[host]:port>',
    doc: 'HTTP health/metrics listen address (/livez /readyz /metrics /status). BFDD_METRICS_ADDRESS is Kube-OVN G3\'s name.' }),
  setting({ id: 'controlSocket', parse: absolutePath(SOCKET_PATH_MAX), default: DEFAULT_SOCKET, env: ['EGRESS_AGENT_SOCKET'], flag: 'socket', json: true, arg: '<path>',
    doc: 'Unix control socket of the agent (mode 0600), used by the CLI.' }),
  setting({ id: 'compatSocket', parse: absolutePath(SOCKET_PATH_MAX), default: '/var/run/kube-ovn/bfdd-supervisor/control.sock', env: ['EGRESS_AGENT_COMPAT_SOCKET', 'BFDD_SUPERVISOR_SOCKET'], flag: 'compat-socket', json: true, arg: '<path>',
    doc: 'Kube-OVN G3 supervisor-compatible socket (`kube-ovn-bfdd-supervisor live|ready|status`).' }),
  setting({ id: 'drainGraceMs', parse: integer(0, 30_000), default: 3000, env: ['EGRESS_AGENT_DRAIN_GRACE_MS'], flag: 'drain-grace-ms', json: true, arg: '<ms>',
    doc: 'On SIGTERM, how long BFD keeps sending AdminDown before the agent exits (the pod grace period is 30 s).' }),
  // After the first apply and BFD start (1-2 s, longer under the 300m quota), before the Pod is
  // Ready: the Pod's RSS stays below 48 MiB once it serves (BENCHMARKS.md, container). Pages the
  // agent still needs (probes, scrapes, reconcile) fault back in.
  setting({ id: 'startupPageReleaseMs', parse: integer(0, 3_600_000), default: 5_000, env: ['EGRESS_AGENT_STARTUP_PAGE_RELEASE_MS'], flag: 'startup-page-release-ms', json: true, arg: '<ms>',
    doc: 'How long after start the agent gives the node binary\'s startup-only pages back to the kernel (lower steady RSS); 0 = never.' }),
  setting({ id: 'debugCommands', parse: boolean, default: false, env: ['EGRESS_AGENT_DEBUG_COMMANDS'], flag: 'debug-commands', json: true, arg: '[bool]',
    doc: 'Test-only: accept the control socket\'s debug commands (debug.blockEventLoop, which stalls the agent on purpose). Never set it in production.' }),
  setting({ id: 'logLevel', parse: oneOf(LOG_LEVELS), default: 'info', env: ['EGRESS_AGENT_LOG_LEVEL'], flag: 'log-level', json: true, arg: '<level>',
    doc: 'fatal, error, warn, info, debug, trace or silent.' }),
] as const;

type AnySetting = (typeof SETTINGS)[number];
type ValueOf<S> = S extends Setting<string, infer T> ? T : never;
type HasDefault<S> = S extends Setting<string, unknown, infer D> ? (undefined extends D ? false : true) : false;

/**
 * Every setting's parsed value by id, derived from the records: a setting with a default always has
 * a value after validation; the others are absent when no source set them.
 */
export type SettingValues = { [S in AnySetting as HasDefault<S> extends true ? S['id'] : never]: ValueOf<S> } & {
  [S in AnySetting as HasDefault<S> extends true ? never : S['id']]?: ValueOf<S>;
};

/** The config file path itself: not a setting (it cannot come from the file). */
export const CONFIG_FILE_INPUT = { env: 'EGRESS_AGENT_CONFIG', flag: 'config' } as const;

export function settingById(id: string): Setting {
  const s = (SETTINGS as readonly Setting[]).find((x) => x.id === id);
  if (!s) throw new Error(`unknown setting id ${id}`);
  return s;
}

/** Where to point at a setting nobody set: its primary env name (Kube-OVN's contract), else its flag. */
export function primaryInput(id: string): { source: 'env' | 'flag'; key: string } {
  const s = settingById(id);
  return s.env[0] ? { source: 'env', key: s.env[0] } : { source: 'flag', key: `--${s.flag}` };
}

/** commander's attribute name for a long flag: "bfd-min-tx" -> "bfdMinTx". */
export function flagAttribute(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
