import { Option, type Command } from '@commander-js/extra-typings';
import { createInterface } from 'node:readline/promises';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { createLogger } from '../../adapters/logging.js';
import type { Journal } from '../../adapters/journal/journal.js';
import { cliCaller, openClusterJournal, prepareClusterSwitchover, runJournaledSwitchover, switchoverSetup } from '../../app/actions.js';
import { takeManualLead, LeaderElsewhere } from '../../app/manual-lead.js';
import { summarize } from '../../domain/guard.js';
import { describePlan, type PreCheck } from '../../domain/switchover.js';
import { onlineChangeHooksView, type StepRecord, type SwitchoverReport } from '../../engine/switchover.js';
import { UserError } from '../../errors/errors.js';
import { clusterMaintenance } from '../../app/maintenance.js';
import { MasterPublisher } from '../../app/publisher.js';
import { ExitCode } from '../../errors/exit-codes.js';

const HELP = `
Planned online master switch (MHA's masterha_master_switch --master_state=alive).

Pre-checks (each printed with its result; any failure refuses and changes nothing):
  no failover in progress (journal); one writable master and every server reachable;
  every replica replicating from the master with both threads running; the new master
  eligible (--new-master, else ranked by promotion_rule / candidate_master, then
  location (promotion_location), then config order; never must_not / no_master or
  log_bin off; backup and delayed replicas only with allow_promotion); lag <= --max-lag; no write statement running for
  --running-updates-limit seconds or more on the master; no errant GTID.

The switch, each step printed with its duration:
  master_ip_online_change_script --command=stop (MHA's arguments; passwords in
  MHATS_ORIG_MASTER_PASSWORD / MHATS_NEW_MASTER_PASSWORD, never in argv);
  read_only (+ super_read_only on MySQL) on the old master: writes blocked from here;
  every client connection on it killed (replication and mhats' own excepted);
  its final binlog position and GTID position recorded; the new master applies exactly
  that (within --timeout, else ROLLBACK); its replication stopped; the old master's
  binlog verified unchanged; read_only=OFF on the new master: writes accepted again.
  Then RESET SLAVE ALL on it, the start hook, the other replicas (and with
  --orig-master-is-new-slave the old master) repointed, and a heartbeat write
  (infra.chk_masterha) that every replica must receive.

Rollback: any failure before the new master is writable makes the old master
writable again and restarts the candidate's replication; the other replicas are
never touched before that. There are never two writable masters.

MariaDB has no super_read_only. On MariaDB >= 10.11 read_only does not stop users
with READ ONLY ADMIN, which ALL PRIVILEGES includes: an application account with ALL
could still write. mhats kills every client session after read_only and checks that
the old master's binlog did not move before promoting; grant applications less.

Ctrl-C (SIGINT), SIGTERM and SIGHUP are ignored while the switch runs: it ends, or
rolls back, by itself within about --timeout seconds plus a few. If mhats is killed
with SIGKILL mid-switch, check the old master: it may be left read_only.

Exit codes (MHA): 0 switched; 10 switched, but some replicas could not be repointed;
1 refused by a pre-check, rolled back, not confirmed, or an error.`;

function num(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new UserError(`${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}`, { exitCode: ExitCode.USAGE });
    return n;
  };
}

