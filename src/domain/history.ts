/**
 * A cluster's history, from its journal: every failover and switchover as a
 * timeline of phases (start, duration, outcome) with its loss and hook
 * outcomes, every acknowledgement and every write made through the HTTP API.
 * Pure: the records in, the entries out, newest first. (Maintenance entries
 * join here when maintenance is journaled.)
 */
import type { FailoverOutcome, JournalRecord, SwitchoverOutcomeName } from './guard.js';

export interface PhaseBar {
  name: string;
  /** ms since epoch. Failover phases: measured; switchover steps: laid end to end from the start. */
  startedAt: number;
  durationMs: number;
  ok: boolean;
  detail?: string | undefined;
}

export interface HookOutcome {
  at: number;
  name: string;
  phase: string;
  verdict: string;
  exitCode?: number | null | undefined;
  timedOut?: boolean | undefined;
}

export type FailoverState = FailoverOutcome | 'running' | 'unfinished';
export type SwitchoverState = SwitchoverOutcomeName | 'running' | 'unfinished';

export type HistoryEntry =
  | {
      kind: 'failover';
      id: string;
      trigger: 'auto' | 'manual';
      deadMaster: string;
      newMaster?: string | undefined;
      startedAt: number;
      endedAt?: number | undefined;
      durationMs?: number | undefined;
      outcome: FailoverState;
      reason?: string | undefined;
      why: string;
      lost?: string | undefined;
      acked: boolean;
      ackedBy?: string | undefined;
      rejoined: boolean;
      phases: PhaseBar[];
      /** Each step of the plan on each server, as it ended (the executor's 'step' records). */
      steps: Array<PhaseBar & { server: string }>;
      /** When the new master accepted writes. */
      promotedAt?: number | undefined;
      /** The new master it planned (the last revision of its plan) and what it expected to lose; revision: how many plans it journaled. */
      planned?: { newMaster?: string | undefined; expectedLoss: string; revision: number } | undefined;
      hooks: HookOutcome[];
      events: Array<{ at: number; message: string }>;
    }
  | {
      kind: 'switchover';
      id: string;
      by: string;
      from: string;
      to: string;
      startedAt: number;
      endedAt?: number | undefined;
      durationMs?: number | undefined;
      outcome: SwitchoverState;
      reason?: string | undefined;
      writeBlockedMs?: number | undefined;
      steps: PhaseBar[];
    }
  | { kind: 'ack'; id: string; at: number; by: string }
  | { kind: 'write'; id: string; at: number; by: string; action: string; status: number; outcome: string; detail?: string | undefined; job?: string | undefined };

/** The time an entry sorts by: when it started (or happened). */
export function entryTime(e: HistoryEntry): number {
  return e.kind === 'failover' || e.kind === 'switchover' ? e.startedAt : e.at;
}

function hookOf(detail: unknown): Omit<HookOutcome, 'at'> | undefined {
  if (detail === null || typeof detail !== 'object') return undefined;
  const d = detail as Record<string, unknown>;
  if (typeof d.hook !== 'string' || typeof d.phase !== 'string' || typeof d.verdict !== 'string') return undefined;
  return { name: d.hook, phase: d.phase, verdict: d.verdict, exitCode: typeof d.exitCode === 'number' || d.exitCode === null ? d.exitCode : undefined, timedOut: typeof d.timedOut === 'boolean' ? d.timedOut : undefined };
}

/**
 * The history, newest first. `running`: ids of operations in progress in this process (an entry
 * without an end is otherwise 'unfinished': its manager stopped during it). At most `limit` entries.
 */
