// The JSON config file: full example, unknown keys with hints, malformed JSON with line:column,
// unreadable files, wrong shapes and types, inline secrets refused, auth key files.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatConfigErrors, loadConfig, type ConfigError } from '../../agent/config/index.js';

function fileErrors(t: Test, text: string, env: Record<string, string> = {}): ConfigError[] {
  const dir = t.testdir({ 'c.json': text });
  const r = loadConfig({ env, file: join(dir, 'c.json') });
  return r.ok ? [] : r.errors;
}

const V4 = { ipv4: { internalGateway: '10.16.0.1', externalGateway: '172.17.0.1' } };

t.test('the documented example loads (arrays, nested bfd.auth with a key file)', async (t) => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');
  const example = /## Config file example\s+```json\n([\s\S]*?)```/.exec(doc)?.[1];
  t.ok(example, 'example found in docs/configuration.md');
  // The fixture directory's path is known only after creating it; the key path goes in afterwards.
  const dir = t.testdir({ 'bfd.key': 'correct horse\n' });
  writeFileSync(join(dir, 'c.json'), example!.replace('/etc/egress-agent/bfd.key', join(dir, 'bfd.key')));
  const r = loadConfig({ env: {}, file: join(dir, 'c.json') });
  t.ok(r.ok, r.ok ? 'loaded' : JSON.stringify(r.errors));
  if (!r.ok) return;
  t.same(r.config.families, [{ family: 4, internalGateway: '10.16.0.1', externalGateway: '172.17.0.1', noSnatSources: ['10.0.1.0/24', '192.168.5.0/24'], snatTo: '172.17.0.100' }]);
  t.equal(r.config.internalInterface, 'eth0');
  t.equal(r.config.reconcileIntervalMs, 5000);
  t.same(r.config.bfd.auth, { type: 'keyed-sha1', keyId: 1, key: Buffer.from('correct horse') }, 'one trailing newline dropped');
  t.equal(r.config.bfd.enabled, true);
});

t.test('unknown keys are errors, with a hint when close to a real key', async (t) => {
  const errors = fileErrors(t, JSON.stringify({ ipv4: { internalGatway: '10.16.0.1', externalGateway: '172.17.0.1' }, colour: 'blue', bfd: { minTX: 5 } }));
  t.same(errors.map((e) => [e.source, e.key, e.value]), [
    ['file', 'ipv4.internalGatway', '10.16.0.1'],
    ['file', 'colour', 'blue'],
    ['file', 'bfd.minTX', '5'],
    ['file', 'ipv4.externalGateway', '172.17.0.1'], // and therefore IPv4 is half-configured
  ]);
  t.match(errors[3]!.message, /internal gateway is not/);
  t.match(errors[0]!.message, /unknown key \(did you mean "ipv4\.internalGateway"\?\)/);
  t.equal(errors[1]!.message, 'unknown key');
  t.match(errors[2]!.message, /did you mean "bfd\.minTxMs"/);
});

t.test('an inline auth key is refused and never echoed', async (t) => {
  const errors = fileErrors(t, JSON.stringify({ ...V4, bfd: { auth: { type: 'simple', keyId: 1, key: 'hunter2' } } }));
  const inline = errors.find((e) => e.key === 'bfd.auth.key');
  t.ok(inline);
  t.equal(inline?.value, '<redacted>');
  t.match(inline?.message ?? '', /never accepted inline; use bfd\.auth\.keyFile or bfd\.auth\.keyEnv/);
  t.notMatch(JSON.stringify(errors), 'hunter2');
});

t.test('malformed JSON is reported with line and column', async (t) => {
  const cases: [string, RegExp][] = [
    ['{\n  "logLevel": "info",\n}\n', /malformed JSON at line 3 column 1: trailing comma before "\}"/],
    ['{"logLevel": }', /line 1 column 14: expected a value, found "\}"/],
    ['{\n  "logLevel" "info"\n}', /line 2 column 14: expected ":" after the key/],
    ['{"logLevel": "info"', /line 1 column 20: expected "," or "\}" after a value, found end of input/],
    ["{'logLevel': 'info'}", /line 1 column 2: expected a double-quoted key/],
    ['{"a": 1} x', /line 1 column 10: unexpected "x" after the top-level value/],
    ['', /line 1 column 1: expected a value, found end of input/],
  ];
  for (const [text, want] of cases) {
    const errors = fileErrors(t, text);
    t.equal(errors.length, 1, JSON.stringify(text));
    t.equal(errors[0]?.source, 'file');
    t.match(errors[0]?.key ?? '', /c\.json$/, 'names the file');
    t.match(errors[0]?.message ?? '', want, JSON.stringify(text));
  }
});

t.test('an unreadable config file names the input that pointed to it', async (t) => {
  const viaFlag = loadConfig({ env: {}, flags: { config: '/nonexistent/vcx/config.json' } });
  t.same(viaFlag.ok ? [] : viaFlag.errors.map((e) => [e.source, e.key, e.value]), [['flag', '--config', '/nonexistent/vcx/config.json']]);
  t.match(viaFlag.ok ? '' : viaFlag.errors[0]!.message, /cannot read the config file: ENOENT/);
  const viaEnv = loadConfig({ env: { EGRESS_AGENT_CONFIG: t.testdir({}) } });
  t.same(viaEnv.ok ? [] : viaEnv.errors.map((e) => [e.source, e.key]), [['env', 'EGRESS_AGENT_CONFIG']]);
  t.match(viaEnv.ok ? '' : viaEnv.errors[0]!.message, /EISDIR/);
});

