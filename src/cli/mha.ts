/**
 * MHA's commands as thin entry points (package.json `bin`): masterha_manager,
 * masterha_check_repl, masterha_check_ssh, masterha_check_status,
 * masterha_master_switch, masterha_master_monitor, masterha_stop. They take
 * MHA's options (--conf=FILE and --conf FILE, --global_conf, --master_state,
 * --dead_master_host, --interactive=0, ...) and exit with MHA's codes; the
 * work is done by the mhats commands (run()). docs/migration-from-mha.md says
 * what differs.
 */
import { Command, CommanderError, Option } from '@commander-js/extra-typings';
import { loadFromOptions } from './config-options.js';
import { run, setProgramName } from './main.js';
import { UserError } from '../errors/errors.js';
import { VERSION } from '../version.js';
import { checkStatus, stopManager } from '../app/mha-status.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { ClusterMonitor } from '../engine/monitor.js';
import { sshReachableFor } from '../app/manager.js';
import { silentLogger } from '../ports/logger.js';

export const MHA_COMMANDS = ['masterha_manager', 'masterha_check_repl', 'masterha_check_ssh', 'masterha_check_status', 'masterha_master_switch', 'masterha_master_monitor', 'masterha_stop'] as const;
export type MhaCommand = (typeof MHA_COMMANDS)[number];

/** MHA's options that change nothing under mhats (accepted so that cron lines and runbooks keep working). */
const NO_EFFECT = ['--wait_on_monitor_error <n>', '--wait_on_failover_error <n>', '--ignore_fail_on_start', '--skip_ssh_check', '--skip_check_ssh', '--wait_until_gtid_in_sync <n>', '--ignore_binlog_server_error', '--remove_dead_master_conf', '--remove_orig_master_conf', '--flush_tables <n>', '--running_seconds_limit <n>', '--ssh_reachable <n>', '--log_output <file>', '--ping_limit <n>', '--app <name>', '--status_dir <dir>'];

/** Every option any of these commands takes (commander gives each action the ones its command declares). */
interface MhaOpts {
  conf?: string;
  global_conf?: string;
  manager_log?: string;
  log_output?: string;
  workdir?: string;
  manager_workdir?: string;
  last_failover_minute?: string;
  ignore_last_failover?: boolean;
  interactive?: string;
  skip_change_master?: boolean;
  skip_disable_read_only?: boolean;
  skip_save_master_binlog?: boolean;
  skip_lock_all_tables?: boolean;
  seconds_behind_master?: string;
  abort?: boolean;
  abort_timeout?: string;
  master_state?: string;
  dead_master_host?: string;
  dead_master_ip?: string;
  dead_master_port?: string;
  new_master_host?: string;
  new_master_port?: string;
  orig_master_is_new_slave?: boolean;
  running_updates_limit?: string;
  check_only?: boolean;
}

function mhaCommand(name: string, summary: string): Command {
  return new Command(name)
    .description(`${summary} (mhats ${VERSION}: MHA's command, run by mhats; see docs/migration-from-mha.md)`)
    .version(`${name} version 0.58 (mhats ${VERSION}).`, '--version')
    .option('--conf <file>', 'the MHA application file (app1.cnf), or an mhats YAML file')
    .option('--global_conf <file>', 'MHA global defaults (default /etc/masterha_default.cnf when it exists)')
    .allowExcessArguments(false);
}

function noEffect(cmd: Command, keep: readonly string[]): void {
  for (const flags of NO_EFFECT) {
    const long = flags.split(' ')[0] ?? '';
    if (keep.includes(long)) cmd.addOption(new Option(flags, 'MHA option: accepted, no effect under mhats').hideHelp());
  }
}

function needConf(o: MhaOpts, _name: string): string {
  if (o.conf === undefined || o.conf === '') throw new UserError(`--conf=FILE is required (the app1.cnf MHA used)`);
  return o.conf;
}

/** The mhats config arguments for an MHA command's --conf/--global_conf. */
function confArgs(o: MhaOpts, name: string): string[] {
  return ['--conf', needConf(o, name), ...(o.global_conf !== undefined ? ['--global_conf', o.global_conf] : [])];
}

