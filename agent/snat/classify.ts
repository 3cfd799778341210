// Which flows count as SNAT records. The kernel's reply tuple tells what the gateway did: if the
// reply goes to anything but the original source (address or port), the source was rewritten.
import { networkInterfaces } from 'node:os';
import type { ConntrackEvent, FlowClass } from './types.js';

export type IsLocalAddress = (ip: string) => boolean;

export function classifyFlow(ev: ConntrackEvent, isLocal: IsLocalAddress): FlowClass {
  if (ev.reply.dst !== ev.original.src || ev.reply.dport !== ev.original.sport) return 'snat';
  if (isLocal(ev.original.src) || isLocal(ev.original.dst)) return 'local';
  return 'forwarded';
}

/**
 * The addresses of this network namespace, so flows that start or end at the gateway itself (BFD,
 * probes) are not counted as forwarded. Re-read at most every `refreshMs` (addresses change rarely;
 * a few seconds of misclassification after a change only affects the forwarded-flow gauge).
 */
export function localAddressSet(refreshMs = 10_000, read: () => string[] = readLocalAddresses): IsLocalAddress {
  let set = new Set<string>();
  let readAt = -Infinity;
  return (ip) => {
    const now = performance.now();
    if (now - readAt >= refreshMs) {
      set = new Set(read());
      readAt = now;
    }
    return set.has(ip);
  };
}

function readLocalAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}
