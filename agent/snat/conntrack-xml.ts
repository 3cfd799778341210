// Parser for the one-line-per-flow XML that `conntrack -E/-L -o xml,ktimestamp,id` prints
// (libnetfilter_conntrack's nfct_snprintf XML). XML is used rather than the "extended" text because
// only the XML carries the kernel start/stop timestamps in nanoseconds; "extended" prints them
// with one-second resolution in local time. The format is fixed by the library, so a small
// positional scanner is enough (and much cheaper than a general XML parser at 20k lines/s).
import type { ConntrackEvent, Counters, TupleSide } from './types.js';

export class ConntrackParseError extends Error {
  constructor(message: string, readonly line: string) {
    super(`conntrack XML: ${message}: ${line.length > 300 ? `${line.slice(0, 300)}...` : line}`);
    this.name = 'ConntrackParseError';
  }
}

const FLOW_TYPES: Record<string, ConntrackEvent['type']> = { new: 'new', destroy: 'destroy', update: 'update' };

/** Text between `<name>` and `</name>` inside `s`, or undefined when the element is absent. */
function element(s: string, name: string): string | undefined {
  const open = `<${name}>`;
  const i = s.indexOf(open);
  if (i < 0) return undefined;
  const from = i + open.length;
  const j = s.indexOf(`</${name}>`, from);
  return j < 0 ? undefined : s.slice(from, j);
}

function attribute(s: string, name: string): string | undefined {
  const key = ` ${name}="`;
  const i = s.indexOf(key);
  if (i < 0) return undefined;
  const from = i + key.length;
  const j = s.indexOf('"', from);
  return j < 0 ? undefined : s.slice(from, j);
}

function unsigned(text: string | undefined, what: string, line: string): number {
  if (text === undefined || !/^[0-9]{1,20}$/.test(text)) throw new ConntrackParseError(`${what} is missing or not a number`, line);
  return Number(text);
}

function optionalPort(seg: string, name: string, line: string): number | null {
  const v = element(seg, name);
  if (v === undefined) return null;
  const n = unsigned(v, name, line);
  if (n > 65535) throw new ConntrackParseError(`${name} ${n} is not a port`, line);
  return n;
}

interface Direction {
  family: 4 | 6;
  proto: string;
  side: TupleSide;
  counters?: Counters;
}

function direction(seg: string, which: string, line: string): Direction {
  const l3 = attribute(seg, 'protonum');
  const family = l3 === '2' ? 4 : l3 === '10' ? 6 : undefined;
  if (family === undefined) throw new ConntrackParseError(`${which}: layer3 protonum "${l3 ?? ''}" is neither 2 (ipv4) nor 10 (ipv6)`, line);
  const src = element(seg, 'src');
  const dst = element(seg, 'dst');
  if (!src || !dst) throw new ConntrackParseError(`${which}: src/dst missing`, line);
  const l4 = seg.indexOf('<layer4 ');
  if (l4 < 0) throw new ConntrackParseError(`${which}: layer4 missing`, line);
  const l4seg = seg.slice(l4);
  const proto = attribute(l4seg, 'protoname') ?? `proto-${attribute(l4seg, 'protonum') ?? 'unknown'}`;
  const side: TupleSide = { src, dst, sport: optionalPort(l4seg, 'sport', line), dport: optionalPort(l4seg, 'dport', line) };
  const c = element(seg, 'counters');
  const counters = c === undefined ? undefined : { packets: unsigned(element(c, 'packets'), `${which} packets`, line), bytes: unsigned(element(c, 'bytes'), `${which} bytes`, line) };
  return { family, proto, side, counters };
}

/**
 * One line of conntrack XML output. Returns null for the document framing lines (`<?xml ...?>`,
 * `<conntrack>`, `</conntrack>`); throws ConntrackParseError for anything else that is not a flow.
 * Text after `</flow>` (e.g. ` [USERSPACE] portid=...` when a tool deleted the entry) is ignored.
 */
export function parseConntrackXmlLine(line: string): ConntrackEvent | null {
  if (line === '' || line.startsWith('<?xml') || line === '<conntrack>' || line === '</conntrack>') return null;
  if (!line.startsWith('<flow')) throw new ConntrackParseError('not a <flow> line', line);
  const end = line.indexOf('</flow>');
  if (end < 0) throw new ConntrackParseError('unterminated <flow>', line);
  const head = line.slice(0, line.indexOf('>') + 1);
  const typeAttr = attribute(head, 'type');
  const type = typeAttr === undefined ? 'entry' : FLOW_TYPES[typeAttr];
  if (!type) throw new ConntrackParseError(`unknown flow type "${typeAttr}"`, line);

  const body = line.slice(0, end);
  const o = body.indexOf('<meta direction="original">');
  const r = body.indexOf('<meta direction="reply">');
  const ind = body.indexOf('<meta direction="independent">');
  if (o < 0 || r < o || ind < r) throw new ConntrackParseError('expected original, reply and independent <meta> in that order', line);
  const orig = direction(body.slice(o, r), 'original', line);
  const reply = direction(body.slice(r, ind), 'reply', line);
  if (orig.family !== reply.family) throw new ConntrackParseError('original and reply families differ', line);
  const meta = body.slice(ind);

  const ts = element(meta, 'timestamp');
  const startNs = ts === undefined ? undefined : element(ts, 'start');
  const stopNs = ts === undefined ? undefined : element(ts, 'stop');
  for (const [k, v] of [['timestamp start', startNs], ['timestamp stop', stopNs]] as const) {
    if (v !== undefined && !/^[0-9]{1,20}$/.test(v)) throw new ConntrackParseError(`${k} is not a number`, line);
  }

  const ev: ConntrackEvent = {
    type,
    family: orig.family,
    proto: orig.proto,
    original: orig.side,
    reply: reply.side,
    id: unsigned(element(meta, 'id'), 'id', line),
  };
  if (orig.counters && reply.counters) ev.counters = { orig: orig.counters, reply: reply.counters };
  if (startNs !== undefined) ev.startNs = startNs;
  if (stopNs !== undefined) ev.stopNs = stopNs;
  return ev;
}
