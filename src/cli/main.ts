#!/usr/bin/env node
/**
 * The `mhats` command. Each command lives in src/cli/commands/ and registers
 * itself here. Errors are mapped to exit codes in one place (run()), and an
 * operator never sees a stack trace for a problem they can fix.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { ExitCode, EXIT_CODE_HELP } from '../errors/exit-codes.js';
import { UserError } from '../errors/errors.js';
import { registerSandbox } from './commands/sandbox.js';
import { registerConfig } from './commands/config.js';
import { registerCheckRepl } from './commands/check-repl.js';
import { registerCheckSsh } from './commands/check-ssh.js';
import { registerStatus } from './commands/status.js';
import { registerManager } from './commands/manager.js';
import { registerAck } from './commands/ack.js';
import { registerFailover } from './commands/failover.js';
import { registerSwitchover } from './commands/switchover.js';
import { registerHooks } from './commands/hooks.js';
import { registerDrill } from './commands/drill.js';
import { registerMaintenance } from './commands/maintenance.js';
import { registerRejoin } from './commands/rejoin.js';
import { registerErrant } from './commands/errant.js';
import { VERSION } from '../version.js';

/** The environment variables an operator may set; the full list is in docs/config.md. */
const ENV_HELP = `Environment:
  MHATS_CONFIG     the configuration file when --conf is not given (default /etc/mhats/mhats.yaml)
  MHATS_STATE_DIR  state_dir for an MHA file (a YAML state_dir wins)
  MHATS_LOG_LEVEL  log level of failover, switchover and rejoin (manager: --log-level)
  MHATS_DEBUG      any value: print the stack trace of an unexpected error
  NO_COLOR         no colour
  More (MHATS_HTTP_LISTEN, MHATS_HEAP_GROWING_PERCENT, MHATS_PING_CLIENT, ...): docs/config.md.`;

export function buildProgram(): Command {
  const program = new Command()
    .name('mhats')
    .description('Failover manager for MySQL and MariaDB replication (the MHA replacement).')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `\n${EXIT_CODE_HELP}\n\n${ENV_HELP}\n`);
  registerManager(program);
  registerFailover(program);
  registerSwitchover(program);
  registerHooks(program);
  registerDrill(program);
  registerAck(program);
  registerMaintenance(program);
  registerRejoin(program);
  registerErrant(program);
  registerCheckRepl(program);
  registerCheckSsh(program);
  registerStatus(program);
  registerConfig(program);
  registerSandbox(program);
  return program;
}

/** exitOverride and output on every command: a subcommand's usage error throws (exit 2) like the top level's. */
export function overrideExits(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput({ outputError: (str, write) => write(str) });
  cmd.showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands as Command[]) overrideExits(sub);
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  overrideExits(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    return reportError(err);
  }
}

let programName = 'mhats';
/** The name error messages start with (MHA's commands: masterha_check_repl, ...). */
export function setProgramName(name: string): void {
  programName = name;
}

/** Control bytes from a bad file (an escape sequence, a NUL) never reach the terminal as they are. */
export function escapeControl(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.OK;
    return ExitCode.USAGE;
  }
  if (err instanceof UserError) {
    process.stderr.write(`${programName}: ${escapeControl(err.message)}\n`);
    if (err.hint) process.stderr.write(`  hint: ${escapeControl(err.hint)}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`${programName}: unexpected error: ${escapeControl(e.message)}\n`);
  if (process.env.MHATS_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`);
  else process.stderr.write('  hint: this is a bug in mhats; set MHATS_DEBUG=1 for the stack trace and report it\n');
  return ExitCode.ERROR;
}
