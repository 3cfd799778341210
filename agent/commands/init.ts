// `egress-agent init`: validate every input, discover, apply the dataplane once, verify, exit (the
// Kube-OVN init container). Bad input: every error on stderr, one per line naming the input, exit 2,
// nothing applied. Exit 0 only when the read-back matches the plan.
import type { GlobalOptions } from '../cli.js';
import { InputError, formatConfigErrors } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { setCallbackLogger } from '../lib/guard.js';
import { createLogger } from '../lib/log.js';
import { Reconciler } from '../reconcile/reconciler.js';

export const EXIT_APPLIED = 0;
export const EXIT_NOT_VERIFIED = 1;
export const EXIT_BAD_INPUT = 2;

export default async function init(_args: string[], opts: Record<string, unknown>, global: GlobalOptions): Promise<number> {
  const loaded = loadConfig({ env: process.env, flags: opts });
  if (!loaded.ok) {
    process.stderr.write(`egress-agent init: invalid input, nothing applied:\n${formatConfigErrors(loaded.errors)}\n`);
    return EXIT_BAD_INPUT;
  }
  const log = createLogger(global.logLevel).child({ component: 'init' });
  setCallbackLogger(log);
  for (const n of loaded.notices) log[n.level]({ key: n.key }, n.message);

  const reconciler = new Reconciler({ config: loaded.config, logger: log });
  try {
    const result = await reconciler.applyOnce('init');
    const status = reconciler.status();
    process.stdout.write(`${JSON.stringify({
      verified: status.verified,
      changed: result.changed,
      durationMs: result.durationMs,
      interfaces: status.interfaces,
      drift: result.drift,
      remaining: result.remaining,
      ...(result.error ? { error: result.error } : {}),
    })}\n`);
    return status.verified ? EXIT_APPLIED : EXIT_NOT_VERIFIED;
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`egress-agent init: invalid input, nothing applied:\n${formatConfigErrors(err.errors)}\n`);
      return EXIT_BAD_INPUT;
    }
    process.stderr.write(`egress-agent init: ${(err as Error).message}\n`);
    return EXIT_NOT_VERIFIED;
  } finally {
    await reconciler.stop();
  }
}
