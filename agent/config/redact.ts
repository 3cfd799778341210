// Which input values must never be shown: anything under bfd.auth.* (a mistyped key there, or a
// key pasted into the type, id or variable name, is most likely a secret) and any key-like name
// (secret, password, key, token, credential), in any source. Only the key file's path is shown.
// Applied to every ConfigError, so errors, logs and /status (lastReload) never carry the value.
import { SETTINGS } from './settings.js';

export const REDACTED = '<redacted>';

const NOT_SECRET_IDS = ['bfd.auth.keyFile'];
/** That setting under every name it can be given (JSON path, env variables, --flag). */
const NOT_SECRET = new Set(SETTINGS.filter((s) => NOT_SECRET_IDS.includes(s.id))
  .flatMap((s) => [s.id, ...s.env, ...(s.flag ? [`--${s.flag}`] : [])]));

const KEY_LIKE = /secret|passw|token|credential|key|(^|[._-])auth([._-]|$)/i;

/** Whether a value given under this name (JSON path, env variable or flag) must be hidden. */
export function isSecretName(name: string): boolean {
  return !NOT_SECRET.has(name) && KEY_LIKE.test(name);
}

/** Whether a JSON value holds a key-like name anywhere inside (an unknown group, say). */
function holdsSecretName(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  return Object.entries(v).some(([k, x]) => isSecretName(k) || holdsSecretName(x));
}

/** The value as it may be shown for this input name. */
export function shownValue(name: string, value: string, raw?: unknown): string {
  return isSecretName(name) || holdsSecretName(raw) ? REDACTED : value;
}
