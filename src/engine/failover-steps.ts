/**
 * Runs one server's steps of the plan through the small I/O operations, and
 * on a failure does what onStepFailed() (src/domain/failover/fallback.ts)
 * says: retry other steps, leave the replica out, choose another new master,
 * abort, or stop as partial. No decision is made here.
 */
import type { ServerConfig } from '../config/types.js';
import { formatCoord } from '../domain/binlog-coord.js';
import { onStepFailed } from '../domain/failover/fallback.js';
import { describeStep, type FailoverPlan, type Step, type StepKind } from '../domain/failover/plan.js';
import type { ServerObservation } from '../domain/types.js';
import { FailoverFailed, replUser } from './ops/admin.js';
import { RelayCatchUp } from './ops/catch-up.js';
import { applyOwnRelayLog, gtidCatchUp, gtidThenPositions, repoint, restoreDelay, stopSqlThread, verifyHolds, type OpCtx, type Target } from './ops/replica.js';
import { StopPartial, type FailoverRun } from './failover-run.js';

/** The new master cannot be brought level: plan again without it. */
export class ChooseAgain extends Error {
  readonly exclude: string;
  constructor(exclude: string, reason: string) {
    super(reason);
    this.name = 'ChooseAgain';
    this.exclude = exclude;
  }
}

export interface StepEnv {
  run: FailoverRun;
  plan: FailoverPlan;
  /** Observations of the survivors (replication user). */
  obs: ReadonlyMap<string, ServerObservation>;
  newMaster: ServerConfig;
  /** Position-mode replicas start here in the new master's binlog (before the saved transactions). */
  repointCoord?: import('../domain/types.js').BinlogCoord | undefined;
  /** What the new master holds at promotion: every recovered replica is verified to hold it. */
  target?: Target | undefined;
  relay: Map<string, RelayCatchUp>;
  /** Deadlines, ms. */
  applyMs: number;
  verifyMs: number;
  /**
   * Called before a step that repoints `name` (CHANGE MASTER discards its relay logs): a survivor
   * whose relay logs others take events from is repointed only once they have all taken them.
   */
  beforeRepoint?: ((name: string) => Promise<void>) | undefined;
  /** Called when `name` has no more level-bringing steps (ended, or about to be repointed). */
  levelDone?: ((name: string) => void) | undefined;
}

const REPOINTS: ReadonlySet<StepKind> = new Set(['repoint_gtid', 'repoint_position', 'gtid_then_positions']);

export type StepsResult = { ok: true; detail: string } | { ok: false; reason: string };

function relayFrom(env: StepEnv, source: string): RelayCatchUp {
  let r = env.relay.get(source);
  if (r === undefined) {
    r = new RelayCatchUp(env.run.cluster, env.run.server(source));
    env.relay.set(source, r);
  }
  return r;
}

/** Reads now, from `source`'s relay logs, the events after `from` that a relay_diff step will apply later (RelayCatchUp.prefetch). */
export async function prefetchRelayDiff(env: StepEnv, source: string, from: import('../domain/types.js').BinlogCoord, signal?: AbortSignal): Promise<{ ok: boolean; reason?: string }> {
  const r = await relayFrom(env, source).prefetch(from, signal);
  return r.ok ? { ok: true } : { ok: false, reason: r.reason };
}

