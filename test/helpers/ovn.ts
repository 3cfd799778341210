// Typed wrapper around scripts/lab/ovn.sh: a real OVN (ovn-northd + ovn-controller, OVS userspace
// datapath) whose logical router runs BFD with gateway replicas in network namespaces. Every call
// is an argument array (no shell); the script owns all state and cleanup.
import { execa, type Options, type Result } from 'execa';
import { fileURLToPath } from 'node:url';
import type { LabNode, TeardownHost } from './lab.js';

export const OVN_SH = fileURLToPath(new URL('../../scripts/lab/ovn.sh', import.meta.url));

export type OvnFamily = '4' | '6' | 'dual';
/** SB `BFD.status` of a session; `absent` = no such row. */
export type OvnBfdStatus = 'up' | 'down' | 'init' | 'admin_down' | 'absent';

export interface OvnLabOptions {
  /** Gateway replicas gw1..gwN on the router port's switch (default 2). */
  gateways?: number;
  family?: OvnFamily;
  /** net1 on every replica and an external gateway (ovn.sh up --underlay yes): for the init container. */
  underlay?: boolean;
}

export interface OvnLabInfo {
  prefix: string;
  family: OvnFamily;
  stateDir: string;
  chassis: string;
  router: string;
  routerPort: { name: string; mac: string; ipv4?: string; ipv6?: string };
  namespaces: { ovs: string; kick: string };
  gateways: Record<string, { ns: string; mac: string; ipv4?: string; ipv6?: string; net1?: { ipv4?: string; ipv6?: string } }>;
  /** With the underlay: the external gateway's addresses (in PREFIX-ext). */
  externalGateway?: { ipv4?: string; ipv6?: string };
}

/** One SB BFD row (what pinctrl runs). */
export interface OvnBfdRow {
  dstIp: string;
  status: OvnBfdStatus;
  /** OVN's local discriminator: the My Discriminator of its packets. */
  disc: number;
  srcPort: number;
  minTx: number;
  minRx: number;
  detectMult: number;
  logicalPort: string;
}

/** A status change of a SB BFD row, timestamped (ms) by the ovsdb-client monitor as it arrived. */
export interface OvnBfdEvent {
  at: number;
  dstIp: string;
  status: OvnBfdStatus;
}

export interface BfdTimersMs {
  minTx: number;
  minRx: number;
  mult: number;
}

export class OvnLab {
  readonly prefix: string;
  readonly gatewayCount: number;
  readonly family: OvnFamily;
  readonly underlay: boolean;

  constructor(prefix: string, opts: OvnLabOptions = {}) {
    this.prefix = prefix;
    this.gatewayCount = opts.gateways ?? 2;
    this.family = opts.family ?? 'dual';
    this.underlay = opts.underlay ?? false;
  }

  /** The network namespace of a lab node (ovs, kick, gwN). */
  ns(node: LabNode | 'ovs' | 'kick' | 'ext'): string {
    return `${this.prefix}-${node}`;
  }

  get gateways(): LabNode[] {
    return Array.from({ length: this.gatewayCount }, (_, i) => `gw${i + 1}` as const);
  }

  /** Runs `ovn.sh COMMAND -p PREFIX ARGS...`; rejects with the script's stderr on failure. */
  run(command: string, args: readonly string[] = [], opts: Options = {}): Promise<Result> {
    return execa(OVN_SH, [command, '-p', this.prefix, ...args], { timeout: 120_000, ...opts });
  }

  private async out(command: string, args: readonly string[] = []): Promise<string> {
    return String((await this.run(command, args)).stdout).trim();
  }

  async up(): Promise<void> {
    await this.run('up', ['--gateways', String(this.gatewayCount), '--family', this.family, '--underlay', this.underlay ? 'yes' : 'no']);
  }

  async down(): Promise<void> {
    await this.run('down');
  }

