import t from 'tap';
import { classifyFlow, localAddressSet } from '../../agent/snat/classify.js';
import { classifyStderrLine, LineSplitter } from '../../agent/snat/conntrack-process.js';
import { ConntrackParseError, parseConntrackXmlLine } from '../../agent/snat/conntrack-xml.js';
import * as fx from './fixtures/snat-conntrack.js';

const parse = (line: string) => {
  const ev = parseConntrackXmlLine(line);
  if (!ev) throw new Error('expected an event');
  return ev;
};

t.test('document framing lines are not events', async (t) => {
  for (const line of [fx.XML_HEADER, '<conntrack>', '</conntrack>', '']) t.equal(parseConntrackXmlLine(line), null, JSON.stringify(line));
});

t.test('NEW of a SNATed TCP flow', async (t) => {
  t.same(parse(fx.NEW_TCP4_SNAT), {
    type: 'new', family: 4, proto: 'tcp',
    original: { src: '10.16.0.100', dst: '198.51.100.10', sport: 43035, dport: 8080 },
    reply: { src: '198.51.100.10', dst: '172.17.0.11', sport: 8080, dport: 42155 },
    id: 2276017852,
  });
});

t.test('DESTROY carries counters and ns timestamps; trailing [USERSPACE] text is ignored', async (t) => {
  const ev = parse(fx.DESTROY_TCP4_SNAT);
  t.equal(ev.type, 'destroy');
  t.same(ev.counters, { orig: { packets: 5, bytes: 268 }, reply: { packets: 4, bytes: 219 } });
  t.equal(ev.startNs, '1795702630035958202');
  t.equal(ev.stopNs, '1795702630418370371');
  t.equal(ev.id, 2276017852);
});

t.test('IPv6 UDP', async (t) => {
  const ev = parse(fx.NEW_UDP6_SNAT);
  t.equal(ev.family, 6);
  t.equal(ev.proto, 'udp');
  t.same(ev.original, { src: 'fd00:10:16::100', dst: '2001:db8:100::10', sport: 58664, dport: 8081 });
  t.same(ev.reply, { src: '2001:db8:100::10', dst: 'fd00:172:17::11', sport: 8081, dport: 22036 });
});

t.test('ICMP has no ports', async (t) => {
  const ev = parse(fx.DESTROY_ICMP4_SNAT);
  t.equal(ev.proto, 'icmp');
  t.equal(ev.original.sport, null);
  t.equal(ev.reply.dport, null);
});

t.test('flows created without acct/timestamp have neither', async (t) => {
  const ev = parse(fx.DESTROY_UDP4_NO_ACCT);
  t.equal(ev.counters, undefined);
  t.equal(ev.startNs, undefined);
  t.equal(ev.stopNs, undefined);
});

t.test('table dump entries have type "entry"', async (t) => {
  const ev = parse(fx.DUMP_TCP4_SNAT);
  t.equal(ev.type, 'entry');
  t.equal(ev.startNs, '1795702684839205926');
  t.equal(ev.stopNs, undefined);
});

t.test('malformed lines are errors that name the problem', async (t) => {
  const cases: [string, RegExp][] = [
    ['garbage', /not a <flow> line/],
    [fx.NEW_TCP4_SNAT.replace('</flow>', ''), /unterminated/],
    [fx.NEW_TCP4_SNAT.replace('type="new"', 'type="weird"'), /unknown flow type "weird"/],
    [fx.NEW_TCP4_SNAT.replace('<id>2276017852</id>', ''), /id is missing/],
    [fx.NEW_TCP4_SNAT.replace('<id>2276017852</id>', '<id>x1</id>'), /id is missing or not a number/],
    [fx.NEW_TCP4_SNAT.replaceAll('protonum="2" protoname="ipv4"', 'protonum="7" protoname="x"'), /layer3 protonum "7"/],
    [fx.NEW_TCP4_SNAT.replace('<sport>43035</sport>', '<sport>70000</sport>'), /sport 70000 is not a port/],
    [fx.NEW_TCP4_SNAT.replace('<meta direction="reply">', '<meta direction="other">'), /original, reply and independent/],
    [fx.DESTROY_TCP4_SNAT.replace('<start>1795702630035958202</start>', '<start>abc</start>'), /timestamp start is not a number/],
    [fx.NEW_TCP4_SNAT.replace('<src>10.16.0.100</src>', ''), /original: src\/dst missing/],
  ];
  for (const [line, re] of cases) {
    t.throws(() => parseConntrackXmlLine(line), ConntrackParseError);
    t.throws(() => parseConntrackXmlLine(line), re, re.source);
  }
});

