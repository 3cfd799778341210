// Process entry point of bin/egress-agent. No top-level await: the bundle is CommonJS (make
// bundle), which V8 can cache and the startup snapshot can load. A failure is an unhandled
// rejection: Node.js prints it and exits 1, as it did for the top-level await.
import { buildProgram } from './cli.js';

void buildProgram().parseAsync(process.argv);
