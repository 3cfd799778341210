// Parses a listen address as Go's net.Listen does for Kube-OVN's BFDD_METRICS_ADDRESS:
// ":PORT" (every address), "HOST:PORT", "[IPv6]:PORT".
import { isIP } from 'node:net';

export interface ListenAddress {
  /** Undefined = every address (Node listens on :: and, dual-stack, 0.0.0.0). */
  host: string | undefined;
  port: number;
}

export function parseListenAddress(input: string): ListenAddress {
  const bad = (why: string) => new Error(`invalid listen address ${JSON.stringify(input)}: ${why} (use ":PORT", "HOST:PORT" or "[IPv6]:PORT")`);
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(input);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
    if (isIP(host) !== 6) throw bad(`${host} is not an IPv6 address`);
  } else {
    const i = input.lastIndexOf(':');
    if (i < 0) throw bad('no port');
    host = input.slice(0, i);
    portText = input.slice(i + 1);
    if (host.includes(':')) throw bad('an IPv6 host must be in brackets');
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad(`port ${JSON.stringify(portText)} is not 0-65535`);
  return { host: host === '' ? undefined : host, port: Number(portText) };
}

export function formatListenAddress(host: string | undefined, port: number): string {
  if (host === undefined) return `:${port}`;
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
