// Parses a listen address as Go's net.Listen does for Kube-OVN's BFDD_METRICS_ADDRESS:
// ":PORT", "HOST:PORT", "[IPv6]:PORT"; and decides which addresses to bind. The one parser: config
// validation uses it too, so an address that passes validation always binds the same way.
import { isIP } from 'node:net';

export interface ListenAddress {
  /** Undefined = ":PORT": the Pod's own addresses and loopback (see listenHosts). */
  host: string | undefined;
  port: number;
}

export function parseListenAddress(input: string): ListenAddress {
  const bad = (why: string) => new Error(`invalid listen address ${JSON.stringify(input)}: ${why} (use ":PORT", "HOST:PORT" or "[IPv6]:PORT")`);
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(input);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
    if (isIP(host) !== 6) throw bad(host === '' ? 'empty brackets (write ":PORT" for the default addresses)' : `${host} is not an IPv6 address`);
  } else {
    const i = input.lastIndexOf(':');
    if (i < 0) throw bad('no port');
    host = input.slice(0, i);
    portText = input.slice(i + 1);
    if (host.includes(':')) throw bad('an IPv6 host must be in brackets');
    if (host !== '' && host !== 'localhost' && isIP(host) !== 4) throw bad(`host "${host}" is not an IPv4 address, a bracketed IPv6 address or localhost`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad(`port ${JSON.stringify(portText)} is not 0-65535`);
  return { host: host === '' ? undefined : host, port: Number(portText) };
}

/**
 * The hosts to bind. An explicit host is bound as given (0.0.0.0 / [::] = every interface, an
 * explicit opt-in). ":PORT" binds loopback and the Pod's own addresses (POD_IPS: where kubelet's
 * HTTP probes and Prometheus reach the Pod), never the external network (net1).
 */
export function listenHosts(addr: ListenAddress, podIps: readonly string[]): string[] {
  if (addr.host !== undefined) return [addr.host];
  const v6 = podIps.some((ip) => isIP(ip) === 6);
  return [...new Set(['127.0.0.1', ...(v6 ? ['::1'] : []), ...podIps])];
}

export function formatListenAddress(host: string | undefined, port: number): string {
  if (host === undefined) return `:${port}`;
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