export function registerSwitchover(program: Command): void {
  const cmd = program
    .command('switchover')
    .description('Planned switch of a live master to a replica, with writes blocked for milliseconds (MHA: masterha_master_switch --master_state=alive).')
    .option('--new-master <host>', 'the replica to promote (config name, hostname or ip); default: chosen by the rules')
    .option('--orig-master-is-new-slave', 'make the old master a replica of the new one (else it stays read_only, replicating from nobody)')
    .option('--dry-run', 'run the pre-checks and print the plan, change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--json', 'print the report as JSON on stdout (progress goes to stderr)')
    .option('--running-updates-limit <seconds>', "refuse when a write statement on the master has run this long (MHA's running_updates_limit)", num('--running-updates-limit', 0), 1)
    .option('--max-lag <seconds>', 'refuse when a replica lags more than this (Seconds_Behind_Master)', num('--max-lag', 0), 1)
    .option('--timeout <seconds>', 'the longest writes stay blocked waiting for the new master to catch up; then roll back', num('--timeout', 1), 5)
    .addOption(new Option('--new_master_host <host>', 'MHA spelling of --new-master').hideHelp())
    .addOption(new Option('--orig_master_is_new_slave', 'MHA spelling').hideHelp())
    .addOption(new Option('--running_updates_limit <seconds>', 'MHA spelling').argParser(num('--running_updates_limit', 0)).hideHelp())
    .addHelpText('after', HELP);
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { config, clusters } = await loadFromOptions(opts);
    if (clusters.length !== 1) throw new UserError(`the config has ${clusters.length} clusters: choose one with --cluster (${clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    const full = clusters[0]!;
    const json = Boolean(opts.json);
    const out = (s: string): void => {
      (json ? process.stderr : process.stdout).write(s);
    };
    // The journal: unfinished failovers refuse the switch, old masters that never rejoined are not
    // part of the cluster, and the switchover is recorded there (the console's history).
    let journal: Journal | undefined;
    try {
      journal = await openClusterJournal(config, full.name);
    } catch (err) {
      out(`warning: cannot read the journal (${(err as Error).message}): the switchover is not recorded, and unfinished failovers cannot be checked\n`);
    }
    const maint = await clusterMaintenance(config, full.name);
    const setup = switchoverSetup(full, journal?.read() ?? [], {
      maintenance: maint.serversInMaintenance,
      newMaster: opts.newMaster ?? opts.new_master_host,
      origMasterIsNewSlave: Boolean(opts.origMasterIsNewSlave ?? opts.orig_master_is_new_slave),
      runningUpdatesLimit: opts.running_updates_limit ?? opts.runningUpdatesLimit,
      maxLag: opts.maxLag,
      timeout: opts.timeout,
    });
    if (!setup.ok) throw new UserError(`--new-master ${setup.reason}`, { exitCode: ExitCode.USAGE });
    const { cluster, opts: swOpts } = setup;
    const log = createLogger({ level: process.env.MHATS_LOG_LEVEL ?? 'silent', write: (l) => process.stderr.write(l) });

    let prepared = await prepareClusterSwitchover(cluster, swOpts, log);
    out(`Switchover of ${cluster.name}: pre-checks\n`);
    for (const n of maint.serversInMaintenance) if (n !== prepared.analysis.master) out(`  note: ${n} is in maintenance: left out of the switch (not promoted, not repointed); if it replicates from the old master, repoint it when its maintenance ends\n`);
    printChecks(out, prepared.decision.checks);
    const refused = (checks: PreCheck[], reason: string): void => {
      const report: SwitchoverReport = { outcome: 'refused', exitCode: 1, reason, checks, steps: [], repointed: [], notRepointed: [], warnings: [], durationMs: 0 };
      if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      out(`\nREFUSED: nothing was changed.\n`);
      process.exitCode = ExitCode.ERROR;
    };
    if (!prepared.decision.ok) return refused(prepared.decision.checks, prepared.decision.reason);
    const plan = prepared.decision.plan;
    out(`\nPlan: ${plan.master} → ${plan.newMaster} (${plan.mode === 'gtid' ? 'GTID' : 'binlog positions'}, ${plan.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'})\n`);
    const hv = onlineChangeHooksView(cluster);
    for (const l of describePlan(plan, { origMasterIsNewSlave: swOpts.origMasterIsNewSlave, timeoutSeconds: swOpts.timeout, hook: Boolean(cluster.master_ip_online_change_script), hasSuperReadOnly: prepared.hasSuperReadOnly, vips: hv.vips })) out(`  ${l}\n`);
    if (!prepared.hasSuperReadOnly && plan.flavor === 'mariadb') {
      out(`  note: MariaDB has no super_read_only; from 10.11 on, users with READ ONLY ADMIN (included in ALL PRIVILEGES) write through read_only, so every client session is killed and the old master's binlog is checked before promotion.\n`);
    }
    if (!hv.anyHook) out('  note: no master_ip_online_change_script and no online-change hook: clients must find the new master themselves (VIP, DNS or proxy not moved by mhats).\n');
    if (opts.dryRun) {
      out('\n--dry-run: nothing was changed.\n');
      if (json) process.stdout.write(`${JSON.stringify({ outcome: 'dry_run', checks: prepared.decision.checks, plan }, null, 2)}\n`);
      process.exitCode = ExitCode.OK;
      return;
    }
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new UserError('refusing to switch without confirmation: no terminal to ask on; pass --yes', { exitCode: ExitCode.ERROR });
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`\nStarting master switch from ${plan.master} to ${plan.newMaster}? (yes/NO): `);
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') throw new UserError('not confirmed: nothing was changed', { exitCode: ExitCode.ERROR });
      // Time passed while the operator read the plan: check again, and insist on the same plan.
      prepared = await prepareClusterSwitchover(cluster, { ...swOpts, newMaster: plan.newMaster }, log);
      if (!prepared.decision.ok) {
        out('\nThe pre-checks changed while waiting for confirmation:\n');
        printChecks(out, prepared.decision.checks);
        return refused(prepared.decision.checks, prepared.decision.reason);
      }
      if (prepared.decision.plan.master !== plan.master) return refused(prepared.decision.checks, `the master changed while waiting for confirmation (${plan.master} → ${prepared.decision.plan.master})`);
    }
    const finalPlan = prepared.decision.ok ? prepared.decision.plan : plan;

    out('\nSwitching:\n');
    // Interrupting mid-switch could leave the old master read_only with nobody writable: the switch
    // runs to its end or rolls back by itself (every step has a deadline), so signals only get a note.
    const onSignal = (sig: string): void => {
      out(`           ${sig} ignored: the switch is in progress and ends, or rolls back, within about ${swOpts.timeout + 5} s\n`);
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const sig of signals) process.on(sig, onSignal);
    let report: SwitchoverReport;
    try {
      // With etcd this command runs as the leader (refused while a manager leads); MHA's failover lock is taken by the engine.
      const lead = await takeManualLead(config, cluster.name, 'switchover', log).catch((err: unknown) => {
        if (err instanceof LeaderElsewhere) throw new UserError(`refusing to switch over: ${err.message}`);
        throw err;
      });
      try {
        const led = config.etcd ? lead.journal : (journal ?? lead.journal);
        const running = summarize(led.read()).find((s) => s.endedAt === undefined && !s.acked);
        if (running !== undefined) throw new UserError(`refusing to switch over: failover ${running.id} of ${running.deadMaster} is unfinished in the journal (${led.path})`, { hint: `check the topology (mhats status), then: mhats ack ${cluster.name}` });
        report = await runJournaledSwitchover(cluster, finalPlan, prepared.decision.checks, swOpts, {
          log,
          journal: led,
          by: cliCaller(),
          onStep: (s) => out(stepLine(s)),
          onNote: (m) => out(`           ${m}\n`),
        });
      } finally {
        await lead.release();
      }
    } finally {
      for (const sig of signals) process.off(sig, onSignal);
    }
    if (report.outcome === 'success' || report.outcome === 'partial') {
      // Service discovery: the new master's keys (config publish:), the old master is read_only now.
      const publisher = MasterPublisher.fromConfig(config, { log });
      const nm = cluster.servers.find((s) => s.name === report.newMaster);
      if (publisher && nm) {
        await publisher.publish(cluster, nm, { isCurrentMaster: true, failed: false, readOnly: false, healthy: true }, 'switchover');
        for (const { target, last } of publisher.outcomes(cluster.name)) {
          out(last?.ok ? `  published ${report.newMaster} as master to ${target}\n` : `  warning: could not publish ${report.newMaster} to ${target}: ${last?.error ?? '?'} (a running manager retries)\n`);
        }
      }
    }
    out(`\n${headline(report)}\n`);
    if (report.writeBlockedMs !== undefined) out(`  write-blocked time: ${report.writeBlockedMs} ms (read_only on ${report.oldMaster} → ${report.outcome === 'rolled_back' || report.rollback ? `${report.oldMaster} writable again` : `${report.newMaster} writable`})\n`);
    if (report.vipBlockedMs !== undefined) out(`  VIP moved within the switch: ${report.vipBlockedMs} ms (released on ${report.oldMaster} → ${report.newMaster} writable with the VIP on its host)\n`);
    if (report.oldMasterFinal) out(`  ${report.oldMaster} final position: ${pos(report.oldMasterFinal)}\n`);
    if (report.newMasterStart) out(`  ${report.newMaster} started as master at: ${pos(report.newMasterStart)}\n`);
    if (report.repointed.length) out(`  replicating from ${report.newMaster}: ${report.repointed.join(', ')}\n`);
    for (const n of report.notRepointed) out(`  NOT repointed: ${n.name}: ${n.reason}\n`);
    for (const w of report.warnings) out(`  warning: ${w}\n`);
    if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.exitCode = report.exitCode;
  });
}

function pos(p: { coord: { file: string; pos: number }; gtid: string }): string {
  return `${p.coord.file}:${p.coord.pos}${p.gtid ? ` (gtid ${p.gtid})` : ''}`;
}

function printChecks(out: (s: string) => void, checks: PreCheck[]): void {
  for (const c of checks) out(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.title}${c.detail ? `: ${c.detail}` : ''}\n`);
}

function stepLine(s: StepRecord): string {
  return `  ${s.ok ? 'ok ' : 'ERR'} ${String(s.durationMs).padStart(6)} ms  ${s.step}${s.detail ? `: ${s.detail}` : ''}\n`;
}

function headline(r: SwitchoverReport): string {
  switch (r.outcome) {
    case 'success':
      return `SUCCESS: ${r.reason}`;
    case 'partial':
      return `DONE, BUT (exit 10): ${r.reason}`;
    case 'rolled_back':
      return `ROLLED BACK (exit 1): ${r.reason}`;
    case 'refused':
      return `REFUSED: ${r.reason}`;
    case 'failed':
      return `FAILED (exit 1): ${r.reason}`;
  }
}
