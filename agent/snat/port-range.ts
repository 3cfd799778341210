// The source-port range the gateway's SNAT rule allocates from, read from the rule itself: a
// MASQUERADE `--to-ports A-B` or SNAT `--to-source IP:A-B` in VEG-MASQUERADE. Without one, the
// kernel allocates from 1024-65535 for sources on ports >= 1024 (nf_nat_l4proto_unique_tuple),
// which is nearly every client. (net.ipv4.ip_local_port_range does not apply to NAT: it bounds the
// ports local sockets bind.)
import { execa } from 'execa';
import { CHAIN } from '../plan/names.js';

export interface PortRange {
  min: number;
  max: number;
}

export const KERNEL_NAT_RANGE: PortRange = { min: 1024, max: 65535 };

/** The narrowest range of the SNAT rules in `iptables-save -t nat` text; undefined when none is set. */
export function parseSnatPortRange(text: string): PortRange | undefined {
  let best: PortRange | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`-A ${CHAIN.masquerade} `)) continue;
    const m = /--to-ports (\d+)(?:-(\d+))?/.exec(line) ?? /--to-source \S*?:(\d+)(?:-(\d+))?(?:\s|$)/.exec(line);
    if (!m) continue;
    const r = { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
    if (!best || r.max - r.min < best.max - best.min) best = r;
  }
  return best;
}

export function rangeSize(r: PortRange): number {
  return r.max - r.min + 1;
}

/** From the live rules of both families; the kernel's default when no rule narrows it (or iptables fails). */
export async function readSnatPortRange(): Promise<PortRange> {
  let best: PortRange | undefined;
  for (const cmd of ['iptables-save', 'ip6tables-save']) {
    const r = await execa(cmd, ['-t', 'nat'], { reject: false, timeout: 10_000 });
    const range = r.exitCode === 0 ? parseSnatPortRange(String(r.stdout)) : undefined;
    if (range && (!best || rangeSize(range) < rangeSize(best))) best = range;
  }
  return best ?? KERNEL_NAT_RANGE;
}
