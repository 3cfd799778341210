// The agent under test, by concern: where it lives (agent-paths.ts), its process in a lab replica
// (agent-process.ts), the control socket / CLI / HTTP clients (agent-clients.ts), hand-made BFD
// packets (bfd-packet.ts) and the dataplane state it owns (owned-state.ts). This module re-exports
// them all for tests that want the whole set.
export * from './agent-paths.js';
export * from './agent-process.js';
export * from './agent-clients.js';
export * from './bfd-packet.js';
export * from './owned-state.js';
