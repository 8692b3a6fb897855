/**
 * The repeated-failover guard (MHA's failover.complete / failover.error, and
 * orchestrator's acknowledgements), as a pure fold over the journal.
 *
 * - A failover that did not finish (the manager died mid-way) blocks
 *   everything until an operator acknowledges it: never start a second,
 *   conflicting failover blindly.
 * - A failed failover blocks automatic failovers until acknowledged.
 * - A completed failover blocks automatic failovers for last_failover_minute
 *   unless acknowledged.
 */
import { isoTime } from './time.js';
import type { FailoverPlan } from './failover/plan.js';

export type FailoverOutcome = 'success' | 'partial' | 'failed' | 'refused';

export type JournalRecord =
  | { type: 'begin'; id: string; cluster: string; at: number; deadMaster: string; trigger: 'auto' | 'manual'; reason: string }
  | { type: 'phase'; id: string; phase: string; at: number; durationMs: number; ok: boolean; detail?: unknown }
  | { type: 'event'; id: string; at: number; message: string; detail?: unknown }
  | { type: 'end'; id: string; at: number; outcome: FailoverOutcome; newMaster?: string | undefined; oldMaster: string; durationMs: number; reason: string; lost?: string | undefined; detail?: unknown }
  | { type: 'ack'; id: string; at: number; by: string }
  /** The old master of failover `id` was seen replicating, healthy, from the current master. */
  | { type: 'rejoin'; id: string; at: number; server: string }
  /** The failover's plan, journaled as one record before anything changes (again when it is revised). */
  | { type: 'plan'; id: string; at: number; revision: number; reason: string; plan: FailoverPlan }
  /** One step of the plan, after it ran. */
  | { type: 'step'; id: string; at: number; server: string; step: string; ok: boolean; durationMs: number; detail?: string | undefined }
  /** Fencing of the old master began: from here on it is demoted, whatever the outcome. */
  | { type: 'demoted'; id: string; at: number; server: string }
  /** The new master accepts writes (read_only=OFF). */
  | { type: 'promoted'; id: string; at: number; server: string }
  /**
   * The old master of failover `id` is the master of a cluster rebuilt around it (its replicas
   * follow it, no other server is the writable master): it is a member again, not a failed server.
   */
  | { type: 'adopted'; id: string; at: number; server: string; reason: string }
  /** A planned switchover started (CLI or API); `by` is who asked. Not a failover: the guard ignores it. */
  | { type: 'switchover'; id: string; cluster: string; at: number; by: string; from: string; to: string }
  | { type: 'switchover_end'; id: string; at: number; outcome: SwitchoverOutcomeName; oldMaster?: string | undefined; newMaster?: string | undefined; durationMs: number; writeBlockedMs?: number | undefined; reason: string; steps: Array<{ step: string; durationMs: number; ok: boolean; detail?: string | undefined }> }
  /** An authenticated write through the HTTP API: who, what, and how it ended. */
  | { type: 'write'; id: string; at: number; by: string; action: string; cluster: string; status: number; outcome: string; detail?: string | undefined; job?: string | undefined };

export type SwitchoverOutcomeName = 'success' | 'partial' | 'refused' | 'rolled_back' | 'failed';

export interface FailoverSummary {
  id: string;
  startedAt: number;
  deadMaster: string;
  trigger: 'auto' | 'manual';
  endedAt?: number | undefined;
  outcome?: FailoverOutcome | undefined;
  newMaster?: string | undefined;
  reason?: string | undefined;
  lost?: string | undefined;
  durationMs?: number | undefined;
  acked: boolean;
  /** The old master came back as a healthy replica, or the cluster was rebuilt around it (adopted). */
  rejoined: boolean;
  /** The server demoted (fenced) by this failover, from the moment fencing began. */
  demoted?: string | undefined;
  /** When the new master took writes (a 'promoted' record), even if the failover never finished. */
  promotedAt?: number | undefined;
  /** The cluster was rebuilt around the old master (an 'adopted' record). */
  adopted?: { at: number; reason: string } | undefined;
  phases: Array<{ phase: string; durationMs: number; ok: boolean }>;
}

export function summarize(records: JournalRecord[]): FailoverSummary[] {
  const byId = new Map<string, FailoverSummary>();
  const order: string[] = [];
  for (const r of records) {
    if (r.type === 'begin') {
      byId.set(r.id, { id: r.id, startedAt: r.at, deadMaster: r.deadMaster, trigger: r.trigger, acked: false, rejoined: false, phases: [] });
      order.push(r.id);
      continue;
    }
    const s = byId.get(r.id);
    if (s === undefined) continue;
    if (r.type === 'phase') s.phases.push({ phase: r.phase, durationMs: r.durationMs, ok: r.ok });
    else if (r.type === 'end') {
      s.endedAt = r.at;
      s.outcome = r.outcome;
      s.newMaster = r.newMaster ?? s.newMaster;
      s.reason = r.reason;
      s.lost = r.lost;
      s.durationMs = r.durationMs;
    } else if (r.type === 'ack') s.acked = true;
    else if (r.type === 'rejoin') s.rejoined = true;
    else if (r.type === 'demoted') s.demoted = r.server;
    else if (r.type === 'promoted') {
      s.promotedAt = r.at;
      s.newMaster ??= r.server;
    } else if (r.type === 'adopted') {
      s.rejoined = true;
      s.adopted = { at: r.at, reason: r.reason };
    }
  }
  return order.map((id) => byId.get(id)!);
}

