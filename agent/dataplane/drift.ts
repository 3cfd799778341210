// The dataplane's shared vocabulary: what a read-back found different from the plan. Produced by
// the dataplane modules, reported by the reconciler to the daemon, health, metrics and the CLI.
import type { IpFamily } from '../lib/ip.js';

/** One difference between the desired and the live dataplane, precise enough for a log line. */
export interface Drift {
  kind: 'sysctl' | 'route' | 'rule' | 'ipset' | 'iptables' | 'link';
  family?: IpFamily;
  /** Human-readable identity of the object, e.g. "table 1000 default via 10.16.0.1 dev eth0". */
  object: string;
  problem: 'missing' | 'extra' | 'different';
  expected?: string;
  actual?: string;
}
