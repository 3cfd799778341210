// Reads the raw inputs (environment, JSON config file, flags) into one value per setting with its
// provenance, applying precedence flags > file > env > default. All input I/O of config loading
// happens here (config file, auth key file); validation is the schema's job.
import { readFileSync } from 'node:fs';
import type { ConfigError, ConfigSource } from './errors.js';
import { ENV_NAME } from './fields.js';
import { locateJsonError } from './json-syntax.js';
import { shownValue } from './redact.js';
import { CONFIG_FILE_INPUT, SETTINGS, flagAttribute, type Setting } from './settings.js';
import { GATEWAY_IDS, HANDOFF_IDS, handoffPath, readHandoff, type HandoffUse } from './handoff.js';

export interface ConfigSources {
  /** Usually process.env. */
  env: Record<string, string | undefined>;
  /** Parsed command-line options (commander's opts(): camelCase keys); unknown keys are ignored. */
  flags?: Record<string, unknown>;
  /** Config file path; default: the --config flag, then EGRESS_AGENT_CONFIG. */
  file?: string;
  /** `run`: adopt the init container's hand-off when no gateway setting is given (handoff.ts). */
  adoptHandoff?: boolean;
}

/** One setting's chosen value and where it came from. */
export interface Provided {
  source: ConfigSource;
  key: string;
  raw: unknown;
}

export interface Collected {
  values: Map<string, Provided>;
  /** Auth key bytes when a key file / key variable was given and readable. Never logged. */
  authKey?: Buffer;
  configFile?: string;
  /** True when the config file was named but could not be read or parsed at all. */
  fileUnusable: boolean;
  handoff?: HandoffUse;
  /** Set when a hand-off was present but not adopted and differs from the given settings. */
  handoffConflicts?: string[];
  errors: ConfigError[];
}

