import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { addLostWritesAdvice, failedServers, inspectCluster, withoutFailed } from '../../app/cluster.js';
import { FileJournal } from '../../adapters/journal/file-journal.js';
import { renderCheckRepl, type ClusterReport } from '../../render/check-repl.js';
import { ExitCode, EXIT_CODE_HELP } from '../../errors/exit-codes.js';
import { printJson, stdoutPainter } from '../output.js';

/** 0 healthy; 5 when a server could not be reached; 4 for any other broken topology. */
export function checkReplExitCode(reports: ClusterReport[]): number {
  const errors = reports.flatMap((r) => r.analysis.findings.filter((f) => f.severity === 'error'));
  if (errors.length === 0) return ExitCode.OK;
  if (errors.some((f) => f.code === 'unreachable' || f.code === 'master_unreachable')) return ExitCode.UNREACHABLE;
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
Every connection and statement has a deadline (connect_timeout, query_timeout).

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
        const r = await inspectCluster(withoutFailed(c, failed));
        for (const f of failed) r.analysis.findings.push({ severity: 'info', code: 'unreachable', server: f, message: `${f} is the old master of a failover: left out until it replicates from the current master again` });
        addLostWritesAdvice(r, new FileJournal(config.state_dir, c.name).read());
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
