// What the CLI verbs share: one call to the running agent with a clear error on failure, and
// plain aligned tables for people.
import { ControlError, request } from './client.js';
import type { Command } from './protocol.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

/** Runs one control command; on failure prints the reason to stderr and returns null. */
export async function callAgent<T>(socket: string, cmd: Command, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<T | null> {
  try {
    return (await request(socket, cmd, args, timeoutMs)) as T;
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    process.stderr.write(`egress-agent: ${err.message}\n`);
    return null;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Left-aligned columns separated by two spaces; the header is upper-cased. */
export function renderTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** "3.2 s ago", "12 ms ago": how long ago an epoch-ms instant was. */
export function ago(epochMs: number | null, now = Date.now()): string {
  if (!epochMs) return '-';
  const d = Math.max(0, now - epochMs);
  if (d < 1000) return `${Math.round(d)} ms ago`;
  if (d < 120_000) return `${(d / 1000).toFixed(1)} s ago`;
  if (d < 7_200_000) return `${Math.round(d / 60_000)} min ago`;
  return `${(d / 3_600_000).toFixed(1)} h ago`;
}
