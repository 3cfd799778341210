// The kernel's view of the conntrack tool's event socket: how many events it dropped and the
// receive buffer it really has. Needed because conntrack-tools (1.4.7 here, Debian 12) applies
// --buffer-size to its query socket, not to the socket that receives events (verified with strace:
// SO_RCVBUFFORCE on fd 3, events read from fd 4), so the event socket keeps the node's
// net.core.rmem_default, which a Pod cannot change (it is not writable in a network namespace).
import { execa } from 'execa';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { parseProcNetNetlink } from '../lib/proc-net-netlink.js';

export interface EventSocket {
  /** Netlink port id (what `ss` prints after "nft:", as a signed number). */
  portid: number;
  inode: number;
  /** Bytes queued now. */
  rmem: number;
  /** Messages the kernel could not queue (sk_drops): lost events. */
  drops: number;
}

const NETLINK_NETFILTER = 12;

/** The NETLINK_NETFILTER socket with multicast groups among `inodes`, in /proc/net/netlink's text. */
export function findEventSocket(text: string, inodes: ReadonlySet<number>): EventSocket | undefined {
  const s = parseProcNetNetlink(text).find((x) => x.protocol === NETLINK_NETFILTER && !/^0+$/.test(x.groups) && inodes.has(x.inode));
  return s && { portid: s.portid | 0, inode: s.inode, rmem: s.rmem, drops: s.drops };
}

function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** The event socket of process `pid` (in this network namespace), or undefined when not found. */
export function readEventSocket(pid: number): EventSocket | undefined {
  try {
    return findEventSocket(readFileSync('/proc/net/netlink', 'utf8'), socketInodes(pid));
  } catch {
    return undefined; // the process is gone
  }
}

/** `ss -f netlink -a -m` line of port `portid` -> its receive buffer ("rb"). */
export function parseSsReceiveBuffer(text: string, portid: number): number | undefined {
  const line = text.split('\n').find((l) => new RegExp(`\\snft:${portid}\\s`).test(l));
  const m = line ? /\brb(\d+)\b/.exec(line) : null;
  return m ? Number(m[1]) : undefined;
}

/** The receive buffer of a netfilter netlink socket, asked from the kernel through `ss` (iproute2). */
export async function eventSocketBuffer(portid: number): Promise<number | undefined> {
  const r = await execa('ss', ['-f', 'netlink', '-a', '-m'], { reject: false, timeout: 5000 });
  return r.exitCode === 0 ? parseSsReceiveBuffer(String(r.stdout), portid) : undefined;
}
