// agent/lib/ip.ts: parsing with reasons, inet_ntop-compatible canonical text, CIDR handling,
// containment and Buffer round trips.
import t from 'tap';
import {
  addressClass, canonicalIp, contains, formatCidr, hasHostBits, hostCidr, ipFamily, ipFromBuffer, ipToBuffer,
  networkOf, normalizeCidr, parseCidr, parseIp,
} from '../../agent/lib/ip.js';

t.test('IPv4 parse: valid and invalid with reasons', async (t) => {
  t.equal(canonicalIp('10.16.0.1'), '10.16.0.1');
  t.equal(canonicalIp('0.0.0.0'), '0.0.0.0');
  const bad: [string, RegExp][] = [
    ['10.16.0', /4 dot-separated/],
    ['10.16.0.256', /256 is greater than 255/],
    ['10.016.0.1', /leading zero/],
    ['10.16.0.1a', /not an IP address/],
    ['10.16..1', /"" is not a decimal/],
    [' 10.0.0.1', /whitespace/],
    ['', /empty/],
    ['10.0.0.0/8', /not a CIDR/],
  ];
  for (const [text, why] of bad) {
    const r = parseIp(text);
    t.notOk(r.ok, `${JSON.stringify(text)} rejected`);
    if (!r.ok) t.match(r.reason, why);
  }
});

