// The init -> bfdd hand-off file (agent/config/handoff.ts): what init writes, `run` reads back,
// for the largest gateways Kube-OVN's variables can describe, and what it refuses.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HANDOFF_MAX_BYTES, handoffFromConfig, readHandoff, writeHandoff } from '../../agent/config/handoff.js';
import { loadConfig } from '../../agent/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'vea-handoff-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const euid = process.geteuid?.() ?? 0;

/** n distinct host CIDRs per family: what a big no-SNAT list looks like in Kube-OVN's variables. */
function gatewayEnv(n: number): Record<string, string> {
  return {
    INTERNAL_GATEWAY_IPV4: '10.16.0.1',
    EXTERNAL_GATEWAY_IPV4: '172.17.0.1',
    INTERNAL_GATEWAY_IPV6: 'fd00:10:16::1',
    EXTERNAL_GATEWAY_IPV6: 'fd00:172:17::1',
    NO_SNAT_SOURCES_IPV4: Array.from({ length: n }, (_, i) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`).join(','),
    NO_SNAT_SOURCES_IPV6: Array.from({ length: n }, (_, i) => `fd00:64::${i.toString(16)}/128`).join(','),
  };
}

t.test('10,000 no-SNAT CIDRs (5,000 per family, two ~100 KiB variables) go through the hand-off intact', (t) => {
  const env = gatewayEnv(5000);
  t.ok(env.NO_SNAT_SOURCES_IPV6!.length < 128 * 1024, 'each variable fits the kernel\'s 128 KiB per environment string');
  const loaded = loadConfig({ env });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const path = join(dir, 'big.json');
  writeHandoff(path, handoffFromConfig(loaded.config, { verified: true, interfaces: [] }, 'test'));
  const read = readHandoff(path, euid);
  if (!read.ok) throw new Error(`refused: ${read.absent ? 'absent' : read.error}`);
  t.equal((read.handoff.settings['ipv4.noSnatSources'] as string[]).length, 5000, 'every IPv4 CIDR is back');
  t.equal((read.handoff.settings['ipv6.noSnatSources'] as string[]).length, 5000, 'every IPv6 CIDR is back');
  t.end();
});

t.test('a file over the bound is refused with its path and size, not read', (t) => {
  const path = join(dir, 'huge.json');
  writeFileSync(path, '{');
  chmodSync(path, 0o644);
  truncateSync(path, HANDOFF_MAX_BYTES + 1);
  const read = readHandoff(path, euid);
  t.notOk(read.ok, 'refused');
  if (!read.ok && !read.absent) t.match(read.error, `hand-off file ${path}: is ${HANDOFF_MAX_BYTES + 1} bytes, more than ${HANDOFF_MAX_BYTES}; refused`);
  t.end();
});

t.test('the bound is above what init writes for the largest input Kube-OVN can pass', (t) => {
  // Two variables of at most 128 KiB each, filled with the shortest CIDRs (the most entries).
  const fill = (cidr: (i: number) => string): string[] => {
    const out: string[] = [];
    for (let i = 0, bytes = 0; (bytes += cidr(i).length + 1) <= 128 * 1024; i++) out.push(cidr(i));
    return out;
  };
  const v4 = fill((i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`);
  const v6 = fill((i) => `fd::${i.toString(16)}/128`);
  const env = { ...gatewayEnv(0), NO_SNAT_SOURCES_IPV4: v4.join(','), NO_SNAT_SOURCES_IPV6: v6.join(',') };
  const loaded = loadConfig({ env });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const path = join(dir, 'max.json');
  writeHandoff(path, handoffFromConfig(loaded.config, { verified: true, interfaces: [] }, 'test'));
  const read = readHandoff(path, euid);
  t.ok(read.ok, `${v4.length} IPv4 and ${v6.length} IPv6 CIDRs are accepted back`);
  t.end();
});
