/**
 * The configuration options every command shares (-c/--conf, --global_conf,
 * --cluster) and the one call that turns them into loaded clusters.
 *
 *   const cmd = program.command('check-repl').description('...').option('--json', '...');
 *   addConfigOptions(cmd);
 *   cmd.action(async (opts) => {
 *     const { config, clusters } = await loadFromOptions(opts);   // throws ConfigError -> exit 3
 *     ...
 *   });
 *
 * addConfigOptions returns the same command typed with the new options, so
 * `addConfigOptions(program.command('x')).action((opts) => opts.conf ...)` is typed too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Option } from '@commander-js/extra-typings';
import type { Command, OptionValues } from '@commander-js/extra-typings';
import { detectFormat, loadConfig, selectClusters } from '../config/load.js';
import type { ClusterConfig, LoadedConfig } from '../config/types.js';

export const DEFAULT_CONF = '/etc/mhats/mhats.yaml';
export const DEFAULT_GLOBAL_CONF = '/etc/masterha_default.cnf';

export interface ConfigOptionValues {
  conf?: string | undefined;
  global_conf?: string | undefined;
  globalConf?: string | undefined;
  cluster?: string | undefined;
}

export function addConfigOptions<Args extends unknown[], Opts extends OptionValues, G extends OptionValues>(
  cmd: Command<Args, Opts, G>,
): Command<Args, Opts & ConfigOptionValues, G> {
  cmd
    .option('-c, --conf <file>', `configuration file: mhats YAML or MHA app1.cnf (default: $MHATS_CONFIG or ${DEFAULT_CONF})`)
    .option('--global_conf <file>', `MHA global defaults file, for an MHA .cnf (default: ${DEFAULT_GLOBAL_CONF} when it exists)`)
    .addOption(new Option('--global-conf <file>', 'alias of --global_conf').hideHelp())
    .option('--cluster <name>', 'only this cluster (default: every cluster in the file)');
  return cmd;
}

function str(o: object, key: string): string | undefined {
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

/** The conf file a command will use: --conf, else $MHATS_CONFIG, else /etc/mhats/mhats.yaml. */
export function confPath(opts: object, env: NodeJS.ProcessEnv = process.env): string {
  return str(opts, 'conf') ?? (env.MHATS_CONFIG !== undefined && env.MHATS_CONFIG !== '' ? env.MHATS_CONFIG : DEFAULT_CONF);
}

/** --global_conf, else /etc/masterha_default.cnf when the conf is an MHA file and that file exists. */
export function globalConfPath(opts: object, conf: string): string | undefined {
  const given = str(opts, 'global_conf') ?? str(opts, 'globalConf');
  if (given !== undefined) return given;
  if (!existsSync(DEFAULT_GLOBAL_CONF)) return undefined;
  let text = '';
  try {
    text = readFileSync(conf, 'utf8');
  } catch {
    // loadConfig reports the unreadable file
  }
  return detectFormat(conf, text) === 'mha' ? DEFAULT_GLOBAL_CONF : undefined;
}

export interface LoadFromOptionsSettings {
  /** Print the config warnings to stderr (default true). */
  printWarnings?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * Load the configuration named by a command's options (any object with
 * conf / global_conf / globalConf / cluster fields) and select the clusters.
 * Throws ConfigError (exit 3) or UserError for an unknown --cluster.
 */
export async function loadFromOptions(
  opts: ConfigOptionValues | object,
  settings: LoadFromOptionsSettings = {},
): Promise<{ config: LoadedConfig; clusters: ClusterConfig[] }> {
  const env = settings.env ?? process.env;
  const conf = confPath(opts, env);
  const config = await loadConfig({ conf, globalConf: globalConfPath(opts, conf), env });
  if (settings.printWarnings ?? true) {
    for (const w of config.warnings) process.stderr.write(`mhats: warning: ${w}\n`);
  }
  return { config, clusters: selectClusters(config, str(opts, 'cluster')) };
}
