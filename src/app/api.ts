/**
 * The HTTP API's backend: what each endpoint reads and does, on the running
 * manager. Reads come from the monitors' last inspections and the journals
 * (no I/O to the databases). Writes run the same code as the command line
 * (src/app/actions.ts), inside the cluster's monitor loop (exclusive(): no
 * detection or automatic failover runs meanwhile), as jobs followed at
 * /api/v1/jobs/{id}.
 */
import { randomBytes } from 'node:crypto';
import type { ClusterConfig } from '../config/types.js';
import type { Secret } from '../domain/secret.js';
import { guard, summarize, type GuardDecision } from '../domain/guard.js';
import { history, type HistoryEntry, type PhaseBar as PhaseBarData } from '../domain/history.js';
import { isoTime } from '../domain/time.js';
import { describePlan, type PreCheck, type SwitchoverPlan } from '../domain/switchover.js';
import type { ClusterMonitor, MonitorPlan } from '../engine/monitor.js';
import type { Step as PlanStep } from '../domain/failover/plan.js';
import type { FailoverReport } from '../engine/failover.js';
import { onlineChangeHooksView, type Prepared } from '../engine/switchover.js';
import type { Logger } from '../ports/logger.js';
import type {
  AckBody, AckResult, ClusterSummary, RejoinBody, RejoinReport as RejoinReportView, ErrorBody, FailoverBody, Job, Journal, JournalEntry, MaintenanceEntry as MaintenanceEntryView, MaintenanceList, MaintenanceStartBody, MaintenanceStopBody, ManagerHealth, Overview, Plan, ServerView, SwitchoverBody, SwitchoverPlanBody, Topology,
} from '../adapters/http/api-schemas.js';
import type { LoadedConfig } from '../config/types.js';
import { readMhaStateFiles } from '../adapters/journal/mha-state-files.js';
import { activeEntries, type MaintenanceEntry, type StopTarget } from '../domain/maintenance.js';
import { listMaintenance, startMaintenance, stopMaintenance, type MaintenanceView } from './maintenance.js';
import { rejoin as rejoinCommand } from './rejoin.js';
import type { RejoinReport } from '../engine/rejoin.js';
import { formatCoord } from '../domain/binlog-coord.js';
import { UserError } from '../errors/errors.js';
import { ExitCode } from '../errors/exit-codes.js';
import { API_PREFIX, type Answer, type ApiBackend, type ApiCaller, type AuditEntry } from '../adapters/http/api.js';
import { ackFailovers, findDeadMaster, prepareClusterSwitchover, runJournaledSwitchover, SWITCHOVER_DEFAULTS, switchoverSetup } from './actions.js';

/** What the API needs of the manager. */
export interface ApiHost {
  entries(): Array<{ cluster: ClusterConfig; monitor: ClusterMonitor; restarting: boolean }>;
  /** Is this manager the one that acts (the leader, or a single manager)? */
  isLeader(): boolean;
  ha(): ManagerHealth['ha'];
  readonly ready: boolean;
  readonly stopping: boolean;
  readonly startedAt: number;
  /** The bearer token in force; undefined: writes are off. */
  token(): Secret | undefined;
  consoleDir(): string | undefined;
  /** The configuration in force (maintenance checks clusters and servers against it). */
  config(): LoadedConfig | undefined;
  /** The maintenance entries every monitor reads (undefined: not readable). */
  maintenance(): MaintenanceView | undefined;
}

const JOBS_KEPT = 100;
const HISTORY_IN_OVERVIEW = 15;

interface JobState {
  id: string;
  kind: 'switchover' | 'failover';
  cluster: string;
  state: 'queued' | 'running' | 'done';
  by: string;
  createdAt: number;
  startedAt?: number | undefined;
  endedAt?: number | undefined;
  outcome?: string | undefined;
  ok?: boolean | undefined;
  reason?: string | undefined;
  oldMaster?: string | undefined;
  newMaster?: string | undefined;
  journalId?: string | undefined;
  steps: Array<{ name: string; duration_ms: number; ok: boolean; detail?: string }>;
  notes: string[];
  writeBlockedMs?: number | undefined;
  lost?: string | undefined;
}

const iso = (t: number | undefined): string | null => (t === undefined || !Number.isFinite(t) ? null : isoTime(t));
const err = (status: 404 | 409 | 422 | 503, error: string, extra: Omit<ErrorBody, 'error'> = {}): { status: 404 | 409 | 422 | 503; body: ErrorBody } => ({ status, body: { error, ...extra } });
/** 422: one field of the request body is wrong ("invalid request: FIELD MESSAGE"). */
const invalidField = (field: string, message: string): { status: 422; body: ErrorBody } => ({ status: 422, body: { error: `invalid request: ${field} ${message}`, fields: [{ in: 'body', field, message }] } });

/** A server of the cluster named by its name, hostname or IP (the CLI accepts the same). */
function serverNamed(cluster: ClusterConfig, n: string): string | undefined {
  return cluster.servers.find((s) => s.name === n || s.hostname === n || s.ip === n)?.name;
}

/** A failover's or switchover's outcome that leaves a new master in place. */
const succeeded = (outcome: string): boolean => outcome === 'success' || outcome === 'partial';

// ---------------------------------------------------------------- views (pure mappings)

