// Standalone upstream monitor: `node watch-cli.js [--probes] [--bfd SPECS] '<options JSON>'` runs
// one UpstreamMonitor in the current network namespace and prints JSON lines on stdout:
//   {"type":"started"|"status","all":[per-family status],"at":ms}   at start and on every change
//   {"type":"probe",...}                                          every probe run (--probes)
// With --bfd '<BfdSessionSpec[] JSON>' it also runs the BFD engine with those sessions and wires
// them as the daemon does (applyUpstreamToBfd on every change and BFD transition), printing
//   {"type":"action","op":"adminDown"|"adminUp",...} and {"type":"bfd","local",..,"to",..}.
// Used by the integration tests and the benchmark (inside a gateway namespace via `ip netns
// exec`), and by a person trying an upstream config by hand. Logs go to stderr. SIGTERM stops it.
import type { BfdSessionSpec } from '../bfd/types.js';
import { createLogger } from '../lib/log.js';
import { applyUpstreamToBfd } from './bfd-link.js';
import { UpstreamMonitor } from './monitor.js';
import { resolveUpstreamOptions, UpstreamOptionsError, type UpstreamOptionsInput } from '../config/upstream-options.js';

function fail(message: string): never {
  process.stderr.write(`upstream watch: ${message}\nusage: watch-cli.js [--probes] [--bfd SPECS_JSON] [--log-level L] '<options JSON>'\n`);
  process.exit(2);
}

function parseJson<T>(what: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    fail(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

const argv = process.argv.slice(2);
let withProbes = false;
let level = 'warn';
let json: string | undefined;
let specs: BfdSessionSpec[] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a === '--probes') withProbes = true;
  else if (a === '--log-level') level = argv[++i] ?? fail('--log-level needs a value');
  else if (a === '--bfd') specs = parseJson('--bfd', argv[++i] ?? fail('--bfd needs a JSON array of session specs'));
  else if (a.startsWith('-')) fail(`unknown option ${a}`);
  else if (json === undefined) json = a;
  else fail(`unexpected argument ${a}`);
}
if (json === undefined) fail('the options JSON is required');
if (!Array.isArray(specs)) fail('--bfd must be a JSON array of session specs');

let monitor: UpstreamMonitor;
try {
  monitor = new UpstreamMonitor(resolveUpstreamOptions(parseJson<UpstreamOptionsInput>('the options', json)), createLogger(level, { pretty: false }));
} catch (err) {
  if (err instanceof UpstreamOptionsError) fail(err.message);
  throw err;
}

const print = (obj: object): void => {
  process.stdout.write(`${JSON.stringify({ ...obj, at: Date.now() })}\n`);
};

let engine: import('../bfd/engine.js').BfdEngine | undefined;
const syncBfd = (): void => {
  if (!engine) return;
  for (const a of applyUpstreamToBfd(monitor.status(), engine)) print({ type: 'action', ...a });
};
if (specs.length > 0) {
  // Loaded only here: the native addon is not needed to watch the upstream alone.
  const { BfdEngine } = await import('../bfd/engine.js');
  engine = new BfdEngine();
  engine.start();
  for (const s of specs) engine.addSession(s);
  engine.on('state', (ev) => {
    print({ type: 'bfd', ...ev });
    syncBfd();
  });
}

monitor.on('change', (_changed, all) => {
  print({ type: 'status', all });
  syncBfd();
});
if (withProbes) monitor.on('probe', (p) => print({ type: 'probe', ...p }));

const shutdown = (): void => {
  void monitor.stop().then(() => {
    engine?.close();
    process.exit(0);
  });
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

try {
  await monitor.start();
} catch (err) {
  process.stderr.write(`upstream watch: start failed: ${(err as Error).message}\n`);
  process.exit(1);
}
print({ type: 'started', all: monitor.status(), signals: monitor.signals() });
syncBfd();
