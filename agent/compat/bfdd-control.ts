// OpenBFDD's `bfdd-control` (v0.5.4, CommandProcessor.cpp) answered by the agent, so Kube-OVN's
// G1/G2 probes, its G3 supervisor's commands and its e2e keep working. Replies are byte-for-byte
// OpenBFDD's, including the trailing space after `state=Up` in status lines. Which session
// operations exist and what they do to the engine is the backend's business (agent/daemon).
import { isIP } from 'node:net';
import type { BfdDiag, BfdState } from '../bfd/types.js';

export interface BfddSession {
  id: number;
  local: string;
  remote: string;
  state: BfdState;
  passive: boolean;
}

export type BfddTarget = { all: true } | { id: number } | { local: string; remote: string };

export interface BfddBackend {
  sessions(): BfddSession[];
  /** Throws (message shown to the caller) when the peer cannot be allowed. */
  allow(ip: string): void;
  block(ip: string): void;
  /** Each returns false when the (single) target session does not exist. */
  kill(t: BfddTarget): boolean;
  reset(t: BfddTarget): boolean;
  adminDown(t: BfddTarget, diag: BfdDiag): boolean;
  adminUp(t: BfddTarget): boolean;
  setTimers(t: BfddTarget | 'new', item: TimerItem, value: number): boolean;
  /** Returns the previous setting, or null when the log type is unknown. */
  setLogType(type: string, enable: boolean): boolean | null;
  stop(): void;
  version(): string;
}

/** mintx/minrx values are microseconds, multi a count (OpenBFDD's units). */
export type TimerItem = 'mintx' | 'minrx' | 'multi';

export interface BfddReply {
  text: string;
  /** 0, or 1 when the beacon rejected the request (Kube-OVN's hardened client exits non-zero). */
  exitCode: number;
}

export const DIAG_NAMES: readonly BfdDiag[] = [
  'None', 'ControlDetectionTimeExpired', 'EchoFunctionFailed', 'NeighborSignaledSessionDown', 'ForwardingPlaneReset',
  'PathDown', 'ConcatenatedPathDown', 'AdministrativelyDown', 'ReverseConcatenatedPathDown',
];
const DIAG_TEXT = [
  'No Diagnostic', 'Control Detection Time Expired', 'Echo Function Failed', 'Neighbor Signaled Session Down',
  'Forwarding Plane Reset', 'Path Down', 'Concatenated Path Down', 'Administratively Down', 'Reverse Concatenated Path Down',
];
const DIAG_PATH_DOWN = 5;
const DIAG_ADMIN_DOWN = 7;

/** OpenBFDD's FormatInteger: thousands separated by commas. */
export const commas = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

const normalizeIp = (s: string): string | null => (isIP(s) ? s.toLowerCase() : null);

/** OpenBFDD's StringToInt: an optionally signed integer, surrounding whitespace allowed. */
function toInt(s: string | undefined): number | null {
  if (s === undefined || !/^\s*[-+]?\d+\s*$/.test(s)) return null;
  return Number(s.trim());
}

class Reply {
  text = '';
  failed = false;
  ok(line: string): this {
    this.text += line;
    return this;
  }
  err(line: string): this {
    this.failed = true;
    this.text += line;
    return this;
  }
  done(): BfddReply {
    return { text: this.text, exitCode: this.failed ? 1 : 0 };
  }
}

/** One status line at OpenBFDD's levels 0 and 1. */
function statusLine(s: BfddSession, level: number, compact: boolean): string {
  const sep = compact ? '' : '\n ';
  if (level < 1) return ` id=${s.id} ${sep}local=${s.local} ${sep}remote=${s.remote} ${sep}state=${s.state}\n`;
  return ` id=${s.id} ${sep}local=${s.local} ${s.passive ? '(p)' : '(a)'} ${sep}remote=${s.remote} ${sep}state=${s.state} \n`;
}

/** `bfdd-control status` (no arguments): what Kube-OVN's probes, supervisor and e2e parse. */
export function formatStatus(sessions: readonly BfddSession[], level = 1, compact = true): string {
  let out = `There are ${sessions.length} sessions:\n`;
  sessions.forEach((s, i) => {
    out += !compact && i > 0 ? `\nSession ${s.id}\n` : `Session ${s.id}\n`;
    out += statusLine(s, level, compact);
  });
  return out;
}