export function maintenanceEntryView(e: MaintenanceEntry, now: number): MaintenanceEntryView {
  const active = e.stoppedAt === undefined && now < e.expiresAt;
  return {
    id: e.id,
    scope: e.scope,
    cluster: e.cluster ?? null,
    server: e.server ?? null,
    owner: e.owner,
    reason: e.reason,
    started_at: isoTime(e.startedAt),
    expires_at: isoTime(e.expiresAt),
    stopped_at: iso(e.stoppedAt),
    stopped_by: e.stoppedBy ?? null,
    active,
    remaining_seconds: active ? Math.max(0, Math.round((e.expiresAt - now) / 1000)) : 0,
  };
}

/** One cluster's servers as the API shows them, from the monitor's last inspection. */
export function topologyView(cluster: ClusterConfig, m: ClusterMonitor, now: number): Topology {
  const snap = m.snapshot();
  const mt = m.maintenance();
  const serverMaintenance = (name: string): MaintenanceEntryView | null => {
    const e = mt.servers[name]?.[0];
    return e ? maintenanceEntryView(e, now) : null;
  };
  const a = m.lastAnalysis;
  const failed = new Set(snap.failed);
  const unreachable = new Map((a?.unreachable ?? []).map((u) => [u.name, u]));
  const masterName = m.master ?? a?.master;
  const servers: ServerView[] = cluster.servers.map((s) => {
    const base: ServerView = {
      name: s.name,
      host: s.hostname,
      port: s.port,
      role: 'unknown',
      fenced: false,
      candidate_master: s.candidate_master,
      no_master: s.no_master,
      source: null,
      read_only: null,
      version: null,
      io_thread: null,
      sql_thread: null,
      lag_seconds: null,
      gtid: null,
      binlog: null,
      errors: [],
      maintenance: serverMaintenance(s.name),
    };
    if (failed.has(s.name)) return { ...base, role: 'failed', fenced: true, errors: ['old master of a failover: kept read_only, out of the cluster until it replicates from the current master'] };
    const u = unreachable.get(s.name);
    if (u) return { ...base, role: s.name === masterName ? 'master' : 'unreachable', errors: [`${u.kind}: ${u.message}`] };
    if (a?.masterObs?.name === s.name) {
      const o = a.masterObs;
      const errors: string[] = [];
      if (s.name === m.master && snap.detector.phase !== 'healthy') errors.push(`health check failing (${snap.detector.consecutiveFailures}/${cluster.ping_failures})${snap.detector.lastFailure ? `: ${snap.detector.lastFailure.message}` : ''}`);
      return { ...base, role: 'master', read_only: o.readOnly, version: o.version.raw, binlog: o.binlog ? `${o.binlog.file}:${o.binlog.pos}` : null, gtid: o.gtid.executed || null, errors };
    }
    const r = a?.replicas.find((x) => x.name === s.name);
    if (r) {
      const rs = r.obs.replica;
      const errors = [rs?.lastIoError ? `IO thread: ${rs.lastIoError}` : '', rs?.lastSqlError ? `SQL thread: ${rs.lastSqlError}` : ''].filter(Boolean);
      return {
        ...base,
        role: 'replica',
        source: r.source ?? (rs ? `${rs.sourceHost}:${rs.sourcePort}` : null),
        read_only: r.obs.readOnly,
        version: r.obs.version.raw,
        io_thread: rs?.ioRunning ?? null,
        sql_thread: rs?.sqlRunning ?? null,
        lag_seconds: rs?.secondsBehind ?? null,
        gtid: (rs?.gtidAutoPosition ? r.obs.gtid.executed || rs.executedGtidSet : '') || null,
        binlog: rs ? `${rs.read.file}:${rs.read.pos}` : null,
        errors,
      };
    }
    return base;
  });
  // The master seen by health checks may be ahead of the last full inspection (a failover just ended).
  if (m.master !== undefined) for (const s of servers) if (s.name === m.master && s.role === 'unknown') s.role = 'master';
  return {
    cluster: cluster.name,
    state: m.state,
    master: m.master ?? a?.master ?? null,
    healthy: a ? a.healthy : null,
    mode: a?.mode ?? null,
    inspected_at: iso(a?.masterObs?.observedAt ?? a?.replicas[0]?.obs.observedAt),
    in_failover: m.inFailover,
    activity: m.activity ? { what: m.activity.what, since: isoTime(m.activity.since) } : null,
    servers,
    errors: snap.lastAnalysis?.errors ?? [],
    warnings: a ? a.findings.filter((f) => f.severity === 'warning').map((f) => `${f.server ?? cluster.name}: ${f.message}`) : [],
    maintenance: {
      held: mt.clusterWide.length > 0,
      held_dead_master: m.heldByMaintenance !== undefined,
      entries: [...mt.clusterWide, ...Object.values(mt.servers).flat()].map((e) => maintenanceEntryView(e, now)),
    },
  };
}

function automaticFailover(g: GuardDecision): ClusterSummary['automatic_failover'] {
  return g.allowed ? { allowed: true } : { allowed: false, reason: g.reason, blocking: g.blocking };
}

/** One step of the failover plan, for a person. */
export function stepText(st: PlanStep, newMaster: string | undefined): string {
  const nm = newMaster ?? 'the new master';
  switch (st.kind) {
    case 'relay_diff':
      return `apply the events after ${formatCoord(st.from)} from ${st.source}'s relay logs`;
    case 'gtid_catch_up':
      return `catch up from ${st.source} by GTID`;
    case 'apply_own_relay_log':
      return `apply its own relay log${st.liftDelay ? ' (its delay lifted)' : ''}`;
    case 'gtid_then_positions':
      return `catch up from ${nm} by GTID, then replicate by binlog positions`;
    case 'repoint_gtid':
      return `replicate from ${nm} by GTID${st.keepDelay ? ` (keeping its ${st.keepDelay} s delay)` : ''}`;
    case 'repoint_position':
      return `replicate from ${nm} at its binlog position${st.keepDelay ? ` (keeping its ${st.keepDelay} s delay)` : ''}`;
    case 'manual':
      return `left for an operator: ${st.reason}`;
  }
}

