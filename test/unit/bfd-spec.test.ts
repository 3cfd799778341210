import t from 'tap';
import { specErrors, toNativeSpec, assertSpec } from '../../agent/bfd/spec.js';
import type { BfdSessionSpec } from '../../agent/bfd/types.js';

const base: BfdSessionSpec = {
  local: '10.16.0.11', remote: '10.255.255.255', minTxMs: 100, minRxMs: 200, multiplier: 3,
  passive: false, minTtl: 254, localDiscr: 42,
};

t.test('a valid spec has no errors and maps to microseconds', async (t) => {
  t.same(specErrors(base), []);
  const n = toNativeSpec(base);
  t.equal(n.minTxUs, 100_000);
  t.equal(n.minRxUs, 200_000);
  t.equal(n.auth, undefined);
  t.equal(n.device, undefined);
});

t.test("device: a name, or '' for none", async (t) => {
  t.same(specErrors({ ...base, device: 'eth0' }), []);
  t.same(specErrors({ ...base, device: '' }), []);
  t.equal(toNativeSpec({ ...base, device: '' }).device, undefined);
  t.equal(toNativeSpec({ ...base, device: 'eth0' }).device, 'eth0');
});

t.test('each bad field is named', async (t) => {
  const cases: [Partial<BfdSessionSpec>, RegExp][] = [
    [{ local: 'nope' }, /local "nope" is not an IP address/],
    [{ remote: '1.2.3' }, /remote "1.2.3" is not an IP address/],
    [{ remote: 'fd00::1' }, /different address families/],
    [{ minTxMs: 0.5 }, /minTxMs must be a whole number of milliseconds/],
    [{ minRxMs: 0 }, /minRxMs must be a whole number/],
    [{ minTxMs: 3_600_001 }, /minTxMs/],
    [{ multiplier: 0 }, /multiplier must be an integer in 1..255/],
    [{ multiplier: 256 }, /multiplier/],
    [{ minTtl: 0 }, /minTtl/],
    [{ localDiscr: 0 }, /localDiscr must be an integer in 1..4294967295/],
    [{ localDiscr: 2 ** 32 }, /localDiscr/],
    [{ device: 'a/b' }, /device must be an interface name/],
    [{ device: 'x'.repeat(16) }, /device/],
    [{ device: 'eth 0' }, /device/],
  ];
  for (const [patch, re] of cases) {
    const errs = specErrors({ ...base, ...patch });
    t.equal(errs.length, 1, JSON.stringify(patch));
    t.match(errs[0], re);
  }
});

t.test('auth: key lengths per type, key never echoed', async (t) => {
  const secret = Buffer.from('supersecretsupersecret'); // 22 bytes: too long for every type
  const errs = specErrors({ ...base, auth: { type: 'keyed-sha1', keyId: 1, key: secret } });
  t.equal(errs.length, 1);
  t.match(errs[0], /auth.key must be 1..20 bytes for keyed-sha1, got 22 bytes/);
  t.notMatch(errs[0], /supersecret/);
  t.match(specErrors({ ...base, auth: { type: 'simple', keyId: 1, key: Buffer.alloc(17, 1) } })[0], /1..16 bytes/);
  t.match(specErrors({ ...base, auth: { type: 'keyed-md5', keyId: 300, key: Buffer.from('k') } })[0], /auth.keyId/);
  t.same(specErrors({ ...base, auth: { type: 'meticulous-sha1', keyId: 9, key: Buffer.alloc(20, 7) } }), []);
  const n = toNativeSpec({ ...base, auth: { type: 'meticulous-md5', keyId: 9, key: Buffer.from('k') } });
  t.same(n.auth, { type: 3, keyId: 9, key: Buffer.from('k') });
  t.equal(toNativeSpec({ ...base, auth: { type: 'none', keyId: 0, key: Buffer.alloc(0) } }).auth, undefined);
});

t.test('assertSpec lists every problem with the session name', async (t) => {
  t.throws(() => assertSpec({ ...base, multiplier: 0, minTtl: 300 }), {
    name: 'TypeError',
    message: /^bfd session 10.16.0.11 -> 10.255.255.255: multiplier .*; minTtl/,
  });
});
