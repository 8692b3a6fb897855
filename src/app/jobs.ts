/**
 * Calendar jobs of `mhats manager`, per cluster, with node-cron. Cron only
 * ever runs these; failure detection is the monitor's fixed-delay loop.
 *
 *  - relay_log_purge: MHA's purge_relay_logs, on every replica that runs with
 *    relay_log_purge=0: under MHA's advisory lock, SET GLOBAL
 *    relay_log_purge=1, FLUSH NO_WRITE_TO_BINLOG RELAY LOGS, wait for the SQL
 *    thread to move past the rotation (the server then deletes the relay logs
 *    it has applied, and only those), SET GLOBAL relay_log_purge=0.
 *  - check_repl: a check-repl report to the log and the metrics.
 *  - journal_retention: drops failovers older than keep_days from the journal,
 *    never one that still blocks a failover or keeps an old master fenced.
 *
 * A job never runs while a failover of its cluster is running, never
 * overlaps itself, and every connection and statement has a deadline.
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { schedule, type ScheduledTask } from 'node-cron';
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { openSession, type DbSession } from '../adapters/mysql/connection.js';
import { dialectFor, parseVersion, VERSION_QUERY, type Dialect } from '../adapters/mysql/dialect.js';
import type { FileJournal } from '../adapters/journal/file-journal.js';
import type { JobName, JobResult, Metrics } from './metrics.js';
import { failedServers, guard, summarize, type JournalRecord } from '../domain/guard.js';
import type { Logger } from '../ports/logger.js';
import type { ReplicaStatus } from '../domain/types.js';
import { addLostWritesAdvice, inspectCluster, withoutFailed } from './cluster.js';

// ---------------------------------------------------------------- relay-log purge

export interface PurgeOptions {
  /** GET_LOCK wait, seconds (MHA's purge_relay_logs waits for the lock too). */
  lockTimeoutSec?: number;
  /** How long to wait for the SQL thread to move to the new relay log before turning relay_log_purge off again. */
  waitMs?: number;
}

