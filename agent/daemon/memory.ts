// Process memory as an operator and the kubelet see it (/proc/self/status), and the record of the
// one-time release of the executable's startup pages (native/src/mem/release.h).
import { readFileSync } from 'node:fs';
import type { ProcessMemory } from '../status/types.js';

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
