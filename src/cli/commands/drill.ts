/**
 * `mhats drill`: inject a real fault into a sandbox or a staging cluster's
 * master, watch the failover, and check its invariants.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { addConfigOptions, confPath, loadFromOptions } from '../config-options.js';
import { DRILL_FAULTS } from '../../domain/drill/types.js';
import { builtinFault } from '../../app/drill/faults.js';
import { ChildManager, externalManager, type ManagerHandle } from '../../app/drill/managers.js';
import { refusal, runDrill, sandboxOf } from '../../app/drill/run.js';
import { renderDrill } from '../../render/drill.js';
import { hostForUrl } from '../../adapters/http/server.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';

function num(what: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`${what} must be a number from ${min} to ${max}, not "${v}"`);
    return n;
  };
}

/** argv that runs this same mhats CLI (node, its flags such as --import tsx, the entry script). */
export function selfCli(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? 'mhats'];
}

export function registerDrill(program: Command): void {
  const cmd = program
    .command('drill')
    .description('Failover drill: inject a real fault into the master of a sandbox or a `drill: allowed` cluster, write through the application endpoint, watch every server, and check the invariants.')
    .addOption(new Option('--fault <kind>', 'crash (kill -9), hang (SIGSTOP), netdown (the host drops off the network), stop (clean shutdown), restart-during-failover').choices(DRILL_FAULTS).makeOptionMandatory())
    .option('--runs <n>', 'runs in a row (the old master rejoins as a replica between runs)', num('--runs', 1, 100), 1)
    .option('--rate <r>', 'writes per second through the endpoint', num('--rate', 1, 5000), 100)
    .option('--yes', 'really inject the fault', false)
    .option('--json', 'print the report as JSON', false)
    .option('--with-manager', 'start a manager for the drill (and stop it afterwards) instead of relying on a running one', false)
    .option('--manager-url <url>', 'HTTP endpoint of the running manager (default: http.listen of the configuration, else 127.0.0.1:9187)')
    .option('--endpoint <host:port>', 'where the application writes (default: the VIP, HAProxy or hosts name of the hooks, else whichever server is writable)')
    .option('--timeout <s>', 'seconds to wait for the failover to finish', num('--timeout', 5, 3600), 120)
    .option('--fault-seconds <s>', 'netdown without a sandbox: seconds until the host brings its network back by itself', num('--fault-seconds', 5, 3600), 60)
    .option('--start-command <cmd>', 'shell command that starts mysqld on the host (default: its command line as it ran, detached), e.g. "systemctl start mariadb"')
    .option('--work-dir <dir>', 'where the drill keeps the manager log (default: manager_workdir/drill)')
    .addHelpText(
      'after',
      `
A drill runs against a sandbox (mhats sandbox up; --netns for real network faults) or a
cluster whose configuration says \`drill: allowed\`. It refuses any other cluster, and any
run without --yes, before touching anything. The cluster must be healthy and watched by a
manager (a running one, found through its HTTP endpoint, or --with-manager).

Each run: the drill creates the schema mhats_drill and an application account without
SUPER; writes sequence-numbered autocommit INSERTs through the endpoint the applications
use (VIP, HAProxy, hosts name, or the writable server); samples every server's read_only
and replication state every 100 ms; injects the fault on the master's host over SSH as the
manager's SSH user (kill, or ip link for netdown: root or passwordless sudo there); waits
for the failover; heals the fault; and checks:
  outcome               the failover succeeded
  one-writable-master   never two writable masters in any 100 ms sample
  acked-writes-present  every acknowledged write is on the new master
  loss-reported-exactly where the report says writes were lost, exactly those are missing
  survivors-replicate   the other replicas replicate from the new master, no error
  checksums-equal       the same drill-table checksum on the new master and every survivor
  old-master-fenced     after healing the old master is read_only and has no VIP
  hooks-ran             every configured hook ran, with its outcome
  manager-running       the manager still runs
The report gives fault → detect → writable → done for each run. Exit code 0 only if every
invariant holds in every run; 1 if one is broken (named in the report); 2 refused.`,
    );
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { config, clusters } = await loadFromOptions(opts);
    if (clusters.length !== 1) throw new UserError(`the config has ${clusters.length} clusters: choose one with --cluster (${clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    const cluster = clusters[0]!;
    const conf = resolve(confPath(opts));
    // Refuse first, before any connection or process.
    const sandbox = await sandboxOf(conf, cluster);
    const refused = refusal(cluster, sandbox, opts.yes);
    if (refused) throw refused;

    const managers: ManagerHandle[] = [];
    let started: ChildManager | undefined;
    if (opts.withManager) {
      const dir = opts.workDir ?? join(cluster.manager_workdir, 'drill');
      mkdirSync(dir, { recursive: true, mode: 0o750 });
      started = new ChildManager({ cli: selfCli(), conf, logFile: join(dir, `manager-${process.pid}.log`), http: '127.0.0.1:0' });
      process.stderr.write(`mhats drill: starting a manager (log ${started.logFile})\n`);
      await started.start();
      managers.push(started);
    } else {
      const http = config.http ?? { host: '127.0.0.1', port: 9187 };
      managers.push(externalManager(opts.managerUrl ?? `http://${hostForUrl(http.host)}:${http.port}`));
    }
    try {
      const report = await runDrill({
        config,
        cluster,
        configPath: conf,
        sandbox,
        plan: () => builtinFault(opts.fault),
        runs: opts.runs,
        rate: opts.rate,
        yes: opts.yes,
        managers,
        endpoint: opts.endpoint,
        timeoutMs: opts.timeout * 1000,
        faultSeconds: opts.faultSeconds,
        startCommand: opts.startCommand,
        log: (line) => process.stderr.write(`mhats drill: ${line}\n`),
      });
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderDrill(report));
      process.exitCode = report.ok ? ExitCode.OK : ExitCode.ERROR;
    } finally {
      await started?.stop();
    }
  });
}
