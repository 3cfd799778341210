// Declares every setting's flag on a commander command, so the CLI and the settings table cannot
// drift apart. Values stay raw strings (booleans: true when bare); loadConfig validates them.
import { Option, type Command } from 'commander';
import { CONFIG_FILE_INPUT, SETTINGS } from './settings.js';
import { DEFAULT_HANDOFF_PATH, HANDOFF_INPUT, HANDOFF_OFF } from './handoff.js';

export function addConfigOptions(cmd: Command): Command {
  cmd.addOption(new Option(`--${CONFIG_FILE_INPUT.flag} <path>`, `JSON config file (env ${CONFIG_FILE_INPUT.env})`));
  cmd.addOption(handoffOption());
  for (const s of SETTINGS) {
    if (s.flag === undefined) continue;
    const env = s.env.length > 0 ? ` (env ${s.env.join(', ')})` : '';
    cmd.addOption(new Option(`--${s.flag} ${s.arg}`, `${s.doc}${env}`));
  }
  return cmd;
}

/** The init -> run hand-off file (agent/config/handoff.ts); shared by `init` (writes) and `run` (reads). */
export function handoffOption(): Option {
  return new Option(`--${HANDOFF_INPUT.flag} <path|${HANDOFF_OFF}>`, `init -> run hand-off file (env ${HANDOFF_INPUT.env}; default ${DEFAULT_HANDOFF_PATH}; ${HANDOFF_OFF} = off)`);
}
