// Every timer and event callback of a long-lived component runs through guard(): an exception (or a
// rejected promise) in one callback is logged with the callback's name and counted, and the agent
// stays up. Without it, one throw in, say, the startup page-release timer would reach the process
// level and end the daemon with no BFD drain. What still reaches the process level is truly fatal
// (see agent/daemon/fatal.ts). The logger is process-wide so modules without one can use guard too.
import type { Logger } from './log.js';

let sink: Pick<Logger, 'error'> | null = null;
let failures = 0;
let lastFailure: { at: number; callback: string; err: string } | null = null;

/** Where guarded failures are logged (the daemon's and init's logger); before that, stderr. */
export function setCallbackLogger(log: Pick<Logger, 'error'> | null): void {
  sink = log;
}

function report(callback: string, err: unknown): void {
  failures++;
  const e = err instanceof Error ? err : new Error(String(err));
  lastFailure = { at: Date.now(), callback, err: e.message };
  const fields = { callback, err: e.message, stack: e.stack, callbackFailures: failures };
  try {
    if (sink) sink.error(fields, 'a callback failed; the agent keeps running');
    else process.stderr.write(`${JSON.stringify({ level: 50, msg: 'a callback failed; the agent keeps running', ...fields })}\n`);
  } catch {
    // Logging itself failed (e.g. a closed stream): there is nowhere left to say it.
  }
}

/** Wraps a callback: synchronous throws and rejections of a returned promise are logged, never thrown. */
export function guard<A extends unknown[]>(callback: string, fn: (...args: A) => unknown): (...args: A) => void {
  return (...args: A): void => {
    try {
      const r = fn(...args);
      if (r instanceof Promise) r.catch((err: unknown) => report(callback, err));
    } catch (err) {
      report(callback, err);
    }
  };
}

export function guardedTimeout(callback: string, fn: () => unknown, ms: number): NodeJS.Timeout {
  return setTimeout(guard(callback, fn), ms);
}

export function guardedInterval(callback: string, fn: () => unknown, ms: number): NodeJS.Timeout {
  return setInterval(guard(callback, fn), ms);
}

/** For /status: how many callbacks failed since start, and the last one. */
export function callbackFailures(): { count: number; last: { at: number; callback: string; err: string } | null } {
  return { count: failures, last: lastFailure };
}
