import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { addLostWritesAdvice, failedServers, inspectCluster, withoutFailed } from '../../app/cluster.js';
import { clusterMaintenance } from '../../app/maintenance.js';
import { FileJournal } from '../../adapters/journal/file-journal.js';
import { renderCheckRepl, type ClusterReport } from '../../render/check-repl.js';
import { ExitCode, EXIT_CODE_HELP } from '../../errors/exit-codes.js';
import { printJson, stdoutPainter } from '../output.js';
import { checkScriptStatus } from '../../app/script-status.js';

/** 0 healthy; 5 when a server could not be reached; 4 for any other broken topology; 1 when only an MHA script's status check failed. */
export function checkReplExitCode(reports: ClusterReport[]): number {
  const errors = reports.flatMap((r) => r.analysis.findings.filter((f) => f.severity === 'error'));
  if (errors.length === 0) return ExitCode.OK;
  if (errors.some((f) => f.code === 'unreachable' || f.code === 'master_unreachable')) return ExitCode.UNREACHABLE;
  if (errors.every((f) => f.code === 'hook_script')) return ExitCode.ERROR;
  return ExitCode.TOPOLOGY;
}

export function registerCheckRepl(program: Command): void {
  const cmd = program
    .command('check-repl')
    .description('Check replication health of every configured cluster (MHA masterha_check_repl, and more).')
    .option('--json', 'print the findings as JSON')
    .option('--seconds-behind-master <seconds>', 'the most replication lag tolerated (default: seconds_behind_master in the config, 30)', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`must be a whole number of seconds, not ${JSON.stringify(v)}`);
      return Number(v);
    })
    .addHelpText(
      'after',
      `
Checks: exactly one writable master; every replica's IO and SQL threads running and
pointing at it; unique server_id; log_bin/log_slave_updates on candidates; equal binlog
and replication filters; read_only on replicas; lag (seconds_behind_master); consistent
GTID mode; errant GTIDs; semi-sync state; a replication user usable from every host;
promotability under the promotion rules as a failover applies them (promotion_rule /
no_master, backup and delayed replicas without allow_promotion, promotion_location
same_region): an ERROR when no replica could be promoted if the master died, a WARN
when only one could, each excluded replica named with the rule that excludes it and
what to change.
As MHA does, master_ip_failover_script and shutdown_script (when configured) are run
with --command=status against the master; an exit code other than 0 is an ERROR
(exit 1 when nothing else is wrong).
Every connection and statement has a deadline (connect_timeout, query_timeout; 30 s
for a script's status check).

${EXIT_CODE_HELP}`,
    );
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { config, clusters: loaded } = await loadFromOptions(opts);
    const lag = opts.secondsBehindMaster;
    const clusters = lag === undefined ? loaded : loaded.map((c) => ({ ...c, seconds_behind_master: lag }));
    const reports = await Promise.all(
      clusters.map(async (c) => {
        const failed = failedServers(config.state_dir, c);
        // Servers in maintenance are never candidates: promotability is judged without them.
        const maint = await clusterMaintenance(config, c.name).catch(() => undefined);
        const r = await inspectCluster(withoutFailed(c, failed), undefined, maint?.serversInMaintenance);
        for (const f of failed) r.analysis.findings.push({ severity: 'info', code: 'unreachable', server: f, message: `${f} is the old master of a failover: left out until it replicates from the current master again` });
        addLostWritesAdvice(r, new FileJournal(config.state_dir, c.name).read());
        // MHA's check_scripts: the failover and shutdown scripts answer --command=status against the master.
        const master = c.servers.find((s) => s.name === r.analysis.master);
        if (master && !r.analysis.unreachable.some((u) => u.name === master.name)) {
          const found = await checkScriptStatus(c, master);
          r.analysis.findings.push(...found);
          if (found.some((f) => f.severity === 'error')) r.analysis.healthy = false;
        }
        return r;
      }),
    );
    if (opts.json) {
      printJson(
        reports.map((r) => ({
          cluster: r.cluster,
          healthy: r.analysis.healthy,
          master: r.analysis.master ?? null,
          mode: r.analysis.mode,
          findings: r.analysis.findings,
          unreachable: r.analysis.unreachable,
        })),
      );
    } else {
      process.stdout.write(renderCheckRepl(reports, stdoutPainter()));
    }
    process.exitCode = checkReplExitCode(reports);
  });
}
