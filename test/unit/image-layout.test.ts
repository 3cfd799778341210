// The image's package layout, without an engine: copy exactly what the Dockerfile's runtime stage
// puts under its WORKDIR (the list is read from the Dockerfile, so it cannot drift) from this
// checkout's build outputs to a temporary directory, then run the CLI and start the BFD engine from
// there. Catches a runtime stage that leaves out a file the agent looks for at run time.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { repoRoot, runtimeStage } from '../helpers/dockerfile.js';

const workdir = runtimeStage.workdir;
const BUILD_DIR = '/src/';

/** Where a runtime COPY lands relative to WORKDIR, or null when it lands outside the package. */
function packagePath(dest: string, source: string): string | null {
  const abs = posix.resolve(workdir ?? '/', dest.endsWith('/') ? dest + posix.basename(source) : dest);
  const rel = posix.relative(workdir ?? '/', abs);
  return rel.startsWith('..') ? null : rel;
}

const layout = runtimeStage.copies.filter((c) => c.from === 'build').flatMap((c) =>
  c.sources.map((s) => ({ source: s, dest: packagePath(c.dest, s) })).filter((x): x is { source: string; dest: string } => x.dest !== null));

t.test('the runtime stage installs the package under its WORKDIR', async (t) => {
  t.equal(workdir, '/opt/egress-agent');
  t.ok(layout.length >= 3, 'several build outputs copied into the package');
  for (const { source } of layout) t.ok(source.startsWith(BUILD_DIR), `${source} comes from the build stage's workdir`);
  t.ok(layout.some((x) => x.dest === 'dist'), 'dist/ is copied');
});

t.test('the copied layout runs the CLI and the BFD engine', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'egress-agent-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const { source, dest } of layout) {
    const from = join(repoRoot, source.slice(BUILD_DIR.length));
    t.ok(existsSync(from), `${from} exists (make build)`);
    const to = join(dir, dest);
    mkdirSync(dirname(to), { recursive: true });
    // The image carries the pruned production node_modules; the checkout's has the dev tools too,
    // so it is linked, not copied. Everything the agent looks up itself is copied.
    if (dest === 'node_modules') symlinkSync(from, to);
    else cpSync(from, to, { recursive: true });
  }
  // As the runtime stage does: the startup snapshot and code cache are made in place, by the node
  // that runs them (the checkout's own are not the image's).
  for (const f of ['dist/egress-agent.blob', 'dist/egress-agent.cjs.codecache']) rmSync(join(dir, f), { force: true });
  execFileSync(join(repoRoot, 'scripts/startup-cache.sh'), [process.execPath, join(dir, 'dist')], { stdio: 'pipe' });
  const main = join(dir, 'dist/egress-agent.cjs');
  const wrapper = readFileSync(join(repoRoot, 'deploy/image/egress-agent'), 'utf8');
  const flags = wrapper.match(/exec \/opt\/egress-agent\/node ((?:--[a-z-]+(?:=\S+)? )+)/)![1]!.trim().split(' ');
  const version = execFileSync(process.execPath, [...flags, '--snapshot-blob', join(dir, 'dist/egress-agent.blob'), main, 'version', '--json'], { encoding: 'utf8' });
  t.match(JSON.parse(version), { version: /^\d+\.\d+\.\d+/, node: process.version }, 'egress-agent version, from the startup snapshot');

  const engine = join(dir, 'dist/agent/bfd/engine.js');
  const script = `
    const { BfdEngine } = await import(${JSON.stringify(engine)});
    const e = new BfdEngine();
    e.start();
    const alive = e.threadAlive();
    e.close();
    console.log(JSON.stringify({ alive }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: dir });
  t.same(JSON.parse(out), { alive: true }, 'the addon loads from the copy and the engine thread runs');

  // /kube-ovn/vpc-egress-gateway-observer runs dist/agent/observer/main.js: its modules load from
  // the copy (--help exits before any socket), and a bad flag is named.
  const observer = join(dir, 'dist/agent/observer/main.js');
  t.match(execFileSync(process.execPath, [observer, '--help'], { encoding: 'utf8' }), /--network-status PATH/, 'observer --help');
  let failure: { status?: number; stderr?: string } = {};
  try {
    execFileSync(process.execPath, [observer, '--config'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    failure = err as typeof failure;
  }
  t.equal(failure.status, 2, 'observer: a flag without its value exits 2');
  t.match(failure.stderr, /flag --config="": needs a value/);
});
