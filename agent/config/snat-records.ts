// Settings of the SNAT mapping records. The defaults bound the disk use to 4 x 16 MiB = 64 MiB,
// far below a Pod's ephemeral-storage budget, and keep no record longer than 24 h. Here, below
// agent/snat, because config validation checks the same limits the record writer enforces.

export interface RotationLimits {
  /** Rotate before a file would grow beyond this. */
  maxFileBytes: number;
  /** Files kept, the one being written included. */
  maxFiles: number;
  /** A file is deleted once its first record is this old; files rotate every maxAgeMs / maxFiles. */
  maxAgeMs: number;
}

/** Shortest rotation interval (maxAgeMs / maxFiles) accepted. */
export const MIN_ROTATE_INTERVAL_MS = 1000;

export const DEFAULT_ROTATION: RotationLimits = { maxFileBytes: 16 * 1024 * 1024, maxFiles: 4, maxAgeMs: 24 * 3600 * 1000 };

export interface SnatRecordsConfig extends RotationLimits {
  enabled: boolean;
  /** Record directory (an emptyDir volume in the Pod). */
  dir: string;
  /** Also write every record line to stdout (for a log shipper); logs go to stderr. */
  stdout: boolean;
  /** Write "start" records at NEW as well as "end" records at DESTROY. */
  recordStart: boolean;
  /** Requested conntrack event socket buffer (the kernel doubles it; memory is used only while events queue). */
  socketBufferBytes: number;
  /**
   * Where events come from: "netlink", the addon's own socket (SO_RCVBUFFORCE, parsed in C++), or
   * "conntrack-tool", the old `conntrack -E` child (its event socket keeps rmem_default; kept as
   * the benchmark's baseline).
   */
  eventSource: 'netlink' | 'conntrack-tool';
  /** The conntrack-tools executable (eventSource "conntrack-tool"). */
  conntrackCommand: string;
  /** Warn (log, metric threshold) when a SNAT key's source ports in use reach this share of the range. */
  portWarnRatio: number;
}

export const DEFAULT_RECORD_DIR = '/var/log/egress-agent/snat';

export const DEFAULT_SNAT_RECORDS: SnatRecordsConfig = {
  enabled: true,
  dir: DEFAULT_RECORD_DIR,
  stdout: false,
  recordStart: true,
  socketBufferBytes: 8 * 1024 * 1024,
  eventSource: 'netlink',
  conntrackCommand: 'conntrack',
  portWarnRatio: 0.7,
  ...DEFAULT_ROTATION,
};
