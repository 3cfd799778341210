// Structured JSON logging (pino). Pretty output only when a person is attached to a terminal.
import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';

// pino-pretty only for a person at a terminal: loaded then, from node_modules.
const requireCjs = createRequire(import.meta.url);

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(level: string, opts: { pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = { level, base: { pid: process.pid, name: 'egress-agent' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (opts.destination) return pino(base, opts.destination as pino.DestinationStream);
  const pretty = opts.pretty ?? (process.stderr.isTTY === true && process.env.CI !== 'true');
  if (pretty) {
    // As a stream in this thread, not a pino transport: a transport's worker thread loads its files
    // by path from pino's own directory, which the bundled agent (dist/egress-agent.cjs) does not have.
    const prettyStream = requireCjs('pino-pretty') as (o: object) => pino.DestinationStream;
    return pino(base, prettyStream({ destination: 2, sync: true, translateTime: 'HH:MM:ss.l' }));
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/**
 * For a log line that a burst would repeat many times a second (e.g. an overflow reported on every
 * read): lets one through per interval and counts the ones held back in between.
 */
export class LogThrottle {
  private last = -Infinity;
  private held = 0;

  constructor(private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  /** undefined: leave this line out; otherwise log it, saying how many were left out since the last one. */
  take(): number | undefined {
    const t = this.now();
    if (t - this.last < this.intervalMs) {
      this.held++;
      return undefined;
    }
    const held = this.held;
    this.held = 0;
    this.last = t;
    return held;
  }
}
