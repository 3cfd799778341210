// Where the agent under test lives: the checkout's entry points, and the per-test run directory.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const AGENT_MAIN = join(ROOT, 'dist/egress-agent.cjs');
export const AGENT_BIN = join(ROOT, 'bin/egress-agent');
/** bin/egress-agent's Node.js flags, read from it (for a start without the startup snapshot). */
export const AGENT_NODE_FLAGS = readFileSync(AGENT_BIN, 'utf8').match(/^exec node (.+?) --snapshot-blob /m)![1]!.split(' ');
/** Per-test agent directories: /run/vea-agents/PREFIX/gwN/ (root only, like /run/vea-lab). */
export const AGENTS_RUN_DIR = '/run/vea-agents';
/** Health listens on the replica's own loopback (each replica is its own network namespace). */
export const HEALTH_PORT = 10669;
