import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { inspectCluster } from '../../app/cluster.js';
import { renderStatus, statusModel } from '../../render/status.js';
import { printJson, stdoutPainter } from '../output.js';

export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description("Show each cluster's topology tree: roles, binlog coordinates or GTID position, lag, thread states, read_only.")
    .option('--json', 'print the topology as JSON for scripts');
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { clusters } = await loadFromOptions(opts);
    const reports = await Promise.all(clusters.map((c) => inspectCluster(c)));
    const models = reports.map((r) => statusModel(r));
    if (opts.json) printJson(models);
    else process.stdout.write(renderStatus(models, stdoutPainter()));
    // status is informational: it exits 0 even for a broken topology (check-repl judges).
  });
}
