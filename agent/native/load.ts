// Loads the native module (build/Release/egress_native.node, or a prebuild via node-gyp-build) and
// checks its ABI. One module holds every native area, because node-gyp-build loads one file per
// package; each area has its own typed facade: agent/bfd/native.ts (the BFD engine),
// agent/native/netlink.ts (the rtnetlink and conntrack readers), agent/native/mem.ts (the page
// release). agent/native/ imports agent/lib/ only, so any folder may use it.
import { createRequire } from 'node:module';
import { packageRoot } from '../lib/package-root.js';

/** The raw exports; a facade asserts the part it types. */
export interface NativeModule {
  readonly abiVersion: number;
  readonly [name: string]: unknown;
}

/** The export set the facades are written against; native/src/addon.cc has the same number. */
const ABI_VERSION = 7;
const require = createRequire(import.meta.url);

let cached: NativeModule | undefined;

/** Loads the module from `explicitPath`, else build/Release/egress_native.node or prebuilds/ under the package root (cached). */
export function loadNative(explicitPath?: string): NativeModule {
  if (!explicitPath && cached) return cached;
  let native: NativeModule;
  if (explicitPath) {
    native = require(explicitPath) as NativeModule;
  } else {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    native = nodeGypBuild(packageRoot(import.meta.url)) as NativeModule;
  }
  if (native.abiVersion !== ABI_VERSION)
    throw new Error(`native addon ABI ${String(native.abiVersion)} does not match ${ABI_VERSION}: run npm run build:native`);
  if (!explicitPath) cached = native;
  return native;
}
