// Process memory as an operator and the kubelet see it (/proc/self/status), and the record of the
// one-time release of the executable's startup pages (native/src/mem/release.h).
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  rssBytes: number;
  /** Memory the process allocated itself (heap, stacks, malloc). */
  anonBytes: number;
  /** Resident pages of mapped files (the node binary, libraries, addons): shared and reclaimable. */
  fileBytes: number;
  /** V8's live heap. */
  heapUsedBytes: number;
}

export interface StartupRelease {
  at: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** Read-only mappings of the executable that were advised. */
  mappings: number;
  /** errno name when the kernel refused (EINVAL: no MADV_PAGEOUT before Linux 5.4). */
  error: string | null;
}

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
