// Pure parts of the netlink wrapper: error parsing (the package only puts the errno in a message),
// NEW/DEL classification of raw notifications, and the `ip`-style descriptions used in drift reports.
import t from 'tap';
import { AttrStream, rt } from 'netlink';
import { NetlinkError, classifyChange, describeRoute, describeRule, parseNetlinkError } from '../../agent/dataplane/netlink.js';

t.test('parseNetlinkError', async (t) => {
  const cases: [unknown, string][] = [
    [new Error('Request rejected: EEXIST'), 'EEXIST'],
    [new Error('Request rejected: ESRCH'), 'ESRCH'],
    [new Error('Request rejected: -524'), 'ERRNO_524'],
    [new Error('Timeout has been reached'), 'TIMEOUT'],
    [Object.assign(new Error('recvmsg ENOBUFS'), { code: 'ENOBUFS' }), 'ENOBUFS'],
    [new Error('Multipart message not terminated properly'), 'UNKNOWN'],
    ['a string', 'UNKNOWN'],
  ];
  for (const [err, code] of cases) {
    const e = parseNetlinkError(err, 'add rule 1002');
    t.type(e, NetlinkError);
    t.equal(e.code, code, `${String((err as Error).message ?? err)} -> ${code}`);
    t.equal(e.operation, 'add rule 1002');
    // An unrecognised failure keeps the package's own text so the log says what really happened.
    const original = String((err as Error).message ?? err);
    t.equal(e.message, code === 'UNKNOWN' ? `add rule 1002: UNKNOWN (${original})` : `add rule 1002: ${code}`);
  }
  const already = new NetlinkError('EEXIST', 'x');
  t.equal(parseNetlinkError(already, 'y'), already, 'a NetlinkError passes through unchanged');
});

function encode(format: (out: AttrStream) => void): Buffer {
  const s = new AttrStream();
  format(s);
  return Buffer.concat(s.bufs);
}

t.test('classifyChange recovers NEW vs DEL and the table/family', async (t) => {
  const rule = encode((s) => rt.formatRuleMessage({ kind: 'rule', data: { family: 2, table: 252, action: 'toTbl' }, attrs: { table: 1000, priority: 1002 } }, s));
  t.same(classifyChange(rt.MessageType.DELRULE, rule), { type: 'DELRULE', kind: 'rule', op: 'del', family: 4, table: 1000 });
  t.same(classifyChange(rt.MessageType.NEWRULE, rule), { type: 'NEWRULE', kind: 'rule', op: 'new', family: 4, table: 1000 });
  const route = encode((s) => rt.formatRouteMessage({ kind: 'route', data: { family: 10, table: 252, dstLen: 0 }, attrs: { table: 1000 } }, s));
  t.same(classifyChange(rt.MessageType.DELROUTE, route), { type: 'DELROUTE', kind: 'route', op: 'del', family: 6, table: 1000 });
  const link = encode((s) => rt.formatLinkMessage({ kind: 'link', data: { index: 3, flags: { up: true } }, attrs: { ifname: 'eth0' } }, s));
  t.same(classifyChange(rt.MessageType.NEWLINK, link), { type: 'NEWLINK', kind: 'link', op: 'new', ifindex: 3 });
  const addr = encode((s) => rt.formatAddressMessage({ kind: 'address', data: { family: 2, prefixlen: 16, index: 4 }, attrs: { local: Buffer.from([10, 16, 0, 11]) } }, s));
  t.same(classifyChange(rt.MessageType.DELADDR, addr), { type: 'DELADDR', kind: 'address', op: 'del', family: 4, ifindex: 4 });
  t.equal(classifyChange(rt.MessageType.NEWNEIGH, Buffer.alloc(12)), undefined, 'types we do not watch are ignored');
});

t.test('descriptions read like `ip rule` / `ip route`', async (t) => {
  t.equal(describeRule({ priority: 1001, iif: 'eth0', table: 253 }), '1001: from all iif eth0 lookup default');
  t.equal(describeRule({ priority: 1002, iif: 'net1', table: 1000 }), '1002: from all iif net1 lookup 1000');
  t.equal(describeRule({ priority: 1003, iif: 'lo', from: '10.16.0.11/32', table: 1000 }), '1003: from 10.16.0.11 iif lo lookup 1000');
  t.equal(describeRule({ priority: 1004, iif: 'lo', from: 'fd00:172:17::11/128', table: 253 }), '1004: from fd00:172:17::11 iif lo lookup default');
  t.equal(describeRule({ priority: 1003, from: '10.20.0.0/16', table: 254, selectors: ['fwmark', '0x1'] }), '1003: from 10.20.0.0/16 fwmark 0x1 lookup main');
  t.equal(describeRule({ priority: 1002, table: 0, action: 'blackhole' }), '1002: from all blackhole');
  t.equal(describeRoute({ table: 1000, dst: 'default', gateway: '10.16.0.1', dev: 'eth0' }), 'table 1000 default via 10.16.0.1 dev eth0');
  t.equal(describeRoute({ table: 1000, dst: '10.0.0.0/8' }), 'table 1000 10.0.0.0/8');
});