/** Parses `all` | id | `local IP remote IP` | `remote IP local IP` at args[0]; returns the rest. */
function parseTarget(args: string[]): { target: BfddTarget; rest: string[] } | { error: string } {
  const first = args[0]!;
  if (first === 'all') return { target: { all: true }, rest: args.slice(1) };
  if (first === 'local' || first === 'remote') {
    const other = first === 'local' ? 'remote' : 'local';
    const a = args[1];
    if (a === undefined) return { error: `Error: '${first}' should be followed by an Pv4 or IPv6 address.` };
    const ipA = normalizeIp(a);
    if (!ipA) return { error: `Error: <${a}> is not an IPv4 or IPv6 address.` };
    const word = args[2];
    if (word === undefined) return { error: `Error: '${other}' not found.` };
    if (word !== other) return { error: `Error: unknown <${word}>. '${first}' ip must be followed by '${other}'.` };
    const b = args[3];
    if (b === undefined) return { error: `Error: '${other}' should be followed by an ip address.` };
    const ipB = normalizeIp(b);
    if (!ipB) return { error: `Error: <${b}> is not an IPv4 or IPv6 address.` };
    const pair = first === 'local' ? { local: ipA, remote: ipB } : { local: ipB, remote: ipA };
    return { target: pair, rest: args.slice(4) };
  }
  const id = toInt(first);
  if (id !== null && id !== 0) return { target: { id: id >>> 0 }, rest: args.slice(1) };
  return { error: `Unknown <${first}>.` };
}

/** Records an error reply and yields null, for parsers that return a value. */
function fail(r: Reply, line: string): null {
  r.err(line);
  return null;
}

function noSuchSession(r: Reply, t: BfddTarget): void {
  if ('id' in t) r.err(`No session with id=${t.id}.\n`);
  else if ('local' in t) r.err(`No session with local ip=${t.local} and remote ip=${t.remote}.\n`);
  else r.err('Unknown session specifier.\n');
}

function status(args: string[], b: BfddBackend, r: Reply): void {
  if (!args.length) {
    r.ok(formatStatus(b.sessions()));
    return;
  }
  const parsed = parseTarget(args);
  if ('error' in parsed) {
    r.err(`Must supply 'all', session id or 'remote ip local ip' before other settings. ${parsed.error}\n`);
    return;
  }
  let level = 1;
  let compact = false;
  for (let i = 0; i < parsed.rest.length; i++) {
    const opt = parsed.rest[i]!;
    if (opt === 'brief') continue;
    else if (opt === 'compact') compact = true;
    else if (opt === 'nocompact') compact = false;
    else if (opt === 'level') {
      const v = parsed.rest[++i];
      if (v === undefined) return void r.err('level must be followed by an integer.\n');
      const n = toInt(v);
      if (n === null) return void r.err(`level value must be an integer : <${v}>.\n`);
      level = n;
    } else return void r.err(`Unrecognized  status setting <${opt}>.\n`);
  }
  if (level > 1) {
    r.err(`Unable to complete request: status level ${level} is not provided by egress-agent; use \`egress-agent bfd\` for every detail.\n`);
    return;
  }
  const { target } = parsed;
  if ('all' in target) {
    r.ok(formatStatus(b.sessions(), level, compact));
    return;
  }
  const found = b.sessions().find((s) => ('id' in target ? s.id === target.id : s.local === target.local && s.remote === target.remote));
  if (found) r.ok(statusLine(found, level, compact));
  else noSuchSession(r, target);
}

/** Parses `<value> s|ms|us` into microseconds, replying like OpenBFDD's parseTimeValue on error. */
function timeValue(args: string[], item: string, r: Reply): number | null {
  const [value, unit] = args;
  const notInt = `'set ${item}' value must be an integer followed by time unit : <${value ?? 'none'}>.\n`;
  const n = toInt(value);
  if (n === null) return fail(r, notInt);
  if (n < 0) return fail(r, 'Negative values not allowed\n');
  if (unit === undefined) return fail(r, `Must supply a unit after the value ${value}: 's', 'ms' or 'us'\n`);
  const scale = unit === 's' ? 1_000_000 : unit === 'ms' ? 1000 : unit === 'us' ? 1 : 0;
  if (!scale) return fail(r, `Unknown unit <${unit}>. Use: 's', 'ms' or 'us'\n`);
  if (n * scale > 0xffffffff) {
    const name = unit === 's' ? 'seconds' : unit === 'ms' ? 'milliseconds' : 'microseconds';
    return fail(r, unit === 'us' ? `Value <${value}> microseconds is too large.\n` : `Value <${value}> ${name} is too large to be converted to microseconds.\n`);
  }
  return n * scale;
}

