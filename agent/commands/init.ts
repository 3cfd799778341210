// `egress-agent init`: validate every input, discover, apply the dataplane once, verify, exit (the
// Kube-OVN init container), then leave the verified gateway settings for `run` (the hand-off,
// agent/config/handoff.ts). Bad input: every error on stderr, one per line naming the input, exit 2,
// nothing applied. Exit 0 only when the read-back matches the plan.
import { packageVersion, type GlobalOptions } from '../lib/program.js';
import { handoffDirExists, handoffFromConfig, handoffPath, writeHandoff } from '../config/handoff.js';
import type { GatewayConfig } from '../config/types.js';
import type { DataplaneStatus } from '../reconcile/types.js';
import { InputError, formatConfigErrors } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { setCallbackLogger } from '../lib/guard.js';
import { createLogger, type Logger } from '../lib/log.js';
import { Reconciler } from '../reconcile/reconciler.js';

export const EXIT_APPLIED = 0;
export const EXIT_NOT_VERIFIED = 1;
export const EXIT_BAD_INPUT = 2;

/**
 * Leaves the verified gateway settings for the bfdd container's `run` (agent/config/handoff.ts). At
 * the default path only when its directory exists (Kube-OVN mounts it only with BFD); a path given
 * explicitly must be written, or init fails.
 */
function leaveHandoff(config: GatewayConfig, interfaces: DataplaneStatus['interfaces'], opts: Record<string, unknown>, log: Logger): { written: string | null; error?: string } {
  const { path, explicit } = handoffPath(opts, process.env);
  if (path === null) return { written: null };
  if (!explicit && !handoffDirExists(path)) {
    log.info({ path }, 'no hand-off written: its directory does not exist (no BFD container in this Pod)');
    return { written: null };
  }
  const h = handoffFromConfig(config, { verified: true, interfaces: interfaces.map(({ family, internal, external }) => ({ family, internal, external })) }, packageVersion());
  try {
    writeHandoff(path, h);
  } catch (err) {
    return { written: null, error: (err as Error).message };
  }
  log.info({ path, revision: h.revision, settings: Object.keys(h.settings) }, 'hand-off written for the bfdd container');
  return { written: path };
}

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
    const handoff = status.verified ? leaveHandoff(loaded.config, status.interfaces, opts, log) : { written: null };
    if (handoff.error) {
      process.stderr.write(`egress-agent init: ${handoff.error}\n`);
      return EXIT_NOT_VERIFIED;
    }
    process.stdout.write(`${JSON.stringify({
      verified: status.verified,
      changed: result.changed,
      durationMs: result.durationMs,
      interfaces: status.interfaces,
      drift: result.drift,
      remaining: result.remaining,
      handoff: handoff.written,
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
