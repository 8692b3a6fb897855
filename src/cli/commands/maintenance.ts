import { Option, type Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { listMaintenance, osOwner, startMaintenance, stopMaintenance } from '../../app/maintenance.js';
import { describeEntry, formatDuration, scopeText, type MaintenanceEntry, type StopTarget } from '../../domain/maintenance.js';
import { isoTime } from '../../domain/time.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';
import { printJson } from '../output.js';

const EXITS = `Exit codes:
  0   done (stop: also when nothing was in maintenance)
  2   bad usage: unknown cluster or server, no reason, no or bad duration
  3   bad configuration
  5   etcd could not be reached (with manager HA the entries live there)`;

/** JSON shape of an entry (times as ISO text too). */
export function entryJson(e: MaintenanceEntry, now: number): Record<string, unknown> {
  return {
    ...e,
    startedAtIso: isoTime(e.startedAt),
    expiresAtIso: isoTime(e.expiresAt),
    ...(e.stoppedAt !== undefined ? { stoppedAtIso: isoTime(e.stoppedAt) } : {}),
    active: e.stoppedAt === undefined && now < e.expiresAt,
    remainingSeconds: e.stoppedAt === undefined ? Math.max(0, Math.round((e.expiresAt - now) / 1000)) : 0,
  };
}

function scopeOf(opts: { global?: boolean | undefined; cluster?: string | undefined; server?: string | undefined }): { scope: 'global' } | { scope: 'cluster'; cluster: string } | { scope: 'server'; cluster: string; server: string } {
  if (opts.global) {
    if (opts.cluster !== undefined || opts.server !== undefined) throw new UserError('--global applies to every cluster: do not combine it with --cluster or --server', { exitCode: ExitCode.USAGE });
    return { scope: 'global' };
  }
  if (opts.cluster === undefined) throw new UserError('name the cluster (--cluster NAME), or use --global for every cluster', { exitCode: ExitCode.USAGE });
  if (opts.server !== undefined) return { scope: 'server', cluster: opts.cluster, server: opts.server };
  return { scope: 'cluster', cluster: opts.cluster };
}

function effect(e: MaintenanceEntry): string {
  switch (e.scope) {
    case 'global':
      return 'no cluster is failed over automatically; the managers still watch every cluster and log what they would do. mhats failover and mhats switchover still work.';
    case 'cluster':
      return `${e.cluster ?? '?'} is watched and reported but never failed over automatically; the manager logs what it would do. mhats failover and mhats switchover still work.`;
    case 'server':
      return `${e.server ?? '?'} is never chosen as a new master, and its absence does not block a failover or a switchover of ${e.cluster ?? '?'}.`;
  }
}

/** --cluster names the target here, not a filter of the clusters to load. */
function describeCluster(cmd: { options: readonly { long?: string | undefined; description: string }[] }, text: string): void {
  const o = cmd.options.find((x) => x.long === '--cluster');
  if (o) o.description = text;
}

export function registerMaintenance(program: Command): void {
  const m = program
    .command('maintenance')
    .description('Maintenance (downtime): hold automatic failover of a cluster, keep a server out of promotion, or switch automatic failover off everywhere; each entry has an owner, a reason and an expiry.')
    .addHelpText('after', `
A cluster in maintenance is still watched and reported (status, /status, metrics); if its
master dies, the manager logs loudly what it would have done and does nothing. A server in
maintenance is never promoted, and its absence does not block a failover or a switchover.
Entries live in state_dir/maintenance.jsonl, or in etcd (PREFIX/maintenance/) with manager HA,
so every manager sees them. They end by themselves at their expiry.

  mhats maintenance start --cluster app1 --reason "kernel upgrade" --for 2h
  mhats maintenance start --cluster app1 --server db3 --reason "disk swap" --for 1d
  mhats maintenance start --global --reason "network maintenance" --for 30m
  mhats maintenance list
  mhats maintenance stop --cluster app1

${EXITS}`);

  const start = addConfigOptions(m
    .command('start')
    .description('Start a maintenance: --cluster C [--server S], or --global; --reason and --for are required.')
    .option('--server <name>', 'only this server of --cluster: never promoted, its absence blocks nothing')
    .option('--global', 'no automatic failover of any cluster (every manager sharing this state_dir or etcd)')
    .requiredOption('--reason <text>', 'why; shown to whoever is on call')
    .requiredOption('--for <duration>', 'how long, e.g. 30m, 2h, 1h30m, 1d (at most 7d); it ends by itself')
    .option('--json', 'print the entry as JSON')
    .addHelpText('after', `\n${EXITS}`));
  describeCluster(start, 'the cluster to put in maintenance (with --server: the server\'s cluster)');
  start.action(async (opts) => {
    const { config } = await loadFromOptions({ ...opts, cluster: undefined });
    const sc = scopeOf(opts);
    const e = await startMaintenance({ config }, { ...sc, owner: osOwner(), reason: opts.reason, duration: opts.for });
    const now = Date.now();
    if (opts.json) return printJson(entryJson(e, now));
    process.stdout.write(`maintenance started: ${scopeText(e)} until ${isoTime(e.expiresAt)} (${formatDuration(e.expiresAt - e.startedAt)}), owner ${e.owner}, reason "${e.reason}" [${e.id}]\n  ${effect(e)}\n`);
  });

  const stop = addConfigOptions(m
    .command('stop')
    .description('End maintenance: --cluster C [--server S], --global, or --id ID.')
    .option('--server <name>', 'the maintenance of this server of --cluster')
    .option('--global', 'the global switch')
    .addOption(new Option('--id <id>', 'one entry, by its id (mhats maintenance list)'))
    .option('--json', 'print the ended entries as JSON')
    .addHelpText('after', `\n${EXITS}`));
  describeCluster(stop, 'the cluster whose maintenance ends (with --server: the server\'s cluster)');
  stop.action(async (opts) => {
    const { config } = await loadFromOptions({ ...opts, cluster: undefined });
    const target: StopTarget = opts.id !== undefined ? { id: opts.id } : scopeOf(opts);
    const ended = await stopMaintenance({ config }, target, osOwner());
    const now = Date.now();
    if (opts.json) return printJson(ended.map((e) => entryJson(e, now)));
    if (ended.length === 0) {
      process.stdout.write(`nothing to stop: ${'id' in target ? `no active maintenance ${target.id}` : `${scopeText(target)} is not in maintenance`}\n`);
      return;
    }
    for (const e of ended) process.stdout.write(`maintenance ended: ${scopeText(e)} (was: ${e.owner}, "${e.reason}") [${e.id}]\n`);
    if (ended.some((e) => e.scope !== 'server')) process.stdout.write('  automatic failover applies again: a master that is dead now is failed over at the next check\n');
  });

  const list = addConfigOptions(m
    .command('list')
    .description('List the maintenance in force (and, with --all, what ended in the last 7 days).')
    .option('--all', 'also the entries that ended (stopped or expired) in the last 7 days')
    .option('--json', 'print the entries as JSON')
    .addHelpText('after', `\n${EXITS}`));
  describeCluster(list, 'only the entries that concern this cluster (and the global switch)');
  list.action(async (opts) => {
    const { config } = await loadFromOptions({ ...opts, cluster: undefined });
    if (opts.cluster !== undefined && !config.clusters.some((c) => c.name === opts.cluster)) throw new UserError(`unknown cluster ${opts.cluster} (known: ${config.clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    const l = await listMaintenance({ config }, { cluster: opts.cluster, endedWithinMs: opts.all ? 7 * 86_400_000 : 0 });
    if (opts.json) return printJson({ active: l.active.map((e) => entryJson(e, l.now)), ...(opts.all ? { ended: l.ended.map((e) => entryJson(e, l.now)) } : {}) });
    if (l.active.length === 0) process.stdout.write('no maintenance in force\n');
    for (const e of l.active) process.stdout.write(`IN MAINTENANCE: ${describeEntry(e, l.now)}\n`);
    if (opts.all) for (const e of l.ended) process.stdout.write(`ended: ${describeEntry(e, l.now)}\n`);
  });
}