async function execStep(env: StepEnv, s: ServerConfig, step: Step, ctx: OpCtx): Promise<string> {
  const { run } = env;
  const user = replUser(run.cluster, env.obs.get(s.name) ?? ({} as ServerObservation));
  const needTarget = (): Target => {
    if (env.target === undefined) throw new FailoverFailed(`${describeStep(step, env.newMaster.name)}: only after the promotion`);
    return env.target;
  };
  switch (step.kind) {
    case 'relay_diff': {
      // Its own open transaction (a relay log ending mid-transaction) would hold the diff's row locks.
      const at = await stopSqlThread(s, ctx);
      const r = await relayFrom(env, step.source).catchUp(s, at.exec, ctx.signal);
      return r.transactions === 0 ? `nothing to apply after ${formatCoord(at.exec)}` : `applied ${r.transactions} transaction(s) it lacked from ${step.source}'s relay logs (after ${formatCoord(at.exec)}) in ${r.ms} ms`;
    }
    case 'gtid_catch_up': {
      const upTo = await gtidCatchUp(s, run.server(step.source), ctx, user, env.applyMs);
      return `caught up from ${step.source} by GTID to ${upTo}`;
    }
    case 'apply_own_relay_log': {
      const a = await applyOwnRelayLog(s, ctx, step.liftDelay, env.applyMs);
      return `applied its own relay log up to ${formatCoord(a.exec)}`;
    }
    case 'gtid_then_positions':
      await gtidThenPositions(s, ctx, { master: env.newMaster, replUser: user, delay: env.obs.get(s.name)?.replica?.sqlDelay || undefined }, needTarget(), env.verifyMs);
      return `caught up from ${env.newMaster.name} by GTID, then back to binlog positions`;
    case 'repoint_gtid':
    case 'repoint_position': {
      const t = needTarget();
      if (step.kind === 'repoint_position' && env.repointCoord === undefined) throw new FailoverFailed(`${env.newMaster.name} has no binlog position to replicate from`);
      // A delayed replica is brought level first, with its delay off: everything the new master held at
      // promotion (the dead master's saved transactions included) is applied at once, as on every other
      // survivor; then its MASTER_DELAY is restored for what comes next.
      const delay = step.keepDelay ?? 0;
      await repoint(s, ctx, { master: env.newMaster, replUser: user, how: step.kind === 'repoint_gtid' ? { gtid: true } : { gtid: false, coord: env.repointCoord! }, delay: delay > 0 ? 0 : undefined });
      const held = await verifyHolds(s, ctx, t, false, env.verifyMs);
      if (delay === 0) return held;
      await restoreDelay(s, ctx, delay);
      return `${held}; MASTER_DELAY=${delay} restored`;
    }
    case 'manual':
      throw new FailoverFailed(step.reason);
  }
}

/**
 * Runs `steps` on server `name`. Resolves ok, or not recovered with the
 * reason; throws ChooseAgain / FailoverFailed (abort) / StopPartial as the
 * fallback says.
 */
export async function runSteps(env: StepEnv, name: string, steps: readonly Step[], signal?: AbortSignal): Promise<StepsResult> {
  const { run } = env;
  const s = run.server(name);
  const ctx: OpCtx = { cluster: run.cluster, signal };
  const tried: Array<{ kind: StepKind; source?: string | undefined }> = [];
  const queue = [...steps];
  const done: string[] = [];
  try {
    return await stepLoop();
  } finally {
    env.levelDone?.(name);
  }
  async function stepLoop(): Promise<StepsResult> {
  while (queue.length > 0) {
    const step = queue.shift()!;
    if (step.kind === 'manual') return { ok: false, reason: step.reason };
    if (REPOINTS.has(step.kind)) await env.beforeRepoint?.(name);
    try {
      const detail = await run.step(name, step.kind, () => execStep(env, s, step, ctx), (d) => d);
      run.event(`${name}: ${detail}`);
      done.push(detail);
      tried.push({ kind: step.kind, source: 'source' in step ? step.source : undefined });
    } catch (err) {
      if (signal?.aborted) throw err;
      tried.push({ kind: step.kind, source: 'source' in step ? step.source : undefined });
      const fb = onStepFailed(env.plan, { server: name, step: step.kind, reason: (err as Error).message, promoted: run.promoted, tried });
      switch (fb.action) {
        case 'retry':
          run.event(fb.reason);
          queue.splice(0, queue.length, ...fb.steps);
          continue;
        case 'continue':
          run.event(fb.reason);
          continue;
        case 'leave_out':
          return { ok: false, reason: fb.reason };
        case 'choose_again':
          throw new ChooseAgain(fb.exclude, fb.reason);
        case 'abort':
          throw new FailoverFailed(fb.reason);
        case 'partial':
          throw new StopPartial(fb.reason);
      }
    }
  }
  return { ok: true, detail: done.join('; ') || 'level' };
  }
}
