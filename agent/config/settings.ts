// Every setting the agent reads, with its name in each source. This table is the single list that
// sources.ts reads from, the schema validates and docs/configuration.md documents (a unit test keeps
// the document complete). The setting id is also its JSON key path in the config file.

export interface Setting {
  id: string;
  /** Environment variables, first match wins (empty values count as unset, as in Kube-OVN). */
  env: readonly string[];
  /** Long flag without the dashes; undefined = not settable by flag. */
  flag?: string;
  /** False for Kube-OVN switches that have no meaning in the config file. */
  json: boolean;
  /** Value placeholder for --help, e.g. "<ip>"; booleans take an optional value. */
  arg: string;
  /** Used when no source sets the value; it goes through the same validation. */
  default?: string | number | boolean;
  doc: string;
}

const family = (f: 4 | 6): Setting[] => [
  { id: `ipv${f}.internalGateway`, env: [`INTERNAL_GATEWAY_IPV${f}`], flag: `ipv${f}-internal-gateway`, json: true, arg: '<ip>',
    doc: `Internal (VPC) subnet gateway, reached through the internal interface. IPv${f} is configured only when both gateways are set.` },
  { id: `ipv${f}.externalGateway`, env: [`EXTERNAL_GATEWAY_IPV${f}`], flag: `ipv${f}-external-gateway`, json: true, arg: '<ip>',
    doc: 'External subnet gateway, reached through the external interface. Empty with the internal gateway set = family skipped (Kube-OVN sends this for an external subnet without this family).' },
  { id: `ipv${f}.noSnatSources`, env: [`NO_SNAT_SOURCES_IPV${f}`], flag: `ipv${f}-no-snat-sources`, json: true, arg: '<cidrs>',
    doc: 'Comma-separated CIDRs (or addresses) whose traffic, as source or destination, is not SNATed.' },
  { id: `ipv${f}.extraNoSnatSources`, env: [`EGRESS_AGENT_EXTRA_NO_SNAT_SOURCES_IPV${f}`], flag: `ipv${f}-extra-no-snat-sources`, json: true, arg: '<cidrs>',
    doc: 'More no-SNAT CIDRs, merged with the list above (overlap with it is allowed).' },
  { id: `ipv${f}.snatTo`, env: [`EGRESS_AGENT_SNAT_TO_IPV${f}`], flag: `ipv${f}-snat-to`, json: true, arg: '<ip>',
    doc: 'SNAT to this address (`-j SNAT --to-source`) instead of MASQUERADE to the outgoing interface address.' },
];

