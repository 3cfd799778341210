// The egress-agent command line (commander). Each verb lives in agent/commands/<verb>.ts and is
// loaded on demand, so `probe` and `status` never pay for the daemon's imports.
import { Command, Option } from 'commander';
import { addConfigOptions, handoffOption } from './config/flags.js';
import { DEFAULT_SOCKET, packageVersion, type GlobalOptions } from './lib/program.js';

type Verb = (args: string[], opts: Record<string, unknown>, global: GlobalOptions) => Promise<number>;

/** Runs agent/commands/<file>.js's default export and turns its result into the exit code. */
function verb(program: Command, file: string) {
  return async (...received: unknown[]) => {
    const cmd = received[received.length - 1] as Command;
    const args = received.slice(0, -2).filter((a): a is string => typeof a === 'string');
    const mod = (await import(`./commands/${file}.js`)) as { default: Verb };
    process.exitCode = await mod.default(args, cmd.opts(), program.opts<GlobalOptions>());
  };
}

export function buildProgram(): Command {
  const program = new Command('egress-agent')
    .description('In-pod dataplane agent for Kube-OVN VPC egress gateways: routes, rules, SNAT and BFD')
    .version(packageVersion(), '-V, --version')
    .addOption(new Option('--socket <path>', 'control socket of the running agent').env('EGRESS_AGENT_SOCKET').default(DEFAULT_SOCKET))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .showHelpAfterError();

  addConfigOptions(program.command('run').description('run the agent: validate config, apply the dataplane, run BFD, serve health and control (the Pod entrypoint)'))
    .action(verb(program, 'run'));
  program.command('init').description('validate config and apply the dataplane once, then exit (Kube-OVN init container)')
    .option('--config <file>', 'JSON config file (flags > file > environment)')
    .addOption(handoffOption())
    .action(verb(program, 'init'));
  program.command('status').description('show the agent status').option('--json', 'machine-readable output').action(verb(program, 'status'));
  const bfd = program.command('bfd').description('show BFD sessions').option('--json', 'machine-readable output').action(verb(program, 'bfd'));
  bfd.command('admin-down <local> <remote>').description('take a BFD session administratively down')
    .option('--diag <diag>', 'diagnostic to send (default AdministrativelyDown)').action(verb(program, 'bfd-admin-down'));
  bfd.command('admin-up <local> <remote>').description('bring an administratively down BFD session back').action(verb(program, 'bfd-admin-up'));
  bfd.command('set-timers <local> <remote>').description('change a running session\'s timers (Poll sequence, no flap)')
    .option('--min-tx <ms>', 'desired minimum transmit interval').option('--min-rx <ms>', 'required minimum receive interval')
    .option('--multiplier <n>', 'detection multiplier').action(verb(program, 'bfd-set-timers'));
  program.command('dataplane').description('show desired vs actual dataplane and the last apply/repair').option('--json', 'machine-readable output').action(verb(program, 'dataplane'));
  program.command('reconcile').description('ask the running agent to reconcile the dataplane now').option('--json', 'machine-readable output').action(verb(program, 'reconcile'));
  program.command('reload').description('ask the running agent to re-read its configuration (as SIGHUP)').option('--json', 'machine-readable output').action(verb(program, 'reload'));
  program.command('snat').description('SNAT mapping records (read from the record files; works without the daemon)')
    .command('lookup').description('which internal source was behind a translated address:port, or what an internal source did')
    .option('--translated <ip:port>', 'translated source, IPv6 in brackets: [fd00::1]:41234')
    .option('--at <time>', 'with --translated: flows open at this ISO 8601 time (±1 s)')
    .option('--source <ip>', 'original (internal) source address')
    .option('--from <time>', 'with --source: flows overlapping from this time').option('--to <time>', 'with --source: ... until this time')
    .option('--limit <n>', 'at most this many flows, newest first (default 100)')
    .addOption(new Option('--records <dir>', 'record directory (default /var/log/egress-agent/snat)').env('EGRESS_AGENT_SNAT_RECORDS_DIR'))
    .option('--json', 'machine-readable output')
    .action(verb(program, 'snat-lookup'));
  program.command('log-level <level>').description('change the running agent\'s log level').action(verb(program, 'log-level'));
  const probe = program.command('probe').description('exit 0/1 for kubelet probes');
  for (const [what, about] of [['live', 'is the agent working'], ['ready', 'can this replica carry traffic']] as const) {
    probe.command(what).description(about).option('--timeout <ms>', 'give up after this long', '5000').option('-q, --quiet', 'exit code only')
      .action(verb(program, `probe-${what}`));
  }
  program.command('version').description('print the version').option('--json', 'machine-readable output').action(verb(program, 'version'));
  return program;
}