t.test('wrong shapes and types', async (t) => {
  t.match(fileErrors(t, '[1, 2]')[0]?.message ?? '', /must hold a JSON object/);
  const bfdNotObject = fileErrors(t, JSON.stringify({ ...V4, bfd: 5 }));
  t.same(bfdNotObject.map((e) => [e.key, e.value, e.message]), [['bfd', '5', 'must be an object']]);
  const typed = fileErrors(t, JSON.stringify({ ...V4, bfd: { minTxMs: true, passive: 'sometimes', localIps: ['10.16.0.12', 7] }, reconcileIntervalMs: 1.5, logLevel: null }));
  t.same(typed.map((e) => e.key), ['logLevel', 'reconcileIntervalMs', 'bfd.localIps', 'bfd.minTxMs', 'bfd.passive']);
  t.match(typed[0]!.message, /null is not a value here/);
  t.match(typed[1]!.message, /must be an integer/);
  t.equal(typed[1]!.value, '1.5');
  t.match(typed[2]!.message, /entry 2 is not a string/);
  t.equal(typed[2]!.value, '7');
  t.match(typed[3]!.message, /expected an integer/);
  t.equal(typed[3]!.value, 'true');
  t.match(typed[4]!.message, /expected true or false/);
});

t.test('lists: JSON arrays and comma strings are equivalent', async (t) => {
  const dir = t.testdir({
    'a.json': JSON.stringify({ ipv4: { ...V4.ipv4, noSnatSources: ['10.0.1.0/24', '10.0.2.0/24'] } }),
    'b.json': JSON.stringify({ ipv4: { ...V4.ipv4, noSnatSources: '10.0.1.0/24,10.0.2.0/24' } }),
  });
  const a = loadConfig({ env: {}, file: join(dir, 'a.json') });
  const b = loadConfig({ env: {}, file: join(dir, 'b.json') });
  t.same(a.ok && a.config.families, b.ok && b.config.families);
  t.same(a.ok && a.config.families[0]!.noSnatSources, ['10.0.1.0/24', '10.0.2.0/24']);
});

t.test('auth key file: length limits per type, both sources at once refused', async (t) => {
  const dir = t.testdir({ short: 'k\n', long: 'x'.repeat(21) });
  const load = (auth: Record<string, unknown>, env: Record<string, string> = {}): ConfigError[] => {
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ ...V4, bfd: { auth } }));
    const r = loadConfig({ env, file: join(dir, 'c.json') });
    return r.ok ? [] : r.errors;
  };
  t.same(load({ type: 'keyed-sha1', keyId: 2, keyFile: join(dir, 'short') }), [], '1-byte key ok');
  const long = load({ type: 'keyed-sha1', keyId: 2, keyFile: join(dir, 'long') });
  t.same(long.map((e) => [e.key, e.value]), [['bfd.auth.keyFile', join(dir, 'long')]]);
  t.match(long[0]!.message, /the key has 21 bytes; keyed-sha1 takes 1 to 20/);
  const both = load({ type: 'simple', keyId: 2, keyFile: join(dir, 'short'), keyEnv: 'K' }, { K: 'pw' });
  t.same(both.map((e) => e.key), ['bfd.auth.keyEnv']);
  t.match(both[0]!.message, /set only one of/);
  const badName = load({ type: 'simple', keyId: 2, keyEnv: 'not a name' });
  t.same(badName.map((e) => [e.key, e.value]), [['bfd.auth.keyEnv', '<redacted>']], 'a variable name may be a pasted key: not shown');
  t.match(badName[0]?.message ?? '', /name of an environment variable/);
});

t.test('values under bfd.auth.* and key-like names are never echoed (errors, formatted text)', async (t) => {
  const secret = 'hunter2-s3cret';
  const cases: Record<string, unknown>[] = [
    { ...V4, bfd: { auth: { type: 'simple', keyId: 1, keyEnv: 'K', password: secret } } }, // mistyped key under bfd.auth
    { ...V4, bfd: { auth: secret } }, // bfd.auth is not an object
    { ...V4, bfd: { authentication: { password: secret } } }, // a mistyped group holding a secret
    { ...V4, apiToken: secret },
    { ...V4, upstream: { secretKey: secret } },
    { ...V4, bfd: { auth: { type: secret } } }, // a known bfd.auth setting with a bad value
  ];
  for (const c of cases) {
    const errors = fileErrors(t, JSON.stringify(c), { K: 'pw' });
    t.ok(errors.length > 0, `refused: ${JSON.stringify(Object.keys(c))}`);
    t.notMatch(JSON.stringify(errors), secret, 'not in the error objects');
    t.notMatch(formatConfigErrors(errors), secret, 'not in the formatted errors');
    t.ok(errors.some((e) => e.value === '<redacted>'), 'shown as <redacted>');
  }
  // Not a secret: the key file's path stays visible.
  const visible = fileErrors(t, JSON.stringify({ ...V4, bfd: { auth: { type: 'simple', keyId: 1, keyFile: '/nonexistent/k' } } }));
  t.same(visible.map((e) => [e.key, e.value]), [['bfd.auth.keyFile', '/nonexistent/k']]);
});
