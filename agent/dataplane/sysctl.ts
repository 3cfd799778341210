// sysctls through /proc/sys (per network namespace for net/*). Keys are slash separated below
// /proc/sys, e.g. "net/ipv4/conf/eth0/rp_filter"; an interface name may contain dots, so never
// translate dotted keys here.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PROC_SYS = '/proc/sys';

function pathOf(key: string): string {
  // Keys come from the plan (interface names from the kernel), but a ".." would escape /proc/sys.
  if (key.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`sysctl key "${key}" is not a plain path below ${PROC_SYS}`);
  }
  return join(PROC_SYS, key);
}

/** Current value (trimmed), or undefined when the key does not exist (e.g. the interface is gone). */
export async function readSysctl(key: string): Promise<string | undefined> {
  try {
    return (await readFile(pathOf(key), 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`read sysctl ${key}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * In a non-privileged container /proc/sys is mounted read-only (EROFS), and a non-root uid may not
 * write it anyway (EACCES): the sysctls are the init container's job there. Such a drift can be
 * verified and reported, not repaired; the error says so instead of looking like a bug.
 */
const READ_ONLY = new Set(['EROFS', 'EACCES', 'EPERM']);

export async function writeSysctl(key: string, value: string): Promise<void> {
  try {
    await writeFile(pathOf(key), `${value}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why = READ_ONLY.has(code)
      ? `${code}: /proc/sys is not writable by this process (a non-privileged container); this drift can only be reported here, the init container sets sysctls`
      : (err as Error).message;
    throw new Error(`write sysctl ${key}=${value}: ${why}`, { cause: err });
  }
}
