// The init -> bfdd hand-off. Under Kube-OVN only the init container (root, privileged) gets the
// gateway variables; the bfdd container (uid 65534) gets BFD's only. So `init` leaves the gateway
// settings it validated and applied in a file on the emptyDir both share, and `run` adopts them
// when it was given no gateway setting itself (docs/kube-ovn-pod.md has the rules).
//
// The directory is root-owned with mode 1777 (the controller's `chmod 1777`): anyone may create
// files there, but the sticky bit lets only a file's owner (or root) replace or delete it. So init
// writes through a fresh temporary file and rename (atomic; root may rename over anything), and the
// reader accepts only a regular file owned by root or by itself, not writable by group or others,
// and validates the content like any other input.
import { randomBytes, createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { GatewayConfig } from './types.js';

export const HANDOFF_SCHEMA = 'egress-agent.handoff/v1';
/** On Kube-OVN's bfdd-supervisor-state emptyDir, mounted in the init and bfdd containers. */
export const DEFAULT_HANDOFF_PATH = '/var/run/kube-ovn/bfdd-supervisor/egress-agent-handoff.json';
export const HANDOFF_INPUT = { env: 'EGRESS_AGENT_HANDOFF', flag: 'handoff' } as const;
/** The value that turns the hand-off off. */
export const HANDOFF_OFF = 'none';
// Room for far more no-SNAT CIDRs than Kube-OVN's variables can carry (an environment string is at
// most 128 KiB, MAX_ARG_STRLEN; 10,000 CIDRs make ~250 KB here); the bound only stops a runaway file
// from filling the 64 MiB container.
export const HANDOFF_MAX_BYTES = 8 * 1024 * 1024;

const family = (f: 4 | 6) => [`ipv${f}.internalGateway`, `ipv${f}.externalGateway`, `ipv${f}.noSnatSources`, `ipv${f}.snatTo`];
/** Settings the hand-off carries: everything the dataplane plan depends on, nothing secret. */
export const HANDOFF_IDS: readonly string[] = [...family(4), ...family(6), 'internalInterface', 'externalInterface', 'enableBgp', 'enableEvpn', 'vni'];
/** Any of these given to `run` (flag, file or env) means it has its own gateway config: the hand-off is not used. */
export const GATEWAY_IDS: readonly string[] = [...HANDOFF_IDS, 'ipv4.extraNoSnatSources', 'ipv6.extraNoSnatSources'];

export type HandoffValue = string | number | boolean | string[];

export interface Handoff {
  schema: typeof HANDOFF_SCHEMA;
  /** Content hash of `settings` (12 hex): the same inputs give the same revision. */
  revision: string;
  /** Version of the agent that wrote it. */
  agentVersion: string;
  writtenAt: string;
  settings: Record<string, HandoffValue>;
  /** What init applied and verified (for people and /status; `run` re-discovers). */
  applied: { verified: boolean; interfaces: { family: 4 | 6; internal: string; external: string }[] };
}

/** How `run` used the hand-off, for logs and /status. */
export interface HandoffUse {
  path: string;
  adopted: boolean;
  /** Why not adopted; undefined when adopted. */
  reason?: string;
  revision?: string;
  writtenAt?: string;
  agentVersion?: string;
}

/** The path from a flag or the environment; null = off. */
export function handoffPath(flags: Record<string, unknown>, env: Record<string, string | undefined>): { path: string | null; explicit: boolean } {
  const v = typeof flags.handoff === 'string' ? flags.handoff : env[HANDOFF_INPUT.env] || undefined;
  if (v === undefined) return { path: DEFAULT_HANDOFF_PATH, explicit: false };
  return { path: v === HANDOFF_OFF ? null : v, explicit: true };
}

const revisionOf = (settings: Record<string, HandoffValue>): string =>
  createHash('sha256').update(JSON.stringify(Object.entries(settings).sort(([a], [b]) => a.localeCompare(b)))).digest('hex').slice(0, 12);

export function handoffFromConfig(config: GatewayConfig, applied: Handoff['applied'], agentVersion: string, now = new Date()): Handoff {
  const settings: Record<string, HandoffValue> = {};
  for (const f of config.families) {
    settings[`ipv${f.family}.internalGateway`] = f.internalGateway;
    settings[`ipv${f.family}.externalGateway`] = f.externalGateway;
    settings[`ipv${f.family}.noSnatSources`] = f.noSnatSources; // extras merged in: what was applied
    if (f.snatTo !== undefined) settings[`ipv${f.family}.snatTo`] = f.snatTo;
  }
  if (config.internalInterface !== undefined) settings.internalInterface = config.internalInterface;
  if (config.externalInterface !== undefined) settings.externalInterface = config.externalInterface;
  if (config.bgp) settings.enableBgp = true;
  if (config.evpn) {
    settings.enableEvpn = true;
    settings.vni = config.evpn.vni;
  }
  return { schema: HANDOFF_SCHEMA, revision: revisionOf(settings), agentVersion, writtenAt: now.toISOString(), settings, applied };
}

/** Atomic replace: a new temporary file in the same directory, fsync, rename over the target. */
export function writeHandoff(path: string, h: Handoff): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  // O_EXCL|O_NOFOLLOW: in a world-writable directory someone may have planted a name or a link.
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    try {
      writeSync(fd, `${JSON.stringify(h, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already renamed or gone */
    }
    throw new Error(`cannot write the hand-off file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export type HandoffRead = { ok: true; handoff: Handoff } | { ok: false; absent: true } | { ok: false; absent: false; error: string };

/** Reads and checks a hand-off file: who may have written it, its size, JSON, schema and keys. */
export function readHandoff(path: string, euid = process.geteuid?.() ?? 0): HandoffRead {
  const bad = (why: string): HandoffRead => ({ ok: false, absent: false, error: `hand-off file ${path}: ${why}` });
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, absent: true };
    if (code === 'ELOOP') return bad('is a symbolic link; refused');
    return bad(`cannot open: ${(err as Error).message}`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return bad('is not a regular file; refused');
    if (st.uid !== 0 && st.uid !== euid) return bad(`is owned by uid ${st.uid}, neither root (the init container) nor this process (uid ${euid}); refused`);
    if ((st.mode & 0o022) !== 0) return bad(`is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); refused`);
    if (st.size > HANDOFF_MAX_BYTES) return bad(`is ${st.size} bytes, more than ${HANDOFF_MAX_BYTES}; refused`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    text = buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return bad(`malformed JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return bad('is not a JSON object');
  const h = parsed as Partial<Handoff>;
  if (h.schema !== HANDOFF_SCHEMA) return bad(`schema ${JSON.stringify(h.schema)} is not ${JSON.stringify(HANDOFF_SCHEMA)} (written by another version of the agent?)`);
  if (h.settings === null || typeof h.settings !== 'object' || Array.isArray(h.settings)) return bad('"settings" is not an object');
  const unknown = Object.keys(h.settings).filter((k) => !HANDOFF_IDS.includes(k));
  if (unknown.length > 0) return bad(`unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  if (typeof h.revision !== 'string' || typeof h.writtenAt !== 'string' || typeof h.agentVersion !== 'string') return bad('"revision", "writtenAt" or "agentVersion" missing');
  if (h.revision !== revisionOf(h.settings)) return bad(`revision ${h.revision} does not match its settings (edited or truncated?)`);
  return { ok: true, handoff: h as Handoff };
}

/** Whether the default location can take a hand-off (its directory is mounted). */
export function handoffDirExists(path: string): boolean {
  return existsSync(dirname(path));
}
