/**
 * The hook model's public API (config: src/config/hooks.ts).
 *
 * For the switchover (MHA's master_ip_online_change_script and the built-ins
 * in phases online_change_stop / online_change_start):
 *
 *   const r = await runOnlineChangeHooks({ cluster, id, command: 'stop', orig: om, newMaster: nm, origIsNewSlave });
 *   if (r.aborted) throw new SwitchFailed(`hook ${r.aborted.name} failed (${r.aborted.detail})`);
 *   // r.records: every hook's verdict, for the report/journal.
 *
 * On a rollback, pass rollback: true and newMaster: om (the original master
 * takes the writes again), as MHA's "start" with the sides swapped.
 */
import { hooksFor, type HookPhase } from '../../config/hooks.js';
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { runHookPhase, type RunnerDeps } from './runner.js';
import type { HookRecord, PhaseOutcome } from './types.js';

export { runHookPhase, describePhase, describeRecord, phaseBudgetMs, verdictOf, mhaScriptArgs } from './runner.js';
export type { RunnerDeps } from './runner.js';
export { contextEnv, contextDocument, mhaCommand, type HookEvent } from './context.js';
export type { HookRecord, PhaseOutcome, HostReport, BuiltinResult, HookVerdictKind } from './types.js';
export { killHookGroups, runningHookGroups, runProcess, runScript } from './run-script.js';
export * from './mha-args.js';

export interface OnlineChangeRun {
  cluster: ClusterConfig;
  /** The switchover's id (MHATS_SWITCHOVER_ID). */
  id: string;
  command: 'stop' | 'start';
  orig: ServerConfig;
  newMaster: ServerConfig;
  origIsNewSlave: boolean;
  rollback?: boolean | undefined;
  /** Hook set; default the cluster's hooks.environment. */
  environment?: string | undefined;
  /** Extra MHATS_* variables (e.g. a fencing token). */
  env?: Record<string, string> | undefined;
  deps?: RunnerDeps | undefined;
}

/** Runs the online-change hooks (phase online_change_stop or online_change_start) with MHA's semantics. */
export async function runOnlineChangeHooks(r: OnlineChangeRun): Promise<PhaseOutcome> {
  const plan = hooksFor(r.cluster, r.environment);
  const phase: HookPhase = r.command === 'stop' ? 'online_change_stop' : 'online_change_start';
  if (!plan.ok) {
    const rec: HookRecord = { name: 'hooks', type: 'command', phase, policy: 'abort', verdict: 'abort', ok: false, timedOut: false, durationMs: 0, detail: plan.reason };
    return { phase, records: [rec], aborted: rec };
  }
  return runHookPhase(
    plan.hooks,
    { kind: 'switchover', phase, cluster: r.cluster, id: r.id, environment: plan.environment, origMaster: r.orig, newMaster: r.newMaster, origMasterIsNewSlave: r.origIsNewSlave, rollback: r.rollback, env: r.env },
    r.cluster.ssh,
    r.deps,
  );
}
