// ipset through the `ipset` tool: read a set back (`ipset save NAME`), and bring it to the desired
// members with one `ipset restore` on stdin. Small changes are add/del lines; large ones (or a set
// that must be re-created, e.g. maxelem too small) fill a temporary set and swap it in, so rules
// matching the set never see it half-filled.
import { normalizeCidr, type IpFamily } from '../lib/ip.js';
import type { DesiredIpset } from '../plan/types.js';
import type { Drift } from './drift.js';
import { run } from './exec.js';

export interface LiveIpset {
  name: string;
  type: string;
  family: IpFamily | undefined;
  maxelem: number;
  /** Canonical "network/prefix" (ipset prints host entries without /32 or /128). */
  members: string[];
}

/** Changes at or above this count go through a temporary set + swap instead of add/del lines. */
export const SWAP_THRESHOLD = 256;
const DEFAULT_MAXELEM = 65536;

/**
 * ipset prints members in canonical form (network address, inet_ntop text) but leaves out /32 and
 * /128; only those need the prefix added. Anything unexpected goes through the full normaliser.
 * (Parsing every member fully costs ~4 us each, which dominates a 10 000-member verify.)
 */
function canonicalMember(text: string, family: IpFamily | undefined): string {
  if (text.includes('/')) return /^[0-9a-f.:]+\/\d+$/.test(text) ? text : normalizeCidr(text);
  return family ? `${text}/${family === 4 ? 32 : 128}` : normalizeCidr(text);
}

/** Parses `ipset save NAME` output for one set. */
export function parseIpsetSave(name: string, text: string): LiveIpset | undefined {
  let live: LiveIpset | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const words = line.split(/\s+/);
    if (words[0] === 'create' && words[1] === name) {
      const opt = (k: string): string | undefined => {
        const i = words.indexOf(k, 3);
        return i > 0 ? words[i + 1] : undefined;
      };
      const fam = opt('family');
      live = {
        name,
        type: words[2] ?? '',
        family: fam === 'inet' ? 4 : fam === 'inet6' ? 6 : undefined,
        maxelem: Number(opt('maxelem') ?? DEFAULT_MAXELEM),
        members: [],
      };
    } else if (words[0] === 'add' && words[1] === name && live && words[2]) {
      live.members.push(canonicalMember(words[2], live.family));
    }
  }
  return live;
}

export async function readIpset(name: string): Promise<LiveIpset | undefined> {
  const r = await run('ipset', ['save', name], { allowFailure: true });
  if (r.exitCode !== 0) {
    if (/does not exist/.test(r.stderr)) return undefined;
    throw new Error(`ipset save ${name} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  }
  return parseIpsetSave(name, r.stdout);
}

const familyWord = (f: IpFamily): string => (f === 4 ? 'inet' : 'inet6');

function hashsizeFor(n: number): number {
  let h = 1024;
  while (h < n) h *= 2;
  return h;
}

function createLine(name: string, want: DesiredIpset): string {
  return `create ${name} ${want.type} family ${familyWord(want.family)} hashsize ${hashsizeFor(want.members.length)} maxelem ${want.maxelem}`;
}

function sample(items: string[]): string {
  const shown = items.slice(0, 8).join(', ');
  return items.length > 8 ? `${shown}, ... (${items.length} in total)` : shown;
}

export interface IpsetDelta {
  missing: string[];
  extra: string[];
  /** The set must be re-created (absent, or its maxelem cannot hold the members). */
  recreate: boolean;
  /** Type or family differ: cannot be fixed by a swap while iptables references the set. */
  incompatible: boolean;
}

export function ipsetDelta(want: DesiredIpset, live: LiveIpset | undefined): IpsetDelta {
  if (!live) return { missing: [...want.members], extra: [], recreate: true, incompatible: false };
  const have = new Set(live.members);
  const wanted = new Set(want.members);
  return {
    missing: want.members.filter((m) => !have.has(m)),
    extra: live.members.filter((m) => !wanted.has(m)),
    recreate: live.maxelem < want.maxelem,
    incompatible: live.type !== want.type || live.family !== want.family,
  };
}

export function ipsetDrift(want: DesiredIpset, live: LiveIpset | undefined): Drift[] {
  const object = `ipset ${want.name}`;
  if (!live) return [{ kind: 'ipset', family: want.family, object, problem: 'missing', expected: `${want.type} family ${familyWord(want.family)}, ${want.members.length} members` }];
  const d = ipsetDelta(want, live);
  const out: Drift[] = [];
  if (d.incompatible) {
    out.push({ kind: 'ipset', family: want.family, object, problem: 'different', expected: `${want.type} family ${familyWord(want.family)}`, actual: `${live.type} family ${live.family ? familyWord(live.family) : 'unknown'}` });
  }
  if (d.recreate) out.push({ kind: 'ipset', family: want.family, object: `${object} maxelem`, problem: 'different', expected: String(want.maxelem), actual: String(live.maxelem) });
  if (d.missing.length > 0) out.push({ kind: 'ipset', family: want.family, object: `${object} members`, problem: 'missing', expected: sample(d.missing) });
  if (d.extra.length > 0) out.push({ kind: 'ipset', family: want.family, object: `${object} members`, problem: 'extra', actual: sample(d.extra) });
  return out;
}

/** `ipset restore` input that turns `live` into `want`; empty string when nothing is to do. */
export function renderIpsetRestore(want: DesiredIpset, live: LiveIpset | undefined): string {
  const d = ipsetDelta(want, live);
  if (d.incompatible) {
    throw new Error(`ipset ${want.name} exists as ${live!.type} family ${live!.family ? familyWord(live!.family) : 'unknown'}; expected ${want.type} family ${familyWord(want.family)}: destroy it (after removing rules that use it) to let the agent re-create it`);
  }
  if (!live) return [createLine(want.name, want), ...want.members.map((m) => `add ${want.name} ${m}`)].join('\n') + '\n';
  if (!d.recreate && d.missing.length === 0 && d.extra.length === 0) return '';
  if (d.recreate || d.missing.length + d.extra.length >= SWAP_THRESHOLD) {
    const tmp = tempName(want.name);
    return [
      createLine(tmp, want),
      ...want.members.map((m) => `add ${tmp} ${m}`),
      `swap ${tmp} ${want.name}`,
      `destroy ${tmp}`,
    ].join('\n') + '\n';
  }
  return [...d.extra.map((m) => `del ${want.name} ${m}`), ...d.missing.map((m) => `add ${want.name} ${m}`)].join('\n') + '\n';
}

/** Name of the temporary set used for swaps (ipset names are at most 31 characters). */
export function tempName(name: string): string {
  return `${name.slice(0, 29)}-T`;
}

export async function applyIpset(want: DesiredIpset, live: LiveIpset | undefined): Promise<boolean> {
  const input = renderIpsetRestore(want, live);
  if (input === '') return false;
  if (input.includes(`swap ${tempName(want.name)} `)) {
    // A temporary set left behind by an interrupted run would make `create` fail; it is ours by name.
    await run('ipset', ['destroy', tempName(want.name)], { allowFailure: true });
  }
  await run('ipset', ['restore'], { input });
  return true;
}
