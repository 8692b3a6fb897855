import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { rejoin } from '../../app/rejoin.js';
import { osOwner } from '../../app/maintenance.js';
import type { RejoinReport } from '../../engine/rejoin.js';
import { printJson } from '../output.js';

const HELP = `
The old master of a failover (or any server that is not the master) comes back as a replica
of the current master, only if everything it executed is already there:
  - contained (by GTID; or, with binlog positions, through the failover record's coordinates):
    CHANGE MASTER to the current master, START SLAVE, both threads verified, read_only kept ON,
    the rejoin journaled;
  - diverged (it committed transactions the cluster does not have, e.g. writes on the isolated
    side of a partition): refused, the server stays fenced (read_only), the divergent
    transactions are listed (GTIDs, binlog range) and extracted with mariadb-binlog/mysqlbinlog
    into STATE_DIR/CLUSTER/rejoin/SERVER-divergent-TIME.sql for review; how to reseed is printed.
    Nothing is ever discarded.
The server is set read_only first, whatever the outcome (--dry-run changes nothing).
With auto_rejoin: true on a cluster, the manager does this by itself when an old master comes back.

Exit codes:
  0   rejoined (or already a healthy replica of the master; --dry-run: it would rejoin)
  1   refused: diverged (listed and extracted), cannot be proven contained, no master; or failed
  2   bad usage (unknown server or cluster)
  3   bad configuration
  5   the server (or etcd) could not be reached`;

function print(r: RejoinReport): void {
  const out = (s: string): boolean => process.stdout.write(`${s}\n`);
  const head = { rejoined: 'REJOINED', already: 'ALREADY A REPLICA', would_rejoin: 'WOULD REJOIN (dry run)', diverged: 'REFUSED: DIVERGED', refused: 'REFUSED', failed: 'FAILED' }[r.outcome];
  out(`${head}: ${r.reason}`);
  for (const s of r.steps) out(`  - ${s}`);
  if (r.divergent) {
    out(`  divergent transactions (${r.divergent.count}):`);
    for (const t of r.divergent.transactions) out(`    ${t.gtid ?? '(no GTID)'}  ${t.file}:${t.start}-${t.end}`);
    if (r.divergent.range) out(`  binlog range: ${r.divergent.range.from} .. ${r.divergent.range.to}`);
    if (r.divergent.gtids.length > r.divergent.transactions.length) out(`  GTIDs: ${r.divergent.gtids.join(', ')}`);
  }
  if (r.extractFile) out(`  extracted for review: ${r.extractFile}`);
  if (r.extractError) out(`  could not extract them: ${r.extractError}`);
  if (r.reseed) {
    out('  what to do:');
    for (const l of r.reseed) out(`    ${l}`);
  }
}

export function registerRejoin(program: Command): void {
  const cmd = addConfigOptions(
    program
      .command('rejoin')
      .argument('<server>', 'the server to bring back as a replica (config name, hostname or ip)')
      .description("Bring an old master back as a replica of the current master if it holds nothing the cluster lacks; otherwise keep it fenced and list (and extract) exactly what diverged.")
      .option('--dry-run', 'decide and report; change nothing (not even read_only)')
      .option('--json', 'print the report as JSON')
      .addHelpText('after', HELP),
  );
  cmd.action(async (server, opts) => {
    const { config } = await loadFromOptions({ ...opts, cluster: undefined });
    const r = await rejoin(config, { server, cluster: opts.cluster, dryRun: opts.dryRun, by: osOwner() });
    if (opts.json) printJson(r);
    else print(r);
    process.exitCode = r.exitCode;
  });
}