export function history(records: readonly JournalRecord[], opts: { running?: ReadonlySet<string>; limit?: number } = {}): HistoryEntry[] {
  const running = opts.running ?? new Set<string>();
  const byId = new Map<string, HistoryEntry>();
  const out: HistoryEntry[] = [];
  for (const r of records) {
    switch (r.type) {
      case 'begin': {
        const e: HistoryEntry = { kind: 'failover', id: r.id, trigger: r.trigger, deadMaster: r.deadMaster, startedAt: r.at, outcome: running.has(r.id) ? 'running' : 'unfinished', why: r.reason, acked: false, rejoined: false, phases: [], steps: [], hooks: [], events: [] };
        byId.set(r.id, e);
        out.push(e);
        break;
      }
      case 'phase': {
        const e = byId.get(r.id);
        if (e?.kind === 'failover') e.phases.push({ name: r.phase, startedAt: r.at - r.durationMs, durationMs: r.durationMs, ok: r.ok });
        break;
      }
      case 'event': {
        const e = byId.get(r.id);
        if (e?.kind !== 'failover') break;
        const h = hookOf(r.detail);
        if (h) e.hooks.push({ at: r.at, ...h });
        else e.events.push({ at: r.at, message: r.message });
        break;
      }
      case 'end': {
        const e = byId.get(r.id);
        if (e?.kind !== 'failover') break;
        e.endedAt = r.at;
        e.durationMs = r.durationMs;
        e.outcome = r.outcome;
        e.newMaster = r.newMaster;
        e.reason = r.reason;
        e.lost = r.lost;
        break;
      }
      case 'ack': {
        const e = byId.get(r.id);
        if (e?.kind === 'failover') {
          e.acked = true;
          e.ackedBy = r.by;
        }
        out.push({ kind: 'ack', id: r.id, at: r.at, by: r.by });
        break;
      }
      case 'rejoin': {
        const e = byId.get(r.id);
        if (e?.kind === 'failover') e.rejoined = true;
        break;
      }
      case 'switchover': {
        const e: HistoryEntry = { kind: 'switchover', id: r.id, by: r.by, from: r.from, to: r.to, startedAt: r.at, outcome: running.has(r.id) ? 'running' : 'unfinished', steps: [] };
        byId.set(r.id, e);
        out.push(e);
        break;
      }
      case 'switchover_end': {
        const e = byId.get(r.id);
        if (e?.kind !== 'switchover') break;
        e.endedAt = r.at;
        e.durationMs = r.durationMs;
        e.outcome = r.outcome;
        e.reason = r.reason;
        e.writeBlockedMs = r.writeBlockedMs;
        if (r.newMaster !== undefined) e.to = r.newMaster;
        let t = e.startedAt;
        e.steps = r.steps.map((s) => {
          const bar: PhaseBar = { name: s.step, startedAt: t, durationMs: s.durationMs, ok: s.ok, ...(s.detail !== undefined ? { detail: s.detail } : {}) };
          t += s.durationMs;
          return bar;
        });
        break;
      }
      case 'plan': {
        // Journal records are read back from disk (or etcd), maybe written by another version: read them defensively.
        const e = byId.get(r.id);
        if (e?.kind !== 'failover') break;
        e.events.push({ at: r.at, message: `plan${e.planned ? ' revised' : ''}: ${r.plan.ok ? `promote ${r.plan.newMaster?.name ?? '?'}` : `refuse: ${r.plan.refusal?.reason ?? ''}`} (${r.reason})` });
        e.planned = { newMaster: r.plan.ok ? r.plan.newMaster?.name : undefined, expectedLoss: (r.plan.expectedLoss as { text?: string } | undefined)?.text ?? 'not recorded', revision: (e.planned?.revision ?? 0) + 1 };
        break;
      }
      case 'step': {
        const e = byId.get(r.id);
        if (e?.kind !== 'failover') break;
        e.steps.push({ server: r.server, name: r.step, startedAt: r.at - r.durationMs, durationMs: r.durationMs, ok: r.ok, ...(r.detail !== undefined ? { detail: r.detail } : {}) });
        // A failed step is also worth a line of its own.
        if (!r.ok) e.events.push({ at: r.at, message: `${r.server}: ${r.step} FAILED in ${r.durationMs} ms${r.detail ? ` (${r.detail})` : ''}` });
        break;
      }
      case 'demoted': {
        const e = byId.get(r.id);
        if (e?.kind === 'failover') e.events.push({ at: r.at, message: `${r.server} demoted (fencing began): it stays fenced whatever happens next` });
        break;
      }
      case 'promoted': {
        const e = byId.get(r.id);
        if (e?.kind !== 'failover') break;
        e.promotedAt = r.at;
        e.events.push({ at: r.at, message: `${r.server} accepts writes` });
        break;
      }
      case 'adopted': {
        const e = byId.get(r.id);
        if (e?.kind !== 'failover') break;
        // A member again (the master of the cluster rebuilt around it), not a failed server.
        e.rejoined = true;
        e.events.push({ at: r.at, message: `${r.server} adopted as the master of the cluster rebuilt around it: ${r.reason}` });
        break;
      }
      case 'write':
        out.push({ kind: 'write', id: r.id, at: r.at, by: r.by, action: r.action, status: r.status, outcome: r.outcome, detail: r.detail, job: r.job });
        break;
    }
  }
  const sorted = out.map((e, i) => ({ e, i })).sort((a, b) => entryTime(b.e) - entryTime(a.e) || b.i - a.i);
  return sorted.slice(0, opts.limit ?? sorted.length).map((x) => x.e);
}