/** The monitor's failover plan ("if the master died now") in the API's shape. */
export function planView(cluster: string, mp: MonitorPlan, g: GuardDecision): Plan {
  const base = { cluster, automatic_failover: automaticFailover(g), source: 'monitor' };
  if (mp.plan === undefined) {
    return { ...base, master: mp.master ?? null, would_promote: null, because: mp.reason, rule: null, latest: [], rejected: [], excluded: [], based_on_inspection_at: null, expected_loss: null, salvage: null, servers: [], notes: [] };
  }
  const p = mp.plan;
  const rejected = (p.choice?.rejected ?? []).map((r) => ({ name: r.name, reason: r.reason }));
  // Recovered as replicas but never promoted (maintenance, ...): with the rejected, unless the choice named them already.
  for (const e of p.excluded) if (e.scope === 'candidate' && !rejected.some((r) => r.name === e.server)) rejected.push({ name: e.server, reason: e.reason });
  const excluded = p.excluded.filter((e) => e.scope === 'failover').map((e) => ({ name: e.server, reason: e.reason }));
  const holds = (h: { coord: { file: string; pos: number }; gtid: string }): string => (h.gtid !== '' ? h.gtid : formatCoord(h.coord));
  const nm = p.newMaster?.name;
  const servers: Plan['servers'] = [
    ...(p.newMaster ? [{ name: p.newMaster.name, role: 'new_master' as const, standing: p.newMaster.standing, holds: holds(p.newMaster.holds), delay: 0, deferred: false, steps: p.newMaster.steps.map((x) => stepText(x, nm)) }] : []),
    ...p.replicas.map((r) => ({ name: r.name, role: 'replica' as const, standing: r.standing, holds: holds(r.holds), delay: r.delay, deferred: r.deferred, steps: r.steps.map((x) => stepText(x, nm)) })),
  ];
  return {
    ...base,
    master: p.deadMaster,
    would_promote: p.ok ? (nm ?? null) : null,
    because: p.ok ? (p.choice?.ok ? p.choice.reason : '') : (p.refusal?.reason ?? 'the failover would be refused'),
    rule: p.ok && p.choice?.ok ? p.choice.rule : null,
    latest: p.latest.names,
    rejected,
    excluded,
    ...(p.choice?.ranking ? { ranking: p.choice.ranking.map((r) => ({ name: r.name, rule: r.rule, place: r.place, latest: r.latest, why: r.why })) } : {}),
    based_on_inspection_at: iso(mp.inspectedAt),
    expected_loss: p.expectedLoss.text,
    salvage: { planned: p.salvage.planned, reason: p.salvage.reason },
    servers,
    notes: p.notes,
  };
}

const bar = (b: PhaseBarData): { name: string; started_at: string; duration_ms: number; ok: boolean; detail?: string } => ({ name: b.name, started_at: isoTime(b.startedAt), duration_ms: b.durationMs, ok: b.ok, ...(b.detail !== undefined ? { detail: b.detail } : {}) });

/** A journal entry in the API's shape (snake_case, ISO times). */
export function entryView(e: HistoryEntry): JournalEntry {
  switch (e.kind) {
    case 'failover':
      return {
        kind: 'failover',
        id: e.id,
        trigger: e.trigger,
        dead_master: e.deadMaster,
        new_master: e.newMaster ?? null,
        started_at: isoTime(e.startedAt),
        ended_at: iso(e.endedAt),
        duration_ms: e.durationMs ?? null,
        outcome: e.outcome,
        reason: e.reason ?? null,
        why: e.why,
        lost: e.lost ?? null,
        acked: e.acked,
        acked_by: e.ackedBy ?? null,
        rejoined: e.rejoined,
        phases: e.phases.map(bar),
        steps: e.steps.map((x) => ({ server: x.server, ...bar(x) })),
        promoted_at: iso(e.promotedAt),
        planned: e.planned ? { new_master: e.planned.newMaster ?? null, expected_loss: e.planned.expectedLoss, revision: e.planned.revision } : null,
        hooks: e.hooks.map((h) => ({ at: isoTime(h.at), name: h.name, phase: h.phase, verdict: h.verdict, ...(h.exitCode !== undefined ? { exit_code: h.exitCode } : {}), ...(h.timedOut !== undefined ? { timed_out: h.timedOut } : {}) })),
        events: e.events.map((x) => ({ at: isoTime(x.at), message: x.message })),
      };
    case 'switchover':
      return {
        kind: 'switchover',
        id: e.id,
        by: e.by,
        from: e.from,
        to: e.to,
        started_at: isoTime(e.startedAt),
        ended_at: iso(e.endedAt),
        duration_ms: e.durationMs ?? null,
        outcome: e.outcome,
        reason: e.reason ?? null,
        write_blocked_ms: e.writeBlockedMs ?? null,
        steps: e.steps.map(bar),
      };
    case 'ack':
      return { kind: 'ack', id: e.id, at: isoTime(e.at), by: e.by };
    case 'write':
      return { kind: 'write', id: e.id, at: isoTime(e.at), by: e.by, action: e.action, status: e.status, outcome: e.outcome, detail: e.detail ?? null, job: e.job ?? null };
  }
}

/** When a journal entry (API shape) happened, for merging histories. */
function entryAt(e: JournalEntry): number {
  return Date.parse(e.kind === 'failover' || e.kind === 'switchover' || e.kind === 'maintenance' ? e.started_at : e.at);
}

