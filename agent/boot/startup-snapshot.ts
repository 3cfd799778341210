// The entry of the agent's startup snapshot (`make startup`: dist/egress-agent.blob, which
// bin/egress-agent and the image pass to node with --snapshot-blob). The agent's V8 flags
// (--lite-mode, --max-semi-space-size) change V8's flag hash, so Node.js rejects the code cache
// embedded in its binary and every start compiled the built-in modules below from source: ~60-80 ms.
// Built into the snapshot, they are loaded before the first line of the agent runs. The agent
// itself is not in the snapshot: it is loaded at start (with its code cache), so nothing it reads
// at load time (environment, pid, clocks) is frozen at build time. The blob works only with the
// node binary and V8 flags it was built with (Node.js refuses it otherwise), so it is built by the
// same binary with the same flags that run it (Makefile, Dockerfile).
import 'node:assert';
import 'node:child_process';
import 'node:crypto';
import 'node:dgram';
import 'node:diagnostics_channel';
import 'node:dns';
import 'node:events';
import 'node:fs';
import 'node:fs/promises';
import 'node:module';
import 'node:net';
import 'node:os';
import 'node:path';
import 'node:perf_hooks';
import 'node:readline';
import 'node:stream';
import 'node:stream/promises';
import 'node:string_decoder';
import 'node:timers/promises';
import 'node:tty';
import 'node:url';
import 'node:util';
import 'node:worker_threads';
import { startupSnapshot } from 'node:v8';
import { runWithCodeCache } from './code-cache.js';

// `node --snapshot-blob dist/egress-agent.blob dist/egress-agent.cjs ARGS`: argv[1] is the agent.
startupSnapshot.setDeserializeMainFunction(() => runWithCodeCache(process.argv[1]!));
