// What every verb shares with the top-level program (agent/cli.ts). A leaf module, so the verbs and
// the daemon can use it without importing the command line that loads them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from './package-root.js';

export const DEFAULT_SOCKET = '/run/egress-agent/control.sock';

/** Options every verb receives from the top-level program. */
export interface GlobalOptions {
  socket: string;
  logLevel: string;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