export type GuardDecision = { allowed: true } | { allowed: false; reason: string; blocking: string };

/** MHA's state files in manager_workdir, left by a failover MHA ran (read by an adapter). */
export interface MhaStateFiles {
  /** <workdir>/<app>.failover.error exists: MHA's last failover failed. */
  error?: { path: string; mtime: number } | undefined;
  /** <workdir>/<app>.failover.complete exists: MHA's last failover finished at its mtime. */
  complete?: { path: string; mtime: number } | undefined;
}

/**
 * The guard. `mha`: MHA's failover.error blocks automatic failover until it is
 * removed (mhats ack removes it); failover.complete blocks it for
 * last_failover_minute after its mtime, as in MHA.
 */
export function guard(summaries: FailoverSummary[], now: number, lastFailoverMinute: number, trigger: 'auto' | 'manual', cluster: string, mha?: MhaStateFiles): GuardDecision {
  const g = guardJournal(summaries, now, lastFailoverMinute, trigger, cluster);
  if (!g.allowed || trigger === 'manual' || !mha) return g;
  if (mha.error) {
    return { allowed: false, blocking: 'mha:failover.error', reason: `${mha.error.path} exists (${isoTime(mha.error.mtime)}): the last failover, run by MHA, failed; automatic failover is blocked until an operator checks the topology and acknowledges it: mhats ack ${cluster} (removes the file, as MHA wants it removed)` };
  }
  if (mha.complete && now - mha.complete.mtime < lastFailoverMinute * 60_000) {
    const mins = Math.round((now - mha.complete.mtime) / 60_000);
    return { allowed: false, blocking: 'mha:failover.complete', reason: `${mha.complete.path} says MHA finished a failover ${mins} minute(s) ago (${isoTime(mha.complete.mtime)}), inside last_failover_minute=${lastFailoverMinute}; refusing another automatic failover (MHA's flapping guard). Acknowledge it to allow one: mhats ack ${cluster}` };
  }
  return g;
}

function guardJournal(summaries: FailoverSummary[], now: number, lastFailoverMinute: number, trigger: 'auto' | 'manual', cluster: string): GuardDecision {
  const relevant = summaries.filter((s) => s.outcome !== 'refused');
  for (const s of relevant) {
    if (s.outcome === undefined && !s.acked) {
      return {
        allowed: false,
        blocking: s.id,
        reason: `failover ${s.id} of ${s.deadMaster}, started ${isoTime(s.startedAt)}, never finished (the manager stopped during it). Check the topology by hand (mhats status), then acknowledge it: mhats ack ${cluster}`,
      };
    }
  }
  if (trigger === 'manual') return { allowed: true };
  for (const s of relevant) {
    if (s.outcome === 'failed' && !s.acked) {
      return { allowed: false, blocking: s.id, reason: `failover ${s.id} failed (${s.reason ?? '?'}); automatic failover is blocked until an operator acknowledges it: mhats ack ${cluster}` };
    }
  }
  const last = [...relevant].reverse().find((s) => s.outcome === 'success' || s.outcome === 'partial');
  if (last?.endedAt !== undefined && !last.acked && now - last.endedAt < lastFailoverMinute * 60_000) {
    const mins = Math.round((now - last.endedAt) / 60_000);
    return {
      allowed: false,
      blocking: last.id,
      reason: `the last failover (${last.id}, ${last.deadMaster} → ${last.newMaster ?? '?'}) was ${mins} minute(s) ago, inside last_failover_minute=${lastFailoverMinute}; refusing another automatic failover (flapping guard). Acknowledge it to allow one: mhats ack ${cluster}`,
    };
  }
  return { allowed: true };
}

/**
 * Old masters that are not back: never promoted, never repointed
 * automatically, left out of the analysis, and fenced (read_only) whenever
 * they answer while the cluster has moved on (reconcile.ts). A server is
 * demoted from the moment fencing began, whatever the failover's outcome
 * (failed, partial, or never finished); older journals without that record
 * count the old master of every successful or partial failover. It stops
 * being failed when it rejoins as a healthy replica, when the cluster is
 * rebuilt around it (adopted), or when it became a new master later.
 * Acknowledging a failover re-allows automatic failover; it does not make a
 * dead server alive.
 */
export function failedServers(summaries: FailoverSummary[]): string[] {
  const out = new Set<string>();
  for (const s of summaries) {
    const demoted = s.demoted ?? (s.outcome === 'success' || s.outcome === 'partial' ? s.deadMaster : undefined);
    if (demoted === undefined) continue;
    if (s.rejoined) out.delete(demoted);
    else out.add(demoted);
    // A server promoted by a later failover is a member again.
    if (s.newMaster !== undefined && s.promotedAt !== undefined) out.delete(s.newMaster);
  }
  // A server that was failed over and later became master again (manual switch) is not failed.
  const last = [...summaries].reverse().find((s) => s.newMaster !== undefined && (s.outcome === 'success' || s.outcome === 'partial' || s.promotedAt !== undefined));
  if (last?.newMaster) out.delete(last.newMaster);
  return [...out];
}
