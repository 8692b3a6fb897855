/**
 * `mhats hooks test`: run a cluster's hooks for an environment against a
 * described failover (old and new master given), phase by phase as a real
 * failover would (stop, start, report; or online_change_stop/start), or with
 * --dry-run print what would run. No database is changed.
 */
import type { Command } from '@commander-js/extra-typings';
import { createInterface } from 'node:readline/promises';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { hooksFor, type HookPhase } from '../../config/hooks.js';
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { describePhase, describeRecord, runHookPhase } from '../../adapters/hooks/runner.js';
import type { HookEvent } from '../../adapters/hooks/context.js';
import type { HookRecord } from '../../adapters/hooks/types.js';
import { sshReachableFor } from '../../app/manager.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';

function server(cluster: ClusterConfig, n: string, what: string): ServerConfig {
  const s = cluster.servers.find((x) => x.name === n || x.hostname === n || x.ip === n);
  if (s === undefined) throw new UserError(`${what} ${n} is not a server of ${cluster.name} (${cluster.servers.map((x) => x.name).join(', ')})`, { exitCode: ExitCode.USAGE });
  return s;
}

export function registerHooks(program: Command): void {
  const hooks = program.command('hooks').description('Failover hooks: hosts files, VIP, HAProxy, MHA scripts, commands.');
  const cmd = hooks
    .command('test')
    .description("Run a cluster's hooks for an environment against a described failover (no database is changed).")
    .requiredOption('--old-master <name>', 'the master that "died" (config name, hostname or ip)')
    .requiredOption('--new-master <name>', 'the master that takes over')
    .option('--environment <name>', "the hook set to run (default: the cluster's hooks.environment)")
    .option('--online-change', 'run the switchover phases (online_change_stop, online_change_start) instead of stop, start, report')
    .option('--old-master-unreachable', 'treat the old master as unreachable over SSH (MHA --command=stop instead of stopssh)')
    .option('--dry-run', 'print what would run, run nothing')
    .option('-y, --yes', 'do not ask for confirmation (the hooks really act: they move the VIP, rewrite hosts files)')
    .option('--json', 'print the records as JSON')
    .addHelpText('after', '\nExit codes: 0 every hook ok, 10 some failed and the policy said continue, 1 a hook aborted (a failover would have stopped).');
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { clusters } = await loadFromOptions(opts);
    if (clusters.length !== 1) throw new UserError(`the config has ${clusters.length} clusters: choose one with --cluster (${clusters.map((c) => c.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    const cluster = clusters[0]!;
    const om = server(cluster, opts.oldMaster, '--old-master');
    const nm = server(cluster, opts.newMaster, '--new-master');
    if (om.name === nm.name) throw new UserError('--old-master and --new-master are the same server', { exitCode: ExitCode.USAGE });
    const plan = hooksFor(cluster, opts.environment);
    if (!plan.ok) throw new UserError(plan.reason, { exitCode: ExitCode.USAGE });
    const out = (s: string): boolean => process.stdout.write(`${s}\n`);
    const id = `${cluster.name}-hooks-test-${Date.now()}`;
    const kind = opts.onlineChange ? 'switchover' : 'failover';
    const phases: HookPhase[] = opts.onlineChange ? ['online_change_stop', 'online_change_start'] : ['stop', 'start', 'report'];
    const base = { kind, cluster, id, environment: plan.environment, origMaster: om, env: { MHATS_HOOKS_TEST: '1' } } as const;
    const evFor = (phase: HookPhase, reachable: boolean): HookEvent => ({
      ...base,
      phase,
      origSshReachable: kind === 'failover' ? reachable : undefined,
      newMaster: phase === 'stop' ? undefined : nm,
      ...(phase === 'report' ? { newSlaves: cluster.servers.filter((s) => s.name !== om.name && s.name !== nm.name), outcome: 'success', subject: `${cluster.name}: MySQL Master failover ${om.name} to ${nm.name} succeeded (hooks test)`, body: `mhats hooks test: ${om.name} -> ${nm.name}` } : {}),
    });
    if (plan.hooks.length === 0) {
      if (opts.json) out(JSON.stringify({ cluster: cluster.name, environment: plan.environment ?? null, oldMaster: om.name, newMaster: nm.name, dryRun: Boolean(opts.dryRun), phases: [], records: [] }, null, 2));
      else out(`${cluster.name}: no hooks configured${plan.environment ? ` for environment ${plan.environment}` : ''}`);
      return;
    }
    if (opts.dryRun && opts.json) {
      const phasesOut = phases.map((phase) => ({ phase, lines: describePhase(plan.hooks, evFor(phase, !opts.oldMasterUnreachable), cluster.ssh) }));
      out(JSON.stringify({ cluster: cluster.name, environment: plan.environment ?? null, kind, oldMaster: om.name, newMaster: nm.name, dryRun: true, phases: phasesOut }, null, 2));
      return;
    }
    if (opts.dryRun) {
      out(`${cluster.name}: ${kind} ${om.name} -> ${nm.name}, environment ${plan.environment ?? '(none: MHA script keys only)'} (dry run: nothing runs)`);
      for (const phase of phases) {
        const lines = describePhase(plan.hooks, evFor(phase, !opts.oldMasterUnreachable), cluster.ssh);
        out(`\nphase ${phase}:${lines.length === 0 ? ' no hooks' : ''}`);
        for (const l of lines) out(`  ${l}`);
      }
      return;
    }
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new UserError('the hooks really act (VIP, hosts files, HAProxy): pass --yes, or --dry-run', { exitCode: ExitCode.USAGE });
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`Run ${plan.hooks.length} hook(s) of ${cluster.name} (${plan.environment ?? 'MHA keys'}) as if ${om.name} failed over to ${nm.name}? (yes/NO): `);
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') throw new UserError('not confirmed: nothing done');
    }
    const reachable = opts.oldMasterUnreachable ? false : await sshReachableFor(cluster)(om);
    const records: HookRecord[] = [];
    let aborted: HookRecord | undefined;
    let sshReachable = reachable;
    for (const phase of phases) {
      if (aborted && phase !== 'report') continue;
      const r = await runHookPhase(plan.hooks, evFor(phase, sshReachable), cluster.ssh, {
        onRecord: (rec) => {
          records.push(rec);
          if (!opts.json) out(describeRecord(rec));
        },
      });
      if (r.sshReachable !== undefined) sshReachable = r.sshReachable;
      aborted ??= r.aborted;
    }
    if (opts.json) out(JSON.stringify({ cluster: cluster.name, environment: plan.environment ?? null, oldMaster: om.name, newMaster: nm.name, aborted: aborted?.name ?? null, records }, null, 2));
    else out(aborted ? `\nABORTED by hook ${aborted.name}: a failover would have stopped here` : records.every((r) => r.ok) ? `\nall ${records.length} hook run(s) ok` : `\n${records.filter((r) => !r.ok).length} hook run(s) failed; the policy said continue`);
    process.exitCode = aborted ? ExitCode.ERROR : records.every((r) => r.ok) ? ExitCode.OK : 10;
  });
}
