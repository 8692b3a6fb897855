import type { Command } from '@commander-js/extra-typings';
import { createInterface } from 'node:readline/promises';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { createLogger } from '../../adapters/logging.js';
import { FileJournal } from '../../adapters/journal/file-journal.js';
import { SshPool } from '../../adapters/ssh/session.js';
import { confirmDead } from '../../engine/confirm-dead.js';
import { takeManualLead, LeaderElsewhere } from '../../app/manual-lead.js';
import { painter } from '../../render/colors.js';
import { failedServers, summarize } from '../../domain/guard.js';
import { inspectCluster } from '../../app/cluster.js';
import { sshReachableFor } from '../../app/manager.js';
import { runFailover } from '../../engine/failover.js';
import { cutSavedBinlog } from '../../domain/binlog-cut.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';
import { clusterMaintenance } from '../../app/maintenance.js';
import { MasterPublisher } from '../../app/publisher.js';

export function registerFailover(program: Command): void {
  const cmd = program
    .command('failover')
    .description("Fail over a master that is already dead (MHA's masterha_master_switch --master_state=dead).")
    .option('--dead-master <name>', 'the dead master (config name or hostname); default: the master the replicas point at')
    .option('--new-master <name>', 'force this replica as the new master (it must be eligible)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--force', 'do not check that the dead master is dead, as the manager would (it is fenced first all the same: read_only, sessions killed, its mysqld killed over SSH when SQL cannot fence it)')
    .option('--json', 'print the failover report as JSON')
    .addHelpText('after', '\nSame phases, rules, journal and hooks as the automatic failover.\nExit codes (MHA): 0 success, 10 done but some replicas not recovered, 1 error or refused.');
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { config, clusters } = await loadFromOptions(opts);
    if (clusters.length !== 1) throw new UserError(`the config has ${clusters.length} clusters: choose one with --cluster (${clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    const cluster = clusters[0]!;
    const byHost = (n: string): string | undefined => cluster.servers.find((s) => s.name === n || s.hostname === n || s.ip === n)?.name;
    let dead = opts.deadMaster ? byHost(opts.deadMaster) : undefined;
    if (opts.deadMaster && !dead) throw new UserError(`--dead-master ${opts.deadMaster} is not a server of ${cluster.name}`, { exitCode: ExitCode.USAGE });
    if (!dead) {
      const r = await inspectCluster(cluster);
      dead = r.analysis.master;
      if (!dead) throw new UserError('cannot tell which server is the master: give --dead-master', { exitCode: ExitCode.USAGE });
    }
    const paint = painter(process.stderr.isTTY && !process.env.NO_COLOR);
    const quiet = createLogger({ level: 'error', write: (l) => process.stderr.write(l) });
    // As the manager decides: health checks, the replicas' fresh evidence, the second route, secondary_check_script.
    let check: { dead: boolean; reason: string } = { dead: false, reason: 'not checked (--force)' };
    if (opts.force) {
      process.stderr.write(`${paint.red(`--force: failing over ${dead} WITHOUT checking that it is dead. If it is alive it is fenced first: read_only, its sessions killed, and its mysqld killed over SSH when SQL cannot fence it.`)}\n`);
    } else {
      const pool = new SshPool();
      check = await confirmDead(cluster, dead, { log: quiet, pool, failedServers: failedServersOf(config, cluster.name) }).finally(() => pool.close());
      if (!check.dead) throw new UserError(`${dead} is not confirmed dead: ${check.reason}`, { hint: 'use mhats switchover for a live master; if you know better than the checks, pass --force (it is fenced first)' });
      process.stderr.write(`${dead} is dead: ${check.reason}\n`);
    }
    const newMaster = opts.newMaster ? byHost(opts.newMaster) : undefined;
    if (opts.newMaster && !newMaster) throw new UserError(`--new-master ${opts.newMaster} is not a server of ${cluster.name}`, { exitCode: ExitCode.USAGE });
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new UserError('refusing to fail over without confirmation: pass --yes', { exitCode: ExitCode.USAGE });
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`Master ${dead} of ${cluster.name} is dead. Fail over${newMaster ? ` to ${newMaster}` : ''}? (yes/NO): `);
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') throw new UserError('not confirmed: nothing done');
    }
    const log = createLogger({ format: opts.json ? 'json' : undefined, write: opts.json ? (l) => process.stderr.write(l) : undefined });
    // With etcd this command runs as the leader (refused while a manager leads); MHA's failover lock is taken by the engine.
    const lead = await takeManualLead(config, cluster.name, 'failover', log).catch((err: unknown) => {
      if (err instanceof LeaderElsewhere) throw new UserError(`refusing to fail over: ${err.message}`);
      throw err;
    });
    // Servers in maintenance are never candidates (a cluster in maintenance does not hold an operator's failover).
    const maintenance = (await clusterMaintenance(config, cluster.name)).serversInMaintenance;
    const publisher = MasterPublisher.fromConfig(config, { log });
    const report = await runFailover(
      { cluster, deadMaster: dead, newMaster, trigger: 'manual', reason: `manual failover requested from the command line${check.dead ? '' : ' (--force: not confirmed dead)'}`, maintenance },
      {
        journal: lead.journal,
        fencingToken: lead.fencingToken,
        ...(lead.stillLeader ? { stillLeader: lead.stillLeader } : {}),
        log,
        now: Date.now,
        sshReachable: sshReachableFor(cluster),
        cutBinlog: cutSavedBinlog,
        // Service discovery (config publish:): the new master at once, and never keys naming a fenced server.
        onPromoted: (nm) => void publisher?.publish(cluster, nm, { isCurrentMaster: true, failed: false, readOnly: false, healthy: true }, 'manual failover'),
        onFenced: (s) => void publisher?.retractIfPointsAt(cluster, s, 'fenced (read_only)'),
      },
    ).finally(() => lead.release());
    await publisher?.idle();
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      process.stdout.write(`\n${report.outcome.toUpperCase()}: ${report.reason}\n`);
      for (const p of report.phases) process.stdout.write(`  ${p.ok ? 'ok ' : 'ERR'} ${String(p.durationMs).padStart(6)} ms  ${p.phase}\n`);
      if (report.lost) process.stdout.write(`  lost: ${report.lost}\n`);
    }
    process.exitCode = report.exitCode;
  });
}

/** Old masters of earlier failovers (never witnesses). */
function failedServersOf(config: { state_dir: string }, cluster: string): string[] {
  try {
    return failedServers(summarize(new FileJournal(config.state_dir, cluster).read()));
  } catch {
    return [];
  }
}
