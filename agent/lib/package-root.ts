// The agent's package root: the nearest directory above a module that holds package.json. It is
// the one file every layout has (the checkout, dist/ after tsc, the image's /opt/egress-agent),
// unlike build files such as binding.gyp, which the image leaves out.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest ancestor directory of the module at `moduleUrl` (import.meta.url) holding package.json. */
export function packageRoot(moduleUrl: string): string {
  const start = fileURLToPath(moduleUrl);
  let dir = path.dirname(start);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json in any directory above ${start}`);
    dir = parent;
  }
}
