// The daemon as an ordered list of start/stop hooks, in the shape of cilium/hive's lifecycle:
// start runs the hooks in order; stop runs, in reverse, the stop of only the hooks that started.
// A drain is the same unwind preceded by the started hooks' `drain` steps (also in reverse), which
// withdraw (BFD AdminDown, stop watching the upstream) while everything still serves; an abort after
// a failed start is the unwind alone. A hook whose start fails cleans up after itself.
import type { Logger } from '../lib/log.js';

type Step = () => Promise<unknown> | void;

export interface Hook {
  /** The start step's name in the logs ('step done' with its duration). */
  name: string;
  start?: Step;
  /** Drain only: withdraw while everything still serves; runs before any hook stops. */
  drain?: Step;
  stop?: Step;
  /** Which steps are logged with their durations (the start step by default; drain/stop by the name given). */
  log?: { start?: boolean | (() => boolean); drain?: string; stop?: string };
}

export async function logStep<T>(log: Logger, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  log.debug({ step: name }, 'step started');
  try {
    const result = await fn();
    log.info({ step: name, durationMs: +(performance.now() - t0).toFixed(2) }, 'step done');
    return result;
  } catch (err) {
    log.error({ step: name, durationMs: +(performance.now() - t0).toFixed(2), err: (err as Error).message }, 'step failed');
    throw err;
  }
}

export class Lifecycle {
  private readonly hooks: Hook[] = [];
  private readonly started: Hook[] = [];

  constructor(private readonly log: Logger) {}

  append(hook: Hook): void {
    this.hooks.push(hook);
  }

  /** Starts the hooks in order; on the first failure it throws, leaving the started ones to stop(). */
  async start(): Promise<void> {
    for (const hook of this.hooks) {
      if (this.started.includes(hook)) continue;
      const logged = hook.log?.start ?? true;
      const start = hook.start ?? (() => undefined);
      if (typeof logged === 'function' ? logged() : logged) await logStep(this.log, hook.name, async () => start());
      else await start();
      this.started.push(hook);
    }
  }

  /**
   * The unwind: with `drain`, first every started hook's drain step in reverse, then every started
   * hook's stop in reverse. A failing step does not keep the others from running; the errors are
   * returned (the first one is what the caller reports).
   */
  async stop(opts: { drain: boolean }): Promise<Error[]> {
    const errors: Error[] = [];
    const run = async (step: Step | undefined, name: string | undefined): Promise<void> => {
      if (!step) return;
      try {
        if (name) await logStep(this.log, name, async () => step());
        else await step();
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const reversed = [...this.started].reverse();
    if (opts.drain) for (const hook of reversed) await run(hook.drain, hook.log?.drain);
    for (const hook of reversed) await run(hook.stop, hook.log?.stop);
    this.started.length = 0;
    return errors;
  }
}
