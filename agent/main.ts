// Process entry point of bin/egress-agent.
import { buildProgram } from './cli.js';

await buildProgram().parseAsync(process.argv);
