import { Option, type Command } from '@commander-js/extra-typings';
import { createInterface } from 'node:readline/promises';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { createLogger } from '../../adapters/logging.js';
import { SshPool } from '../../adapters/ssh/session.js';
import { confirmDead } from '../../engine/confirm-dead.js';
import { takeManualLead, LeaderElsewhere } from '../../app/manual-lead.js';
import { painter } from '../../render/colors.js';
import { failedServers, inspectCluster } from '../../app/cluster.js';
import { sshReachableFor } from '../../app/manager.js';
import { observeSurvivors, planFrom, runFailover, type FailoverRequest } from '../../engine/failover.js';
import { renderPlan } from '../../render/failover-plan.js';
import { cutSavedBinlog } from '../../domain/binlog-cut.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';
import { clusterMaintenance } from '../../app/maintenance.js';
import { MasterPublisher } from '../../app/publisher.js';
import type { ClusterConfig } from '../../config/types.js';

export function registerFailover(program: Command): void {
  const cmd = program
    .command('failover')
    .description("Fail over a master that is already dead (MHA's masterha_master_switch --master_state=dead).")
    .option('--dead-master <name>', 'the dead master (config name or hostname); default: the master the replicas point at')
    .option('--new-master <name>', 'force this replica as the new master (it must be eligible)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--force', 'do not check that the dead master is dead, as the manager would (it is fenced first all the same: read_only, sessions killed, its mysqld killed over SSH when SQL cannot fence it)')
    .option('--dry-run', 'print the plan (if the master died now) and change nothing: the same code as the real failover')
    .option('--json', 'print the failover report as JSON')
    .addOption(new Option('--dead_master_host <host>', 'MHA spelling of --dead-master').hideHelp())
    .addOption(new Option('--dead_master_ip <ip>', 'MHA: the dead master\'s ip (with --dead_master_host)').hideHelp())
    .addOption(new Option('--dead_master_port <port>', 'MHA: the dead master\'s port').hideHelp())
    .addOption(new Option('--new_master_host <host>', 'MHA spelling of --new-master').hideHelp())
    .addOption(new Option('--new_master_port <port>', 'MHA: the new master\'s port').hideHelp())
    .addHelpText('after', "\nSame phases, rules, journal and hooks as the automatic failover. MHA's spellings are accepted too:\n--dead_master_host [--dead_master_ip --dead_master_port], --new_master_host [--new_master_port].\n--dry-run prints the plan for the live cluster: the new master and why, each replica\'s standing and step, the salvage and the expected loss (exit 0 when it would go ahead, 1 when it would be refused).\nExit codes (MHA): 0 success, 10 done but some replicas not recovered, 1 error or refused\n(also when the master cannot be found), 2 bad usage, 3 bad configuration.");
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { config, clusters } = await loadFromOptions(opts);
    if (clusters.length !== 1) throw new UserError(`the config has ${clusters.length} clusters: choose one with --cluster (${clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    const cluster = clusters[0]!;
    const port = (v: string | undefined, what: string): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new UserError(`${what} must be a port number, got ${JSON.stringify(v)}`, { exitCode: ExitCode.USAGE });
      return Number(v);
    };
    const byHost = (n: string, p?: number): string | undefined => cluster.servers.find((s) => (s.name === n || s.hostname === n || s.ip === n) && (p === undefined || s.port === p))?.name;
    const deadGiven = opts.deadMaster ?? opts.dead_master_host ?? opts.dead_master_ip;
    const deadPort = port(opts.dead_master_port, '--dead_master_port');
    let dead = deadGiven ? byHost(deadGiven, deadPort) : undefined;
    if (deadGiven && !dead) throw new UserError(`--dead-master ${deadGiven}${deadPort ? `:${deadPort}` : ''} is not a server of ${cluster.name} (${cluster.servers.map((s) => `${s.name} ${s.hostname}:${s.port}`).join(', ')})`, { exitCode: ExitCode.USAGE });
    const nmGiven = opts.newMaster ?? opts.new_master_host;
    const nmPort = port(opts.new_master_port, '--new_master_port');
    const newMaster = nmGiven ? byHost(nmGiven, nmPort) : undefined;
    if (nmGiven && !newMaster) throw new UserError(`--new-master ${nmGiven}${nmPort ? `:${nmPort}` : ''} is not a server of ${cluster.name}`, { exitCode: ExitCode.USAGE });
    if (opts.dryRun) {
      // "If the master died now": the same observation, classification and plan as the failover's Phase 1.
      const r = await inspectCluster(cluster);
      const master = dead ?? r.analysis.master;
      if (!master) throw new UserError('cannot tell which server is the master: give --dead-master', { exitCode: ExitCode.USAGE });
      const masterObs = r.analysis.masterObs?.name === master ? r.analysis.masterObs : undefined;
      const ssh = await sshReachableFor(cluster)(cluster.servers.find((s) => s.name === master)!);
      const req: FailoverRequest = { cluster, deadMaster: master, newMaster, trigger: 'manual', reason: 'dry run', lastMasterObs: masterObs, sshReachable: ssh };
      const classification = await observeSurvivors(req, new Set(failedServers(config.state_dir, cluster)), Date.now);
      const plan = planFrom(req, classification, Date.now(), { salvage: { sshReachable: ssh, reader: true } });
      if (opts.json) process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      else process.stdout.write(`${renderPlan(plan).join('\n')}\n`);
      process.exitCode = plan.ok ? 0 : 1;
      return;
    }
    if (!dead) {
      const r = await inspectCluster(cluster);
      dead = r.analysis.master;
      // Not a usage error: the topology did not tell (exit 1, as MHA's failover errors).
      if (!dead) throw new UserError(`cannot tell which server is the master of ${cluster.name} (no replica points at one): nothing was changed`, { exitCode: ExitCode.ERROR, hint: 'name it: --dead-master NAME (MHA: --dead_master_host=HOST)' });
    }
    const paint = painter(process.stderr.isTTY && !process.env.NO_COLOR);
    const quiet = createLogger({ level: 'error', write: (l) => process.stderr.write(l) });
    // As the manager decides: health checks, the replicas' fresh evidence, the second route, secondary_check_script.
    let check: { dead: boolean; reason: string } = { dead: false, reason: 'not checked (--force)' };
    if (opts.force) {
      process.stderr.write(`${paint.red(`--force: failing over ${dead} WITHOUT checking that it is dead. If it is alive it is fenced first: read_only, its sessions killed, and its mysqld killed over SSH when SQL cannot fence it.`)}\n`);
    } else {
      const pool = new SshPool();
      check = await confirmDead(cluster, dead, { log: quiet, pool, failedServers: failedServersOf(config, cluster) }).finally(() => pool.close());
      if (!check.dead) throw new UserError(`${dead} is not confirmed dead: ${check.reason}`, { hint: 'use mhats switchover for a live master; if you know better than the checks, pass --force (it is fenced first)' });
      process.stderr.write(`${dead} is dead: ${check.reason}\n`);
    }
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
      if (report.plan) process.stdout.write(`\n${renderPlan(report.plan).join('\n')}\n`);
      process.stdout.write(`\n${report.outcome.toUpperCase()}: ${report.reason}\n`);
      for (const p of report.phases) process.stdout.write(`  ${p.ok ? 'ok ' : 'ERR'} ${String(p.durationMs).padStart(6)} ms  ${p.phase}\n`);
      if (report.recovered.length) process.stdout.write(`  recovered: ${report.recovered.join(', ')}\n`);
      for (const n of report.notRecovered) process.stdout.write(`  NOT recovered: ${n.name}: ${n.reason}\n`);
      if (report.deferred.length) process.stdout.write(`  recovered after the failover (delayed): ${report.deferred.join(', ')}\n`);
      if (report.lost) process.stdout.write(`  lost: ${report.lost}\n`);
      if (report.semiSyncAdvice) process.stdout.write(`  ${report.semiSyncAdvice}\n`);
    }
    process.exitCode = report.exitCode;
  });
}

/** Old masters of earlier failovers (never witnesses). */
function failedServersOf(config: { state_dir: string }, cluster: ClusterConfig): string[] {
  try {
    return failedServers(config.state_dir, cluster);
  } catch {
    return [];
  }
}
