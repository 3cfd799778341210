// The `netlink` package, loaded with require(): it is CommonJS, and an ES module import of it makes
// Node.js lex each of its files for export names first, about 70 ms of every agent start
// (BENCHMARKS.md, bfd: restart). Types still come from `import type ... from 'netlink'`.
import { createRequire } from 'node:module';
import type * as Netlink from 'netlink';

export const netlinkPackage = createRequire(import.meta.url)('netlink') as typeof Netlink;