export type PurgeOutcome =
  | { server: string; result: 'purged'; before: string; after: string; movedOn: boolean }
  | { server: string; result: 'skipped'; reason: string }
  | { server: string; result: 'failed'; reason: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function one<T extends Record<string, unknown>>(s: DbSession, stmt: string | { sql: string; values?: unknown[] }): Promise<T | undefined> {
  const rows = await s.query<T>(stmt);
  return rows[0];
}

/** MHA purge_relay_logs on one replica. Never throws: the outcome says what happened. */
export async function purgeRelayLogs(server: ServerConfig, cluster: ClusterConfig, opts: PurgeOptions = {}): Promise<PurgeOutcome> {
  const lockTimeoutSec = opts.lockTimeoutSec ?? 5;
  const waitMs = opts.waitMs ?? 10_000;
  let s: DbSession;
  try {
    s = await openSession(
      { name: server.name, host: server.ip, port: server.port, user: server.user, password: server.password },
      { connectTimeoutMs: cluster.connect_timeout * 1000, queryTimeoutMs: Math.max(cluster.query_timeout, lockTimeoutSec + 2) * 1000 },
    );
  } catch (err) {
    return { server: server.name, result: 'failed', reason: `cannot connect: ${(err as Error).message}` };
  }
  let locked = false;
  let purgeOn = false;
  let d: Dialect | undefined;
  try {
    const v = await one<{ version: string; version_comment: string | null }>(s, VERSION_QUERY);
    d = dialectFor(parseVersion(String(v?.version), v?.version_comment ?? undefined));
    const purge = await one<{ Value: unknown }>(s, d.relayLogPurgeQuery());
    if (String(purge?.Value) === '1') return { server: server.name, result: 'skipped', reason: 'relay_log_purge=1: the server purges its relay logs itself' };
    const status = async (): Promise<ReplicaStatus | undefined> => {
      const row = await one(s, d!.showReplicaStatus());
      return row === undefined ? undefined : d!.parseReplicaStatus(row);
    };
    const st0 = await status();
    if (st0 === undefined) return { server: server.name, result: 'skipped', reason: 'not a replica' };
    if (!st0.sqlRunning) return { server: server.name, result: 'skipped', reason: 'its SQL thread is not running: it applies nothing, so nothing can be purged' };
    const before = st0.relayLogFile;
    const lock = await one<{ Value: unknown }>(s, d.getFailoverLock(lockTimeoutSec));
    const got = d.parseLockResult(lock?.Value);
    if (got !== 'acquired') return { server: server.name, result: 'skipped', reason: got === 'busy' ? "MHA's failover advisory lock is held (a failover or another purge is running)" : 'GET_LOCK failed' };
    locked = true;
    purgeOn = true;
    await s.query(d.setRelayLogPurge(true));
    await s.query(d.flushRelayLogs());
    // The SQL thread deletes the relay logs it has finished when it moves past the rotation. A
    // delayed replica (MASTER_DELAY) will not get there soon: no point waiting for it.
    const end = performance.now() + (st0.sqlDelay > 0 ? 0 : waitMs);
    let after = await status();
    while (after?.relayLogFile === before && after.sqlRunning && performance.now() < end) {
      await sleep(100);
      after = await status();
    }
    const now = after?.relayLogFile ?? '?';
    return { server: server.name, result: 'purged', before, after: now, movedOn: now !== before };
  } catch (err) {
    return { server: server.name, result: 'failed', reason: (err as Error).message };
  } finally {
    // Always back to relay_log_purge=0 and the lock released, even after an error.
    if (purgeOn && d) await s.query(d.setRelayLogPurge(false)).catch(() => undefined);
    if (locked && d) await s.query(d.releaseFailoverLock()).catch(() => undefined);
    s.close();
  }
}

// ---------------------------------------------------------------- journal retention

export interface PruneResult {
  keep: JournalRecord[];
  dropped: string[];
}

/**
 * The records to keep: a failover is dropped only when it finished more than keepDays ago and no
 * longer matters to safety (refused; failed and acknowledged; succeeded and its old master rejoined
 * or acknowledged and not failed any more). As a last guard, nothing is dropped if dropping would
 * change the failed-server list or the guard's decision.
 */
export function pruneJournal(records: JournalRecord[], now: number, keepDays: number, lastFailoverMinute: number, cluster: string): PruneResult {
  const cutoff = now - keepDays * 86_400_000;
  const summaries = summarize(records);
  const failedNow = failedServers(summaries);
  const drop = new Set<string>();
  for (const s of summaries) {
    if (s.outcome === undefined || s.endedAt === undefined || s.endedAt >= cutoff) continue;
    const done = s.outcome === 'refused' || (s.outcome === 'failed' && s.acked) || ((s.outcome === 'success' || s.outcome === 'partial') && (s.rejoined || !failedNow.includes(s.deadMaster)));
    if (done) drop.add(s.id);
  }
  if (drop.size > 0) {
    const after = summarize(records.filter((r) => !drop.has(r.id)));
    const sameFailed = JSON.stringify([...failedServers(after)].sort()) === JSON.stringify([...failedNow].sort());
    const g0 = guard(summaries, now, lastFailoverMinute, 'auto', cluster);
    const g1 = guard(after, now, lastFailoverMinute, 'auto', cluster);
    if (!sameFailed || g0.allowed !== g1.allowed) drop.clear();
  }
  // Switchovers and API write records are history only: dropped once finished and older than the cutoff.
  const failoverIds = new Set(summaries.map((s) => s.id));
  const newest = new Map<string, { at: number; finished: boolean }>();
  for (const r of records) {
    if (failoverIds.has(r.id) || (r.type !== 'switchover' && r.type !== 'switchover_end' && r.type !== 'write')) continue;
    const n = newest.get(r.id) ?? { at: -Infinity, finished: false };
    newest.set(r.id, { at: Math.max(n.at, r.at), finished: n.finished || r.type !== 'switchover' });
  }
  for (const [id, n] of newest) if (n.finished && n.at < cutoff) drop.add(id);
  if (drop.size === 0) return { keep: records, dropped: [] };
  return { keep: records.filter((r) => !drop.has(r.id)), dropped: [...drop] };
}

/** Rewrites the journal atomically (write, fsync, rename); refuses when it changed since it was read. */
export function rewriteJournal(path: string, expect: { size: number; mtimeMs: number }, records: JournalRecord[]): boolean {
  const tmp = `${path}.retention-${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o640);
  try {
    writeSync(fd, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const st = statSync(path);
  if (st.size !== expect.size || st.mtimeMs !== expect.mtimeMs) {
    unlinkSync(tmp);
    return false;
  }
  renameSync(tmp, path);
  return true;
}

// ---------------------------------------------------------------- scheduling

export interface JobContext {
  cluster: ClusterConfig;
  journal: Pick<FileJournal, 'path' | 'read'>;
  log: Logger;
  metrics?: Metrics | undefined;
  /** A failover of this cluster is running: jobs wait for the next run. */
  busy(): boolean;
  /** The current master, as the monitor sees it. */
  master(): string | undefined;
  /** The servers in maintenance now (never candidates), as the monitor sees them. */
  inMaintenance?: (() => readonly string[]) | undefined;
  now(): number;
  purge?: PurgeOptions | undefined;
}

export class ClusterJobs {
  readonly ctx: JobContext;
  #tasks: ScheduledTask[] = [];
  #running = new Set<Promise<unknown>>();
  #log: Logger;
  #stopped = false;

  constructor(ctx: JobContext) {
    this.ctx = ctx;
    this.#log = ctx.log.child({ cluster: ctx.cluster.name });
  }

  get scheduled(): JobName[] {
    const sc = this.ctx.cluster.schedules ?? {};
    return (['relay_log_purge', 'check_repl', 'journal_retention'] as const).filter((k) => sc[k] !== undefined);
  }

  start(): void {
    const sc = this.ctx.cluster.schedules ?? {};
    const cronLog = {
      info: (m: string) => this.#log.debug({}, `node-cron: ${m}`),
      warn: (m: string) => this.#log.debug({}, `node-cron: ${m}`),
      error: (m: string | Error) => this.#log.warn({}, `node-cron: ${String(m)}`),
      debug: () => undefined,
    };
    const add = (job: JobName, expr: string | undefined): void => {
      if (expr === undefined) return;
      const task = schedule(expr, () => this.#track(this.run(job)), { name: `${this.ctx.cluster.name}:${job}`, noOverlap: true, logger: cronLog, suppressMissedWarning: true });
      this.#tasks.push(task);
    };
    add('relay_log_purge', sc.relay_log_purge);
    add('check_repl', sc.check_repl);
    add('journal_retention', sc.journal_retention?.cron);
    if (this.#tasks.length > 0) this.#log.info({ jobs: this.scheduled }, `scheduled jobs of ${this.ctx.cluster.name}: ${this.scheduled.map((j) => `${j} "${j === 'journal_retention' ? sc.journal_retention?.cron ?? '' : sc[j] ?? ''}"`).join(', ')}`);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
    return p;
  }

  /** Stops the schedules and waits (at most timeoutMs) for runs in flight. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.#stopped = true;
    for (const t of this.#tasks.splice(0)) await t.destroy();
    if (this.#running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#running]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** One run of a job now (the schedule calls this; so can tests). Never throws. */
  async run(job: JobName): Promise<JobResult> {
    const t0 = performance.now();
    let result: JobResult;
    if (this.#stopped) return 'skipped';
    if (this.ctx.busy()) {
      this.#log.info({ job }, `${job}: skipped, a failover of ${this.ctx.cluster.name} is running`);
      result = 'skipped';
    } else {
      try {
        result = await this.#run(job);
      } catch (err) {
        this.#log.error({ job, err: (err as Error).message }, `${job} failed: ${(err as Error).message}`);
        result = 'failed';
      }
    }
    this.ctx.metrics?.job(this.ctx.cluster.name, job, result, performance.now() - t0);
    return result;
  }

  async #run(job: JobName): Promise<JobResult> {
    switch (job) {
      case 'relay_log_purge':
        return this.#purge();
      case 'check_repl':
        return this.#checkRepl();
      case 'journal_retention':
        return Promise.resolve(this.#retention());
    }
  }

  async #purge(): Promise<JobResult> {
    const c = this.ctx.cluster;
    const master = this.ctx.master();
    if (master === undefined) {
      this.#log.info({ job: 'relay_log_purge' }, 'relay_log_purge: skipped, no known master yet');
      return 'skipped';
    }
    const failed = new Set(failedServers(summarize(this.ctx.journal.read())));
    const replicas = c.servers.filter((s) => s.name !== master && !failed.has(s.name));
    const outcomes = await Promise.all(replicas.map((s) => purgeRelayLogs(s, c, this.ctx.purge)));
    let anyFailed = false;
    for (const o of outcomes) {
      if (o.result === 'purged') {
        this.ctx.metrics?.relayLogsPurged.inc({ cluster: c.name, server: o.server });
        const what = o.movedOn
          ? `relay logs the SQL thread had finished are purged (it moved from ${o.before} to ${o.after})`
          : `relay log rotated, but the SQL thread is still in ${o.before} (behind or delayed): nothing it has not applied is removed; the rest goes at a later run`;
        this.#log.info({ job: 'relay_log_purge', server: o.server, before: o.before, after: o.after }, `relay_log_purge on ${o.server}: ${what}`);
      } else if (o.result === 'skipped') {
        this.#log.debug({ job: 'relay_log_purge', server: o.server }, `relay_log_purge on ${o.server}: skipped, ${o.reason}`);
      } else {
        anyFailed = true;
        this.#log.warn({ job: 'relay_log_purge', server: o.server }, `relay_log_purge on ${o.server} failed: ${o.reason}`);
      }
    }
    return anyFailed ? 'failed' : 'ok';
  }

  async #checkRepl(): Promise<JobResult> {
    const c = this.ctx.cluster;
    const failed = failedServers(summarize(this.ctx.journal.read()));
    const r = await inspectCluster(withoutFailed(c, failed), undefined, this.ctx.inMaintenance?.());
    addLostWritesAdvice(r, this.ctx.journal.read());
    const a = r.analysis;
    const count = (sev: string): number => a.findings.filter((f) => f.severity === sev).length;
    for (const sev of ['error', 'warning', 'info']) this.ctx.metrics?.checkReplFindings.set({ cluster: c.name, severity: sev }, count(sev));
    this.ctx.metrics?.topologyHealthy.set({ cluster: c.name }, a.healthy ? 1 : 0);
    const lags = a.replicas.map((x) => ({ server: x.name, lag: x.obs.replica?.secondsBehind ?? null }));
    for (const l of lags) if (l.lag !== null) this.ctx.metrics?.replicationLag.set({ cluster: c.name, server: l.server }, l.lag);
    const errors = a.findings.filter((f) => f.severity === 'error').map((f) => `${f.server ?? c.name}: ${f.message}`);
    const warnings = a.findings.filter((f) => f.severity === 'warning').map((f) => `${f.server ?? c.name}: ${f.message}`);
    const obj = { job: 'check_repl', healthy: a.healthy, master: a.master, mode: a.mode, replicas: lags, errors, warnings, failed };
    if (!a.healthy) this.#log.error(obj, `check-repl ${c.name}: NOT healthy: ${errors.join('; ')}`);
    else if (warnings.length > 0) this.#log.warn(obj, `check-repl ${c.name}: healthy with ${warnings.length} warning(s): master ${a.master ?? '?'}; ${warnings.join('; ')}`);
    else this.#log.info(obj, `check-repl ${c.name}: healthy: master ${a.master ?? '?'}, replicas ${lags.map((l) => `${l.server} (lag ${l.lag ?? '?'}s)`).join(', ') || 'none'}`);
    return 'ok';
  }

  #retention(): JobResult {
    const keepDays = this.ctx.cluster.schedules?.journal_retention?.keep_days;
    if (keepDays === undefined) return 'skipped';
    const path = this.ctx.journal.path;
    let st: { size: number; mtimeMs: number };
    try {
      st = statSync(path);
    } catch {
      return 'ok'; // no journal yet
    }
    const r = pruneJournal(this.ctx.journal.read(), this.ctx.now(), keepDays, this.ctx.cluster.last_failover_minute, this.ctx.cluster.name);
    if (r.dropped.length === 0) {
      this.#log.debug({ job: 'journal_retention' }, `journal_retention: nothing older than ${keepDays} days to drop`);
      return 'ok';
    }
    if (this.ctx.busy() || !rewriteJournal(path, st, r.keep)) {
      this.#log.info({ job: 'journal_retention' }, 'journal_retention: the journal changed while it was read; trying again at the next run');
      return 'skipped';
    }
    this.#log.info({ job: 'journal_retention', dropped: r.dropped }, `journal_retention: dropped ${r.dropped.length} failover(s) older than ${keepDays} days from the journal`);
    return 'ok';
  }
}
