// Process memory as an operator and the kubelet see it (/proc/self/status), and the record of the
// one-time release of the executable's startup pages (native/src/mem/release.h).
import { readFileSync } from 'node:fs';
import type { Logger } from '../lib/log.js';
import type { PageRelease } from '../native/mem.js';
import type { ProcessMemory, StartupRelease } from '../status/types.js';

/** VmRSS, RssAnon and RssFile of a /proc/PID/status text, in bytes; NaN when a field is missing. */
export function parseProcStatus(text: string): Pick<ProcessMemory, 'rssBytes' | 'anonBytes' | 'fileBytes'> {
  const kib = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { rssBytes: kib('VmRSS'), anonBytes: kib('RssAnon'), fileBytes: kib('RssFile') };
}

export function readProcessMemory(): ProcessMemory {
  return { ...parseProcStatus(readFileSync('/proc/self/status', 'utf8')), heapUsedBytes: process.memoryUsage().heapUsed };
}

/** Once, after start: the executable's pages touched only while starting go back to the kernel. */
export function releaseStartupPages(release: () => PageRelease, now: () => number, log: Logger): StartupRelease {
  const before = readProcessMemory();
  const r = release();
  const after = readProcessMemory();
  const at = now();
  const fields = { rssBeforeBytes: before.rssBytes, rssAfterBytes: after.rssBytes, anonBytes: after.anonBytes, mappings: r.mappings };
  if (r.error) log.warn({ ...fields, error: r.error }, 'startup pages not released');
  else log.info(fields, 'startup pages released');
  return { at, rssBeforeBytes: before.rssBytes, rssAfterBytes: after.rssBytes, mappings: r.mappings, error: r.error };
}
