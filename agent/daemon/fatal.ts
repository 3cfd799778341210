// Process-level last resort. Callbacks are guarded (agent/lib/guard.ts), so what reaches
// uncaughtException / unhandledRejection is a bug nobody caught: the process state is unknown and
// it must not run on. But it must not just vanish either: OVN would keep the replica in ECMP for a
// whole detection time. So: log it, drain (BFD AdminDown, bounded by the drain grace), exit non-zero.
// A second fatal error during that drain exits at once.
import type { Logger } from '../lib/log.js';

export const EXIT_FATAL = 70; // EX_SOFTWARE: an internal error, not bad input (2) or a failed start (1)

export interface FatalHandlerOptions {
  log: Logger;
  /** Drains what can be drained; resolves (or rejects) when done. */
  drain: (reason: string) => Promise<void>;
  /** Upper bound for the drain; after it the process exits anyway. */
  graceMs: () => number;
  exit?: (code: number) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function installFatalHandlers(opts: FatalHandlerOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let fatal = false;
  const onFatal = (kind: string) => (err: unknown): void => {
    const e = err instanceof Error ? err : new Error(String(err));
    opts.log.fatal({ kind, err: e.message, stack: e.stack }, fatal ? 'fatal error while draining; exiting now' : 'fatal error: draining, then exiting');
    if (fatal) return exit(EXIT_FATAL);
    fatal = true;
    const graceMs = opts.graceMs();
    setTimeout(() => {
      opts.log.error({ graceMs }, 'drain after a fatal error did not finish in time; exiting');
      exit(EXIT_FATAL);
    }, graceMs + 500).unref();
    opts.drain(`fatal ${kind}: ${e.message}`).then(
      () => exit(EXIT_FATAL),
      (drainErr: Error) => {
        opts.log.error({ err: drainErr.message }, 'drain after a fatal error failed');
        exit(EXIT_FATAL);
      },
    );
  };
  const onException = onFatal('uncaughtException');
  const onRejection = onFatal('unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
