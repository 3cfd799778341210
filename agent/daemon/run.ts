// Process wiring of `egress-agent run`: logger, signals, exit code. SIGTERM/SIGINT drain and exit 0
// before the grace period ends; SIGHUP reloads the configuration; a second SIGINT exits at once.
import { DEFAULT_SOCKET, packageVersion, type GlobalOptions } from '../lib/program.js';
import { setCallbackLogger } from '../lib/guard.js';
import { createLogger } from '../lib/log.js';
import { Daemon } from './daemon.js';
import { StartupInputError } from './startup-error.js';
import { installFatalHandlers } from './fatal.js';
import { realPorts } from './real-ports.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** Global options given on the command line count as flags of `run` (flags > file > env). */
function configFlags(opts: Record<string, unknown>, global: GlobalOptions): Record<string, unknown> {
  const flags = { ...opts };
  if (global.logLevel !== 'info') flags.logLevel = global.logLevel;
  // The global --socket also reads EGRESS_AGENT_SOCKET; only an explicit flag may outrank a config file.
  if (global.socket !== DEFAULT_SOCKET && global.socket !== process.env.EGRESS_AGENT_SOCKET) flags.socket = global.socket;
  return flags;
}

export async function runDaemon(opts: Record<string, unknown>, global: GlobalOptions): Promise<number> {
  const log = createLogger(global.logLevel);
  let stopRequested: string | null = null;
  let started = false;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const daemon = new Daemon({
    ports: realPorts(configFlags(opts, global), log),
    log,
    version: packageVersion(),
    onStopRequest: () => stop('bfdd-control stop'),
  });
  setCallbackLogger(log);
  const uninstallFatal = installFatalHandlers({
    log,
    drain: (reason) => (started ? daemon.drain(reason) : daemon.abort()),
    graceMs: () => daemon.status().config?.drainGraceMs ?? 0,
  });

  function stop(reason: string): void {
    if (stopRequested) {
      log.info({ reason }, 'already stopping');
      return;
    }
    stopRequested = reason;
    if (!started) return; // start() finishes first, then drains
    const graceMs = daemon.status().config?.drainGraceMs ?? 0;
    // Backstop: if something hangs, still leave before kubelet's SIGKILL; unref'd so it never
    // keeps an otherwise finished process alive.
    setTimeout(() => {
      log.error({ graceMs }, 'drain did not finish within the grace period; exiting');
      process.exit(EXIT_FAILURE);
    }, graceMs + 500).unref();
    daemon.drain(reason).then(() => finish(EXIT_OK), (err: Error) => {
      log.error({ err: err.message }, 'drain failed');
      finish(EXIT_FAILURE);
    });
  }

  let interrupts = 0;
  const onSigterm = () => stop('SIGTERM');
  const onSigint = () => {
    if (++interrupts > 1) process.exit(EXIT_FAILURE);
    stop('SIGINT');
  };
  const onSighup = () => {
    if (!started || stopRequested) return;
    log.info('SIGHUP: reloading the configuration');
    daemon.reload().catch((err: Error) => log.error({ err: err.message }, 'reload failed'));
  };
  process.on('SIGTERM', onSigterm);
  process.on('SIGINT', onSigint);
  process.on('SIGHUP', onSighup);
  try {
    try {
      await daemon.start();
    } catch (err) {
      await daemon.abort();
      if (err instanceof StartupInputError) {
        process.stderr.write(`egress-agent run: ${err.message}\n`);
        return EXIT_BAD_INPUT;
      }
      log.fatal({ err: (err as Error).message }, 'agent failed to start');
      return EXIT_FAILURE;
    }
    started = true;
    if (stopRequested) {
      const reason = stopRequested;
      stopRequested = null;
      stop(reason);
    }
    return await finished;
  } finally {
    process.off('SIGTERM', onSigterm);
    process.off('SIGINT', onSigint);
    process.off('SIGHUP', onSighup);
    uninstallFatal();
  }
}