export const SETTINGS: readonly Setting[] = [
  ...family(4),
  ...family(6),
  { id: 'internalInterface', env: ['EGRESS_AGENT_INTERNAL_INTERFACE'], flag: 'internal-interface', json: true, arg: '<name>',
    doc: 'Internal interface name; default: discovered by a route lookup of the internal gateway (as Kube-OVN does).' },
  { id: 'externalInterface', env: ['EGRESS_AGENT_EXTERNAL_INTERFACE'], flag: 'external-interface', json: true, arg: '<name>',
    doc: 'External interface name; default: discovered by a route lookup of the external gateway.' },
  { id: 'allowNoFamilies', default: false, env: ['EGRESS_AGENT_ALLOW_NO_FAMILIES'], flag: 'allow-no-families', json: true, arg: '[bool]',
    doc: 'Accept a configuration without any address family (BFD-only mode). Without it, zero families is an error.' },
  { id: 'enableBgp', default: false, env: ['ENABLE_BGP'], json: false, arg: '',
    doc: 'Kube-OVN BGP mode. "true" is refused: this agent does not implement BGP/EVPN mode.' },
  { id: 'enableEvpn', default: false, env: ['ENABLE_EVPN'], json: false, arg: '',
    doc: 'Kube-OVN EVPN mode. "true" is refused, as above.' },
  { id: 'reconcileIntervalMs', default: 10000, env: ['EGRESS_AGENT_RECONCILE_INTERVAL_MS'], flag: 'reconcile-interval-ms', json: true, arg: '<ms>',
    doc: 'Period of the iptables/ipset verification and repair (netlink objects are repaired on change events).' },
  { id: 'bfd.enabled', env: ['EGRESS_AGENT_BFD_ENABLED'], flag: 'bfd-enabled', json: true, arg: '[bool]',
    doc: 'Run BFD. Default: on when BFD_PEER_IPS is non-empty (Kube-OVN sets it only with BFD enabled).' },
  { id: 'bfd.localIps', env: ['POD_IPS'], flag: 'bfd-local-ips', json: true, arg: '<ips>',
    doc: 'Local (eth0) addresses, comma-separated; one session per same-family (local, peer) pair.' },
  { id: 'bfd.peerIps', env: ['BFD_PEER_IPS'], flag: 'bfd-peer-ips', json: true, arg: '<ips>',
    doc: 'VPC BFD port addresses, comma-separated.' },
  { id: 'bfd.minTxMs', default: 1000, env: ['BFD_MIN_TX'], flag: 'bfd-min-tx', json: true, arg: '<ms>',
    doc: 'Desired minimum transmit interval (ms).' },
  { id: 'bfd.minRxMs', default: 1000, env: ['BFD_MIN_RX'], flag: 'bfd-min-rx', json: true, arg: '<ms>',
    doc: 'Required minimum receive interval (ms).' },
  { id: 'bfd.multiplier', default: 3, env: ['BFD_MULTI'], flag: 'bfd-multiplier', json: true, arg: '<n>',
    doc: 'Detection multiplier.' },
  { id: 'bfd.passive', default: false, env: ['EGRESS_AGENT_BFD_PASSIVE'], flag: 'bfd-passive', json: true, arg: '[bool]',
    doc: 'Passive role: wait for the peer to speak first (RFC 5880 6.1).' },
  { id: 'bfd.minTtl', default: 254, env: ['EGRESS_AGENT_BFD_MIN_TTL'], flag: 'bfd-min-ttl', json: true, arg: '<ttl>',
    doc: 'Lowest accepted received TTL / hop limit. OVN\'s packets arrive with 254, so 255 (strict GTSM) breaks interop.' },
  { id: 'bfd.statePath', default: '/run/egress-agent/bfd-state.json', env: ['EGRESS_AGENT_BFD_STATE_PATH'], flag: 'bfd-state-path', json: true, arg: '<path>',
    doc: 'File where local discriminators are kept across restarts (absolute path).' },
  { id: 'bfd.auth.type', default: 'none', env: ['EGRESS_AGENT_BFD_AUTH_TYPE'], flag: 'bfd-auth-type', json: true, arg: '<type>',
    doc: 'BFD authentication: none, simple, keyed-md5, meticulous-md5, keyed-sha1, meticulous-sha1. OVN does not authenticate; for other peers.' },
  { id: 'bfd.auth.keyId', env: ['EGRESS_AGENT_BFD_AUTH_KEY_ID'], flag: 'bfd-auth-key-id', json: true, arg: '<0-255>',
    doc: 'Authentication key id (required with a type other than none).' },
  { id: 'bfd.auth.keyFile', env: ['EGRESS_AGENT_BFD_AUTH_KEY_FILE'], flag: 'bfd-auth-key-file', json: true, arg: '<path>',
    doc: 'File holding the key bytes (one trailing newline is dropped). Exactly one of keyFile / keyEnv. Keys are never accepted inline and never logged.' },
  { id: 'bfd.auth.keyEnv', env: ['EGRESS_AGENT_BFD_AUTH_KEY_ENV'], flag: 'bfd-auth-key-env', json: true, arg: '<name>',
    doc: 'Name of the environment variable holding the key.' },
  { id: 'healthListen', default: ':10669', env: ['EGRESS_AGENT_HEALTH_LISTEN', 'BFDD_METRICS_ADDRESS'], flag: 'health-listen', json: true, arg: '<[host]:port>',
    doc: 'HTTP health/metrics listen address (/livez /readyz /metrics /status). BFDD_METRICS_ADDRESS is Kube-OVN G3\'s name.' },
  { id: 'controlSocket', default: '/run/egress-agent/control.sock', env: ['EGRESS_AGENT_SOCKET'], flag: 'socket', json: true, arg: '<path>',
    doc: 'Unix control socket of the agent (mode 0600), used by the CLI.' },
  { id: 'compatSocket', default: '/var/run/kube-ovn/bfdd-supervisor/control.sock', env: ['EGRESS_AGENT_COMPAT_SOCKET', 'BFDD_SUPERVISOR_SOCKET'], flag: 'compat-socket', json: true, arg: '<path>',
    doc: 'Kube-OVN G3 supervisor-compatible socket (`kube-ovn-bfdd-supervisor live|ready|status`).' },
  { id: 'drainGraceMs', default: 3000, env: ['EGRESS_AGENT_DRAIN_GRACE_MS'], flag: 'drain-grace-ms', json: true, arg: '<ms>',
    doc: 'On SIGTERM, how long BFD keeps sending AdminDown before the agent exits (the pod grace period is 30 s).' },
  { id: 'logLevel', default: 'info', env: ['EGRESS_AGENT_LOG_LEVEL'], flag: 'log-level', json: true, arg: '<level>',
    doc: 'fatal, error, warn, info, debug, trace or silent.' },
];

/** The config file path itself: not a setting (it cannot come from the file). */
export const CONFIG_FILE_INPUT = { env: 'EGRESS_AGENT_CONFIG', flag: 'config' } as const;

export function settingById(id: string): Setting {
  const s = SETTINGS.find((x) => x.id === id);
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