function switchoverPlanView(plan: SwitchoverPlan, prepared: Prepared, cluster: ClusterConfig, opts: { origMasterIsNewSlave: boolean; timeout: number }): SwitchoverPlanBody {
  const notes: string[] = [];
  if (!prepared.hasSuperReadOnly && plan.flavor === 'mariadb') notes.push('MariaDB has no super_read_only; from 10.11 on, users with READ ONLY ADMIN (included in ALL PRIVILEGES) write through read_only, so every client session is killed and the old master\'s binlog is checked before promotion.');
  const hv = onlineChangeHooksView(cluster);
  if (!hv.anyHook) notes.push('no master_ip_online_change_script and no online-change hook: clients must find the new master themselves (VIP, DNS or proxy not moved by mhats).');
  return {
    master: plan.master,
    new_master: plan.newMaster,
    why: plan.newMasterReason,
    replicas: plan.replicas,
    mode: plan.mode,
    flavor: plan.flavor,
    rejected: plan.rejected,
    steps: describePlan(plan, { origMasterIsNewSlave: opts.origMasterIsNewSlave, timeoutSeconds: opts.timeout, hook: Boolean(cluster.master_ip_online_change_script), hasSuperReadOnly: prepared.hasSuperReadOnly, vips: hv.vips }).map((l) => l.trim()),
    notes,
  };
}

export function rejoinView(r: RejoinReport): RejoinReportView {
  return {
    cluster: r.cluster,
    server: r.server,
    outcome: r.outcome,
    reason: r.reason,
    master: r.master ?? null,
    failover: r.failover ?? null,
    how: r.how ?? null,
    start_at: r.startAt ? formatCoord(r.startAt) : null,
    divergent: r.divergent ? { count: r.divergent.count, gtids: r.divergent.gtids, range: r.divergent.range ?? null, transactions: r.divergent.transactions.map((t) => ({ file: t.file, start: t.start, end: t.end, gtid: t.gtid ?? null })) } : null,
    extract_file: r.extractFile ?? null,
    extract_error: r.extractError ?? null,
    reseed: r.reseed ?? [],
    steps: r.steps,
  };
}

const checksView = (checks: PreCheck[]): ErrorBody['checks'] => checks.map((c) => ({ id: c.id, title: c.title, ok: c.ok, detail: c.detail }));

// ---------------------------------------------------------------- the backend

export class ManagerApi implements ApiBackend {
  readonly #host: ApiHost;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #version: string;
  #jobs = new Map<string, JobState>();
  /** Clusters with a write being prepared or a job queued/running. */
  #busy = new Map<string, string>();
  #seq = 0;

  constructor(host: ApiHost, opts: { log: Logger; now?: () => number; version: string }) {
    this.#host = host;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#version = opts.version;
  }

