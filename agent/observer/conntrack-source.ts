// The observer's event source: the addon's conntrack reader (agent/snat/ct-netlink.ts, a
// NETLINK_NETFILTER socket with a forced receive buffer, events parsed natively and handed to
// JavaScript in batches) and its table dump, as CtFlows.
import { CONNTRACK_GROUPS, dumpConntrack, NetlinkConntrackEvents, PROTO_NAMES, type ConntrackEventHandlers } from '../snat/ct-netlink.js';
import type { ConntrackEvent } from '../snat/types.js';
import type { CtFlow } from './flow.js';

/** Upstream sets 4 MiB on its event socket; so do we (SO_RCVBUFFORCE with NET_ADMIN). */
export const EVENT_BUFFER_BYTES = 4 << 20;

const PROTO_NUMBERS = new Map(Object.entries(PROTO_NAMES).map(([n, name]) => [name, Number(n)]));

export function toCtFlow(ev: ConntrackEvent): CtFlow {
  return {
    type: ev.type, family: ev.family, protoNumber: PROTO_NUMBERS.get(ev.proto) ?? 0, zone: ev.zone ?? 0, status: ev.status,
    id: ev.id, original: ev.original, reply: ev.reply, counters: ev.counters,
  };
}

export interface FlowSourceHandlers {
  onFlow(f: CtFlow): void;
  /** Events were lost (kernel queue overflow) or could not be parsed: the caller resynchronises. */
  onLoss(operation: 'overflow' | 'parse', count: number, message: string): void;
  onExit(reason: string): void;
}

export interface FlowSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The table now (synchronous: no event is handled meanwhile). */
  dump(): CtFlow[];
}

export function netlinkFlowSource(h: FlowSourceHandlers): FlowSource {
  const handlers: ConntrackEventHandlers = {
    onEvent: (ev) => h.onFlow(toCtFlow(ev)),
    onParseError: (message, count) => h.onLoss('parse', count, message),
    onOverflow: (reports) => h.onLoss('overflow', reports, 'the kernel dropped conntrack events (socket buffer full)'),
    onExit: (reason) => h.onExit(reason),
  };
  // Upstream listens to every conntrack group (netfilter.GroupsCT): updates move a flow up the cache.
  const events = new NetlinkConntrackEvents(EVENT_BUFFER_BYTES, handlers, { groups: [CONNTRACK_GROUPS.new, CONNTRACK_GROUPS.update, CONNTRACK_GROUPS.destroy] });
  return {
    start: () => events.start(),
    stop: () => events.stop(),
    dump() {
      const flows: CtFlow[] = [];
      dumpConntrack((ev) => flows.push(toCtFlow(ev)));
      return flows;
    },
  };
}