t.test('IPv6 parse and canonical text (glibc inet_ntop rules)', async (t) => {
  const cases: [string, string][] = [
    ['FD00:10:16:0:0:0:0:1', 'fd00:10:16::1'],
    ['fd00:0010:0016::0001', 'fd00:10:16::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // longest run wins
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'], // first run wins a tie
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'], // a single zero group is not compressed
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::ffff:a00:1', '::ffff:10.0.0.1'],
    ['::a00:1', '::10.0.0.1'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
    ['fe80::1', 'fe80::1'],
  ];
  for (const [input, want] of cases) t.equal(canonicalIp(input), want, input);
  const bad: [string, RegExp][] = [
    ['fd00::1::2', /only once/],
    ['fd00:1:2:3:4:5:6:7:8', /8 groups, found 9/],
    ['fd00:1:2:3:4:5:6', /8 groups, found 7/],
    ['fd00::12345', /1-4 digit hex/],
    ['fe80::1%eth0', /zone/],
    ['[fd00::1]', /brackets/],
    ['1.2.3.4::', /"1\.2\.3\.4" is not a 1-4 digit hex group/],
    ['::1.2.3', /embedded IPv4/],
    [':1::', /empty group/],
    ['1:2:3:4:5:6:7::8', /at least one group/],
  ];
  for (const [text, why] of bad) {
    const r = parseIp(text);
    t.notOk(r.ok, `${text} rejected`);
    if (!r.ok) t.match(r.reason, why, text);
  }
});

t.test('CIDR parse: prefix range, bare addresses, host bits, normalisation', async (t) => {
  const r = parseCidr('10.0.1.5/24');
  t.ok(r.ok);
  if (r.ok) {
    t.ok(hasHostBits(r.value));
    t.equal(formatCidr(networkOf(r.value)), '10.0.1.0/24');
    t.equal(formatCidr(r.value), '10.0.1.5/24', 'the written address is kept');
  }
  t.notOk(parseCidr('10.0.0.1').ok, 'prefix required by default');
  t.same(parseCidr('10.0.0.1', { bareIp: true }), { ok: true, value: { family: 4, bytes: Buffer.from([10, 0, 0, 1]), prefix: 32 } });
  const over = parseCidr('10.0.0.0/33');
  t.match(over.ok ? '' : over.reason, /\/33 is out of range for IPv4 \(0-32\)/);
  const over6 = parseCidr('fd00::/129');
  t.match(over6.ok ? '' : over6.reason, /\/129 is out of range for IPv6 \(0-128\)/);
  const lead = parseCidr('10.0.0.0/08');
  t.match(lead.ok ? '' : lead.reason, /not a number/);
  t.equal(normalizeCidr('FD00:1::5/64'), 'fd00:1::/64');
  t.equal(normalizeCidr('10.0.0.7'), '10.0.0.7/32', 'ipset prints host entries without /32');
  t.equal(normalizeCidr('fd00::1'), 'fd00::1/128');
  t.equal(normalizeCidr('0.0.0.0/0'), '0.0.0.0/0');
  t.equal(normalizeCidr('255.255.255.255/1'), '128.0.0.0/1');
  t.equal(normalizeCidr('10.1.2.3/31'), '10.1.2.2/31');
  t.throws(() => normalizeCidr('nope'), TypeError);
});

t.test('family, host prefix, containment', async (t) => {
  t.equal(ipFamily('10.0.0.1'), 4);
  t.equal(ipFamily('fd00::/8'), 6);
  t.equal(ipFamily('x'), undefined);
  t.equal(hostCidr('10.16.0.12'), '10.16.0.12/32');
  t.equal(hostCidr('FD00:10:16::C'), 'fd00:10:16::c/128');
  t.ok(contains('10.0.0.0/8', '10.255.1.2'));
  t.ok(contains('10.0.0.0/8', '10.1.0.0/16'));
  t.notOk(contains('10.1.0.0/16', '10.0.0.0/8'), 'a wider CIDR is not inside a narrower one');
  t.notOk(contains('10.0.0.0/8', '11.0.0.1'));
  t.ok(contains('0.0.0.0/0', '1.2.3.4'));
  t.ok(contains('fd00::/8', 'fdff::1'));
  t.notOk(contains('fd00::/8', 'fe80::1'));
  t.notOk(contains('0.0.0.0/0', '::1'), 'different families never contain each other');
  t.ok(contains('10.0.1.5/24', '10.0.1.200'), 'host bits in the outer CIDR are ignored');
});

t.test('Buffer round trips for netlink', async (t) => {
  t.same([...ipToBuffer('10.16.0.1')], [10, 16, 0, 1]);
  const b6 = ipToBuffer('fd00:10:16::1');
  t.equal(b6.length, 16);
  t.equal(b6.toString('hex'), 'fd000010001600000000000000000001');
  t.equal(ipFromBuffer(b6), 'fd00:10:16::1');
  t.equal(ipFromBuffer(new Uint8Array([172, 17, 0, 1])), '172.17.0.1');
  t.throws(() => ipFromBuffer(Buffer.alloc(5)), /4 or 16 bytes, got 5/);
  t.throws(() => ipToBuffer('300.1.1.1'), /invalid IP address "300.1.1.1"/);
  const src = ipToBuffer('10.0.0.1');
  src[0] = 99;
  t.equal(canonicalIp('10.0.0.1'), '10.0.0.1', 'returned buffers are copies');
});

t.test('address classes used by config validation', async (t) => {
  const cls = (s: string): string => {
    const r = parseIp(s);
    if (!r.ok) throw new Error(r.reason);
    return addressClass(r.value);
  };
  t.equal(cls('0.0.0.0'), 'unspecified');
  t.equal(cls('127.0.0.1'), 'loopback');
  t.equal(cls('224.0.0.5'), 'multicast');
  t.equal(cls('255.255.255.255'), 'broadcast');
  t.equal(cls('169.254.1.1'), 'link-local');
  t.equal(cls('169.255.255.255'), 'unicast', 'Kube-OVN\'s default BFD port IP is ordinary unicast');
  t.equal(cls('::'), 'unspecified');
  t.equal(cls('::1'), 'loopback');
  t.equal(cls('ff02::1'), 'multicast');
  t.equal(cls('::ffff:10.0.0.1'), 'ipv4-mapped');
  t.equal(cls('fe80::1'), 'link-local');
  t.equal(cls('fd00::1'), 'unicast');
});
