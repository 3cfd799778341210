// Command-line flags of /kube-ovn/vpc-egress-gateway-observer, parsed as Go's flag package parses
// upstream's (cmd/vpc-egress-gateway-observer): "-name value", "--name value", "-name=value",
// boolean "-health-check" (or "=true"/"=false"); parsing stops at "--" or the first non-flag. An
// unknown flag, a missing value or an empty path is an error naming the flag.
import { InputError, type ConfigError } from '../config/errors.js';
import { parseListenAddress } from '../lib/listen-address.js';
import { DEFAULT_CONFIG_PATH, DEFAULT_LISTEN_ADDRESS, DEFAULT_NETWORK_STATUS_PATH } from './config.js';

export interface ObserverFlags {
  config: string;
  networkStatus: string;
  listenAddress: string;
  healthCheck: boolean;
  help: boolean;
}

const STRING_FLAGS = { config: 'config', 'network-status': 'networkStatus', 'listen-address': 'listenAddress' } as const;

export const USAGE = `usage: vpc-egress-gateway-observer [flags]
  --config PATH           observer configuration (default ${DEFAULT_CONFIG_PATH})
  --network-status PATH   the Multus network-status annotation (default ${DEFAULT_NETWORK_STATUS_PATH})
  --listen-address ADDR   HTTP listen address for /metrics and /healthz (default ${DEFAULT_LISTEN_ADDRESS})
  --health-check          check the local observer's /healthz and exit 0 (healthy) or 1
`;

export function parseObserverFlags(argv: readonly string[]): ObserverFlags {
  const out: ObserverFlags = { config: DEFAULT_CONFIG_PATH, networkStatus: DEFAULT_NETWORK_STATUS_PATH, listenAddress: DEFAULT_LISTEN_ADDRESS, healthCheck: false, help: false };
  const errors: ConfigError[] = [];
  const bad = (key: string, value: string, message: string) => errors.push({ source: 'flag', key, value, message });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    const m = /^--?([^-=][^=]*)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      bad(arg, arg, 'unexpected argument (the observer takes flags only)');
      break;
    }
    const name = m[1]!;
    const inline = m[2];
    if (name === 'h' || name === 'help') {
      out.help = true;
    } else if (name === 'health-check') {
      if (inline === undefined || inline === 'true' || inline === '1') out.healthCheck = true;
      else if (inline === 'false' || inline === '0') out.healthCheck = false;
      else bad('--health-check', inline, 'expected true or false');
    } else if (name in STRING_FLAGS) {
      const key = STRING_FLAGS[name as keyof typeof STRING_FLAGS];
      const value = inline ?? argv[++i];
      if (value === undefined) {
        bad(`--${name}`, '', 'needs a value');
        break;
      }
      if (value === '') bad(`--${name}`, value, 'must not be empty');
      out[key] = value;
    } else {
      // Its value, if it takes one, cannot be told from an argument: stop here, as Go does.
      bad(`--${name}`, inline ?? '', 'unknown flag');
      break;
    }
  }
  try {
    parseListenAddress(out.listenAddress);
  } catch (err) {
    if (out.listenAddress !== '') bad('--listen-address', out.listenAddress, (err as Error).message);
  }
  if (errors.length > 0) throw new InputError(errors);
  return out;
}