function sessionSet(args: string[], r: Reply): { item: TimerItem; value: number } | null {
  const item = args[0];
  const items = "'mintx', 'minrx', 'multi', 'cpi' or 'admin_up_poll'";
  if (item === undefined) return fail(r, `Must supply item to set: ${items}.\n`);
  if (item === 'mintx' || item === 'minrx') {
    if (args[1] === undefined) return fail(r, `Must supply value for 'set ${item}'.\n`);
    const us = timeValue(args.slice(1), item, r);
    if (us === null) return null;
    if (item === 'mintx' && us === 0) return fail(r, "'set mintx' value can not be 0.\n");
    // We never advertise sub-millisecond intervals (OVN rejects them, OVN-05 in docs/bfd-requirements.md).
    if (us % 1000 !== 0 || us === 0) return fail(r, `Must supply a whole number of milliseconds for 'set ${item}' (egress-agent does not advertise sub-millisecond intervals).\n`);
    r.ok(`Attempting to set ${item} to ${commas(us)} us.\n`);
    return { item, value: us };
  }
  if (item === 'multi') {
    if (args[1] === undefined) return fail(r, "Must supply value for 'set multi'.\n");
    const n = toInt(args[1]);
    if (n === null) return fail(r, "Must supply an non-zero integer value for 'set multi'.\n");
    if (n > 255) return fail(r, "Value for 'set multi is too large..\n");
    if (n <= 0) return fail(r, "'set multi' value can not be 0.\n");
    r.ok(`Attempting to set multi to ${n}.\n`);
    return { item, value: n };
  }
  if (item === 'cpi' || item === 'admin_up_poll') {
    return fail(r, `Unable to complete request: 'set ${item}' is not provided by egress-agent.\n`);
  }
  return fail(r, `Unrecognized item to set <${item}> use ${items}.\n`);
}

function session(args: string[], b: BfddBackend, r: Reply): void {
  const ids = "'all', 'new', session id or 'remote ip local ip'";
  if (!args.length) return void r.err(`Must supply ${ids}.\n`);
  let target: BfddTarget | 'new';
  let rest: string[];
  if (args[0] === 'new') {
    target = 'new';
    rest = args.slice(1);
  } else {
    const parsed = parseTarget(args);
    if ('error' in parsed) return void r.err(`Must supply ${ids} before other settings. ${parsed.error}\n`);
    ({ target, rest } = parsed);
  }
  const actions = "'state', 'set', 'kill', 'reset', 'suspend' or 'resume'";
  const action = rest[0];
  if (action === undefined) return void r.err(`Must supply session action: ${actions}.\n`);
  let run: ((t: BfddTarget) => boolean) | null = null;
  if (action === 'set') {
    const set = sessionSet(rest.slice(1), r);
    if (!set) return;
    const found = b.setTimers(target, set.item, set.value);
    if (!found && target !== 'new') noSuchSession(r, target);
    return;
  }
  if (action === 'state') {
    const which = rest[1];
    if (which === undefined) return void r.err("Must supply state: 'up', 'admin', or 'down'.\n");
    if (which !== 'up' && which !== 'down' && which !== 'admin') return void r.err(`Unrecognized state <${which}> use 'up', 'admin', or 'down'.\n`);
    let diag = which === 'up' ? 0 : which === 'down' ? DIAG_PATH_DOWN : DIAG_ADMIN_DOWN;
    const diagArg = rest[2];
    if (diagArg !== undefined) {
      if (which === 'up') return void r.err('State up can not have diagnostic value.\n');
      const n = toInt(diagArg);
      if (n === null) return void r.err(`Unrecognized diagnostic value. Must be integer <${diagArg}>.\n`);
      if (n < 0 || n >= DIAG_NAMES.length) return void r.err(`Diagnostic value. Must be integer between 0 and ${DIAG_NAMES.length - 1}.\n`);
      diag = n;
    }
    const stateName = which === 'up' ? 'Up' : which === 'down' ? 'Down' : 'AdminDown';
    r.ok(`Attempting to put session(s) into ${stateName} state with diagnostic <${DIAG_TEXT[diag]}>.\n`);
    if (which === 'down') {
      // OpenBFDD's ForceDown holds a session Down while still sending; our engine offers AdminDown.
      return void r.err("Unable to complete request: 'state down' is not provided by egress-agent; use 'state admin'.\n");
    }
    const d = DIAG_NAMES[diag]!;
    run = which === 'up' ? (t) => b.adminUp(t) : (t) => b.adminDown(t, d);
  } else if (action === 'reset' || action === 'kill') {
    r.ok(`Attempting to ${action} session(s).\n`);
    run = action === 'reset' ? (t) => b.reset(t) : (t) => b.kill(t);
  } else if (action === 'suspend' || action === 'resume') {
    r.ok(`Attempting to ${action} session(s).\n`);
    if (target !== 'new') return void r.err(`Unable to complete request: '${action}' is not provided by egress-agent.\n`);
  } else {
    return void r.err(`Unrecognized session action <${action}> use: ${actions}.\n`);
  }
  if (target === 'new') return void r.err("'new' can only be used with 'set'.\n");
  if (run && !run(target)) noSuchSession(r, target);
}

