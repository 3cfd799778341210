// The one error that makes `egress-agent run` exit 2: the inputs are wrong, not the machine.

/** Startup failed because of the inputs (exit 2) rather than the machine (exit 1). */
export class StartupInputError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(readonly errors: string[]) {
    super(`invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'StartupInputError';
  }
}
