// The page release of the native module (native/src/mem/release.h): MADV_PAGEOUT on the
// executable's read-only mappings.
import { loadNative } from './load.js';

/** What releaseExecutablePages did: mappings advised, their size, and the errno name of a failure. */
export interface PageRelease {
  mappings: number;
  bytes: number;
  error: string | null;
}

interface MemNative {
  releaseExecutablePages(): PageRelease;
}

/** Gives the kernel back the resident pages of the node binary's read-only mappings. */
export function releaseExecutablePages(): PageRelease {
  return (loadNative() as unknown as MemNative).releaseExecutablePages();
}
