/**
 * What to do when a step of the plan fails (pure). The executor asks, and
 * does what it is told; it never decides on its own.
 *
 *   retry         try these steps on the same server instead
 *   choose_again  the new master cannot be brought level: plan again without it
 *                 (the next complete candidate, or a refusal)
 *   leave_out     the replica is not recovered: it is named with the reason, left
 *                 alone (never repointed as if it were level), the outcome is partial
 *   abort         before the new master is writable: undo what is safe, leave every
 *                 server read-only and the old master fenced; the outcome is failed
 *   partial       after the new master is writable: stop here; the old master stays
 *                 demoted, the outcome is partial, the monitor watches the new master
 *   continue      go on (e.g. no salvage: the loss is reported)
 *
 * Never after promotion: abort. Never for a replica: a repoint that would
 * skip events.
 */
import { formatCoord } from '../binlog-coord.js';
import type { FailoverPlan, Step, StepKind } from './plan.js';

/** A failover-wide step (no server of its own) or a plan step. */
export type FailedStep = StepKind | 'wait_relay_log' | 'fence' | 'refence' | 'salvage' | 'promote' | 'verify' | 'hooks' | 'leadership' | 'deadline' | 'cleanup';

export interface StepFailure {
  /** The server the step ran on; '' for a failover-wide step. */
  server: string;
  step: FailedStep;
  reason: string;
  /** The new master is writable (or read_only=OFF was sent). */
  promoted: boolean;
  /** What was already tried on this server (kinds, with the source where there is one). */
  tried: ReadonlyArray<{ kind: StepKind; source?: string | undefined }>;
}

export type Fallback =
  | { action: 'retry'; server: string; steps: Step[]; reason: string }
  | { action: 'choose_again'; exclude: string; reason: string }
  | { action: 'leave_out'; server: string; reason: string }
  | { action: 'abort'; reason: string }
  | { action: 'partial'; reason: string }
  | { action: 'continue'; reason: string };

function triedSource(f: StepFailure, kind: StepKind, source: string): boolean {
  return f.tried.some((t) => t.kind === kind && t.source === source);
}

export function onStepFailed(plan: FailoverPlan, f: StepFailure): Fallback {
  const nm = plan.newMaster;
  const why = `${f.server ? `${f.server}: ` : ''}${f.step} failed: ${f.reason}`;
  // Failover-wide steps.
  if (f.step === 'salvage') return { action: 'continue', reason: `the dead master's binlog could not be saved (${f.reason}); lost: ${plan.expectedLoss.ifSalvageFails ?? plan.expectedLoss.text}` };
  if (f.step === 'cleanup') return { action: 'continue', reason: why };
  if (f.server === '' || f.step === 'fence' || f.step === 'refence' || f.step === 'promote' || f.step === 'hooks' || f.step === 'leadership' || f.step === 'deadline') {
    return f.promoted ? { action: 'partial', reason: why } : { action: 'abort', reason: why };
  }
  // The new master's own catch-up, before promotion.
  if (nm !== undefined && f.server === nm.name) {
    if (f.promoted) return { action: 'partial', reason: why };
    if (f.step === 'relay_diff' || f.step === 'gtid_catch_up') {
      const relay = plan.sources.relay.find((s) => s !== nm.name && !triedSource(f, 'relay_diff', s));
      const gtid = plan.sources.gtid.find((s) => s !== nm.name && !triedSource(f, 'gtid_catch_up', s));
      if (gtid !== undefined && (plan.mode === 'gtid' || plan.flavor === 'mariadb')) return { action: 'retry', server: nm.name, steps: [{ kind: 'gtid_catch_up', source: gtid }], reason: `${why}; catching it up from ${gtid} by GTID instead` };
      if (relay !== undefined) return { action: 'retry', server: nm.name, steps: [{ kind: 'relay_diff', source: relay, from: nm.holds.coord }], reason: `${why}; taking the events from ${relay}'s relay logs instead` };
    }
    return { action: 'choose_again', exclude: nm.name, reason: f.reason };
  }
  // Another survivor.
  const r = plan.replicas.find((x) => x.name === f.server);
  if (r === undefined) return { action: 'leave_out', server: f.server, reason: f.reason };
  if (f.step === 'wait_relay_log') return { action: 'continue', reason: `${f.server} is still applying its relay log (${f.reason}): it is recovered after the new master is writable` };
  if (f.step === 'relay_diff') {
    const other = plan.sources.relay.find((s) => s !== f.server && !triedSource(f, 'relay_diff', s));
    if (other !== undefined) return { action: 'retry', server: f.server, steps: [{ kind: 'relay_diff', source: other, from: r.holds.coord }, ...r.steps.filter((s) => s.kind === 'repoint_gtid' || s.kind === 'repoint_position')], reason: `${why}; taking the events from ${other}'s relay logs instead` };
    if (nm?.binlogHasHistory) {
      if (plan.mode === 'gtid' && !f.tried.some((t) => t.kind === 'repoint_gtid')) return { action: 'retry', server: f.server, steps: [{ kind: 'repoint_gtid', ...(r.delay > 0 ? { keepDelay: r.delay } : {}) }], reason: `${why}; ${nm.name}'s binlog holds the history: replicating from it by GTID brings ${f.server} level` };
      if (plan.mode === 'position' && plan.flavor === 'mariadb' && !f.tried.some((t) => t.kind === 'gtid_then_positions')) return { action: 'retry', server: f.server, steps: [{ kind: 'gtid_then_positions' }], reason: `${why}; catching it up from ${nm.name} by GTID, then back to positions` };
    }
    const upTo = plan.latest.coord ? formatCoord(plan.latest.coord) : '?';
    return { action: 'leave_out', server: f.server, reason: `applied less than ${plan.latest.names.join(', ')} (${formatCoord(r.holds.coord)} < ${upTo}) and the missing events could not be taken from the relay logs (${f.reason}); repointing it would skip them: recover it by hand` };
  }
  return { action: 'leave_out', server: f.server, reason: f.reason };
}
