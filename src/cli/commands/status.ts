import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { failedServers, inspectCluster, withoutFailed } from '../../app/cluster.js';
import { FileJournal } from '../../adapters/journal/file-journal.js';
import { summarize } from '../../domain/guard.js';
import { isoTime } from '../../domain/time.js';
import { renderStatus, statusModel, type LastFailoverSummary } from '../../render/status.js';
import { printJson, stdoutPainter } from '../output.js';
import { EtcdClient } from '../../adapters/leader/etcd-client.js';
import { readOwners } from '../../adapters/leader/shards.js';
import { checkReplExitCode } from './check-repl.js';
import { clusterMaintenance } from '../../app/maintenance.js';
import { describeEntry } from '../../domain/maintenance.js';

export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description("Show each cluster's topology tree (roles, promotion rule and datacenter/region, maintenance, binlog coordinates or GTID position, lag, thread states, read_only) and its last failover.")
    .option('--json', 'print the topology as JSON for scripts')
    .addHelpText(
      'after',
      `
Exit codes (the same as check-repl's, so a script or a monitor can use either):
  0  every cluster is healthy: one writable master, every replica replicating from it
  4  a cluster is unhealthy: a replica stopped or pointing elsewhere, two writable masters, ...
  5  a server could not be reached (MySQL)
  3  bad configuration; 2 bad usage
The output (and --json) is printed in every case.`,
    );
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { config, clusters } = await loadFromOptions(opts);
    const failedBy = new Map(clusters.map((c) => [c.name, failedServers(config.state_dir, c)]));
    const reports = await Promise.all(clusters.map((c) => inspectCluster(withoutFailed(c, failedBy.get(c.name) ?? []))));
    // etcd sharding: which manager owns each cluster.
    let owners: Map<string, { instance: string }> | undefined;
    const e = config.etcd;
    if (e?.sharding) {
      const client = new EtcdClient({ endpoints: e.endpoints, timeoutMs: e.request_timeout * 1000 });
      owners = await readOwners(client, e.prefix).catch((err: unknown) => {
        process.stderr.write(`cannot read the cluster owners from etcd: ${(err as Error).message}\n`);
        return undefined;
      });
    }
    const now = Date.now();
    const maint = new Map(
      await Promise.all(
        clusters.map(async (c): Promise<[string, { all: string[]; servers: Record<string, string[]> }]> => {
          try {
            const m = await clusterMaintenance(config, c.name, now);
            const servers = Object.fromEntries(Object.entries(m.servers).map(([s, es]) => [s, es.map((e) => describeEntry(e, now))]));
            return [c.name, { all: [...m.clusterWide, ...Object.values(m.servers).flat()].map((e) => describeEntry(e, now)), servers }];
          } catch (err) {
            return [c.name, { all: [`unknown: ${(err as Error).message}`], servers: {} }];
          }
        }),
      ),
    );
    const models = reports.map((r) => {
      const last = summarize(new FileJournal(config.state_dir, r.cluster).read())
        .filter((s) => s.outcome !== 'refused')
        .at(-1);
      const lf: LastFailoverSummary | undefined = last && {
        id: last.id,
        startedAt: isoTime(last.startedAt),
        outcome: last.outcome ?? 'UNFINISHED',
        oldMaster: last.deadMaster,
        newMaster: last.newMaster,
        durationMs: last.durationMs,
        lost: last.lost,
      };
      const m = statusModel(r, lf, maint.get(r.cluster)?.servers);
      if (e?.sharding) m.owner = owners === undefined ? undefined : (owners.get(r.cluster)?.instance ?? null);
      m.maintenance = [...(maint.get(r.cluster)?.all ?? [])];
      for (const f of failedBy.get(r.cluster) ?? []) m.errors.push(`${f}: old master of a failover, left out until it replicates from the current master again`);
      return m;
    });
    if (opts.json) printJson(models);
    else process.stdout.write(renderStatus(models, stdoutPainter()));
    // Unhealthy is not success: a monitor running `mhats status` must see it (the table in --help).
    process.exitCode = checkReplExitCode(reports);
  });
}
