import type { Command } from '@commander-js/extra-typings';
import { createInterface } from 'node:readline/promises';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { errantOf, injectEmpty } from '../../app/errant.js';
import { osOwner } from '../../app/maintenance.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';
import { printJson } from '../output.js';

const SHOW_EXITS = `Exit codes:
  0   no errant GTID anywhere
  3   bad configuration
  4   errant GTIDs found (listed per server)
  5   a master could not be observed`;

const INJECT_EXITS = `Exit codes:
  0   injected (or nothing to inject)
  1   refused: MariaDB (explained), no GTID mode, too many, not confirmed, or an error
  2   bad usage (--cluster missing)
  3   bad configuration
  4   the master is read_only (the topology is not what it should be)
  5   the master could not be reached`;

export function registerErrant(program: Command): void {
  const e = program
    .command('errant')
    .description('Errant GTIDs: transactions a replica has that its master does not (written on the replica directly). A failover refuses to run while any exist.');

  const show = addConfigOptions(e.command('show').description('List the errant GTIDs of every replica, per cluster.').option('--json', 'print the report as JSON').addHelpText('after', `\n${SHOW_EXITS}`));
  show.action(async (opts) => {
    const { config, clusters } = await loadFromOptions(opts);
    const reports = await Promise.all(clusters.map((c) => errantOf(config, c)));
    if (opts.json) printJson(reports);
    else {
      for (const r of reports) {
        if (r.unknown) process.stdout.write(`${r.cluster}: cannot compare: ${r.unknown}\n`);
        else if (r.servers.length === 0) process.stdout.write(`${r.cluster}: no errant GTID (master ${r.master ?? '?'})\n`);
        else {
          process.stdout.write(`${r.cluster}: master ${r.master ?? '?'}; errant GTIDs on ${r.servers.length} replica(s):\n`);
          for (const s of r.servers) process.stdout.write(`  ${s.server}: ${s.errant}${s.count !== undefined ? ` (${s.count} transaction(s))` : ''}\n`);
          process.stdout.write(r.flavor === 'mysql' ? `  repair: inspect them; if they are harmless, mhats errant inject-empty --cluster ${r.cluster} --yes; else reseed the replica\n` : '  repair: apply wanted changes on the master by hand, or reseed the replica (MariaDB has no empty-transaction repair)\n');
        }
      }
    }
    process.exitCode = reports.some((r) => r.unknown) ? ExitCode.UNREACHABLE : reports.some((r) => r.servers.length > 0) ? ExitCode.TOPOLOGY : ExitCode.OK;
  });

  const inject = addConfigOptions(
    e
      .command('inject-empty')
      .description('MySQL GTID only: commit one empty transaction on the master for each errant GTID of the replicas, so the cluster knows them (no data changes). Journaled with who and what.')
      .option('-y, --yes', 'do it without asking (required without a terminal)')
      .option('--dry-run', 'say what would be injected; change nothing')
      .option('--json', 'print the result as JSON')
      .addHelpText('after', `\nOnly when the errant transactions are harmless (their changes are unwanted or already on the master):\nthe replica keeps its data, the master just learns the GTIDs. On MariaDB it refuses and explains why.\n\n${INJECT_EXITS}`),
  );
  inject.action(async (opts) => {
    const { config, clusters } = await loadFromOptions(opts);
    if (opts.cluster === undefined || clusters.length !== 1) throw new UserError('name the cluster: --cluster NAME', { exitCode: ExitCode.USAGE });
    const cluster = clusters[0]!;
    const by = osOwner();
    const plan = await injectEmpty(config, cluster, by, { dryRun: true });
    if (plan.count === 0) {
      if (opts.json) printJson(plan);
      else process.stdout.write(`${cluster.name}: no errant GTID: nothing to inject\n`);
      return;
    }
    if (!opts.json) process.stdout.write(`${cluster.name}: ${plan.count} empty transaction(s) to inject on ${plan.master} for the errant GTIDs of ${plan.servers.join(', ')}: ${plan.injected}\n`);
    if (opts.dryRun) {
      if (opts.json) printJson({ ...plan, dryRun: true });
      return;
    }
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new UserError('refusing without confirmation: pass --yes', { exitCode: ExitCode.ERROR });
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question('Inject them? (yes/NO): ');
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') throw new UserError('not confirmed: nothing done');
    }
    const r = await injectEmpty(config, cluster, by);
    if (opts.json) printJson(r);
    else process.stdout.write(`injected ${r.count} empty transaction(s) on ${r.master} in ${r.durationMs} ms (journaled, by ${by})\n`);
  });
}