const mhats = (args: string[]): Promise<number> => run(['node', 'mhats', ...args]);
/** MHA's failover/switch/manager codes: 0, 10, else 1. */
const mhaCode = (code: number): number => (code === 0 || code === 10 ? code : 1);

function interactive(v: string | undefined, _name: string): boolean {
  if (v === undefined || v === '1') return true;
  if (v === '0') return false;
  throw new UserError(`--interactive must be 0 or 1, not ${JSON.stringify(v)}`);
}

async function oneCluster(o: MhaOpts, name: string): Promise<Awaited<ReturnType<typeof loadFromOptions>> & { cluster: NonNullable<Awaited<ReturnType<typeof loadFromOptions>>['clusters'][number]> }> {
  needConf(o, name);
  const r = await loadFromOptions(o);
  const cluster = r.clusters[0];
  if (r.clusters.length !== 1 || !cluster) throw new UserError(`${o.conf ?? ''} defines ${r.clusters.length} clusters; MHA's commands take one application file`);
  return { ...r, cluster };
}

function build(name: MhaCommand, done: (code: number) => void): Command {
  switch (name) {
    case 'masterha_manager': {
      const cmd = mhaCommand(name, 'Monitor the master and fail it over')
        .option('--manager_log <file>', "log here (overrides manager_log)")
        .option('--workdir <dir>', 'manager_workdir')
        .addOption(new Option('--manager_workdir <dir>', 'manager_workdir').hideHelp())
        .option('--last_failover_minute <n>', 'the flapping guard window, minutes (480)')
        .option('--ignore_last_failover', "remove failover.complete/.error and acknowledge past failovers before starting")
        .option('--interactive <0|1>', 'accepted (the manager never asks)')
        .addOption(new Option('--skip_change_master', 'not supported').hideHelp())
        .addOption(new Option('--skip_disable_read_only', 'not supported').hideHelp())
        .addOption(new Option('--skip_save_master_binlog', 'not supported').hideHelp());
      noEffect(cmd, ['--wait_on_monitor_error', '--wait_on_failover_error', '--ignore_fail_on_start', '--skip_ssh_check', '--skip_check_ssh', '--wait_until_gtid_in_sync', '--ignore_binlog_server_error', '--remove_dead_master_conf', '--log_output']);
      return cmd.action(async (raw) => {
        const o = raw as MhaOpts;
        for (const k of ['skip_change_master', 'skip_disable_read_only', 'skip_save_master_binlog'] as const) {
          if (o[k]) throw new UserError(`--${k} is not supported by mhats: a failover always repoints the replicas, makes the new master writable and saves the dead master's binlog when its host answers`);
        }
        const log = o.manager_log ?? o.log_output;
        const wd = o.workdir ?? o.manager_workdir;
        const args = ['manager', ...confArgs(o, name), ...(log ? ['--manager-log', log] : []), ...(wd ? ['--workdir', wd] : []), ...(o.last_failover_minute ? ['--last-failover-minute', o.last_failover_minute] : []), ...(o.ignore_last_failover ? ['--ignore-last-failover'] : [])];
        done(mhaCode(await mhats(args)));
      });
    }
    case 'masterha_check_repl': {
      const cmd = mhaCommand(name, 'Check replication health').option('--seconds_behind_master <n>', 'the most lag tolerated (30)').option('--interactive <0|1>', 'accepted');
      noEffect(cmd, ['--skip_ssh_check', '--skip_check_ssh', '--ignore_fail_on_start', '--workdir', '--manager_workdir']);
      return cmd.action(async (raw) => {
        const o = raw as MhaOpts;
        // mhats check-repl prints MHA's closing sentence; MHA's exit codes are 0 (OK) and 1.
        const code = await mhats(['check-repl', ...confArgs(o, name), ...(o.seconds_behind_master !== undefined ? ['--seconds-behind-master', o.seconds_behind_master] : [])]);
        done(code === 0 ? 0 : 1);
      });
    }
    case 'masterha_check_ssh': {
      const cmd = mhaCommand(name, 'Check SSH connections (the full mesh, as MHA)');
      return cmd.action(async (raw) => {
        const o = raw as MhaOpts;
        const code = await mhats(['check-ssh', '--mesh', ...confArgs(o, name)]);
        done(code === 0 ? 0 : 1);
      });
    }
    case 'masterha_check_status': {
      const cmd = mhaCommand(name, 'Is a manager watching this application?');
      noEffect(cmd, ['--app', '--status_dir', '--log_output', '--ping_limit', '--workdir', '--manager_workdir']);
      return cmd.action(async (raw) => {
        const o = raw as MhaOpts;
        const { config, cluster } = await oneCluster(o, name);
        const r = await checkStatus(config, cluster);
        process.stdout.write(`${r.text}\n`);
        done(r.code);
      });
    }
    case 'masterha_stop': {
      const cmd = mhaCommand(name, 'Stop the manager watching this application')
        .option('--abort', 'SIGKILL it when it has not stopped after --abort_timeout (also during a failover)')
        .option('--abort_timeout <seconds>', 'how long to wait (5)', '5');
      noEffect(cmd, ['--app', '--status_dir', '--workdir', '--manager_workdir']);
      return cmd.action(async (raw) => {
        const o = raw as MhaOpts;
        const t = Number(o.abort_timeout);
        if (!Number.isFinite(t) || t < 0) throw new UserError(`--abort_timeout must be a number of seconds`);
        const { config, cluster } = await oneCluster(o, name);
        const r = await stopManager(config, cluster, { abort: Boolean(o.abort), abortTimeoutS: t });
        process.stdout.write(`${r.text}\n`);
        done(r.code);
      });
    }
    case 'masterha_master_switch': {
      const cmd = mhaCommand(name, 'Switch the master: --master_state=dead (failover) or alive (online switch)')
        .option('--master_state <dead|alive>', 'dead: fail over a dead master; alive: switch a live one')
        .option('--dead_master_host <host>', 'dead: the dead master')
        .option('--dead_master_ip <ip>', 'dead: its ip')
        .option('--dead_master_port <port>', 'dead: its port')
        .option('--new_master_host <host>', 'the new master (default: chosen by the rules)')
        .option('--new_master_port <port>', 'its port')
        .option('--orig_master_is_new_slave', 'alive: the old master replicates from the new one afterwards')
        .option('--running_updates_limit <seconds>', 'alive: refuse when a write has run this long on the master (1)')
        .option('--seconds_behind_master <seconds>', 'alive: refuse when a replica lags more (mhats default: 1)')
        .option('--interactive <0|1>', 'ask before switching (1, the default, needs a terminal)', '1')
        .option('--check_only', 'alive: pre-checks and the plan only')
        .addOption(new Option('--skip_lock_all_tables', 'not supported').hideHelp())
        .addOption(new Option('--skip_change_master', 'not supported').hideHelp())
        .addOption(new Option('--skip_disable_read_only', 'not supported').hideHelp())
        .addOption(new Option('--skip_save_master_binlog', 'not supported').hideHelp())
        .addOption(new Option('--workdir <dir>', 'accepted').hideHelp())
        .addOption(new Option('--manager_workdir <dir>', 'accepted').hideHelp())
        .addOption(new Option('--ignore_last_failover', 'accepted: a manual failover is not held back by the flapping guard').hideHelp())
        .addOption(new Option('--last_failover_minute <n>', 'accepted').hideHelp());
      noEffect(cmd, ['--wait_on_failover_error', '--remove_dead_master_conf', '--remove_orig_master_conf', '--flush_tables', '--running_seconds_limit', '--ssh_reachable', '--wait_until_gtid_in_sync', '--ignore_binlog_server_error']);
      return cmd.action(async (raw) => {
        const o = raw as MhaOpts;
        for (const k of ['skip_lock_all_tables', 'skip_change_master', 'skip_disable_read_only', 'skip_save_master_binlog'] as const) {
          if (o[k]) throw new UserError(`--${k} is not supported by mhats`);
        }
        const ask = interactive(o.interactive, name);
        if (o.master_state !== 'dead' && o.master_state !== 'alive') throw new UserError(`--master_state=dead or --master_state=alive is required${o.master_state ? ` (got ${JSON.stringify(o.master_state)})` : ''}`);
        if (ask && !process.stdin.isTTY && !o.check_only) throw new UserError(`--interactive=1 (the default) needs a terminal to ask on: pass --interactive=0`);
        const yes = ask ? [] : ['--yes'];
        const nm = [...(o.new_master_host ? ['--new_master_host', o.new_master_host] : []), ...(o.new_master_port ? ['--new_master_port', o.new_master_port] : [])];
        if (o.master_state === 'dead') {
          const dead = [...(o.dead_master_host ? ['--dead_master_host', o.dead_master_host] : []), ...(o.dead_master_ip ? ['--dead_master_ip', o.dead_master_ip] : []), ...(o.dead_master_port ? ['--dead_master_port', o.dead_master_port] : [])];
          done(mhaCode(await mhats(['failover', ...confArgs(o, name), ...dead, ...nm, ...yes])));
          return;
        }
        if (o.new_master_port !== undefined && o.new_master_host === undefined) throw new UserError(`--new_master_port needs --new_master_host`);
        const args = [
          'switchover', ...confArgs(o, name), ...(o.new_master_host ? ['--new_master_host', o.new_master_host] : []),
          ...(o.orig_master_is_new_slave ? ['--orig-master-is-new-slave'] : []),
          ...(o.running_updates_limit !== undefined ? ['--running-updates-limit', o.running_updates_limit] : []),
          ...(o.seconds_behind_master !== undefined ? ['--max-lag', o.seconds_behind_master] : []),
          ...(o.check_only ? ['--dry-run'] : yes),
        ];
        done(mhaCode(await mhats(args)));
      });
    }
    case 'masterha_master_monitor': {
      const cmd = mhaCommand(name, 'Watch the master until it is dead, then say so and exit (no failover)');
      noEffect(cmd, ['--wait_on_monitor_error', '--ignore_fail_on_start', '--skip_ssh_check', '--skip_check_ssh', '--workdir', '--manager_workdir', '--log_output']);
      return cmd.action(async (raw) => {
        const o = raw as MhaOpts;
        const { config, cluster } = await oneCluster(o, name);
        const monitor = new ClusterMonitor(cluster, {
          journal: new FileJournal(config.state_dir, cluster.name),
          log: silentLogger,
          now: Date.now,
          mono: () => performance.now(),
          sshReachable: sshReachableFor(cluster),
          // Never the one to fail over: it only watches.
          isLeader: () => false,
        });
        const ac = new AbortController();
        const running = monitor.run(ac.signal);
        for (;;) {
          if (monitor.lastVerdict?.dead && monitor.master) break;
          if (monitor.state === 'stopped') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const dead = cluster.servers.find((s) => s.name === monitor.master);
        ac.abort();
        await running.catch(() => undefined);
        if (!dead) {
          done(1);
          return;
        }
        process.stdout.write(`Master ${dead.hostname} is dead!\nIP Address: ${dead.ip} Port: ${dead.port}\n`);
        const ssh = await sshReachableFor(cluster)(dead);
        process.stdout.write(ssh ? 'SSH: reachable\n' : 'SSH: NOT reachable\n');
        done(0);
      });
    }
  }
}

/** Runs one of MHA's commands; resolves with its exit code. Never a stack trace for a user's mistake. */
export async function mhaMain(name: MhaCommand, argv: string[] = process.argv): Promise<number> {
  let code = 0;
  setProgramName(name);
  const cmd = build(name, (c) => (code = c));
  cmd.exitOverride();
  cmd.configureOutput({ outputError: (str, write) => write(`${name}: ${str}`) });
  try {
    await cmd.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      // MHA: a usage problem is exit 1 (2 is masterha_check_status's NOT_RUNNING).
      return 1;
    }
    if (err instanceof UserError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
      return 1;
    }
    process.stderr.write(`${name}: unexpected error: ${err instanceof Error ? err.message : String(err)}\n  hint: this is a bug in mhats; set MHATS_DEBUG=1 for the stack trace and report it\n`);
    if (process.env.MHATS_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}
