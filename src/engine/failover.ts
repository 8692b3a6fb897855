/**
 * Dead-master failover. Phase names are MHA's, so operators can map their
 * runbooks; each phase has a deadline and is journaled with its timing.
 *
 *   Phase 1: Configuration Check Phase      re-read the topology; refuse with a reason
 *   Phase 2: Dead Master Shutdown Phase     stop IO threads; fence the old master; hooks
 *   Phase 3: Master Recovery Phase
 *     3.1 Getting Latest Slaves Phase
 *     3.2 Saving Dead Master's Binlog Phase  (zero-loss issue: not yet)
 *     3.3 Determining New Master Phase
 *     3.4 New Master Recovery Phase          equalise (wait for relay logs; GTID catch-up)
 *     3.5 Promoting New Master Phase         start hook, RESET SLAVE ALL, read_only=OFF
 *   Phase 4: Slaves Recovery Phase          repoint the others in parallel, verify threads
 *   Phase 5: New master cleanup phase       report_script, journal
 *
 * Refusals in Phase 1 change nothing. After Phase 1, a failure before
 * promotion restarts the replicas' IO threads and leaves the old master
 * fenced (never two writable masters); the journal records a failed failover,
 * which blocks automatic ones until acknowledged.
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { inspectServer } from '../adapters/mysql/inspect.js';
import { runScript } from '../adapters/hooks/run-script.js';
import { hooksFor, type HookPhase } from '../config/hooks.js';
import { describeRecord, phaseBudgetMs, runHookPhase } from '../adapters/hooks/runner.js';
import { hookEnv, type HookEvent } from '../adapters/hooks/context.js';
import type { HookRecord, PhaseOutcome } from '../adapters/hooks/types.js';
import type { Journal } from '../adapters/journal/journal.js';
import { formatCoord, compareCoords } from '../domain/binlog-coord.js';
import { lostTransactions, type SurvivorPosition } from '../domain/lost.js';
import { lostWritesAdvice } from '../domain/semisync.js';
import { isoTime } from '../domain/time.js';
import type { MasterPosition } from '../domain/detector.js';
import { salvageBinlog, type Cutter } from './ops/salvage.js';
import { applyBinlogTo, RelayCatchUp } from './ops/catch-up.js';
import { Admin, FailoverFailed, FailoverRefused, replUser, specOf, target, waitRelayApplied, waitUntil, withDeadline } from './ops/admin.js';
import { fenceHard } from './ops/fencing.js';
import { takeFailoverLocks, type FailoverLocks } from '../adapters/leader/failover-lock.js';
import type { SshPool } from '../adapters/ssh/session.js';
import { chooseNewMaster, latestReplicas, type CandidateInput } from '../domain/candidates.js';
import { errantAmongSurvivors } from '../domain/failover-checks.js';
import { failedServers, guard, summarize, type FailoverOutcome } from '../domain/guard.js';
import { replicationMode, resolveSource } from '../domain/topology.js';
import type { BinlogCoord, ServerObservation } from '../domain/types.js';
import type { Logger } from '../ports/logger.js';

export interface FailoverRequest {
  cluster: ClusterConfig;
  deadMaster: string;
  /** Force this host as the new master (--new-master). */
  newMaster?: string | undefined;
  trigger: 'auto' | 'manual';
  reason: string;
  /** The dead master as last observed while alive (for the lost-transaction report and errant checks). */
  lastMasterObs?: ServerObservation | undefined;
  /** The dead master's binlog position at its last successful health check (exact lost-transaction report). */
  lastMasterPosition?: MasterPosition | undefined;
  /** Is the dead master's host reachable over SSH? undefined = unknown (probed). */
  sshReachable?: boolean | undefined;
  /** Servers in maintenance: never candidates; their absence or breakage does not block the failover. */
  maintenance?: string[] | undefined;
  /**
   * The detector's verdict that started an automatic failover (monitor): its code and when it was
   * reached (deps.now clock). A fresh verdict is MHA's double check already done; a storage hang
   * (StorageHang) answers SQL and is failed over all the same (MHA: no double check with INSERT).
   */
  verdict?: { code: string; at: number } | undefined;
}

export interface FailoverDeps {
  journal: Journal;
  log: Logger;
  now: () => number;
  /** SSH reachability of a host (ssh + `true` with a deadline). */
  sshReachable: (server: ServerConfig) => Promise<boolean>;
  runHook?: typeof runScript;
  /** Which hook set runs (default: the cluster's hooks.environment). */
  environment?: string | undefined;
  /** Between phases: false means this manager lost the right to act (HA lease). */
  stillLeader?: () => Promise<boolean>;
  /** Manager HA: the leader's fencing token (etcd lease revision), given to hooks as MHATS_FENCING_TOKEN. */
  fencingToken?: (() => string | undefined) | undefined;
  /** The binlog reader's cut (pure): where the last complete transaction ends. Without it, no salvage. */
  cutBinlog?: Cutter | undefined;
  /** The new master is writable (called at once, before the replicas are repointed): publish it. Must not throw. */
  onPromoted?: ((newMaster: ServerConfig) => void) | undefined;
  /** The old master answered SQL and was fenced (read_only, sessions killed). Must not throw. */
  onFenced?: ((server: ServerConfig) => void) | undefined;
  /** Persistent SSH sessions (warmed by the monitor when the suspicion began): fencing and hooks reuse them. */
  sshPool?: SshPool | undefined;
}

