// The one place the dataplane runs external tools (iptables-restore, ipset, ...): argument arrays
// and stdin only, never a shell string, and errors that say which command failed and why.
import { execa } from 'execa';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`${command} failed${exitCode !== undefined ? ` (exit ${exitCode})` : ''}: ${stderr.trim() || 'no error output'}`, options);
    this.name = 'CommandError';
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `file args...` with optional stdin; resolves with the output, or rejects with a CommandError unless `allowFailure`. */
export async function run(file: string, args: string[], opts: { input?: string; allowFailure?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  const command = [file, ...args].join(' ');
  let r;
  try {
    r = await execa(file, args, { input: opts.input ?? '', reject: false, timeout: opts.timeoutMs ?? 30_000, stripFinalNewline: false });
  } catch (err) {
    throw new CommandError(command, undefined, (err as Error).message, { cause: err });
  }
  const exitCode = r.exitCode ?? -1;
  if (r.failed && r.exitCode === undefined) throw new CommandError(command, undefined, r.message ?? 'did not run');
  if (exitCode !== 0 && !opts.allowFailure) throw new CommandError(command, exitCode, String(r.stderr));
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode };
}