t.test('classification: translated source = snat, untranslated = forwarded, gateway endpoint = local', async (t) => {
  const isLocal = (ip: string) => ['172.17.0.11', '10.16.0.11', 'fd00:172:17::11'].includes(ip);
  t.equal(classifyFlow(parse(fx.NEW_TCP4_SNAT), isLocal), 'snat');
  t.equal(classifyFlow(parse(fx.NEW_UDP6_SNAT), isLocal), 'snat');
  t.equal(classifyFlow(parse(fx.DESTROY_ICMP4_SNAT), isLocal), 'snat');
  t.equal(classifyFlow(parse(fx.NEW_TCP4_FORWARDED), isLocal), 'forwarded');
  t.equal(classifyFlow(parse(fx.NEW_UDP4_LOCAL), isLocal), 'local');
  // Only the port rewritten (same address) still counts as a translation.
  const portOnly = parse(fx.NEW_TCP4_FORWARDED);
  portOnly.reply.dport = 1;
  t.equal(classifyFlow(portOnly, isLocal), 'snat');
});

t.test('local address set is re-read after its refresh interval only', async (t) => {
  let reads = 0;
  let addrs = ['10.0.0.1'];
  const isLocal = localAddressSet(60_000, () => { reads++; return addrs; });
  t.ok(isLocal('10.0.0.1'));
  addrs = ['10.0.0.2'];
  t.notOk(isLocal('10.0.0.2'), 'cached');
  t.equal(reads, 1);
  const fresh = localAddressSet(0, () => addrs);
  t.ok(fresh('10.0.0.2'));
});

t.test('stderr lines of conntrack', async (t) => {
  t.same(classifyStderrLine('NOTICE: Netlink socket buffer size has been set to 16777216 bytes.'), { kind: 'buffer' });
  t.same(classifyStderrLine(fx.ENOBUFS_WARNING[0]!), { kind: 'overflow' });
  t.same(classifyStderrLine(fx.ENOBUFS_WARNING[1]!), { kind: 'ignore' });
  t.same(classifyStderrLine(fx.ENOBUFS_WARNING[2]!), { kind: 'ignore' });
  t.same(classifyStderrLine('conntrack v1.4.7 (conntrack-tools): 10 flow events have been shown.'), { kind: 'ignore' });
  t.same(classifyStderrLine('conntrack v1.4.7 (conntrack-tools): Operation not permitted'), { kind: 'other', text: 'conntrack v1.4.7 (conntrack-tools): Operation not permitted' });
});

t.test('line splitter keeps partial lines and multi-byte characters across chunks', async (t) => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  const text = Buffer.from('one\ntw€o\nthr');
  s.push(text.subarray(0, 6));
  s.push(text.subarray(6, 8)); // splits the 3-byte euro sign
  t.same(lines, ['one']);
  s.push(text.subarray(8));
  t.same(lines, ['one', 'tw€o']);
  s.push(Buffer.from('ee\n'));
  s.push(Buffer.from('tail'));
  s.end();
  t.same(lines, ['one', 'tw€o', 'three', 'tail']);
});

t.test('an endless line is passed on once it exceeds the limit, not buffered without bound', async (t) => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l), 10);
  s.push(Buffer.from('0123456789ab'));
  t.same(lines, ['0123456789ab']);
  s.push(Buffer.from('cd\nok\n'));
  t.same(lines, ['0123456789ab', 'cd', 'ok']);
});