  /** Kube-OVN's environment of the replica's bfdd container (POD_IPS, BFD_PEER_IPS, BFD_MIN_*), with the underlay also the init container's gateway variables. */
  async env(gw: LabNode): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const line of (await this.out('env', [gw])).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return env;
  }

  async info(): Promise<OvnLabInfo> {
    return JSON.parse(await this.out('info')) as OvnLabInfo;
  }

  exec(node: LabNode | 'ovs' | 'kick' | 'ext', argv: readonly string[], opts: Options = {}): Promise<Result> {
    return this.run('exec', [node, ...argv], opts);
  }

  /** Creates (or re-times) the NB BFD row for dst and its ECMP `--bfd` static route. */
  async bfdRoute(dst: string, t?: BfdTimersMs): Promise<void> {
    await this.run('bfd-route', [dst, ...(t ? [String(t.minTx), String(t.minRx), String(t.mult)] : [])]);
  }

  async bfdStatus(dst: string): Promise<OvnBfdStatus> {
    return (await this.out('bfd-state', [dst])) as OvnBfdStatus;
  }

  /** Polls SB until dst's status is `status`; resolves with the ms waited, rejects on timeout. */
  async bfdWait(dst: string, status: OvnBfdStatus, timeoutS: number): Promise<number> {
    return Number(await this.out('bfd-wait', [dst, status, String(timeoutS)]));
  }

  async bfdRows(): Promise<OvnBfdRow[]> {
    const j = JSON.parse(await this.out('bfd-json')) as { headings: string[]; data: unknown[][] };
    const col = (row: unknown[], name: string): unknown => row[j.headings.indexOf(name)];
    return j.data.map((r) => ({
      dstIp: String(col(r, 'dst_ip')),
      status: String(col(r, 'status')) as OvnBfdStatus,
      disc: Number(col(r, 'disc')),
      srcPort: Number(col(r, 'src_port')),
      minTx: Number(col(r, 'min_tx')),
      minRx: Number(col(r, 'min_rx')),
      detectMult: Number(col(r, 'detect_mult')),
      logicalPort: String(col(r, 'logical_port')),
    }));
  }

  async bfdRow(dst: string): Promise<OvnBfdRow> {
    const row = (await this.bfdRows()).find((r) => r.dstIp === dst);
    if (!row) throw new Error(`no SB BFD row for ${dst}`);
    return row;
  }

  /** The nexthops lr0's logical flows route to now (northd drops those whose BFD is down). */
  async nexthops(): Promise<string[]> {
    const s = await this.out('nexthops');
    return s ? s.split('\n').sort() : [];
  }

  /** br-int's OpenFlow select groups: the bucket count of each (ECMP over N nexthops = N buckets). */
  async selectGroupBuckets(): Promise<number[]> {
    return (await this.out('groups')).split('\n').filter((l) => l.includes('type=select')).map((l) => l.split('bucket=').length - 1);
  }

  async events(): Promise<OvnBfdEvent[]> {
    const s = await this.out('events');
    return s.split('\n').filter(Boolean).map((l) => {
      const [at, dstIp, status] = l.split(' ');
      return { at: Number(at), dstIp: dstIp!, status: status as OvnBfdStatus };
    });
  }

  async kickerStart(intervalMs = 50): Promise<void> {
    await this.run('kicker', ['start', String(intervalMs)]);
  }

  async kickerStop(): Promise<void> {
    await this.run('kicker', ['stop']);
  }
}

/**
 * Brings an OVN lab up for a test and registers its teardown (which runs even when the test
 * fails). A stale lab with the same prefix, left by a killed run, is removed first: the prefix
 * belongs to the calling test.
 */
export async function withOvnLab(t: TeardownHost, opts: OvnLabOptions & { prefix: string }): Promise<OvnLab> {
  const lab = new OvnLab(opts.prefix, opts);
  t.teardown(() => lab.down());
  await lab.down();
  await lab.up();
  return lab;
}

/** One BFD Control packet seen on the wire (RFC 5880 4.1), with the IP/UDP fields that matter. */
export interface WireBfd {
  /** Capture time, Unix epoch ms (tcpdump's clock). */
  at: number;
  src: string;
  dst: string;
  ttl: number;
  srcPort: number;
  state: 'AdminDown' | 'Down' | 'Init' | 'Up';
  poll: boolean;
  final: boolean;
  mult: number;
  myDiscr: number;
  yourDiscr: number;
  desiredMinTxUs: number;
  requiredMinRxUs: number;
}

const STATES = ['AdminDown', 'Down', 'Init', 'Up'] as const;

