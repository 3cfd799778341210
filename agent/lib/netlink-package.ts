// The parts of the `netlink` package the agent uses (rtnetlink), loaded with require(): it is
// CommonJS, and an ES module import of it makes Node.js lex each of its files for export names
// first. Only rtnetlink's files: the package's index also loads its generic-netlink, nl80211 and
// WireGuard modules, ~10 ms of every agent start (BENCHMARKS.md, bfd: restart). Types still come
// from `import type ... from 'netlink'`.
import { createRequire } from 'node:module';
import type * as Netlink from 'netlink';

const requireCjs = createRequire(import.meta.url);
const rtModule = requireCjs('netlink/dist/rt/rt') as Pick<typeof Netlink, 'createRtNetlink'>;
const constants = requireCjs('netlink/dist/constants') as Pick<typeof Netlink, 'FlagsNew'>;

export const netlinkPackage = {
  createRtNetlink: rtModule.createRtNetlink,
  FlagsNew: constants.FlagsNew,
  rt: requireCjs('netlink/dist/rt/structs') as typeof Netlink.rt,
};
