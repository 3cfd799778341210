// ipset read-back parsing, drift and the `ipset restore` input (add/del for small changes, a filled
// temporary set swapped in for large ones or when the set must be re-created).
import t from 'tap';
import { SWAP_THRESHOLD, ipsetDrift, parseIpsetSave, renderIpsetRestore, tempName } from '../../agent/dataplane/ipset.js';
import type { DesiredIpset } from '../../agent/plan/types.js';

const save4 = `create VEG-NOSNAT4 hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x3d4adfb8
add VEG-NOSNAT4 10.20.0.0/16
add VEG-NOSNAT4 10.0.0.1
`;
const want4 = (members: string[], maxelem = 65536): DesiredIpset => ({ name: 'VEG-NOSNAT4', family: 4, type: 'hash:net', members, maxelem });

t.test('parseIpsetSave', async (t) => {
  t.same(parseIpsetSave('VEG-NOSNAT4', save4), { name: 'VEG-NOSNAT4', type: 'hash:net', family: 4, maxelem: 65536, members: ['10.20.0.0/16', '10.0.0.1/32'] }, 'host entries get their /32 back');
  const v6 = parseIpsetSave('VEG-NOSNAT6', 'create VEG-NOSNAT6 hash:net family inet6 hashsize 1024 maxelem 131072\nadd VEG-NOSNAT6 fd00:10:20::/64\nadd VEG-NOSNAT6 fd00::5\n');
  t.same(v6?.members, ['fd00:10:20::/64', 'fd00::5/128']);
  t.equal(v6?.maxelem, 131072);
  t.equal(parseIpsetSave('OTHER', save4), undefined, 'another set name is not this set');
});

t.test('drift is precise and compact', async (t) => {
  const live = parseIpsetSave('VEG-NOSNAT4', save4)!;
  t.same(ipsetDrift(want4(['10.20.0.0/16', '10.0.0.1/32']), live), [], 'in sync');
  t.same(ipsetDrift(want4(['10.20.0.0/16', '10.30.0.0/16']), live), [
    { kind: 'ipset', family: 4, object: 'ipset VEG-NOSNAT4 members', problem: 'missing', expected: '10.30.0.0/16' },
    { kind: 'ipset', family: 4, object: 'ipset VEG-NOSNAT4 members', problem: 'extra', actual: '10.0.0.1/32' },
  ]);
  t.same(ipsetDrift(want4([]), undefined), [{ kind: 'ipset', family: 4, object: 'ipset VEG-NOSNAT4', problem: 'missing', expected: 'hash:net family inet, 0 members' }]);
  const many = Array.from({ length: 20 }, (_, i) => `10.40.${i}.0/24`);
  const d = ipsetDrift(want4(many), { ...live, members: [] });
  t.equal(d.length, 1);
  t.match(d[0]!.expected, /^10\.40\.0\.0\/24, .*\.\.\. \(20 in total\)$/, 'long lists are sampled with a total');
});

t.test('renderIpsetRestore', async (t) => {
  const live = parseIpsetSave('VEG-NOSNAT4', save4)!;
  t.equal(renderIpsetRestore(want4(['10.20.0.0/16', '10.0.0.1/32']), live), '', 'no change: nothing to run');
  t.equal(renderIpsetRestore(want4(['10.20.0.0/16']), undefined), 'create VEG-NOSNAT4 hash:net family inet hashsize 1024 maxelem 65536\nadd VEG-NOSNAT4 10.20.0.0/16\n', 'absent: created and filled');
  t.equal(renderIpsetRestore(want4(['10.20.0.0/16', '10.30.0.0/16']), live), 'del VEG-NOSNAT4 10.0.0.1/32\nadd VEG-NOSNAT4 10.30.0.0/16\n', 'small change: del/add in place');
  const big = Array.from({ length: SWAP_THRESHOLD }, (_, i) => `10.50.${i >> 8}.${i & 255}/32`);
  const swap = renderIpsetRestore(want4(big), live).split('\n');
  t.equal(swap[0], `create ${tempName('VEG-NOSNAT4')} hash:net family inet hashsize 1024 maxelem 65536`, 'large change: a temporary set');
  t.same(swap.slice(-3), [`swap ${tempName('VEG-NOSNAT4')} VEG-NOSNAT4`, `destroy ${tempName('VEG-NOSNAT4')}`, ''], 'swapped in atomically, then destroyed');
  t.equal(swap.filter((l) => l.startsWith('add ')).length, SWAP_THRESHOLD, 'the temporary set gets every member');
  const grown = renderIpsetRestore(want4(['10.20.0.0/16', '10.0.0.1/32'], 131072), live);
  t.match(grown, /^create VEG-NOSNAT4-T hash:net family inet hashsize 1024 maxelem 131072\n/, 'maxelem too small: re-created through a swap');
  t.throws(() => renderIpsetRestore(want4([]), { ...live, type: 'hash:ip' }), /exists as hash:ip family inet; expected hash:net family inet/, 'a set of another type is not silently replaced');
  t.equal(tempName('X'.repeat(31)).length, 31, 'temporary names fit ipset\'s 31 characters');
});