/** Decodes one IPv4/IPv6 + UDP + BFD packet (bytes from the IP header on); null if it is not one. */
export function decodeWireBfd(b: Buffer, at = 0): WireBfd | null {
  let src: string, dst: string, ttl: number, udp: number;
  if (b.length >= 20 && b[0]! >> 4 === 4) {
    if (b[9] !== 17) return null;
    src = [...b.subarray(12, 16)].join('.');
    dst = [...b.subarray(16, 20)].join('.');
    ttl = b[8]!;
    udp = (b[0]! & 0x0f) * 4;
  } else if (b.length >= 40 && b[0]! >> 4 === 6) {
    if (b[6] !== 17) return null;
    // The URL parser prints an IPv6 address canonically (RFC 5952), as ip(8) and OVN do.
    const v6 = (o: number) => new URL(`http://[${Array.from({ length: 8 }, (_, i) => b.readUInt16BE(o + 2 * i).toString(16)).join(':')}]`).hostname.slice(1, -1);
    src = v6(8);
    dst = v6(24);
    ttl = b[7]!;
    udp = 40;
  } else return null;
  if (b.length < udp + 8 + 24) return null;
  const p = b.subarray(udp + 8);
  return {
    at, src, dst, ttl,
    srcPort: b.readUInt16BE(udp),
    state: STATES[p[1]! >> 6]!,
    poll: (p[1]! & 0x20) !== 0,
    final: (p[1]! & 0x10) !== 0,
    mult: p[2]!,
    myDiscr: p.readUInt32BE(4),
    yourDiscr: p.readUInt32BE(8),
    desiredMinTxUs: p.readUInt32BE(12),
    requiredMinRxUs: p.readUInt32BE(16),
  };
}

/**
 * Captures BFD Control packets (UDP to port 3784, sent by one of `sources`) on eth0 of a lab node
 * with tcpdump and decodes them. Resolves once tcpdump listens. `packets` resolves after `count`
 * packets, `ms` milliseconds or stop(), whichever comes first; with a count, fewer is an error.
 */
export async function captureBfd(lab: { ns(node: LabNode): string }, node: LabNode, sources: readonly string[], opts: { count?: number; ms: number }): Promise<{ packets: Promise<WireBfd[]>; stop: () => Promise<WireBfd[]> }> {
  const filter = `udp dst port 3784 and (${sources.map((a) => `src host ${a}`).join(' or ')})`;
  // timeout(1) as well as execa's: a capture orphaned by a killed test run still ends.
  const child = execa('timeout', [String(Math.ceil(opts.ms / 1000) + 1), 'ip', 'netns', 'exec', lab.ns(node), 'tcpdump', '-i', 'eth0', '-nn', '-l', '-U', '-tt', '-x', ...(opts.count ? ['-c', String(opts.count)] : []), filter], {
    timeout: opts.ms, reject: false, buffer: true,
  });
  // tcpdump says "listening on eth0" on stderr once the capture is armed.
  const ready = new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    });
    void child.then((r) => reject(new Error(`tcpdump exited before it was listening: ${String(r.stderr)}`)));
  });
  const packets = child.then((r) => {
    const out: WireBfd[] = [];
    let hex = '';
    let at = 0;
    const flush = () => {
      const p = hex ? decodeWireBfd(Buffer.from(hex, 'hex'), at) : null;
      if (p) out.push(p);
      hex = '';
    };
    // -tt -x: "EPOCH.USEC IP ..." then hex lines "\t0x0000:  4500 0034 ..." from the IP header on.
    for (const line of String(r.stdout).split('\n')) {
      const hexLine = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4}\s?)+)/.exec(line);
      if (hexLine) {
        hex += hexLine[1]!.replace(/\s+/g, '');
        continue;
      }
      flush();
      const head = /^(\d+)\.(\d{6}) /.exec(line);
      if (head) at = Number(head[1]) * 1000 + Number(head[2]) / 1000;
    }
    flush();
    if (opts.count && out.length < opts.count) throw new Error(`captured ${out.length} of ${opts.count} BFD packets on ${node} within ${opts.ms} ms (tcpdump: ${String(r.stderr).trim()})`);
    return out;
  });
  packets.catch(() => undefined); // handled by the caller; not an unhandled rejection if `ready` failed
  await ready;
  return { packets, stop: () => (child.kill('SIGTERM'), packets) };
}
