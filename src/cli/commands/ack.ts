import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { FileJournal } from '../../adapters/journal/file-journal.js';
import { openEtcdJournal } from '../../adapters/journal/etcd-journal.js';
import type { Journal } from '../../adapters/journal/journal.js';
import { summarize } from '../../domain/guard.js';
import { removeMhaStateFiles } from '../../adapters/journal/mha-state-files.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';
import { userInfo } from 'node:os';
import type { ClusterConfig, LoadedConfig } from '../../config/types.js';

export function registerAck(program: Command): void {
  const cmd = program
    .command('ack')
    .argument('<cluster>', 'the cluster whose failovers to acknowledge')
    .description("Acknowledge a cluster's past failovers: re-allows automatic failover after one inside last_failover_minute, a failed one, or an unfinished one.")
    .addHelpText('after', '\nLike removing MHA\'s <app>.failover.complete / failover.error files. Check the topology first (mhats status).\nAn old master stays out of the cluster until it replicates, healthy, from the current master.');
  addConfigOptions(cmd);
  cmd.action(async (name, opts) => {
    const { config } = await loadFromOptions(opts);
    const cluster = config.clusters.find((c) => c.name === name);
    if (!cluster) throw new UserError(`unknown cluster ${name} (known: ${config.clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE, hint: config.format === 'mha' ? 'an MHA file defines one cluster, named after the file (app1.cnf -> app1)' : undefined });
    // With manager HA the journal is in etcd (an operator's ack is written unfenced).
    const journal: Journal = config.etcd ? await openEtcdJournal(config.etcd, cluster.name, `${userInfo().username}-cli`) : new FileJournal(config.state_dir, cluster.name);
    const open = summarize(journal.read()).filter((s) => !s.acked && s.outcome !== 'refused');
    // MHA's state files (a failover MHA ran): removed, as MHA wants it done.
    let removed: string[];
    try {
      removed = removeMhaStateFiles(cluster.manager_workdir, cluster.name);
    } catch (err) {
      throw new UserError(`${(err as Error).message}`, { hint: 'run mhats ack as a user who may write manager_workdir' });
    }
    for (const f of removed) process.stdout.write(`${name}: removed MHA's ${f}\n`);
    if (open.length === 0) {
      if (removed.length === 0) process.stdout.write(`${name}: nothing to acknowledge\n`);
      return;
    }
    const by = `${userInfo().username}@cli`;
    for (const s of open) {
      journal.append({ type: 'ack', id: s.id, at: Date.now(), by });
      process.stdout.write(`${name}: acknowledged ${s.id} (${s.deadMaster} → ${s.newMaster ?? '?'}, ${s.outcome ?? 'unfinished'})\n`);
    }
    await journal.flush?.();
  });
}

/**
 * masterha_manager --ignore_last_failover: every open failover of the cluster acknowledged
 * (file journal) and MHA's state files removed, before the manager watches it. Returns what was done.
 */
export function acknowledgeAll(config: LoadedConfig, cluster: ClusterConfig, by: string): string[] {
  const done = removeMhaStateFiles(cluster.manager_workdir, cluster.name).map((f) => `removed ${f}`);
  if (config.etcd) return done; // with manager HA: mhats ack (it writes to etcd)
  const journal = new FileJournal(config.state_dir, cluster.name);
  for (const s of summarize(journal.read()).filter((x) => !x.acked && x.outcome !== 'refused')) {
    journal.append({ type: 'ack', id: s.id, at: Date.now(), by });
    done.push(`acknowledged ${s.id}`);
  }
  return done;
}
