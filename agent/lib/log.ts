// Structured JSON logging (pino). Pretty output only when a person is attached to a terminal.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(level: string, opts: { pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = { level, base: { pid: process.pid, name: 'egress-agent' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (opts.destination) return pino(base, opts.destination as pino.DestinationStream);
  const pretty = opts.pretty ?? (process.stderr.isTTY === true && process.env.CI !== 'true');
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'HH:MM:ss.l' } } });
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
