import { packageVersion } from '../lib/program.js';

export default async function version(_args: string[], opts: { json?: boolean }): Promise<number> {
  const v = packageVersion();
  process.stdout.write(opts.json ? JSON.stringify({ version: v, node: process.version }) + '\n' : `egress-agent ${v} (node ${process.version})\n`);
  return 0;
}
