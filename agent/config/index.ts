// agent/config: inputs -> validated GatewayConfig. Reference: docs/configuration.md.
//
//   loadConfig({ env, flags?, file? }): { ok: true, config, notices } | { ok: false, errors }
//       env = process.env; flags = commander opts() (camelCase keys); file = config path (default:
//       flags.config, then EGRESS_AGENT_CONFIG). Precedence flags > file > env > default.
//       Reads the config file and the BFD auth key file; nothing else. Every error is collected.
//   ConfigError { source: 'env'|'file'|'flag'|'default'|'handoff', key, value, message }
//   formatConfigErrors(errors): string                 one line per error, for people
//   InputError(errors)                                 throw it from later checks (discovery)
//   configErrorFor(config, settingId, value, message)  ConfigError naming the input as it was given
//   ConfigNotice { level: 'info'|'warn', key, message } accepted-but-noteworthy; the caller logs them
//   addConfigOptions(command)                          declares every setting's flag on commander
//   SETTINGS                                           the settings table (ids = JSON key paths)
export { loadConfig, type ConfigNotice, type LoadResult } from './load.js';
export { InputError, configErrorFor, formatConfigErrors, type ConfigError, type ConfigSource } from './errors.js';
export { addConfigOptions } from './flags.js';
export { SETTINGS, CONFIG_FILE_INPUT, type Setting } from './settings.js';
export type { ConfigSources } from './sources.js';
export type * from './types.js';