  #entry(name: string): { cluster: ClusterConfig; monitor: ClusterMonitor; restarting: boolean } | undefined {
    return this.#host.entries().find((e) => e.cluster.name === name);
  }

  hasCluster(name: string): boolean {
    return this.#entry(name) !== undefined;
  }

  token(): Secret | undefined {
    return this.#host.token();
  }

  consoleDir(): string | undefined {
    return this.#host.consoleDir();
  }

  #guard(e: { cluster: ClusterConfig; monitor: ClusterMonitor }, trigger: 'auto' | 'manual' = 'auto'): GuardDecision {
    return guard(summarize(e.monitor.deps.journal.read()), this.#now(), e.cluster.last_failover_minute, trigger, e.cluster.name, readMhaStateFiles(e.cluster.manager_workdir, e.cluster.name));
  }

  #summary(e: { cluster: ClusterConfig; monitor: ClusterMonitor }): ClusterSummary {
    const m = e.monitor;
    const base = `${API_PREFIX}/clusters/${encodeURIComponent(e.cluster.name)}`;
    return {
      name: e.cluster.name,
      state: m.state,
      master: m.master ?? m.lastAnalysis?.master ?? null,
      healthy: m.lastAnalysis ? m.lastAnalysis.healthy : null,
      in_failover: m.inFailover,
      activity: m.activity ? { what: m.activity.what, since: isoTime(m.activity.since) } : null,
      servers: e.cluster.servers.length,
      automatic_failover: automaticFailover(this.#guard(e)),
      in_maintenance: m.maintenance().clusterWide.length > 0,
      links: { topology: `${base}/topology`, plan: `${base}/plan`, journal: `${base}/journal` },
    };
  }

  clusters(): ClusterSummary[] {
    return this.#host.entries().map((e) => this.#summary(e));
  }

  topology(name: string): Topology | undefined {
    const e = this.#entry(name);
    return e ? topologyView(e.cluster, e.monitor, this.#now()) : undefined;
  }

  plan(name: string): Plan | undefined {
    const e = this.#entry(name);
    return e ? planView(e.cluster.name, e.monitor.plan(), this.#guard(e)) : undefined;
  }

  #running(e: { cluster: ClusterConfig; monitor: ClusterMonitor }, records: ReturnType<ClusterMonitor['deps']['journal']['read']>): Set<string> {
    const ids = new Set<string>();
    for (const j of this.#jobs.values()) if (j.cluster === e.cluster.name && j.state !== 'done' && j.journalId) ids.add(j.journalId);
    if (e.monitor.inFailover) {
      const open = summarize(records).filter((s) => s.outcome === undefined).at(-1);
      if (open) ids.add(open.id);
    }
    return ids;
  }

  /** The cluster's journal and the maintenance entries that concern it, newest first. */
  #history(e: { cluster: ClusterConfig; monitor: ClusterMonitor }, limit: number): JournalEntry[] {
    const records = e.monitor.deps.journal.read();
    const now = this.#now();
    const own = history(records, { running: this.#running(e, records), limit }).map(entryView);
    const maint = (this.#maintenanceEntries() ?? [])
      .filter((m) => m.scope === 'global' || m.cluster === e.cluster.name)
      .map((m): JournalEntry => ({ kind: 'maintenance', ...maintenanceEntryView(m, now) }));
    return [...own, ...maint].sort((a, b) => entryAt(b) - entryAt(a)).slice(0, limit);
  }

  #maintenanceEntries(): MaintenanceEntry[] | undefined {
    try {
      return this.#host.maintenance()?.entries();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, `cannot read the maintenance entries: ${(err as Error).message}`);
      return undefined;
    }
  }

  journal(name: string, limit: number): Journal | undefined {
    const e = this.#entry(name);
    return e ? { cluster: name, journal: e.monitor.deps.journal.path, entries: this.#history(e, limit) } : undefined;
  }

  manager(): ManagerHealth {
    const now = this.#now();
    const token = this.#host.token();
    return {
      version: this.#version,
      pid: process.pid,
      started_at: isoTime(this.#host.startedAt),
      uptime_seconds: Math.max(0, Math.round((now - this.#host.startedAt) / 1000)),
      ready: this.#host.ready,
      stopping: this.#host.stopping,
      role: this.#host.isLeader() ? 'leader' : 'follower',
      ha: this.#host.ha(),
      writes: token ? { enabled: true, reason: null } : { enabled: false, reason: 'no http.token_file is configured' },
      clusters: this.#host.entries().length,
    };
  }

  #jobView(j: JobState): Job {
    let steps = j.steps;
    // A failover job's phases come from the journal as they end.
    if (j.kind === 'failover' && j.state === 'running') {
      const e = this.#entry(j.cluster);
      const f = e ? history(e.monitor.deps.journal.read()).find((x) => x.kind === 'failover' && x.startedAt >= (j.startedAt ?? j.createdAt) - 1000) : undefined;
      if (f?.kind === 'failover') {
        j.journalId = f.id;
        steps = f.phases.map((p) => ({ name: p.name, duration_ms: p.durationMs, ok: p.ok }));
      }
    }
    return {
      id: j.id,
      kind: j.kind,
      cluster: j.cluster,
      state: j.state,
      by: j.by,
      created_at: isoTime(j.createdAt),
      started_at: iso(j.startedAt),
      ended_at: iso(j.endedAt),
      outcome: j.outcome ?? null,
      ok: j.ok ?? null,
      reason: j.reason ?? null,
      old_master: j.oldMaster ?? null,
      new_master: j.newMaster ?? null,
      journal_id: j.journalId ?? null,
      steps,
      notes: j.notes,
      write_blocked_ms: j.writeBlockedMs ?? null,
      lost: j.lost ?? null,
      links: { self: `${API_PREFIX}/jobs/${j.id}` },
    };
  }

  jobs(): Job[] {
    return [...this.#jobs.values()].reverse().map((j) => this.#jobView(j));
  }

  job(id: string): Job | undefined {
    const j = this.#jobs.get(id);
    return j ? this.#jobView(j) : undefined;
  }

  overview(): Overview {
    return {
      generated_at: isoTime(this.#now()),
      manager: this.manager(),
      clusters: this.#host.entries().map((e) => ({
        summary: this.#summary(e),
        topology: topologyView(e.cluster, e.monitor, this.#now()),
        plan: planView(e.cluster.name, e.monitor.plan(), this.#guard(e)),
        history: this.#history(e, HISTORY_IN_OVERVIEW),
      })),
      jobs: this.jobs().slice(0, 20),
    };
  }

  audit(a: AuditEntry): void {
    const e = this.#entry(a.cluster);
    const line = `API ${a.action} on ${a.cluster} by ${a.caller.by}: ${a.status} ${a.outcome}${a.detail ? ` (${a.detail})` : ''}`;
    if (a.status < 300) this.#log.info({ cluster: a.cluster, action: a.action, by: a.caller.by, status: a.status, job: a.job }, line);
    else this.#log.warn({ cluster: a.cluster, action: a.action, by: a.caller.by, status: a.status }, line);
    if (!e) return;
    const at = this.#now();
    e.monitor.deps.journal.append({ type: 'write', id: `${a.cluster}-api-${at}-${randomBytes(3).toString('hex')}`, at, by: a.caller.by, action: a.action, cluster: a.cluster, status: a.status, outcome: a.outcome, detail: a.detail, job: a.job });
  }

  // ---------------------------------------------------------------- writes

  /** The checks every write shares: the cluster, leadership, nothing else running. */
  #admit(name: string, opts: { evenIfBusy?: boolean } = {}): { ok: true; e: { cluster: ClusterConfig; monitor: ClusterMonitor; restarting: boolean } } | { ok: false; a: { status: 404 | 409 | 422 | 503; body: ErrorBody } } {
    const e = this.#entry(name);
    if (!e) return { ok: false, a: err(404, `unknown cluster ${name}`) };
    // The manager that acts on this cluster: the leader (or the shard's owner), not blocked by another holder of MHA's monitor lock.
    const acts = e.monitor.deps.isLeader ? e.monitor.deps.isLeader() : this.#host.isLeader();
    if (!acts) {
      const leader = this.#host.ha().leader;
      return { ok: false, a: err(409, `this manager does not act on ${name} now (a follower${leader ? ` of ${leader}` : ''}, another owner of the cluster, or another holder of MHA's monitor lock): send writes to the manager that does`) };
    }
    if (this.#host.stopping || e.restarting) return { ok: false, a: err(409, `the monitor of ${name} is ${this.#host.stopping ? 'stopping' : 'restarting with a new configuration'}: try again in a moment`) };
    if (e.monitor.inFailover) return { ok: false, a: err(409, `a failover of ${name} is running: wait for it to end (GET ${API_PREFIX}/clusters/${name}/journal)`) };
    const busy = this.#busy.get(name);
    if (opts.evenIfBusy) return { ok: true, e };
    if (busy !== undefined || e.monitor.busy) return { ok: false, a: err(409, `another action on ${name} is ${busy ? `running (${busy})` : 'running'}: wait for it to end`, busy?.startsWith('job-') ? { job: busy } : {}) };
    return { ok: true, e };
  }

  #newJob(kind: JobState['kind'], cluster: string, by: string): JobState {
    const now = this.#now();
    const id = `job-${now.toString(36)}-${(++this.#seq).toString(36)}-${randomBytes(3).toString('hex')}`;
    const j: JobState = { id, kind, cluster, state: 'queued', by, createdAt: now, steps: [], notes: [] };
    this.#jobs.set(id, j);
    while (this.#jobs.size > JOBS_KEPT) {
      const oldest = [...this.#jobs.values()].find((x) => x.state === 'done');
      if (!oldest) break;
      this.#jobs.delete(oldest.id);
    }
    return j;
  }

  #finish(j: JobState, fields: Partial<JobState>): void {
    Object.assign(j, fields, { state: 'done', endedAt: this.#now() });
    if (this.#busy.get(j.cluster) === j.id) this.#busy.delete(j.cluster);
    const line = `API ${j.kind} job ${j.id} on ${j.cluster} (by ${j.by}): ${j.outcome ?? '?'}${j.reason ? `: ${j.reason}` : ''}`;
    if (j.ok) this.#log.info({ job: j.id, cluster: j.cluster, outcome: j.outcome }, line);
    else this.#log.warn({ job: j.id, cluster: j.cluster, outcome: j.outcome }, line);
  }

  async switchover(name: string, body: SwitchoverBody, caller: ApiCaller): Promise<Answer<unknown>> {
    const adm = this.#admit(name);
    if (!adm.ok) return adm.a;
    const { e } = adm;
    const setup = switchoverSetup(e.cluster, e.monitor.deps.journal.read(), {
      newMaster: body.new_master,
      origMasterIsNewSlave: body.orig_master_is_new_slave ?? false,
      runningUpdatesLimit: body.running_updates_limit ?? SWITCHOVER_DEFAULTS.runningUpdatesLimit,
      maxLag: body.max_lag ?? SWITCHOVER_DEFAULTS.maxLag,
      timeout: body.timeout ?? SWITCHOVER_DEFAULTS.timeout,
    });
    if (!setup.ok) return invalidField('new_master', setup.reason);
    const g = this.#guard(e, 'manual');
    if (!g.allowed) return err(409, `the guard refuses: ${g.reason}`);
    const log = this.#log.child({ cluster: name });
    const placeholder = `switchover being prepared for ${caller.by}`;
    this.#busy.set(name, placeholder);
    let prepared: Prepared;
    try {
      prepared = await prepareClusterSwitchover(setup.cluster, setup.opts, log);
    } catch (x) {
      this.#busy.delete(name);
      throw x;
    }
    if (!prepared.decision.ok) {
      this.#busy.delete(name);
      return err(409, `switchover refused by the pre-checks: ${prepared.decision.reason}; nothing was changed`, { checks: checksView(prepared.decision.checks) });
    }
    const plan = prepared.decision.plan;
    const planBody = switchoverPlanView(plan, prepared, setup.cluster, setup.opts);
    if (body.dry_run) {
      this.#busy.delete(name);
      return { status: 200, body: { dry_run: true, checks: checksView(prepared.decision.checks), plan: planBody } };
    }
    const j = this.#newJob('switchover', name, caller.by);
    j.oldMaster = plan.master;
    j.newMaster = plan.newMaster;
    this.#busy.set(name, j.id);
    const run = async (): Promise<void> => {
      j.state = 'running';
      j.startedAt = this.#now();
      // Time passed while queued: check again, and insist on the same plan (as the CLI does after confirmation).
      const again = await prepareClusterSwitchover(setup.cluster, { ...setup.opts, newMaster: plan.newMaster }, log);
      if (!again.decision.ok) return this.#finish(j, { outcome: 'refused', ok: false, reason: `the pre-checks changed before the switch could start: ${again.decision.reason}; nothing was changed` });
      if (again.decision.plan.master !== plan.master) return this.#finish(j, { outcome: 'refused', ok: false, reason: `the master changed before the switch could start (${plan.master} → ${again.decision.plan.master}); nothing was changed` });
      const report = await runJournaledSwitchover(setup.cluster, again.decision.plan, again.decision.checks, setup.opts, {
        log,
        journal: e.monitor.deps.journal,
        by: caller.by,
        now: this.#now,
        onStart: (id) => (j.journalId = id),
        onStep: (s) => j.steps.push({ name: s.step, duration_ms: s.durationMs, ok: s.ok, ...(s.detail !== undefined ? { detail: s.detail } : {}) }),
        onNote: (m) => j.notes.push(m),
      });
      j.notes.push(...report.warnings, ...report.notRepointed.map((n) => `not repointed: ${n.name}: ${n.reason}`));
      this.#finish(j, { outcome: report.outcome, ok: succeeded(report.outcome), reason: report.reason, newMaster: succeeded(report.outcome) ? report.newMaster : report.oldMaster, writeBlockedMs: report.writeBlockedMs });
    };
    e.monitor
      .exclusive(`switchover ${plan.master} → ${plan.newMaster} (${j.id})`, run)
      .catch((x: unknown) => this.#finish(j, { outcome: 'error', ok: false, reason: (x as Error).message }));
    return { status: 202, body: { job: this.#jobView(j), checks: checksView(prepared.decision.checks), plan: planBody } };
  }

  async failover(name: string, body: FailoverBody, caller: ApiCaller): Promise<Answer<unknown>> {
    const adm = this.#admit(name);
    if (!adm.ok) return adm.a;
    const { e } = adm;
    const newMaster = body.new_master !== undefined ? serverNamed(e.cluster, body.new_master) : undefined;
    if (body.new_master !== undefined && newMaster === undefined) return invalidField('new_master', `${body.new_master} is not a server of ${name}`);
    const g = this.#guard(e, 'manual');
    if (!g.allowed) return err(409, `the guard refuses: ${g.reason}`);
    this.#busy.set(name, `failover being checked for ${caller.by}`);
    let found: Awaited<ReturnType<typeof findDeadMaster>>;
    try {
      found = await findDeadMaster(e.cluster, body.dead_master, true);
    } finally {
      this.#busy.delete(name);
    }
    if (!found.ok) {
      if (found.field && !found.alive) return err(422, `invalid request: dead_master: ${found.reason}`, { fields: [{ in: 'body', field: 'dead_master', message: found.reason }] });
      return err(409, found.reason);
    }
    if (newMaster === found.dead) return err(422, `invalid request: new_master ${newMaster} is the dead master`, { fields: [{ in: 'body', field: 'new_master', message: 'is the dead master' }] });
    const dead = found.dead;
    const j = this.#newJob('failover', name, caller.by);
    j.oldMaster = dead;
    this.#busy.set(name, j.id);
    const run = async (): Promise<void> => {
      j.state = 'running';
      j.startedAt = this.#now();
      // The monitor may have failed it over (or it came back) while this waited.
      const still = await findDeadMaster(e.cluster, undefined, true);
      if (!still.ok || still.dead !== dead) return this.#finish(j, { outcome: 'refused', ok: false, reason: still.ok ? `the master is now ${still.dead}, not ${dead}: nothing was done` : `${still.reason}: nothing was done` });
      const report: FailoverReport = await e.monitor.failover({ trigger: 'manual', reason: `manual failover requested through the HTTP API by ${caller.by}`, newMaster, deadMaster: dead });
      j.journalId = report.id;
      j.steps = report.phases.map((p) => ({ name: p.phase, duration_ms: p.durationMs, ok: p.ok }));
      j.notes.push(...report.notRecovered.map((n) => `not recovered: ${n.name}: ${n.reason}`));
      this.#finish(j, { outcome: report.outcome, ok: succeeded(report.outcome), reason: report.reason, newMaster: report.newMaster, lost: report.lost });
    };
    e.monitor
      .exclusive(`failover of ${dead} (${j.id})`, run)
      .catch((x: unknown) => this.#finish(j, { outcome: 'error', ok: false, reason: (x as Error).message }));
    return { status: 202, body: { job: this.#jobView(j) } };
  }

  async ack(name: string, body: AckBody, caller: ApiCaller): Promise<Answer<AckResult>> {
    // Not while a failover runs (it would be acknowledged before it ends); a switchover may run.
    const adm = this.#admit(name, { evenIfBusy: true });
    if (!adm.ok) return adm.a;
    const { e } = adm;
    const journal = e.monitor.deps.journal;
    if (body.failover_id !== undefined && !summarize(journal.read()).some((s) => s.id === body.failover_id && !s.acked && s.outcome !== 'refused')) {
      return err(422, `invalid request: failover_id ${body.failover_id} is not an open failover of ${name}`, { fields: [{ in: 'body', field: 'failover_id', message: `no open failover with this id in ${name}'s journal` }] });
    }
    const acked = ackFailovers(journal, caller.by, this.#now(), body.failover_id);
    await journal.flush?.();
    return {
      status: 200,
      body: { cluster: name, acknowledged: acked.map((s) => ({ id: s.id, dead_master: s.deadMaster, new_master: s.newMaster ?? null, outcome: s.outcome ?? 'unfinished' })), automatic_failover: automaticFailover(this.#guard(e)) },
    };
  }

  // ---------------------------------------------------------------- rejoin (the same code as mhats rejoin)

  async rejoin(name: string, body: RejoinBody, caller: ApiCaller): Promise<Answer<unknown>> {
    const adm = this.#admit(name);
    if (!adm.ok) return adm.a;
    const { e } = adm;
    const server = serverNamed(e.cluster, body.server);
    if (server === undefined) return invalidField('server', `${body.server} is not a server of ${name}`);
    const config = this.#host.config();
    if (!config) return err(503, 'the configuration is not loaded yet');
    this.#busy.set(name, `rejoin of ${server} for ${caller.by}`);
    let r: RejoinReport;
    try {
      r = await e.monitor.exclusive(`rejoin of ${server}${body.dry_run ? ' (dry run)' : ''}`, () =>
        rejoinCommand(config, { server, cluster: name, dryRun: body.dry_run, by: caller.by, log: this.#log.child({ cluster: name }), journal: e.monitor.deps.journal }),
      );
    } catch (x) {
      // The CLI's bad-input and refusal errors (a UserError) are the caller's to read; anything else is ours (500, logged).
      if (x instanceof UserError) return err(409, `rejoin of ${server} refused: ${x.message}`);
      throw x;
    } finally {
      this.#busy.delete(name);
    }
    const view = rejoinView(r);
    if (r.outcome === 'rejoined' || r.outcome === 'already' || r.outcome === 'would_rejoin') return { status: 200, body: { rejoin: view } };
    return err(409, `rejoin of ${server} ${r.outcome === 'diverged' ? 'refused: it diverged' : r.outcome}: ${r.reason}`, { rejoin: view });
  }

  // ---------------------------------------------------------------- maintenance (the same code as mhats maintenance)

  #maintenanceCtx(): { config: LoadedConfig; journal: MaintenanceView['journal']; now: () => number } | undefined {
    const config = this.#host.config();
    const view = this.#host.maintenance();
    return config && view ? { config, journal: view.journal, now: this.#now } : undefined;
  }

  async maintenanceList(cluster: string | undefined, endedWithinHours: number): Promise<Answer<MaintenanceList>> {
    const ctx = this.#maintenanceCtx();
    if (!ctx) return err(503, 'the maintenance entries cannot be read on this manager (see its log)');
    if (cluster !== undefined && !this.hasCluster(cluster)) return err(404, `unknown cluster ${cluster}`);
    const l = await listMaintenance(ctx, { cluster, endedWithinMs: endedWithinHours * 3600_000 });
    return { status: 200, body: { active: l.active.map((e) => maintenanceEntryView(e, l.now)), ended: l.ended.map((e) => maintenanceEntryView(e, l.now)) } };
  }

  /** Operators' records, written unfenced (a follower's API may write them too, as the CLI may). */
  async maintenanceStart(body: MaintenanceStartBody, caller: ApiCaller): Promise<Answer<unknown>> {
    const ctx = this.#maintenanceCtx();
    if (!ctx) return err(503, 'the maintenance entries cannot be written on this manager (see its log)');
    if (body.global && (body.cluster !== undefined || body.server !== undefined)) return invalidField('global', 'applies to every cluster: do not combine it with cluster or server');
    if (!body.global && body.cluster === undefined) return invalidField('cluster', 'is required (or global: true for every cluster)');
    if (body.server !== undefined && body.cluster === undefined) return invalidField('cluster', 'is required with server');
    if (body.cluster !== undefined && !this.hasCluster(body.cluster)) return invalidField('cluster', `${body.cluster} is not a cluster of this manager`);
    const c = body.cluster !== undefined ? this.#entry(body.cluster)?.cluster : undefined;
    if (c && body.server !== undefined && !c.servers.some((s) => s.name === body.server)) return invalidField('server', `${body.server} is not a server of ${c.name}`);
    const scope = body.global ? ({ scope: 'global' } as const) : body.server !== undefined ? ({ scope: 'server', cluster: body.cluster!, server: body.server } as const) : ({ scope: 'cluster', cluster: body.cluster! } as const);
    try {
      const e = await startMaintenance(ctx, { ...scope, owner: caller.by, reason: body.reason, duration: body.for });
      const effect =
        e.scope === 'global'
          ? 'no cluster is failed over automatically; every cluster is still watched, and switchover and manual failover still work'
          : e.scope === 'cluster'
            ? `${e.cluster ?? '?'} is watched and reported but never failed over automatically; switchover and manual failover still work`
            : `${e.server ?? '?'} is never chosen as a new master, and its absence does not block a failover or a switchover of ${e.cluster ?? '?'}`;
      return { status: 201, body: { entry: maintenanceEntryView(e, this.#now()), effect } };
    } catch (x) {
      if (x instanceof UserError && x.exitCode === ExitCode.USAGE) return invalidField(/duration|for|--for/i.test(x.message) ? 'for' : /reason/i.test(x.message) ? 'reason' : 'for', x.message);
      throw x;
    }
  }

  async maintenanceStop(body: MaintenanceStopBody, caller: ApiCaller): Promise<Answer<unknown>> {
    const ctx = this.#maintenanceCtx();
    if (!ctx) return err(503, 'the maintenance entries cannot be written on this manager (see its log)');
    let target: StopTarget;
    if (body.id !== undefined) {
      if (body.cluster !== undefined || body.server !== undefined || body.global) return invalidField('id', 'names one entry: do not combine it with cluster, server or global');
      target = { id: body.id };
    } else if (body.global) {
      if (body.cluster !== undefined || body.server !== undefined) return invalidField('global', 'do not combine it with cluster or server');
      target = { scope: 'global' };
    } else if (body.cluster !== undefined) {
      if (!this.hasCluster(body.cluster)) return invalidField('cluster', `${body.cluster} is not a cluster of this manager`);
      target = body.server !== undefined ? { scope: 'server', cluster: body.cluster, server: body.server } : { scope: 'cluster', cluster: body.cluster };
    } else return invalidField('id', 'is required (or cluster [and server], or global: true)');
    try {
      const stopped = await stopMaintenance(ctx, target, caller.by);
      if (body.id !== undefined && stopped.length === 0 && !activeEntries(this.#maintenanceEntries() ?? [], this.#now()).some((e) => e.id === body.id)) return err(404, `no maintenance ${body.id} is in force`);
      return { status: 200, body: { stopped: stopped.map((e) => maintenanceEntryView(e, this.#now())) } };
    } catch (x) {
      if (x instanceof UserError && x.exitCode === ExitCode.USAGE) return invalidField(/server/.test(x.message) ? 'server' : 'cluster', x.message);
      throw x;
    }
  }
}