const JSON_IDS: readonly string[] = SETTINGS.filter((s) => s.json).map((s) => s.id);
/** Object keys that group settings in the file: "ipv4", "bfd", "bfd.auth". */
const JSON_GROUPS = new Set(JSON_IDS.flatMap((id) => id.split('.').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('.'))));

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function unknownKeyMessage(path: string): string {
  if (path === 'bfd.auth.key') return 'keys are never accepted inline; use bfd.auth.keyFile or bfd.auth.keyEnv';
  const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.') + 1) : '';
  const siblings = [...JSON_IDS, ...JSON_GROUPS].filter((k) => k.startsWith(parent) && !k.slice(parent.length).includes('.'));
  const best = siblings
    .map((k) => ({ k, d: editDistance(path.toLowerCase(), k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  const hint = best && best.d <= 3 ? ` (did you mean "${best.k}"?)` : '';
  return `unknown key${hint}`;
}

function flattenFile(obj: Record<string, unknown>, prefix: string, out: Map<string, Provided>, errors: ConfigError[]): void {
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix + k;
    if (JSON_GROUPS.has(path)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        errors.push({ source: 'file', key: path, value: shownValue(path, JSON.stringify(v) ?? '', v), message: 'must be an object' });
      } else {
        flattenFile(v as Record<string, unknown>, `${path}.`, out, errors);
      }
    } else if (JSON_IDS.includes(path)) {
      if (v === null) errors.push({ source: 'file', key: path, value: 'null', message: 'null is not a value here; leave the key out instead' });
      else out.set(path, { source: 'file', key: path, raw: v });
    } else {
      const shown = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
      errors.push({ source: 'file', key: path, value: shownValue(path, shown, v), message: unknownKeyMessage(path) });
    }
  }
}

/** The file's settings, or undefined when it cannot be read or is not a JSON object. */
function readConfigFile(path: string, from: Provided, errors: ConfigError[]): Map<string, Provided> | undefined {
  const out = new Map<string, Provided>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    errors.push({ source: from.source, key: from.key, value: path, message: `cannot read the config file: ${err.message}` });
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const at = locateJsonError(text);
    const where = at ? `line ${at.line} column ${at.column}: ${at.message}` : (e as Error).message;
    errors.push({ source: 'file', key: path, value: '', message: `malformed JSON at ${where}` });
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    errors.push({ source: 'file', key: path, value: shownValue(path, JSON.stringify(parsed) ?? '', parsed), message: 'the config file must hold a JSON object' });
    return undefined;
  }
  flattenFile(parsed as Record<string, unknown>, '', out, errors);
  return out;
}

function flagValue(flags: Record<string, unknown>, flag: string): unknown {
  return flags[flagAttribute(flag)] ?? flags[flag];
}

function envValue(env: ConfigSources['env'], s: Setting): Provided | undefined {
  for (const name of s.env) {
    const v = env[name];
    // Kube-OVN emits EXTERNAL_GATEWAY_IPV6="" for "absent"; every empty variable means unset.
    if (v !== undefined && v !== '') return { source: 'env', key: name, raw: v };
  }
  return undefined;
}

/** Drops one trailing newline, which `echo secret > file` and most editors add. */
function stripNewline(b: Buffer): Buffer {
  if (b.length > 0 && b[b.length - 1] === 0x0a) b = b.subarray(0, b.length - (b.length > 1 && b[b.length - 2] === 0x0d ? 2 : 1));
  return b;
}

function readAuthKey(values: Map<string, Provided>, env: ConfigSources['env'], errors: ConfigError[]): Buffer | undefined {
  const file = values.get('bfd.auth.keyFile');
  const name = values.get('bfd.auth.keyEnv');
  // Both / wrong types are reported by the schema; only read when the input is usable.
  if (file && name) return undefined;
  if (file && typeof file.raw === 'string' && file.raw !== '') {
    try {
      return stripNewline(readFileSync(file.raw));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      errors.push({ source: file.source, key: file.key, value: file.raw, message: `cannot read the key file: ${err.message}` });
    }
  }
  if (name && typeof name.raw === 'string' && ENV_NAME.test(name.raw)) {
    const v = env[name.raw];
    if (v === undefined || v === '') {
      errors.push({ source: name.source, key: name.key, value: name.raw, message: 'the environment variable it names (the key) is not set or empty' });
    } else {
      return Buffer.from(v, 'utf8');
    }
  }
  return undefined;
}

export function collectSources(sources: ConfigSources): Collected {
  const errors: ConfigError[] = [];
  const flags = sources.flags ?? {};
  const env = sources.env;

  let fileFrom: Provided | undefined;
  if (sources.file !== undefined) fileFrom = { source: 'flag', key: `--${CONFIG_FILE_INPUT.flag}`, raw: sources.file };
  else if (typeof flagValue(flags, CONFIG_FILE_INPUT.flag) === 'string') fileFrom = { source: 'flag', key: `--${CONFIG_FILE_INPUT.flag}`, raw: flagValue(flags, CONFIG_FILE_INPUT.flag) };
  else if (env[CONFIG_FILE_INPUT.env]) fileFrom = { source: 'env', key: CONFIG_FILE_INPUT.env, raw: env[CONFIG_FILE_INPUT.env] };
  const configFile = fileFrom ? String(fileFrom.raw) : undefined;
  const fromFile = fileFrom && configFile !== undefined ? readConfigFile(configFile, fileFrom, errors) : undefined;
  const fileUnusable = fromFile === undefined && configFile !== undefined;

  const values = new Map<string, Provided>();
  for (const s of SETTINGS) {
    const fromFlag = s.flag !== undefined ? flagValue(flags, s.flag) : undefined;
    const chosen: Provided | undefined =
      fromFlag !== undefined ? { source: 'flag', key: `--${s.flag}`, raw: fromFlag }
        : fromFile?.get(s.id) ?? envValue(env, s)
        ?? (s.default !== undefined ? { source: 'default', key: s.id, raw: s.default } : undefined);
    if (chosen) values.set(s.id, chosen);
  }
  const authKey = readAuthKey(values, env, errors);
  const adopted = sources.adoptHandoff ? adoptHandoff(values, flags, env, errors) : {};
  return { values, errors, fileUnusable, ...adopted, ...(authKey ? { authKey } : {}), ...(configFile !== undefined ? { configFile } : {}) };
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The rule: settings given to `run` itself (flag, config file, env) win, all or nothing. If any
 * gateway setting is given, the hand-off is not used at all (a half-and-half mix of two sources
 * would describe no dataplane anyone chose); where it differs, that is reported. Otherwise its
 * settings are adopted, each as source "handoff". A hand-off that cannot be used when it would be
 * adopted is an error naming the file.
 */
function adoptHandoff(values: Map<string, Provided>, flags: Record<string, unknown>, env: ConfigSources['env'], errors: ConfigError[]): Pick<Collected, 'handoff' | 'handoffConflicts'> {
  const { path } = handoffPath(flags, env);
  if (path === null) return {};
  const given = GATEWAY_IDS.map((id) => values.get(id)).filter((p): p is Provided => p !== undefined && p.source !== 'default');
  const r = readHandoff(path);
  if (!r.ok && r.absent) return { handoff: { path, adopted: false, reason: 'no hand-off file' } };
  if (given.length > 0) {
    const reason = `gateway settings given to this process (${given.map((p) => `${p.source} ${p.key}`).join(', ')}) win over the hand-off`;
    if (!r.ok) return { handoff: { path, adopted: false, reason: `${reason}; it is unusable anyway: ${r.error}` } };
    const conflicts = HANDOFF_IDS.filter((id) => {
      const mine = values.get(id);
      return !same(mine && mine.source !== 'default' ? mine.raw : undefined, r.handoff.settings[id]);
    });
    return { handoff: { path, adopted: false, reason, revision: r.handoff.revision, writtenAt: r.handoff.writtenAt }, handoffConflicts: conflicts };
  }
  if (!r.ok) {
    errors.push({ source: 'handoff', key: path, value: '', message: r.error });
    return { handoff: { path, adopted: false, reason: r.error } };
  }
  for (const [id, raw] of Object.entries(r.handoff.settings)) values.set(id, { source: 'handoff', key: `${path}#${id}`, raw: Array.isArray(raw) ? raw.join(',') : raw });
  const h = r.handoff;
  return { handoff: { path, adopted: true, revision: h.revision, writtenAt: h.writtenAt, agentVersion: h.agentVersion } };
}