function log(args: string[], b: BfddBackend, r: Reply): void {
  const items = "'level', 'type' or 'timing'";
  const item = args[0];
  if (item === undefined) return void r.err(`Must specify: ${items}.\n`);
  if (item !== 'type') {
    if (item === 'level' || item === 'timing') {
      return void r.err(`Unable to complete request: 'log ${item}' is not provided by egress-agent; use \`egress-agent log-level\`.\n`);
    }
    return void r.err(`'log' must be followed by one of ${items}. Unknown <${item}>\n`);
  }
  const type = args[1];
  if (type === undefined) return void r.err("'type' must be followed by 'list' or a log type.\n");
  if (type === 'list') return void r.ok('Available log types: command\n');
  const yesNo = args[2];
  if (yesNo !== 'yes' && yesNo !== 'no') {
    // OpenBFDD checks the type before the yes/no word.
    if (b.setLogType(type, true) === null) return void r.err(`Unknown log type: ${type}.\n`);
    return void r.err("Must specify 'yes' or 'no'.\n");
  }
  const was = b.setLogType(type, yesNo === 'yes');
  if (was === null) return void r.err(`Unknown log type: ${type}.\n`);
  r.ok(`Log type ${type} set to ${yesNo}, was ${was ? 'yes' : 'no'}\n`);
}

/** Runs one bfdd-control command line (argv after the program name) against the backend. */
export function bfddControl(args: readonly string[], b: BfddBackend): BfddReply {
  const r = new Reply();
  const [cmd, ...rest] = args;
  if (cmd === undefined) return r.err('Unknown command <>\n').done();
  const name = cmd.toLowerCase(); // OpenBFDD matches the command (only) case-insensitively
  try {
    switch (name) {
      case 'status': status(rest, b, r); break;
      case 'session': session(rest, b, r); break;
      case 'log': log(rest, b, r); break;
      case 'version': r.ok(`${b.version()}\n`); break;
      case 'stop': b.stop(); r.ok('stopping\n'); break;
      case 'allow':
      case 'block': {
        const ip = rest[0];
        if (ip === undefined) {
          r.err(name === 'allow' ? 'Must supply ip address.\n' : 'Must supply an IPv4 or IPv6 address.\n');
          break;
        }
        const addr = normalizeIp(ip);
        if (!addr) {
          r.err(`Invalid IPv4 or IPv6 address <${ip}>.\n`);
          break;
        }
        if (name === 'allow') {
          b.allow(addr);
          r.ok(`Allowing connections from ${addr}\n`);
        } else {
          b.block(addr);
          r.ok(`Blocking connections from ${addr}. This will not terminate any ongoing session.\n`);
        }
        break;
      }
      case 'connect':
        r.err('Unable to complete request: egress-agent runs sessions to the configured peers (BFD_PEER_IPS); \'connect\' is not provided.\n');
        break;
      default:
        r.err(`Unknown command <${cmd}>\n`);
    }
  } catch (err) {
    r.err(`Unable to complete request. Exception: ${(err as Error).message}\n`);
  }
  return r.done();
}
