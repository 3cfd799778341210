// Interface counters from sysfs (/sys/class/net/<if>/statistics/*), read at scrape time. sysfs
// shows the network namespace it was mounted in: the Pod's own, as the container runtime mounts it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const INTERFACE_COUNTERS = ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'rx_dropped', 'tx_dropped', 'rx_errors', 'tx_errors'] as const;

export type InterfaceCounter = (typeof INTERFACE_COUNTERS)[number];
export type InterfaceStats = Record<InterfaceCounter, number>;

export const SYS_CLASS_NET = '/sys/class/net';

/** The counters of one interface; undefined when it does not exist (e.g. while it is being recreated). */
export async function readInterfaceStats(name: string, root = SYS_CLASS_NET): Promise<InterfaceStats | undefined> {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) throw new Error(`interface name "${name}" is not a plain name`);
  const dir = join(root, name, 'statistics');
  try {
    const values = await Promise.all(INTERFACE_COUNTERS.map(async (c) => {
      const text = (await readFile(join(dir, c), 'utf8')).trim();
      const n = Number(text);
      if (!/^[0-9]+$/.test(text) || !Number.isFinite(n)) throw new Error(`${join(dir, c)}: "${text}" is not a counter`);
      return n;
    }));
    return Object.fromEntries(INTERFACE_COUNTERS.map((c, i) => [c, values[i]!])) as InterfaceStats;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
