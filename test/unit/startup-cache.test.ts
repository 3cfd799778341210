// The agent's start from a code cache (agent/boot/code-cache.ts), in child processes (it replaces
// the CommonJS compiler of the process it runs in), and the one set of V8 flags that the startup
// snapshot and the cache are built with and run with.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/agent-paths.js';

const CODE_CACHE = join(ROOT, 'dist/agent/boot/code-cache.js');

t.test('one set of V8 flags wherever the agent is started or its snapshot and cache are built', async (t) => {
  const FLAGS = '--max-semi-space-size=1 --lite-mode --no-expose-wasm';
  const files = {
    'bin/egress-agent': /exec node ([^"]+) --snapshot-blob/,
    'deploy/image/egress-agent': /exec \/opt\/egress-agent\/node ([^\\\n]+) \\\n/,
    'scripts/startup-cache.sh': /^flags="([^"]+)"$/m,
    'scripts/bench/lib.ts': /export const AGENT_NODE_FLAGS = \[([^\]]+)\]/,
  };
  for (const [file, re] of Object.entries(files)) {
    const m = readFileSync(join(ROOT, file), 'utf8').match(re);
    t.ok(m, `${file} names the flags`);
    t.equal(m?.[1]!.replace(/['",]/g, '').replace(/\s+/g, ' ').trim(), FLAGS, file);
  }
});

t.test('code cache: used when the source matches, ignored when it does not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'egress-code-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const main = join(dir, 'main.cjs');
  const dep = join(dir, 'dep.cjs');
  const cache = `${main}.codecache`;
  writeFileSync(main, "const dep = require('./dep.cjs');\nmodule.exports = { main: require.main === module, dep: dep.value() };\nif (require.main === module) console.log(JSON.stringify(module.exports));\n");
  writeFileSync(dep, "exports.value = () => 'one';\n");
  // Loads main.cjs through the cache and prints what it exported and what the cache did.
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, `import Module from 'node:module';
import { installCodeCache, readCodeCache } from ${JSON.stringify(CODE_CACHE)};
const counts = installCodeCache(readCodeCache(process.argv[2] + '.codecache'));
const out = Module.createRequire(process.argv[2])(process.argv[2]);
console.log(JSON.stringify({ out, ...counts }));
`);
  const load = () => JSON.parse(execFileSync(process.execPath, [probe, main], { encoding: 'utf8' })) as { out: { dep: string }; compiled: number; accepted: number };
  const writer = `import { runWithCodeCache } from ${JSON.stringify(CODE_CACHE)}; runWithCodeCache(process.argv[1]);`;

  // No cache yet: runs from source.
  t.same(load(), { out: { main: false, dep: 'one' }, compiled: 2, accepted: 0 }, 'no cache file: compiled from source');

  // The build's writer: runs main as the main module, writes the cache at exit.
  const printed = execFileSync(process.execPath, ['--input-type=module', '-e', writer, main], { encoding: 'utf8', env: { ...process.env, EGRESS_AGENT_WRITE_CODE_CACHE: cache } });
  t.same(JSON.parse(printed), { main: true, dep: 'one' }, 'the writer runs the file as the main module');
  t.same(load(), { out: { main: false, dep: 'one' }, compiled: 2, accepted: 2 }, 'both files start from the cache');

  // Same length, other code: V8 alone would accept the stale cache (it checks only the length).
  writeFileSync(dep, "exports.value = () => 'two';\n");
  t.same(load(), { out: { main: false, dep: 'two' }, compiled: 2, accepted: 1 }, 'the edited file is compiled from its new source');

  writeFileSync(cache, 'not a cache');
  t.same(load(), { out: { main: false, dep: 'two' }, compiled: 2, accepted: 0 }, 'an unreadable cache is ignored');

  // The writer only writes the file it was told to: another value leaves the cache alone.
  execFileSync(process.execPath, ['--input-type=module', '-e', writer, main], { encoding: 'utf8', env: { ...process.env, EGRESS_AGENT_WRITE_CODE_CACHE: join(dir, 'other') } });
  t.equal(readFileSync(cache, 'utf8'), 'not a cache', 'not written for another path');
});

t.test('the built agent starts from its snapshot and code cache', async (t) => {
  const bin = join(ROOT, 'bin/egress-agent');
  const out = execFileSync(bin, ['version', '--json'], { encoding: 'utf8' });
  t.match(JSON.parse(out), { version: /^\d+\.\d+\.\d+$/ }, 'bin/egress-agent version');
  // Built with other flags, the blob is refused: the flags test above is what keeps them equal.
  let status: number | null = null;
  try {
    execFileSync(process.execPath, ['--snapshot-blob', join(ROOT, 'dist/egress-agent.blob'), join(ROOT, 'dist/egress-agent.cjs'), '--version'], { stdio: 'pipe' });
    status = 0;
  } catch (err) {
    status = (err as { status: number }).status;
  }
  t.not(status, 0, 'node without the agent\'s flags refuses the snapshot');
});
