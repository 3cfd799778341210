// Where the agent under test lives: the checkout's entry points, and the per-test run directory.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const AGENT_MAIN = join(ROOT, 'dist/egress-agent.mjs');
export const AGENT_BIN = join(ROOT, 'bin/egress-agent');
/** Per-test agent directories: /run/vea-agents/PREFIX/gwN/ (root only, like /run/vea-lab). */
export const AGENTS_RUN_DIR = '/run/vea-agents';
/** Health listens on the replica's own loopback (each replica is its own network namespace). */
export const HEALTH_PORT = 10669;
