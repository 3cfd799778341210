// Preparing a Unix socket path: the parent directory is created 0700 when missing; a socket file
// left by a dead process is replaced; a socket some live process still serves is refused; anything
// that is not a socket is never touched.
import { connect } from 'node:net';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Resolves true when something accepts connections on the socket path. */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const done = (v: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(true), timeoutMs); // a hung listener is still a listener
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot inspect control socket path ${path}: ${(err as Error).message}`);
  }
  if (!st.isSocket()) throw new Error(`control socket path ${path} exists and is not a socket; refusing to replace it`);
  if (await socketAnswers(path)) throw new Error(`another process is serving the control socket ${path}; is another egress-agent running?`);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new Error(`cannot remove stale control socket ${path}: ${err.message}`);
  });
}
