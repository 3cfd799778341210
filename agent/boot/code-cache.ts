// Runs the bundled agent (CommonJS) with V8 code caches made at build time, so a start does not
// parse and compile the 1.3 MB bundle and the `netlink` package again (BENCHMARKS.md, bfd: restart).
// V8 checks a cache only against the source's length, so each cache is keyed by the SHA-256 of the
// source it was made from: a rebuilt or edited file misses and compiles from source as it would
// without a cache.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { Script } from 'node:vm';

/** Set (to the cache file's path) only by the build step that writes the cache. */
export const WRITE_CACHE_ENV = 'EGRESS_AGENT_WRITE_CODE_CACHE';

/** Source SHA-256 (hex) -> V8 code cache of that source, wrapped as Node.js wraps a CommonJS file. */
export type CodeCache = Map<string, Buffer>;

interface CompilingModule {
  exports: unknown;
  _compile(content: string, filename: string): unknown;
}

export const sourceKey = (content: string): string => createHash('sha256').update(content).digest('hex');

/** The cache in `file`; empty when it is missing or not a cache (a start then compiles from source). */
export function readCodeCache(file: string): CodeCache {
  try {
    const c: unknown = deserialize(readFileSync(file));
    return c instanceof Map ? (c as CodeCache) : new Map();
  } catch {
    return new Map();
  }
}

/**
 * Compiles every CommonJS file loaded from now on with its cache from `cache` when one matches;
 * with `record`, keeps each compiled script there (keyed like the cache) to write a cache later.
 * Returns how many files were compiled and how many caches V8 accepted.
 */
export function installCodeCache(cache: CodeCache, record?: Map<string, Script>): { compiled: number; accepted: number } {
  const counts = { compiled: 0, accepted: 0 };
  const proto = Module.prototype as unknown as CompilingModule;
  proto._compile = function compileWithCache(this: CompilingModule, content: string, filename: string): unknown {
    const key = sourceKey(content);
    const cachedData = cache.get(key);
    cache.delete(key); // each file compiles once per process: let the cache's memory go
    const script = new Script(Module.wrap(content), { filename, cachedData });
    counts.compiled++;
    if (cachedData && !script.cachedDataRejected) counts.accepted++;
    record?.set(key, script);
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    // createRequire resolves from `filename` exactly as the module's own require would.
    return wrapper.call(this.exports, this.exports, Module.createRequire(filename), this, filename, path.dirname(filename));
  };
  return counts;
}

/** The caches of the scripts in `record`, made now: they include every function run so far. */
export function makeCodeCache(record: Map<string, Script>): Buffer {
  return serialize(new Map([...record].map(([key, script]) => [key, script.createCachedData()])));
}

/**
 * Runs `entry` as the main module with `${entry}.codecache`; with WRITE_CACHE_ENV set to that
 * file, writes it when the process exits instead (scripts/startup-cache.sh runs the agent this
 * way), covering every CommonJS file the process loaded, node_modules' (netlink) included.
 */
export function runWithCodeCache(entry: string): void {
  const main = path.resolve(entry);
  const cacheFile = `${main}.codecache`;
  const writing = process.env[WRITE_CACHE_ENV] === cacheFile;
  const record = writing ? new Map<string, Script>() : undefined;
  installCodeCache(writing ? new Map() : readCodeCache(cacheFile), record);
  if (record) process.once('exit', () => writeFileSync(cacheFile, makeCodeCache(record)));
  (Module as unknown as { _load(request: string, parent: null, isMain: boolean): unknown })._load(main, null, true);
}
