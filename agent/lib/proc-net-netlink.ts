// /proc/net/netlink: the kernel's view of the netlink sockets of this network namespace, including
// how many bytes each has queued and how many messages it could not queue (drops).

export interface ProcNetlinkSocket {
  /** Netlink protocol (0 rtnetlink, 12 netfilter, ...). */
  protocol: number;
  /** Port id, unsigned as the kernel prints it. */
  portid: number;
  /** Bitmask of the first 32 multicast groups joined, in hex as printed. */
  groups: string;
  /** Bytes queued now. */
  rmem: number;
  /** Messages the kernel could not queue (sk_drops): lost. */
  drops: number;
  inode: number;
}

export function parseProcNetNetlink(text: string): ProcNetlinkSocket[] {
  const out: ProcNetlinkSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    out.push({ protocol: Number(f[1]), portid: Number(f[2]), groups: f[3]!, rmem: Number(f[4]), drops: Number(f[8]), inode: Number(f[9]) });
  }
  return out;
}
