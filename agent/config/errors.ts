// Input errors: every bad input is reported with where it came from, the value and why. Config
// validation and kernel discovery ("gateway not reachable", "interface missing") share this shape.

import { shownValue } from './redact.js';
import { primaryInput } from './settings.js';
import type { ConfigOrigin, GatewayConfig } from './types.js';

export type ConfigSource = ConfigOrigin['source'];

export interface ConfigError {
  /** Where the value came from; 'default' when the agent's own default is involved. */
  source: ConfigSource;
  /** Name in that source: env variable, JSON key path ("bfd.minTxMs") or flag ("--bfd-min-tx"). */
  key: string;
  /** The offending value as text ("" when missing; secrets are never shown). */
  value: string;
  /** Why it is wrong, for a person. */
  message: string;
}

/**
 * An error about a loaded setting, named the way it was given (e.g. discovery: "gateway not
 * reachable" -> `env INTERNAL_GATEWAY_IPV4="10.16.0.1": ...`). `settingId` is the JSON key path.
 */
export function configErrorFor(config: GatewayConfig, settingId: string, value: string, message: string): ConfigError {
  const origin = config.origins?.[settingId] ?? primaryInput(settingId);
  return { ...origin, value: shownValue(origin.key, value), message };
}

/** Thrown by code that finds input errors after loading (e.g. discovery); carries all of them. */
export class InputError extends Error {
  constructor(public errors: ConfigError[]) {
    super(`invalid input:\n${formatConfigErrors(errors)}`);
    this.name = 'InputError';
  }
}

const SOURCE_LABEL: Record<ConfigSource, string> = { env: 'env', file: 'config file', flag: 'flag', default: 'default', handoff: 'hand-off' };

/** One line per error: `env INTERNAL_GATEWAY_IPV4="fd00::1": IPv6 address, expected IPv4`. */
export function formatConfigErrors(errors: ConfigError[]): string {
  return redactErrors(errors).map((e) => `${SOURCE_LABEL[e.source]} ${e.key}=${JSON.stringify(e.value)}: ${e.message}`).join('\n');
}

/** The errors with every secret value replaced (see redact.ts); messages never quote values. */
export function redactErrors(errors: readonly ConfigError[]): ConfigError[] {
  return errors.map((e) => ({ ...e, value: shownValue(e.key, e.value) }));
}