export interface PhaseRecord {
  phase: string;
  durationMs: number;
  ok: boolean;
}

export interface FailoverReport {
  id: string;
  outcome: FailoverOutcome;
  /** MHA exit codes: 0 success, 10 partial, 1 error/refused. */
  exitCode: 0 | 1 | 10;
  oldMaster: string;
  newMaster?: string | undefined;
  reason: string;
  phases: PhaseRecord[];
  recovered: string[];
  notRecovered: Array<{ name: string; reason: string }>;
  rejected: Array<{ name: string; reason: string }>;
  newMasterCoord?: BinlogCoord | undefined;
  /**
   * For a later rejoin of the old master (mhats rejoin): the new master holds the old master's binlog up to
   * `oldMasterApplied` plus the next `salvagedTransactions` complete transactions, and was at `newMasterCoord`
   * in its own binlog when it held exactly that. Absent when the new master may hold less (data loss).
   */
  rejoinMap?: { oldMaster: string; oldMasterApplied: BinlogCoord; salvagedTransactions: number; salvagedGtids: string[]; newMaster: string; newMasterCoord: BinlogCoord } | undefined;
  newMasterGtid?: string | undefined;
  lost?: string | undefined;
  durationMs: number;
  /** ms from the start to the new master being writable. */
  writableAfterMs?: number | undefined;
  /** Every hook that ran, with its verdict. */
  hooks?: HookRecord[] | undefined;
}

const PHASE = {
  check: 'Phase 1: Configuration Check Phase',
  shutdown: 'Phase 2: Dead Master Shutdown Phase',
  latest: 'Phase 3.1: Getting Latest Slaves Phase',
  save: "Phase 3.2: Saving Dead Master's Binlog Phase",
  choose: 'Phase 3.3: Determining New Master Phase',
  recover: 'Phase 3.4: New Master Recovery Phase',
  promote: 'Phase 3.5: Promoting New Master Phase',
  slaves: 'Phase 4: Slaves Recovery Phase',
  cleanup: 'Phase 5: New master cleanup phase',
} as const;

function newId(now: number, cluster: string): string {
  const d = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${cluster}-${d}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
}

