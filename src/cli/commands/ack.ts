import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { ackCluster, cliCaller, openClusterJournal } from '../../app/actions.js';
import { FileJournal } from '../../adapters/journal/file-journal.js';
import { removeMhaStateFiles } from '../../adapters/journal/mha-state-files.js';
import type { ClusterConfig, LoadedConfig } from '../../config/types.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';

export function registerAck(program: Command): void {
  const cmd = program
    .command('ack')
    .argument('<cluster>', 'the cluster whose failovers to acknowledge')
    .description("Acknowledge a cluster's past failovers: re-allows automatic failover after one inside last_failover_minute, a failed one, or an unfinished one.")
    .addHelpText('after', '\nLike removing MHA\'s <app>.failover.complete / failover.error files. Check the topology first (mhats status).\nAn old master stays out of the cluster until it replicates, healthy, from the current master.\n\nExit codes: 0 acknowledged (or nothing to acknowledge), 1 the journal or MHA\'s state files could not be written,\n2 unknown cluster or bad usage, 3 bad configuration.');
  addConfigOptions(cmd);
  cmd.action(async (name, opts) => {
    const { config } = await loadFromOptions(opts);
    const cluster = config.clusters.find((c) => c.name === name);
    if (!cluster) throw new UserError(`unknown cluster ${name} (known: ${config.clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE, hint: config.format === 'mha' ? 'an MHA file defines one cluster, named after the file (app1.cnf -> app1)' : undefined });
    // With manager HA the journal is in etcd (an operator's ack is written unfenced).
    const journal = await openClusterJournal(config, cluster.name);
    // MHA's state files (a failover MHA ran) are removed too, as MHA wants it done.
    let r: ReturnType<typeof ackCluster>;
    try {
      r = ackCluster(cluster, journal, cliCaller(), Date.now());
    } catch (err) {
      throw new UserError(`${(err as Error).message}`, { hint: 'run mhats ack as a user who may write manager_workdir' });
    }
    for (const f of r.removed) process.stdout.write(`${name}: removed MHA's ${f}\n`);
    if (r.acked.length === 0 && r.removed.length === 0) process.stdout.write(`${name}: nothing to acknowledge\n`);
    for (const s of r.acked) process.stdout.write(`${name}: acknowledged ${s.id} (${s.deadMaster} → ${s.newMaster ?? '?'}, ${s.outcome ?? 'unfinished'})\n`);
    await journal.flush?.();
  });
}

/**
 * masterha_manager --ignore_last_failover: every open failover of the cluster acknowledged
 * (file journal) and MHA's state files removed, before the manager watches it. Returns what was done.
 */
export function acknowledgeAll(config: LoadedConfig, cluster: ClusterConfig, by: string): string[] {
  if (config.etcd) return removeMhaStateFiles(cluster.manager_workdir, cluster.name).map((f) => `removed ${f}`); // with manager HA: mhats ack (it writes to etcd)
  const r = ackCluster(cluster, new FileJournal(config.state_dir, cluster.name), by, Date.now());
  return [...r.removed.map((f) => `removed ${f}`), ...r.acked.map((s) => `acknowledged ${s.id}`)];
}
