// Process entry point of /kube-ovn/vpc-egress-gateway-observer (Kube-OVN v1.17's observability
// sidecar): flags as upstream's, --health-check asks the running observer, otherwise run until
// SIGTERM/SIGINT. Bad input: every error on stderr, exit 2, nothing started.
import { formatConfigErrors, InputError } from '../config/errors.js';
import { createLogger } from '../lib/log.js';
import { DEFAULT_HEALTH_CHECK_URL } from './config.js';
import { parseObserverFlags, USAGE } from './flags.js';
import { Observer } from './runner.js';
import { checkHealth } from './server.js';

const EXIT_INPUT = 2;

function inputFailure(err: unknown): never {
  if (err instanceof InputError) {
    process.stderr.write(`vpc-egress-gateway-observer: invalid input:\n${formatConfigErrors(err.errors)}\n`);
    process.exit(EXIT_INPUT);
  }
  throw err;
}

let flags;
try {
  flags = parseObserverFlags(process.argv.slice(2));
} catch (err) {
  process.stderr.write(USAGE);
  inputFailure(err);
}
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (flags.healthCheck) {
  try {
    await checkHealth(DEFAULT_HEALTH_CHECK_URL);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`vpc-egress-gateway-observer: health check failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

const log = createLogger(process.env.LOG_LEVEL ?? 'info').child({ component: 'vpc-egress-gateway-observer' });
const observer = await Observer.start({
  configPath: flags.config, networkStatusPath: flags.networkStatus, listenAddress: flags.listenAddress,
  pod: process.env.POD_NAME ?? '', node: process.env.NODE_NAME ?? '', stdout: process.stdout, log,
}).catch(inputFailure);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'observer stopping');
    const deadline = setTimeout(() => process.exit(0), 5000);
    deadline.unref();
    void observer.stop().then(() => process.exit(0));
  });
}
