/**
 * `mhats config check` and `mhats config import-mha`.
 */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Option } from '@commander-js/extra-typings';
import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, globalConfPath, loadFromOptions } from '../config-options.js';
import { ConfigError, UserError } from '../../errors/errors.js';
import { EXIT_CODE_HELP, ExitCode } from '../../errors/exit-codes.js';
import { configToJson, describeConfig } from '../../config/describe.js';
import { mhaToYaml } from '../../config/import.js';
import { detectFormat, loadConfig } from '../../config/load.js';

function warn(lines: readonly string[]): void {
  for (const w of lines) process.stderr.write(`mhats: warning: ${w}\n`);
}

export function registerConfig(program: Command): void {
  const config = program
    .command('config')
    .description('Validate configuration files and convert MHA ones (config check, config import-mha).');

  const check = config
    .command('check')
    .description('Validate the configuration and print the resolved clusters (secret sources, never secret values).')
    .option('--json', 'print the resolved configuration as JSON')
    .addHelpText(
      'after',
      `
Reads mhats YAML or an MHA app1.cnf (plus masterha_default.cnf). Every problem is
reported as FILE:LINE: message, one per line. Exit status 0 when valid, 3 when not.

${EXIT_CODE_HELP}`,
    );
  addConfigOptions(check).action(async (opts) => {
    const { config: cfg, clusters } = await loadFromOptions(opts, { printWarnings: false });
    const shown = { ...cfg, clusters };
    if (opts.json) process.stdout.write(`${JSON.stringify(configToJson(shown), null, 2)}\n`);
    else {
      process.stdout.write(describeConfig(shown));
      const n = clusters.reduce((a, c) => a + c.servers.length, 0);
      process.stdout.write(`\nOK: ${clusters.length} cluster${clusters.length === 1 ? '' : 's'}, ${n} server${n === 1 ? '' : 's'}${cfg.warnings.length > 0 ? `, ${cfg.warnings.length} warning(s)` : ''}\n`);
    }
    warn(cfg.warnings);
  });

  config
    .command('import-mha')
    .description('Convert an MHA configuration (app1.cnf [+ masterha_default.cnf]) to mhats YAML.')
    .argument('<cnf>', 'the MHA application file, e.g. /etc/masterha/app1.cnf')
    .option('--global_conf <file>', 'MHA global defaults file (default: /etc/masterha_default.cnf when it exists)')
    .addOption(new Option('--global-conf <file>', 'alias of --global_conf').hideHelp())
    .option('-o, --output <file>', 'write the YAML here (mode 0600 when it holds a password); "-" or no -o: stdout')
    .option('--cluster <name>', 'cluster name in the output (default: the file name without extension, as MHA)')
    .option('--force', 'overwrite the --output file if it exists')
    .addHelpText(
      'after',
      `
The result loads to the same resolved configuration as the .cnf itself. Keys equal to
their defaults are left out. Inline passwords stay inline (with a warning): move them
to { file: PATH } or { env: NAME }. Values from init_conf_load_script are written too.

Exit codes: 0 converted; 1 the --output file exists (--force overwrites it) or cannot be
written; 2 bad usage (-o over the file being converted); 3 the MHA file is invalid (file:line).`,
    )
    .action(async (cnf, opts) => {
      let text = '';
      try {
        text = readFileSync(cnf, 'utf8');
      } catch {
        // loadConfig reports it
      }
      if (text !== '' && detectFormat(cnf, text) !== 'mha') {
        throw new ConfigError(cnf, undefined, 'this is not an MHA .cnf file (it looks like YAML)', 'import-mha converts MHA files; `mhats config check --conf FILE` validates YAML');
      }
      const cfg = await loadConfig({ conf: cnf, globalConf: globalConfPath(opts, cnf) });
      const res = mhaToYaml(cfg, { source: cnf, clusterName: opts.cluster });
      if (opts.output !== undefined && opts.output !== '-') {
        // Never over the file being converted (or the global one): that would lose it.
        const same = (a: string, b: string): boolean => {
          try {
            const x = statSync(a);
            const y = statSync(b);
            return x.dev === y.dev && x.ino === y.ino;
          } catch {
            return resolvePath(a) === resolvePath(b);
          }
        };
        const inputs = [cnf, ...(globalConfPath(opts, cnf) !== undefined ? [globalConfPath(opts, cnf) ?? ''] : [])];
        const clash = inputs.find((f) => same(f, opts.output ?? ''));
        if (clash !== undefined) throw new UserError(`refusing to write the YAML over ${clash}, the file being converted`, { exitCode: ExitCode.USAGE, hint: 'give another -o FILE (or -o - for stdout)' });
      }
      if (opts.output === undefined || opts.output === '-') process.stdout.write(res.text);
      else {
        const mode = res.hasInlineSecrets ? 0o600 : 0o644;
        try {
          writeFileSync(opts.output, res.text, { mode, flag: opts.force ? 'w' : 'wx' });
          chmodSync(opts.output, mode);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') {
            throw new UserError(`${opts.output} already exists`, { exitCode: ExitCode.ERROR, hint: 'pass --force to overwrite it' });
          }
          throw new UserError(`cannot write ${opts.output}: ${(err as Error).message}`);
        }
        process.stderr.write(`mhats: wrote ${opts.output}${res.hasInlineSecrets ? ' (mode 0600: it holds a password)' : ''}\n`);
      }
      warn([...cfg.warnings, ...res.warnings]);
    });
}