export async function runFailover(req: FailoverRequest, deps: FailoverDeps): Promise<FailoverReport> {
  const { cluster } = req;
  const { log } = deps;
  const runHook = deps.runHook ?? runScript;
  const t0 = deps.now();
  const id = newId(t0, cluster.name);
  const phases: PhaseRecord[] = [];
  const byName = new Map(cluster.servers.map((s) => [s.name, s]));
  const dead = byName.get(req.deadMaster);
  const flog = log.child({ cluster: cluster.name, failover: id });
  const report: FailoverReport = { id, outcome: 'failed', exitCode: 1, oldMaster: req.deadMaster, reason: '', phases, recovered: [], notRecovered: [], rejected: [], durationMs: 0, hooks: [] };
  let begun = false;
  let ioStopped: ServerConfig[] = [];
  let promoted = false;
  /** Manager HA: the leader's fencing token when the failover began (hooks get it as MHATS_FENCING_TOKEN). */
  let fencingToken: string | undefined;

  const journalEvent = (message: string, detail?: unknown): void => {
    flog.info({ detail }, message);
    if (begun) deps.journal.append({ type: 'event', id, at: deps.now(), message, detail });
  };

  async function phase<T>(name: string, deadlineMs: number, fn: () => Promise<T>): Promise<T> {
    if (deps.stillLeader && !(await deps.stillLeader())) throw new FailoverFailed(`lost leadership before ${name}: stopping`);
    const start = deps.now();
    flog.info({ phase: name }, `${name} started`);
    let ok = false;
    try {
      const r = await withDeadline(name, deadlineMs, fn());
      ok = true;
      return r;
    } finally {
      const durationMs = deps.now() - start;
      phases.push({ phase: name, durationMs, ok });
      if (begun) deps.journal.append({ type: 'phase', id, phase: name, at: deps.now(), durationMs, ok });
      flog.info({ phase: name, durationMs, ok }, `${name} ${ok ? 'completed' : 'failed'} in ${durationMs} ms`);
    }
  }

  /** MHA's failover lock on every reachable survivor, held for the whole failover. */
  let locks: FailoverLocks | undefined;
  const finish = (outcome: FailoverOutcome, reason: string): FailoverReport => {
    report.outcome = outcome;
    report.reason = reason;
    report.exitCode = outcome === 'success' ? 0 : outcome === 'partial' ? 10 : 1;
    report.durationMs = deps.now() - t0;
    fencingToken = undefined;
    if (locks?.ok) locks.release().catch(() => undefined);
    if (begun) {
      deps.journal.append({ type: 'end', id, at: deps.now(), outcome, newMaster: report.newMaster, oldMaster: req.deadMaster, durationMs: report.durationMs, reason, lost: report.lost, detail: { phases, recovered: report.recovered, notRecovered: report.notRecovered, rejected: report.rejected, newMasterCoord: report.newMasterCoord, newMasterGtid: report.newMasterGtid, rejoinMap: report.rejoinMap } });
    }
    return report;
  };

  // Hooks: MHA's script keys, then the environment's hook set (src/config/hooks.ts).
  const hookPlan = hooksFor(cluster, deps.environment);
  const hooks = hookPlan.ok ? hookPlan.hooks : [];
  let stopHooksRan = false;
  const runHooksIn = async (hookPhase: HookPhase, ev: Partial<HookEvent> & { origMaster: ServerConfig }): Promise<PhaseOutcome> => {
    if (hookPhase === 'stop') stopHooksRan = true;
    return runHookPhase(hooks, { kind: 'failover', phase: hookPhase, cluster, id, environment: hookPlan.ok ? hookPlan.environment : undefined, ...ev, env: hookEnv(cluster, ev.origMaster, ev.newMaster, id, fencingToken) }, cluster.ssh, {
      runScript: runHook,
      onRecord: (r) => {
        report.hooks?.push(r);
        const line = describeRecord(r);
        if (r.verdict === 'ok') flog.info({ hook: r.name, phase: r.phase, durationMs: r.durationMs, hosts: r.hosts }, line);
        else flog.warn({ hook: r.name, phase: r.phase, verdict: r.verdict, exitCode: r.exitCode, timedOut: r.timedOut, hosts: r.hosts }, line);
        if (begun) deps.journal.append({ type: 'event', id, at: deps.now(), message: line, detail: { hook: r.name, type: r.type, phase: r.phase, verdict: r.verdict, exitCode: r.exitCode, timedOut: r.timedOut, hosts: r.hosts } });
      },
    });
  };

  try {
    if (dead === undefined) throw new FailoverRefused(`${req.deadMaster} is not a server of cluster ${cluster.name}`);
    if (!hookPlan.ok) throw new FailoverRefused(hookPlan.reason);

    // ---------------------------------------------------------------- Phase 1
    const g = guard(summarize(deps.journal.read()), deps.now(), cluster.last_failover_minute, req.trigger, cluster.name);
    if (!g.allowed) throw new FailoverRefused(g.reason);
    deps.journal.append({ type: 'begin', id, cluster: cluster.name, at: t0, deadMaster: dead.name, trigger: req.trigger, reason: req.reason });
    // The begin record must be durable (with etcd: written under this leader's fencing token) before anything changes.
    if (deps.journal.flush) await deps.journal.flush().catch((err: unknown) => Promise.reject(new FailoverRefused(`cannot record the failover in the journal (${deps.journal.path}): ${(err as Error).message}`)));
    fencingToken = deps.fencingToken?.();
    begun = true;
    // SSH reachability of the dead master's host decides the recovery path; probe it alongside Phase 1–2.
    const sshProbe: Promise<boolean> = req.sshReachable !== undefined ? Promise.resolve(req.sshReachable) : deps.sshReachable(dead).catch(() => false);

    // Old masters of earlier failovers that never rejoined are not part of the cluster any more.
    const failed = new Set(failedServers(summarize(deps.journal.read())));
    const others = cluster.servers.filter((s) => s.name !== dead.name && !failed.has(s.name));
    const checked = await phase(PHASE.check, 15_000 + cluster.connect_timeout * 1000 + cluster.query_timeout * 6000, async () => {
      // One failover at a time: a manager, mhats failover/switchover and MHA all take this lock first.
      locks = await takeFailoverLocks(others, cluster, { waitSec: 2 });
      if (!locks.ok) throw new FailoverRefused(`${locks.message}; not failing over`);
      // MHA's double check: a dead master must not answer SQL (a hung one does not). Not for a storage hang
      // (it answers, its writes hang: MHA has no double check with ping_type INSERT), and not when the
      // detector's verdict is under a second old (its last checks were the double check); run alongside.
      const fresh = req.verdict !== undefined && deps.now() - req.verdict.at < 1000;
      const doubleCheck = req.trigger === 'auto' && req.verdict?.code !== 'StorageHang' && !fresh ? inspectServer(target(dead), { connectTimeoutMs: Math.min(1000, cluster.connect_timeout * 1000), queryTimeoutMs: 1000, now: deps.now }) : undefined;
      const [alive, probes] = await Promise.all([doubleCheck, Promise.all(others.map((s) => inspectServer(target(s), { connectTimeoutMs: cluster.connect_timeout * 1000, queryTimeoutMs: cluster.query_timeout * 1000, now: deps.now })))]);
      if (alive?.ok) throw new FailoverRefused(`${dead.name} answers SQL again: it is not dead; stopping the failover`);
      const specs = cluster.servers.map(specOf);
      const observed = new Map<string, ServerObservation>();
      for (const p of probes) if (p.ok) observed.set(p.obs.name, p.obs);
      const replicas: ServerObservation[] = [];
      const problems: string[] = [];
      for (const p of probes) {
        const srv = byName.get(p.ok ? p.obs.name : p.failure.name)!;
        const inMaintenance = req.maintenance?.includes(srv.name) ?? false;
        if (!p.ok) {
          if (inMaintenance) journalEvent(`${srv.name} is unreachable and in maintenance: failing over without it`);
          else if (srv.ignore_fail) journalEvent(`${srv.name} is unreachable and ignore_fail is set: failing over without it`);
          else problems.push(`${srv.name} is unreachable (${p.failure.message}); set ignore_fail=1 for it to fail over without it`);
          continue;
        }
        const r = p.obs.replica;
        const src = r ? resolveSource(specs, observed, r.sourceHost, r.sourcePort) : undefined;
        if (src?.name !== dead.name) {
          const where = r ? `${r.sourceHost}:${r.sourcePort}` : 'nobody';
          if (inMaintenance) journalEvent(`${srv.name} does not replicate from ${dead.name} (from ${where}) and is in maintenance: leaving it alone`);
          else if (srv.ignore_fail) journalEvent(`${srv.name} does not replicate from ${dead.name} (from ${where}); ignore_fail is set: leaving it alone`);
          else problems.push(`${srv.name} replicates from ${where}, not from ${dead.name}: replicas replicate from different masters`);
          continue;
        }
        if (!r!.sqlRunning && r!.lastSqlErrno !== 0) {
          if (inMaintenance) journalEvent(`${srv.name} has a broken SQL thread (${r!.lastSqlError}) and is in maintenance: leaving it out`);
          else if (srv.ignore_fail) journalEvent(`${srv.name} has a broken SQL thread (${r!.lastSqlError}); ignore_fail is set: leaving it out`);
          else problems.push(`${srv.name}'s SQL thread is broken: error ${r!.lastSqlErrno}: ${r!.lastSqlError}`);
          continue;
        }
        if (inMaintenance && !r!.sqlRunning) {
          journalEvent(`${srv.name} is in maintenance with its SQL thread stopped: leaving it alone (repoint it when the maintenance is over)`);
          continue;
        }
        replicas.push(p.obs);
      }
      if (problems.length > 0) throw new FailoverRefused(problems.join('; '));
      if (replicas.length === 0) throw new FailoverRefused(`no surviving replica of ${dead.name}`);
      const mode = replicationMode(replicas, undefined);
      if (mode === 'mixed') throw new FailoverRefused('replicas mix GTID and binlog-position replication; fix that first (mhats check-repl)');
      const flavor = replicas[0]!.version.flavor;
      const errant = errantAmongSurvivors(
        flavor,
        replicas.map((o) => ({ name: o.name, serverId: o.serverId, serverUuid: o.serverUuid, gtid: o.gtid })),
        { serverId: req.lastMasterObs?.serverId ?? -1, serverUuid: req.lastMasterObs?.serverUuid, lastGtid: req.lastMasterObs?.gtid },
      );
      if (errant.length > 0) throw new FailoverRefused(`errant GTID transactions: ${errant.map((e) => `${e.name}: ${e.errant}`).join('; ')}. Inspect them and repair by hand before failing over`);
      const pre = chooseNewMaster(candidatesOf(replicas, cluster.servers, req.maintenance), { forced: req.newMaster, checkReplDelay: false, latestPriority: true });
      if (!pre.ok) throw new FailoverRefused(pre.reason);
      return { replicas, mode };
    });
    const mode = checked.mode;
    const flavor = checked.replicas[0]!.version.flavor;
    // MariaDB writes a GTID for every transaction even in binlog-position mode, and its replicas
    // keep gtid_slave_pos: a replica that received less can catch up by GTID in either mode.
    const gtidCatchUp = mode === 'gtid' || flavor === 'mariadb';
    journalEvent(`replication mode: ${mode === 'gtid' ? 'GTID' : 'binlog positions'}; survivors: ${checked.replicas.map((r) => r.name).join(', ')}`);

    // ---------------------------------------------------------------- Phase 2
    let sshReachable = req.sshReachable;
    await phase(PHASE.shutdown, 30_000 + phaseBudgetMs(hooks, 'stop'), async () => {
      const survivors = checked.replicas.map((o) => byName.get(o.name)!);
      // Freeze what each replica received: STOP SLAVE IO_THREAD everywhere, in parallel.
      await Promise.all(
        survivors.map(async (s) => {
          const a = await Admin.open(s, cluster);
          try {
            await a.q(a.d.stopReplica('io'));
            ioStopped.push(s);
            await waitUntil(`${s.name}: IO thread stopped`, 10_000, async () => {
              const [row] = await a.q(a.d.showReplicaStatus());
              return row !== undefined && a.d.parseReplicaStatus(row).ioRunning === 'No';
            });
            a.close();
          } catch (err) {
            a.destroy();
            throw err;
          }
        }),
      );
      // Fence the old master: read_only (verified) and its sessions killed when it answers SQL; its mysqld
      // killed over SSH when SQL did not fence it (hung, storage hang), unless a shutdown_script does it.
      const shutdownHook = hooks.some((h) => h.type === 'mha-script' && h.script === 'shutdown' && h.phases.includes('stop'));
      const fence = await fenceHard(dead, cluster, { log: flog, pool: deps.sshPool, shutdownHook });
      if (fence.sql === 'fenced') deps.onFenced?.(dead);
      journalEvent(`fence ${dead.name}: ${fence.detail}`, { sql: fence.sql, readOnly: fence.readOnly, sessionsKilled: fence.sessionsKilled, kill: fence.kill, pids: fence.pids, safe: fence.safe });
      // It answers SQL and can still take writes: never promote another master beside it.
      if (fence.sql === 'unverified' && !fence.safe && fence.kill !== 'shutdown_script') throw new FailoverFailed(`${dead.name} answers SQL but could not be fenced (${fence.detail}): not promoting another master while it may still take writes`);
      if (fence.kill === 'killed' || fence.kill === 'not_running') sshReachable ??= true;
      else if (fence.kill === 'no_ssh') sshReachable ??= false;
      if (sshReachable === undefined) sshReachable = await sshProbe;
      journalEvent(`${dead.name}'s host is ${sshReachable ? '' : 'not '}reachable over SSH`);
      // Stop hooks, MHA's order: master_ip_failover_script stop/stopssh, shutdown_script, then the hook set.
      const stopped = await runHooksIn('stop', { origMaster: dead, origSshReachable: sshReachable });
      // MHA shutdown_script: exit 0 = power-off done (SSH gone), 10 = SSH reachable, mysqld killed.
      if (stopped.sshReachable !== undefined) sshReachable = stopped.sshReachable;
      if (stopped.aborted) throw new FailoverFailed(`hook ${stopped.aborted.name} failed in the stop phase (${stopped.aborted.detail}): aborting`);
    });

    // ---------------------------------------------------------------- Phase 3.1
    const applyTimeoutS = Math.max(10, cluster.seconds_behind_master * 2);
    /** Where each survivor's SQL thread stands once it applied everything complete it received. */
    const execAfter = new Map<string, BinlogCoord>();
    const survivorPos: SurvivorPosition[] = [];
    const after = await phase(PHASE.latest, (applyTimeoutS + 20) * 1000, async () => {
      const probes = await Promise.all(checked.replicas.map((o) => inspectServer(target(byName.get(o.name)!), { connectTimeoutMs: cluster.connect_timeout * 1000, queryTimeoutMs: cluster.query_timeout * 1000, now: deps.now })));
      const obs: ServerObservation[] = [];
      for (const p of probes) {
        if (p.ok) obs.push(p.obs);
        else if (byName.get(p.failure.name)?.ignore_fail) report.notRecovered.push({ name: p.failure.name, reason: `unreachable: ${p.failure.message}` });
        else throw new FailoverFailed(`${p.failure.name} became unreachable: ${p.failure.message}`);
      }
      // Every survivor applies what it received, with a deadline.
      await Promise.all(
        obs.map(async (o) => {
          const a = await Admin.open(byName.get(o.name)!, cluster);
          try {
            if (!o.replica!.sqlRunning) await a.q(a.d.startReplica('sql'));
            const w0 = deps.now();
            const applied = await waitRelayApplied(a, applyTimeoutS * 1000);
            flog.debug({ replica: o.name, waitMs: deps.now() - w0, read: formatCoord(applied.read), exec: formatCoord(applied.exec), partial: applied.partial }, `${o.name}: relay log applied up to ${formatCoord(applied.exec)}${applied.partial ? ` (the rest, up to ${formatCoord(applied.read)}, is an incomplete transaction)` : ''}`);
            execAfter.set(o.name, applied.exec);
            const [v] = await a.q(a.d.variablesQuery());
            const g = a.d.parseVariables(v!).gtid;
            survivorPos.push({ gtids: [g.binlogPos, g.slavePos, g.executed].filter((x): x is string => x !== undefined && x !== ''), exec: applied.exec });
            a.close();
          } catch (err) {
            a.destroy();
            throw err;
          }
        }),
      );
      const latest = latestReplicas(candidatesOf(obs, cluster.servers));
      journalEvent(`latest replicas: ${latest.join(', ')} at ${formatCoord(execAfter.get(latest[0]!)!)}`, Object.fromEntries(obs.map((o) => [o.name, { read: formatCoord(o.replica!.read), exec: formatCoord(execAfter.get(o.name)!) }])));
      return { obs, latest };
    });
    const latestExec = execAfter.get(after.latest[0]!)!;
    /** Survivors that applied less than the most advanced one. */
    const behind = after.obs.filter((o) => compareCoords(execAfter.get(o.name)!, latestExec) < 0).map((o) => o.name);

    const applyTo = (server: ServerConfig, bytes: Uint8Array, gtids: string[]): Promise<number> => applyBinlogTo(cluster, server, bytes, gtids);
    /** Differential relay-log recovery: the events `server` lacks, from the most advanced survivor's relay logs. */
    const relay = new RelayCatchUp(cluster, byName.get(after.latest[0]!)!, (m) => journalEvent(m));
    const catchUpFromRelayLogs = (server: ServerConfig): Promise<true | string> => relay.catchUp(server, execAfter.get(server.name)!);

    // ---------------------------------------------------------------- Phase 3.2
    const salvage = await phase(PHASE.save, 60_000, async () => {
      const lastPos: MasterPosition | undefined = req.lastMasterPosition ?? (req.lastMasterObs?.binlog ? { coord: req.lastMasterObs.binlog, gtid: req.lastMasterObs.version.flavor === 'mariadb' ? req.lastMasterObs.gtid.binlogPos : req.lastMasterObs.gtid.executed, at: req.lastMasterObs.observedAt } : undefined);
      report.lost = lostTransactions(flavor, lastPos, survivorPos).text;
      if (!sshReachable) {
        journalEvent(`${dead.name}'s host is unreachable over SSH: transactions no replica received cannot be saved. Lost: ${report.lost}`);
        if (!/^none/.test(report.lost)) flog.error({ lost: report.lost }, `LOST TRANSACTIONS: ${report.lost}`);
        return undefined;
      }
      if (deps.cutBinlog === undefined) {
        journalEvent('binlog salvage skipped: no binlog reader');
        return undefined;
      }
      const r = await salvageBinlog(cluster, dead, latestExec, deps.cutBinlog, { timeoutMs: 30_000 });
      if (!r.ok) {
        flog.error({ reason: r.reason }, `could not save ${dead.name}'s binlog: ${r.reason}`);
        journalEvent(`binlog salvage failed: ${r.reason}`);
        report.lost = `unknown: ${dead.name}'s binlog after ${formatCoord(latestExec)} could not be read (${r.reason})`;
        return undefined;
      }
      if (r.transactions === 0) report.lost = `none: every committed transaction in ${dead.name}'s binlog had reached a replica`;
      journalEvent(
        r.transactions === 0
          ? `${dead.name}'s binlog has nothing after ${formatCoord(latestExec)}: every committed transaction reached a replica`
          : `saved ${r.transactions} transaction(s) from ${dead.name}'s binlog after ${formatCoord(latestExec)} (${r.files.join(', ')})${r.partial ? '; an incomplete transaction at the end (a crash mid-write, never committed) is left out' : ''}`,
        { gtids: r.gtids },
      );
      return r;
    });

    // ---------------------------------------------------------------- Phase 3.3
    const choice = await phase(PHASE.choose, 1000, () => {
      const c = chooseNewMaster(candidatesOf(after.obs, cluster.servers, req.maintenance), { forced: req.newMaster, checkReplDelay: cluster.check_repl_delay, latestPriority: cluster.latest_priority });
      report.rejected = c.rejected;
      for (const r of c.rejected) journalEvent(`not choosing ${r.name}: ${r.reason}`);
      if (!c.ok) throw new FailoverFailed(c.reason);
      journalEvent(`new master: ${c.chosen} (${c.reason})`, { rule: c.rule, latest: c.latest, rejected: c.rejected });
      return Promise.resolve(c);
    });
    const nm = byName.get(choice.chosen)!;
    report.newMaster = nm.name;
    /** Without GTID catch-up, a candidate that applied less cannot take the saved binlog: it would leave a gap. */
    let nmComplete = !behind.includes(nm.name);

    // ---------------------------------------------------------------- Phase 3.4
    await phase(PHASE.recover, (applyTimeoutS + 30) * 1000, async () => {
      if (!behind.includes(nm.name)) return;
      if (mode !== 'gtid') {
        // Binlog positions: bring the candidate up from the most advanced survivor's relay logs.
        const r = await catchUpFromRelayLogs(nm);
        if (r === true) {
          nmComplete = true;
          return;
        }
        journalEvent(`differential relay-log recovery of ${nm.name} failed: ${r}`);
        if (!gtidCatchUp) {
          flog.error({ newMaster: nm.name, latest: after.latest }, `DATA LOSS: ${nm.name} applied less than ${after.latest.join(', ')} (up to ${formatCoord(latestExec)}), and the missing events could not be taken from the relay logs: ${r}`);
          journalEvent(`DATA LOSS WARNING: ${nm.name} lacks events up to ${formatCoord(latestExec)} that ${after.latest.join(', ')} applied`);
          return;
        }
        journalEvent(`falling back to catching ${nm.name} up by GTID (MariaDB)`);
      }
      // Catch the candidate up from the most advanced replica, by GTID.
      const src = byName.get(after.latest[0]!)!;
      const srcObs = after.obs.find((o) => o.name === src.name)!;
      journalEvent(`${nm.name} is behind ${src.name}: catching up from it by GTID`);
      const s = await Admin.open(src, cluster);
      let upTo: string;
      try {
        const [v] = await s.q(s.d.variablesQuery());
        const g = s.d.parseVariables(v!).gtid;
        upTo = g.binlogPos ?? g.executed;
        s.close();
      } catch (err) {
        s.destroy();
        throw err;
      }
      const a = await Admin.open(nm, cluster);
      try {
        await a.q(a.d.stopReplica());
        await a.q(a.d.changeSource({ host: src.hostname, port: src.port, user: replUser(cluster, srcObs), password: cluster.servers.find((x) => x.repl_password)?.repl_password, gtid: 'auto' }));
        await a.q(a.d.startReplica());
        const [row] = await a.q<{ result: unknown }>(a.d.waitForGtid(upTo, applyTimeoutS), (applyTimeoutS + 5) * 1000);
        const w = a.d.parseWaitForGtidResult(row?.result);
        if (w.kind !== 'reached') throw new FailoverFailed(`${nm.name} did not catch up with ${src.name} (${upTo}) within ${applyTimeoutS} s`);
        await a.q(a.d.stopReplica());
        a.close();
      } catch (err) {
        a.destroy();
        throw err;
      }
      nmComplete = true;
    });

    // ---------------------------------------------------------------- Phase 3.5
    /** The new master's binlog position before the saved transactions: position-mode replicas start here. */
    let repointCoord: BinlogCoord | undefined;
    await phase(PHASE.promote, 20_000 + phaseBudgetMs(hooks, 'start') + (salvage?.bytes ? 120_000 : 0), async () => {
      // Start hooks (MHA: master_ip_failover_script start) run before the new master is writable: an abort still leaves no writable master.
      const started = await runHooksIn('start', { origMaster: dead, origSshReachable: sshReachable, newMaster: nm });
      if (started.aborted) throw new FailoverFailed(`hook ${started.aborted.name} failed in the start phase (${started.aborted.detail}): aborting before the new master takes writes`);
      const a = await Admin.open(nm, cluster);
      try {
        await a.q(a.d.stopReplica());
        if (!nm.skip_reset_slave) await a.q(a.d.resetReplicaAll());
        const [b0] = await a.q(a.d.showBinlogStatus());
        repointCoord = b0 ? { file: a.d.parseBinlogStatus(b0).file, pos: a.d.parseBinlogStatus(b0).pos } : undefined;
        if (salvage?.bytes && nmComplete) {
          // The saved transactions go in before the new master takes any write.
          const ms = await applyTo(nm, salvage.bytes, salvage.gtids);
          const applied = { durationMs: ms };
          journalEvent(`applied ${salvage.transactions} saved transaction(s) to ${nm.name} in ${applied.durationMs} ms${salvage.gtids.length ? ` (up to ${salvage.gtids.at(-1) ?? ''}, verified)` : ''}`);
          report.lost = `none: every transaction in ${dead.name}'s binlog was saved and applied`;
        } else if (salvage?.bytes) {
          report.lost = `${salvage.transactions} transaction(s) saved from ${dead.name}'s binlog could not be applied: ${nm.name} lacks earlier events`;
          journalEvent(`NOT applying the saved binlog: ${report.lost}`);
        }
        // Capture the new master's position while it is still read-only: nothing can slip in between.
        const [b] = await a.q(a.d.showBinlogStatus());
        const [v] = await a.q(a.d.variablesQuery());
        const coord = b ? a.d.parseBinlogStatus(b) : undefined;
        const gtid = v ? a.d.parseVariables(v).gtid : undefined;
        report.newMasterCoord = coord ? { file: coord.file, pos: coord.pos } : undefined;
        if (report.newMasterCoord && nmComplete) {
          const applied = salvage?.bytes !== undefined;
          report.rejoinMap = { oldMaster: dead.name, oldMasterApplied: latestExec, salvagedTransactions: applied ? salvage.transactions : 0, salvagedGtids: applied ? salvage.gtids : [], newMaster: nm.name, newMasterCoord: report.newMasterCoord };
        }
        report.newMasterGtid = gtid ? (a.d.flavor === 'mariadb' ? (gtid.binlogPos ?? gtid.executed) : gtid.executed) : undefined;
        for (const stmt of a.d.setReadOnly(false)) await a.q(stmt);
        promoted = true;
        report.writableAfterMs = deps.now() - t0;
        a.close();
      } catch (err) {
        a.destroy();
        throw err;
      }
      deps.onPromoted?.(nm);
      journalEvent(`${nm.name} is the new master, writable, at ${report.newMasterCoord ? formatCoord(report.newMasterCoord) : '?'}${report.newMasterGtid ? ` gtid ${report.newMasterGtid}` : ''}`);
    });

    // ---------------------------------------------------------------- Phase 4
    await phase(PHASE.slaves, 60_000, async () => {
      const rest = after.obs.filter((o) => o.name !== nm.name);
      // Binlog positions: bring every lagging replica to the same point first, from the most advanced
      // survivor's relay logs, before anyone is repointed (CHANGE MASTER discards relay logs).
      const diffFailed = new Map<string, string>();
      if (mode !== 'gtid') {
        await Promise.all(
          rest
            .filter((o) => behind.includes(o.name))
            .map(async (o) => {
              const r = await catchUpFromRelayLogs(byName.get(o.name)!);
              if (r !== true) {
                journalEvent(`differential relay-log recovery of ${o.name} failed: ${r}`);
                diffFailed.set(o.name, r);
              }
            }),
        );
      }
      const results = await Promise.allSettled(
        rest.map(async (o) => {
          const srv = byName.get(o.name)!;
          let viaGtid = mode === 'gtid';
          const diffError = diffFailed.get(o.name);
          if (diffError !== undefined) {
            if (!gtidCatchUp) throw new FailoverFailed(`applied less than ${after.latest.join(', ')} (${formatCoord(execAfter.get(o.name)!)} < ${formatCoord(latestExec)}) and the missing events could not be taken from the relay logs (${diffError}); repointing it by position would skip them: recover it by hand`);
            // MariaDB: catch up from the new master by GTID, then back to positions.
            viaGtid = true;
          }
          const a = await Admin.open(srv, cluster);
          try {
            await a.q(a.d.stopReplica());
            await a.q(
              a.d.changeSource({
                host: nm.hostname,
                port: nm.port,
                user: replUser(cluster, o),
                password: srv.repl_password,
                ...(viaGtid ? { gtid: 'auto' as const } : { gtid: false as const, coord: repointCoord }),
              }),
            );
            await a.q(a.d.startReplica());
            if (viaGtid && mode !== 'gtid') {
              // Only the MariaDB fallback gets here.
              // Caught up by GTID; back to binlog positions, now in the new master's binlog.
              const [w] = await a.q<{ result: unknown }>(a.d.waitForGtid(report.newMasterGtid ?? '', applyTimeoutS), (applyTimeoutS + 5) * 1000);
              if (a.d.parseWaitForGtidResult(w?.result).kind !== 'reached') throw new FailoverFailed(`did not catch up with ${nm.name} by GTID within ${applyTimeoutS} s`);
              await a.q(a.d.stopReplica());
              const [row] = await a.q(a.d.showReplicaStatus());
              const rs = a.d.parseReplicaStatus(row!);
              await a.q(a.d.changeSource({ host: nm.hostname, port: nm.port, user: replUser(cluster, o), gtid: false, coord: rs.exec }));
              await a.q(a.d.startReplica());
              journalEvent(`${o.name} received less than the others: caught up from ${nm.name} by GTID, then back to binlog positions at ${formatCoord(rs.exec)}`);
            }
            await waitUntil(`${o.name}: replication threads running`, 15_000, async () => {
              const [row] = await a.q(a.d.showReplicaStatus());
              if (row === undefined) return false;
              const rs = a.d.parseReplicaStatus(row);
              if (rs.lastSqlErrno) throw new FailoverFailed(`SQL thread error ${rs.lastSqlErrno}: ${rs.lastSqlError}`);
              if (rs.lastIoErrno && rs.ioRunning === 'No') throw new FailoverFailed(`IO thread error ${rs.lastIoErrno}: ${rs.lastIoError}`);
              return rs.ioRunning === 'Yes' && rs.sqlRunning;
            });
            a.close();
          } catch (err) {
            a.destroy();
            throw err;
          }
        }),
      );
      results.forEach((r, i) => {
        const name = rest[i]!.name;
        if (r.status === 'fulfilled') report.recovered.push(name);
        else {
          const reason = r.reason instanceof Error ? r.reason.message : String(r.reason);
          report.notRecovered.push({ name, reason });
          flog.error({ replica: name }, `could not repoint ${name}: ${reason}`);
        }
      });
      journalEvent(`repointed: ${report.recovered.join(', ') || 'none'}${report.notRecovered.length ? `; NOT recovered: ${report.notRecovered.map((n) => `${n.name} (${n.reason})`).join('; ')}` : ''}`);
    });

    // ---------------------------------------------------------------- Phase 5
    const outcome: FailoverOutcome = report.notRecovered.length === 0 ? 'success' : 'partial';
    await phase(PHASE.cleanup, phaseBudgetMs(hooks, 'report') + 5000, async () => {
      const subject = `${cluster.name}: MySQL Master failover ${dead.name} to ${nm.name}${outcome === 'success' ? ' succeeded' : ''}`;
      const body = [`Master ${dead.name} is down!`, `Selected ${nm.name} as a new master.`, `Recovered: ${report.recovered.join(', ') || 'none'}`, ...report.notRecovered.map((n) => `NOT recovered: ${n.name}: ${n.reason}`), `Lost: ${report.lost ?? 'none known'}`].join('\n');
      await runHooksIn('report', { origMaster: dead, newMaster: nm, newSlaves: report.recovered.map((n) => byName.get(n)!), outcome, subject, body });
    });
    const advice = lostWritesAdvice({ id, lost: report.lost, at: isoTime(t0) }, req.lastMasterObs);
    if (advice) journalEvent(`${advice.message}. To enable it: ${advice.hint ?? ''}`);
    const summary = outcome === 'success' ? `Master failover to ${nm.name} completed successfully.` : `Master failover to ${nm.name} done, but recovery on slave partially failed.`;
    flog.info({ outcome, durationMs: deps.now() - t0 }, summary);
    return finish(outcome, summary);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof FailoverRefused) {
      flog.warn({ reason: msg }, `failover of ${req.deadMaster} refused: ${msg}`);
      return finish('refused', msg);
    }
    flog.error({ reason: msg }, `failover of ${req.deadMaster} FAILED: ${msg}`);
    if (!promoted && ioStopped.length > 0) {
      // Undo what is safe to undo: let the replicas reconnect. The old master stays fenced.
      await Promise.allSettled(
        ioStopped.map(async (s) => {
          const a = await Admin.open(s, cluster);
          try {
            await a.q(a.d.startReplica('io'));
            a.close();
          } catch {
            a.destroy();
          }
        }),
      );
      ioStopped = [];
    }
    if (stopHooksRan && dead !== undefined) {
      // MHA: report_script runs at the end of any failover that reached Phase 2, failed ones too.
      const nmServer = promoted && report.newMaster ? byName.get(report.newMaster) : undefined;
      await runHooksIn('report', { origMaster: dead, newMaster: nmServer, newSlaves: nmServer ? report.recovered.map((n) => byName.get(n)!) : undefined, outcome: 'failed', subject: `${cluster.name}: MySQL Master failover ${dead.name}${nmServer ? ` to ${nmServer.name}` : ''}`, body: [`Master ${dead.name} is down!`, `Failover FAILED: ${msg}`].join('\n') }).catch((e: unknown) => flog.warn({ err: (e as Error).message }, 'report hooks failed'));
    }
    return finish('failed', msg);
  }
}

/** Candidates with their config flags, in config order (MHA's priority order). */
function candidatesOf(obs: ServerObservation[], servers: ServerConfig[], maintenance: string[] = []): CandidateInput[] {
  return servers.flatMap((s) => {
    const o = obs.find((x) => x.name === s.name);
    return o === undefined ? [] : [{ name: s.name, candidate_master: s.candidate_master, no_master: s.no_master, inMaintenance: maintenance.includes(s.name), obs: o }];
  });
}

/** Re-exported for the switchover and older callers. */
export { FailoverFailed, FailoverRefused, withDeadline, waitUntil, Admin, target, hookTimeoutMs } from './ops/admin.js';
export { fenceOldMaster } from './ops/fence.js';
