// SNAT port capacity from conntrack events: per SNAT address x destination x protocol, the ports
// in use follow NEW/DESTROY, a dump reconciles them (recovering unknown flows, dropping ended
// ones), and the range comes from the SNAT rule.
import t from 'tap';
import { SnatPorts } from '../../agent/snat/port-capacity.js';
import { KERNEL_NAT_RANGE, parseSnatPortRange, rangeSize } from '../../agent/snat/port-range.js';
import type { ConntrackEvent } from '../../agent/snat/types.js';

function flow(id: number, sport: number, dst = '198.51.100.10', dport = 53, proto = 'udp', snat = '172.17.0.11'): ConntrackEvent {
  return {
    type: 'new', family: 4, proto, id,
    original: { src: '10.16.0.100', sport: 40000 + id, dst, dport },
    reply: { src: dst, sport: dport, dst: snat, dport: sport },
  };
}

t.test('ports in use per key follow NEW and DESTROY; the tightest key comes first', async (t) => {
  const p = new SnatPorts(100);
  for (let i = 1; i <= 80; i++) t.ok(p.onNew(flow(i, 20000 + i)), `flow ${i} has a key`);
  p.onNew(flow(1000, 30000, '203.0.113.5', 443, 'tcp'));
  const [top, second] = p.usage();
  t.match(top, { proto: 'udp', snat: '172.17.0.11', dst: '198.51.100.10', dport: 53, inUse: 80, available: 20, ratio: 0.8 });
  t.match(second, { proto: 'tcp', dst: '203.0.113.5', dport: 443, inUse: 1 });
  for (let i = 1; i <= 30; i++) p.onDestroy(flow(i, 20000 + i));
  p.onDestroy(flow(99_999, 20001)); // unknown: ignored
  t.equal(p.usage()[0]!.inUse, 50);
  p.onDestroy(flow(1000, 30000, '203.0.113.5', 443, 'tcp'));
  t.equal(p.usage().length, 1, 'a key without flows is forgotten');
  t.equal(p.size, 50);
});

t.test('flows without ports (ICMP) are tracked but use no port key', async (t) => {
  const p = new SnatPorts(100);
  const icmp: ConntrackEvent = { ...flow(5, 0), proto: 'icmp', original: { src: '10.16.0.100', sport: null, dst: '1.1.1.1', dport: null }, reply: { src: '1.1.1.1', sport: null, dst: '172.17.0.11', dport: null } };
  t.equal(p.onNew(icmp), null);
  t.same(p.usage(), []);
  t.equal(p.size, 1);
});

t.test('a dump reconciles: unknown flows are returned (lost NEWs), missing ones dropped (lost DESTROYs)', async (t) => {
  const p = new SnatPorts(100);
  p.onNew(flow(1, 20001));
  p.onNew(flow(2, 20002));
  const unknown = p.reconcile([flow(2, 20002), flow(3, 20003), flow(4, 20004)]);
  t.same(unknown.map((e) => e.id), [3, 4]);
  t.equal(p.usage()[0]!.inUse, 3, 'flow 1 ended unseen; 3 and 4 started unseen');
  t.equal(p.onNew(flow(3, 20003)), undefined, 'a NEW queued behind the dump: already recovered');
  t.equal(p.usage()[0]!.inUse, 3, 'not counted twice');
  t.ok(p.onNew(flow(2, 20002)), 'a NEW for a known (not recovered) flow: its DESTROY was lost, the id and port reused');
  t.equal(p.usage()[0]!.inUse, 3, 'the old flow was released');
});

t.test('two open flows with the same conntrack id (a 32-bit hash) are two flows', async (t) => {
  const p = new SnatPorts(100);
  t.ok(p.onNew(flow(7, 20001)));
  t.ok(p.onNew(flow(7, 20002)), 'same id, another translated port: another flow');
  t.equal(p.usage()[0]!.inUse, 2, 'both use a port');
  p.onDestroy(flow(7, 20001));
  t.equal(p.usage()[0]!.inUse, 1, 'ending one leaves the other');
  t.equal(p.size, 1);
});

t.test('the port range from the SNAT rule', async (t) => {
  t.same(parseSnatPortRange('-A VEG-MASQUERADE -m set --match-set VEG-SNAT4 src -j MASQUERADE --random-fully\n'), undefined, 'no range: the kernel default applies');
  t.same(parseSnatPortRange('-A VEG-MASQUERADE -j MASQUERADE --to-ports 20000-29999 --random-fully\n'), { min: 20000, max: 29999 });
  t.same(parseSnatPortRange('-A VEG-MASQUERADE -j SNAT --to-source 172.17.0.11:1024-2047 --random-fully\n'), { min: 1024, max: 2047 });
  t.same(parseSnatPortRange('-A VEG-MASQUERADE -j SNAT --to-source 172.17.0.11 --random-fully\n'), undefined);
  t.same(parseSnatPortRange('-A OTHER -j MASQUERADE --to-ports 1-2\n'), undefined, 'only our chain');
  t.same(parseSnatPortRange('-A VEG-MASQUERADE -j MASQUERADE --to-ports 20000-29999\n-A VEG-MASQUERADE -j MASQUERADE --to-ports 5000-5999\n'), { min: 5000, max: 5999 }, 'the narrowest');
  t.equal(rangeSize(KERNEL_NAT_RANGE), 64512);
});
