/**
 * Online master switch: a planned change of master while the old one is
 * alive (MHA's masterha_master_switch --master_state=alive, MasterRotate.pm).
 *
 *   prepare     inspect every server and the master's processlist; the pure
 *               pre-checks (domain/switchover.ts) decide, and say why
 *   execute     stop hook → read_only on the old master (writes blocked) →
 *               end client sessions → final binlog position and GTID →
 *               the candidate applies exactly that (deadline) → candidate
 *               stops replicating → old master verified unchanged →
 *               read_only OFF on the candidate (writes accepted) → RESET
 *               SLAVE ALL → start hook → repoint the replicas (and the old
 *               master) → verify with a heartbeat write
 *
 * With built-in vip hooks only (vipHooksInSwitch), the VIP moves inside the
 * switch instead of in hook phases around it: released on the old master's
 * host (kept SSH session) → read_only on the old master …, and, beside the
 * database steps, added on the new master's host (gratuitous ARP detached)
 * as soon as the release was acknowledged → read_only OFF on the candidate
 * only once the VIP is there → the check through the VIP, RESET SLAVE ALL
 * and the repointing after. A rollback takes the VIP off the new host before
 * it puts it back on the old one: never on two hosts (switchover-vip.ts: the
 * move, and its rollback as a pure step plan).
 *
 * Never two writable masters: the candidate becomes writable only after the
 * old master is read_only, its sessions are gone and its binlog is verified
 * not to have moved. Any failure before that rolls back: the candidate's
 * replication restarts, the old master is writable again, the other replicas
 * were never touched. Every statement has a deadline; a connection that
 * misses one is destroyed.
 */
import { takeFailoverLocks, type FailoverLocks } from '../adapters/leader/failover-lock.js';
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { inspectAll } from '../adapters/mysql/inspect.js';
import { HEALTH_CHECK_INSERT, HEALTH_CHECK_SETUP } from '../adapters/mysql/dialect.js';
import { runOnlineChangeHooks } from '../adapters/hooks/index.js';
import { SshPool } from '../adapters/ssh/session.js';
import { sshOptionsFor } from '../adapters/ssh/targets.js';
import type { runScript } from '../adapters/hooks/run-script.js';
import type { PhaseOutcome } from '../adapters/hooks/types.js';
import { hooksFor, hooksInPhase, type HookSpec, type VipHook } from '../config/hooks.js';
import { VipMove } from './switchover-vip.js';
import { compareCoords, formatCoord } from '../domain/binlog-coord.js';
import { gtidContains } from '../domain/gtid.js';
import { topologyOptions } from '../config/resolve.js';
import { analyzeTopology, type TopologyAnalysis } from '../domain/topology.js';
import { decideSwitchover, sessionsToKill, type PreCheck, type SwitchoverDecision, type SwitchoverPlan } from '../domain/switchover.js';
import type { BinlogCoord, ReplicaStatus } from '../domain/types.js';
import { Admin, hookTimeoutMs, replicaStatusOf, specOf, target, waitUntil, withAdmin, withDeadline } from './ops/admin.js';
import type { Logger } from '../ports/logger.js';

export interface SwitchoverOptions {
  /** Config name of the forced new master (--new-master). */
  newMaster?: string | undefined;
  origMasterIsNewSlave: boolean;
  /** Seconds (MHA running_updates_limit). */
  runningUpdatesLimit: number;
  /** Seconds of replication lag tolerated by the pre-check. */
  maxLag: number;
  /** Seconds: the longest mhats keeps writes blocked waiting for the candidate before it rolls back. */
  timeout: number;
  /** The id of an unfinished failover in the journal, if any (refuses the switch). */
  unfinishedFailover?: string | undefined;
  /** Servers in maintenance: left out (never the new master, never repointed); their absence blocks nothing. */
  maintenance?: string[] | undefined;
}

export interface StepRecord {
  step: string;
  durationMs: number;
  ok: boolean;
  detail?: string | undefined;
}

export interface SwitchoverDeps {
  log: Logger;
  runHook?: typeof runScript;
  /** Each step as it ends (progress). */
  onStep?: (s: StepRecord) => void;
  /** Messages worth showing the operator as they happen. */
  onNote?: (msg: string) => void;
  /** Monotonic clock, ms. */
  mono?: () => number;
  /** Persistent SSH sessions for the built-in hooks (default: the switchover's own, closed at its end). */
  sshPool?: SshPool | undefined;
}

export interface Prepared {
  decision: SwitchoverDecision;
  analysis: TopologyAnalysis;
  /** The master has super_read_only (MySQL ≥ 5.7.8). */
  hasSuperReadOnly: boolean;
}

export type SwitchoverOutcome = 'success' | 'partial' | 'refused' | 'rolled_back' | 'failed';

export interface SwitchoverReport {
  outcome: SwitchoverOutcome;
  /** MHA's: 0 success, 10 switched but some replicas not repointed, 1 error / refused / rolled back. */
  exitCode: 0 | 1 | 10;
  reason: string;
  oldMaster?: string | undefined;
  newMaster?: string | undefined;
  mode?: 'gtid' | 'position' | undefined;
  checks: PreCheck[];
  steps: StepRecord[];
  /** read_only sent to the old master → read_only=OFF acknowledged by the new master (or, rolled back, by the old master again). */
  writeBlockedMs?: number | undefined;
  /** VIP moved within the switch (built-in vip hooks only): its release on the old host sent → the new master writable with the VIP on its host. */
  vipBlockedMs?: number | undefined;
  killedConnections?: number | undefined;
  oldMasterFinal?: { coord: BinlogCoord; gtid: string } | undefined;
  newMasterStart?: { coord: BinlogCoord; gtid: string } | undefined;
  repointed: string[];
  notRepointed: Array<{ name: string; reason: string }>;
  rollback?: { complete: boolean; actions: string[]; problems: string[] } | undefined;
  warnings: string[];
  durationMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Inspects the cluster and the master's processlist, and runs the pre-checks. Changes nothing. */
export async function prepareSwitchover(cluster: ClusterConfig, opts: SwitchoverOptions, deps: Pick<SwitchoverDeps, 'log'>): Promise<Prepared> {
  const timeouts = { connectTimeoutMs: Math.round(cluster.connect_timeout * 1000), queryTimeoutMs: Math.round(cluster.query_timeout * 1000) };
  let probes = await inspectAll(cluster.servers.map(target), { ...timeouts, now: Date.now });
  let specs = cluster.servers.map(specOf);
  const analyze = (): TopologyAnalysis =>
    analyzeTopology(specs, probes, topologyOptions(cluster));
  let analysis = analyze();
  // Servers in maintenance (other than the master) are left out of the switch altogether.
  const drop = new Set((opts.maintenance ?? []).filter((n) => n !== analysis.master));
  if (drop.size > 0) {
    specs = specs.filter((s) => !drop.has(s.name));
    probes = probes.filter((p) => !drop.has(p.ok ? p.obs.name : p.failure.name));
    analysis = analyze();
  }
  let processes;
  let own: number[] = [];
  let hasSuperReadOnly = false;
  const master = cluster.servers.find((s) => s.name === analysis.master);
  if (master !== undefined && analysis.masterObs !== undefined) {
    try {
      const a = await Admin.open(master, cluster);
      try {
        hasSuperReadOnly = a.d.hasSuperReadOnly;
        // The servers were observed in parallel: under writes a replica may have been read a few ms
        // after the master and hold GTIDs the master's snapshot lacks. The master's GTID state only
        // grows, so read it again now, after every replica, before judging errant transactions.
        const [v] = await a.q(a.d.variablesQuery());
        const i = probes.findIndex((p) => p.ok && p.obs.name === master.name);
        const p = probes[i];
        if (v !== undefined && p?.ok) {
          probes[i] = { ok: true, obs: { ...p.obs, gtid: { ...a.d.parseVariables(v).gtid, enabled: p.obs.gtid.enabled } } };
          analysis = analyze();
        }
        const rows = await a.q(a.d.processlistQuery());
        processes = rows.map((r) => a.d.parseProcess(r));
        if (a.s.threadId !== null) own = [a.s.threadId];
        a.close();
      } catch (err) {
        a.destroy();
        throw err;
      }
    } catch (err) {
      deps.log.warn({ server: master.name, err: errMsg(err) }, `cannot read the processlist of ${master.name}: ${errMsg(err)}`);
    }
  }
  const decision = decideSwitchover({
    analysis,
    servers: cluster.servers,
    promotionLocation: cluster.promotion_location,
    newMaster: opts.newMaster,
    maxLagSeconds: opts.maxLag,
    runningUpdatesLimit: opts.runningUpdatesLimit,
    masterProcesses: processes,
    ownConnectionIds: own,
    unfinishedFailover: opts.unfinishedFailover,
  });
  return { decision, analysis, hasSuperReadOnly };
}

export { onlineChangeArgs } from '../adapters/hooks/mha-args.js';

function onlineChangeEnv(cluster: ClusterConfig, orig: ServerConfig, nm: ServerConfig, rollback: boolean): Record<string, string> {
  return {
    MHATS_CLUSTER: cluster.name,
    MHATS_SWITCHOVER: '1',
    ...(rollback ? { MHATS_ONLINE_CHANGE_ROLLBACK: '1' } : {}),
    MHATS_ORIG_MASTER_HOST: orig.hostname,
    MHATS_ORIG_MASTER_IP: orig.ip,
    MHATS_ORIG_MASTER_PORT: String(orig.port),
    MHATS_ORIG_MASTER_USER: orig.user,
    MHATS_ORIG_MASTER_PASSWORD: orig.password.reveal(),
    MHATS_NEW_MASTER_HOST: nm.hostname,
    MHATS_NEW_MASTER_IP: nm.ip,
    MHATS_NEW_MASTER_PORT: String(nm.port),
    MHATS_NEW_MASTER_USER: nm.user,
    MHATS_NEW_MASTER_PASSWORD: nm.password.reveal(),
  };
}

/**
 * The built-in vip hooks that move inside the database switch, or undefined
 * when the online-change hooks keep MHA's order (stop hook before read_only,
 * start hook after the new master is writable). Only when every online-change
 * hook is a built-in vip hook acting in both online-change phases: a user's
 * script (MHA's master_ip_online_change, a command) or another built-in keeps
 * MHA's order and arguments unchanged.
 */
export function vipHooksInSwitch(hooks: readonly HookSpec[]): VipHook[] | undefined {
  const all = [...new Set([...hooksInPhase(hooks, 'online_change_stop'), ...hooksInPhase(hooks, 'online_change_start')])];
  if (all.length === 0) return undefined;
  const vips = all.filter((h): h is VipHook => h.type === 'vip' && h.phases.includes('online_change_stop') && h.phases.includes('online_change_start'));
  return vips.length === all.length ? vips : undefined;
}

/** What the printed plan says about the online-change hooks: the VIPs moved inside the switch, and whether any hook moves clients at all. */
export function onlineChangeHooksView(cluster: ClusterConfig): { vips: string[] | undefined; anyHook: boolean } {
  const p = hooksFor(cluster);
  if (!p.ok) return { vips: undefined, anyHook: true };
  return { vips: vipHooksInSwitch(p.hooks)?.map((h) => h.address), anyHook: hooksInPhase(p.hooks, 'online_change_stop').length + hooksInPhase(p.hooks, 'online_change_start').length > 0 };
}

/** Raised inside the switch; caught by executeSwitchover. */
class SwitchFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SwitchFailed';
  }
}

async function binlogPosition(a: Admin, ms: number): Promise<{ coord: BinlogCoord; gtid: string }> {
  const [b] = await a.q(a.d.showBinlogStatus(), ms);
  if (b === undefined) throw new SwitchFailed(`${a.server.name}: binary logging is off (${a.d.showBinlogStatus()} returned nothing)`);
  const p = a.d.parseBinlogStatus(b);
  const [g] = await a.q(a.d.binlogGtidQuery(), ms);
  return { coord: { file: p.file, pos: p.pos }, gtid: a.d.parseBinlogGtid(g) };
}

function showPos(p: { coord: BinlogCoord; gtid: string }, mode: 'gtid' | 'position'): string {
  return `${formatCoord(p.coord)}${p.gtid ? `${mode === 'gtid' ? ', GTID' : ', gtid'} ${p.gtid}` : ''}`;
}

/** Waits until a replica's threads run (and stops early on a replication error). */
async function waitThreadsRunning(a: Admin, ms: number): Promise<void> {
  await waitUntil(`${a.server.name}: replication threads running`, ms, async () => {
    const rs = await replicaStatusOf(a, 5000);
    if (rs === undefined) return false;
    if (rs.lastSqlErrno) throw new SwitchFailed(`SQL thread error ${rs.lastSqlErrno}: ${rs.lastSqlError}`);
    if (rs.lastIoErrno && rs.ioRunning === 'No') throw new SwitchFailed(`IO thread error ${rs.lastIoErrno}: ${rs.lastIoError}`);
    return rs.ioRunning === 'Yes' && rs.sqlRunning;
  });
}

/**
 * Runs the switch planned by prepareSwitchover. Never throws: the report
 * says what happened, including a rollback and its result.
 */
export async function executeSwitchover(cluster: ClusterConfig, plan: SwitchoverPlan, checks: PreCheck[], opts: SwitchoverOptions, deps: SwitchoverDeps): Promise<SwitchoverReport> {
  const mono = deps.mono ?? (() => performance.now());
  const runHook = deps.runHook;
  const switchId = `${cluster.name}-switchover-${Math.round(Date.now() / 1000)}`;
  const log = deps.log.child({ cluster: cluster.name, switchover: `${plan.master}->${plan.newMaster}` });
  const note = (msg: string): void => {
    log.info({}, msg);
    deps.onNote?.(msg);
  };
  const t0 = mono();
  const byName = new Map(cluster.servers.map((s) => [s.name, s]));
  const om = byName.get(plan.master)!;
  const nm = byName.get(plan.newMaster)!;
  const mode = plan.mode;
  const qMs = Math.round(cluster.query_timeout * 1000);
  const budgetMs = Math.round(opts.timeout * 1000);
  const report: SwitchoverReport = { outcome: 'failed', exitCode: 1, reason: '', oldMaster: om.name, newMaster: nm.name, mode, checks, steps: [], repointed: [], notRepointed: [], warnings: [], durationMs: 0 };

  async function step<T>(name: string, deadlineMs: number, fn: () => Promise<T>, detail?: (r: T) => string | undefined): Promise<T> {
    const s0 = mono();
    try {
      const r = await withDeadline(name, Math.max(1, Math.round(deadlineMs)), fn());
      const rec: StepRecord = { step: name, durationMs: Math.round(mono() - s0), ok: true, detail: detail?.(r) };
      report.steps.push(rec);
      log.info({ step: name, durationMs: rec.durationMs, detail: rec.detail }, `${name}: ok in ${rec.durationMs} ms${rec.detail ? ` (${rec.detail})` : ''}`);
      deps.onStep?.(rec);
      return r;
    } catch (err) {
      const rec: StepRecord = { step: name, durationMs: Math.round(mono() - s0), ok: false, detail: errMsg(err) };
      report.steps.push(rec);
      log.error({ step: name, durationMs: rec.durationMs, err: rec.detail }, `${name}: FAILED after ${rec.durationMs} ms: ${rec.detail}`);
      deps.onStep?.(rec);
      throw err;
    }
  }

  /** MHA's failover lock on every reachable server, held for the whole switch. */
  let locks: FailoverLocks | undefined;
  const finish = (outcome: SwitchoverOutcome, reason: string): SwitchoverReport => {
    if (locks?.ok) locks.release().catch(() => undefined);
    if (ownPool) pool?.close();
    report.outcome = outcome;
    report.reason = reason;
    report.exitCode = outcome === 'success' ? 0 : outcome === 'partial' ? 10 : 1;
    report.durationMs = Math.round(mono() - t0);
    return report;
  };

  // Online-change hooks: MHA's master_ip_online_change_script, then the environment's hook set.
  const hookPlan = hooksFor(cluster);
  const hasOnlineHooks = !hookPlan.ok || hooksInPhase(hookPlan.hooks, 'online_change_stop').length + hooksInPhase(hookPlan.hooks, 'online_change_start').length > 0;
  // The built-in vip hook runs on kept SSH sessions, opened before the write block (not inside it).
  const sshHooks = hookPlan.ok && [...hooksInPhase(hookPlan.hooks, 'online_change_stop'), ...hooksInPhase(hookPlan.hooks, 'online_change_start')].some((h) => h.type === 'vip');
  const ownPool = sshHooks && deps.sshPool === undefined;
  const pool = sshHooks ? (deps.sshPool ?? new SshPool({ log })) : undefined;
  const sessionsReady = pool
    ? Promise.all([om, nm].map((s) => {
        const { target: t, options } = sshOptionsFor(cluster, s);
        return pool.prepare(t, options, options.connectTimeoutMs + 5000).then((ok) => (ok ? undefined : s.name));
      }))
    : Promise.resolve([]);
  async function hook(command: 'stop' | 'start', rollback = false): Promise<PhaseOutcome> {
    // On a rollback, "start" makes the ORIGINAL master the one that takes writes again.
    const newSide = rollback ? om : nm;
    const out = await runOnlineChangeHooks({ cluster, id: switchId, command, orig: om, newMaster: newSide, origIsNewSlave: opts.origMasterIsNewSlave, rollback, env: onlineChangeEnv(cluster, om, newSide, rollback), deps: { runScript: runHook, sshPool: pool } });
    for (const r of out.records) log.info({ hook: r.name, phase: r.phase, verdict: r.verdict, exitCode: r.exitCode, timedOut: r.timedOut, durationMs: r.durationMs }, `hook ${r.name} (${r.phase}): ${r.verdict}${r.detail ? `: ${r.detail}` : ''}`);
    return out;
  }
  // Built-in vip hooks only: the VIP moves inside the switch (see vipHooksInSwitch, switchover-vip.ts and the README's "Through a VIP").
  const vipHooks = hookPlan.ok ? vipHooksInSwitch(hookPlan.hooks) : undefined;
  const vip = vipHooks ? new VipMove(vipHooks, { cluster, om, nm, pool, budgetMs, step, mono }) : undefined;
  const describeOutcome = (o: PhaseOutcome): string => (o.aborted ? `${o.aborted.name}: ${o.aborted.detail || o.aborted.verdict}` : o.records.map((r) => `${r.name}: ${r.verdict}`).join(', ') || 'no hooks');

  // State, for the rollback.
  let stopHookRan = false;
  let readOnlySentToOld = false;
  let candidateStopped = false;
  let promotionSent = false;
  let promoted = false;
  let tBlock = 0;
  let oa: Admin | undefined;
  let na: Admin | undefined;
  let nmSourceUser: string | undefined;
  let final: { coord: BinlogCoord; gtid: string } | undefined;
  let nmStart: { coord: BinlogCoord; gtid: string } | undefined;

  try {
    // ------------------------------------------------------------ before the window
    // One failover or switchover at a time (a manager failing over, mhats failover, MHA): MHA's failover lock.
    locks = await step("MHA's failover lock on every server", cluster.connect_timeout * 1000 + 6000, () => takeFailoverLocks(cluster.servers, cluster, { waitSec: 2 }), (l) => (l.ok ? `held on ${l.held.join(', ')}${l.unreachable.length ? `; unreachable: ${l.unreachable.join(', ')}` : ''}` : undefined));
    if (!locks.ok) return finish('failed', `${locks.message}; nothing changed`);
    [oa, na] = await step(`connect to ${om.name} and ${nm.name}`, cluster.connect_timeout * 1000 + qMs + 1000, async () => {
      const [o, n] = await Promise.allSettled([Admin.open(om, cluster), Admin.open(nm, cluster)]);
      if (o.status === 'rejected' || n.status === 'rejected') {
        if (o.status === 'fulfilled') o.value.destroy();
        if (n.status === 'fulfilled') n.value.destroy();
        throw new SwitchFailed(errMsg(o.status === 'rejected' ? o.reason : (n as PromiseRejectedResult).reason));
      }
      try {
        // The server, not only the client, gives up waiting for read_only (error 1205) at the deadline.
        await o.value.q(o.value.d.setSessionLockWaitTimeout(Math.max(1, Math.floor(opts.timeout))), qMs);
      } catch (err) {
        o.value.destroy();
        n.value.destroy();
        throw err;
      }
      return [o.value, n.value] as const;
    });
    const oldA = oa;
    const newA = na;

    if (pool) {
      // Opened since the start, alongside the lock and the connections: usually ready by now.
      const missing = (await step(`SSH sessions to ${om.name} and ${nm.name} for the hooks`, 30_000, () => sessionsReady, (ms) => {
        const m = ms.filter((x): x is string => x !== undefined);
        return m.length ? `not ready on ${m.join(', ')}${vip ? '' : ': the hooks there open their own'}` : 'ready';
      })).filter((x): x is string => x !== undefined);
      if (vip && missing.length > 0) {
        // The VIP would leave the old host inside the block and might find no way onto the new one: refuse now.
        const why = missing.map((n) => `${n}: ${pool.lastError(sshOptionsFor(cluster, byName.get(n)!).target) ?? 'not ready in time'}`).join('; ');
        oldA.close();
        newA.close();
        return finish('failed', `no SSH session to ${missing.join(' and ')} (${why}): ${vip.names} cannot be moved inside the switch; nothing changed`);
      }
    }
    await vip?.askArping();
    if (hasOnlineHooks && vip === undefined) {
      await step('online-change hooks (stop)', hookTimeoutMs(cluster) * 4 + 5000, async () => {
        stopHookRan = true;
        const o = await hook('stop');
        if (o.aborted) throw new SwitchFailed(`online-change stop hook failed (${describeOutcome(o)})`);
        return describeOutcome(o);
      }, (d) => d);
    }

    // ------------------------------------------------------------ the write-blocked window
    const lockWaitS = Math.max(1, Math.floor(opts.timeout));
    // The VIP leaves the old host first, then read_only (VipMove.leaveOld says why); it is added on the
    // new host as soon as the old host has acknowledged its removal (never on two hosts), beside the
    // database switch; the new master becomes writable only once it is there.
    await vip?.leaveOld();
    tBlock = mono();
    await step(`${om.name}: ${oldA.d.hasSuperReadOnly ? 'read_only + super_read_only' : 'read_only'} = ON (writes blocked)`, lockWaitS * 1000 + 3000, async () => {
      readOnlySentToOld = true;
      for (const stmt of oldA.d.setReadOnly(true)) await oldA.q(stmt, lockWaitS * 1000 + 2000);
    });
    const windowLeft = (): number => budgetMs - (mono() - tBlock);

    report.killedConnections = await step(`${om.name}: end client connections`, Math.max(1500, windowLeft()), async () => {
      const own = oldA.s.threadId === null ? [] : [oldA.s.threadId];
      const rows = (await oldA.q(oldA.d.processlistQuery(), qMs)).map((r) => oldA.d.parseProcess(r));
      const victims = sessionsToKill(rows, own);
      for (const v of victims) {
        try {
          await oldA.q(oldA.d.killConnection(v.id), qMs);
        } catch {
          // already gone
        }
      }
      // Wait (bounded) until they are gone: a killed session may be finishing a commit.
      const ids = new Set(victims.map((v) => v.id));
      const end = mono() + Math.min(2000, Math.max(200, windowLeft()));
      while (ids.size > 0) {
        const left = (await oldA.q(oldA.d.processlistQuery(), qMs)).map((r) => oldA.d.parseProcess(r)).filter((p) => ids.has(p.id));
        if (left.length === 0) break;
        if (mono() > end) {
          report.warnings.push(`${left.length} killed connection(s) on ${om.name} were still finishing; the binlog is verified unchanged before promotion`);
          break;
        }
        await sleep(5);
      }
      return victims.length;
    }, (n) => `${n} killed`);

    final = await step(`${om.name}: final position`, qMs, () => binlogPosition(oldA, qMs), (p) => showPos(p, mode));
    report.oldMasterFinal = final;
    const fin = final;

    await step(`${nm.name}: apply up to ${om.name}'s final position`, windowLeft() + 2000, async () => {
      const secs = Math.max(1, Math.round(windowLeft() / 1000));
      const stmt = mode === 'gtid' ? newA.d.waitForGtid(fin.gtid, secs) : newA.d.waitForCoord(fin.coord, secs);
      const [row] = await newA.q<{ result: unknown }>(stmt, secs * 1000 + 1500);
      const kind = mode === 'gtid' ? newA.d.parseWaitForGtidResult(row?.result).kind : newA.d.parseWaitForCoordResult(row?.result).kind;
      if (kind === 'reached') return;
      if (kind === 'timeout') throw new SwitchFailed(`${nm.name} did not apply up to ${showPos(fin, mode)} within ${secs} s (--timeout ${opts.timeout}): it lags, or its SQL thread is blocked`);
      const rs = await replicaStatusOf(newA, qMs);
      throw new SwitchFailed(`${nm.name} cannot apply up to ${showPos(fin, mode)}: its SQL thread is ${rs?.sqlRunning ? 'running but the wait failed' : 'not running'}${rs?.lastSqlErrno ? ` (error ${rs.lastSqlErrno}: ${rs.lastSqlError})` : ''}`);
    });

    await step(`${nm.name}: stop replication`, qMs, async () => {
      candidateStopped = true;
      await newA.q(newA.d.stopReplica(), qMs);
      const rs = await replicaStatusOf(newA, qMs);
      nmSourceUser = rs?.sourceUser;
      if (mode === 'position' && rs && compareCoords(rs.exec, fin.coord) !== 0) throw new SwitchFailed(`${nm.name} stopped at ${formatCoord(rs.exec)} of ${om.name}'s binlog, not at its final position ${formatCoord(fin.coord)}`);
    });

    await step(`${om.name}: binlog unchanged since read_only`, qMs, async () => {
      const now = await binlogPosition(oldA, qMs);
      if (compareCoords(now.coord, fin.coord) !== 0 || now.gtid !== fin.gtid) {
        throw new SwitchFailed(
          `${om.name}'s binlog moved from ${showPos(fin, mode)} to ${showPos(now, mode)} while read_only was ON: a session with ${oldA.d.hasSuperReadOnly ? 'SUPER / CONNECTION_ADMIN' : 'READ ONLY ADMIN (part of ALL PRIVILEGES on MariaDB ≥ 10.11)'} reconnected and wrote`,
        );
      }
    });

    nmStart = await step(`${nm.name}: own binlog position`, qMs, () => binlogPosition(newA, qMs), (p) => showPos(p, mode));
    report.newMasterStart = nmStart;

    await vip?.arrived();

    await step(`${nm.name}: read_only = OFF (writes accepted: new master)`, qMs + 1000, async () => {
      promotionSent = true;
      for (const stmt of newA.d.setReadOnly(false)) await newA.q(stmt, qMs);
      promoted = true;
    });
    report.writeBlockedMs = Math.round(mono() - tBlock);
    note(`writes were blocked for ${report.writeBlockedMs} ms (${om.name} read_only → ${nm.name} writable)`);
    if (vip) {
      report.vipBlockedMs = vip.sinceRelease();
      note(`${vip.names} moved within the switch: ${report.vipBlockedMs} ms from its release on ${om.name} to ${nm.name} writable with it`);
    }
  } catch (err) {
    const reason = errMsg(err);
    oa?.destroy();
    na?.destroy();
    if (promoted) {
      // Not reachable (promotion is the last statement of the try), but never roll back a writable new master.
      return finish('failed', reason);
    }
    const rb = await rollback(reason);
    report.rollback = rb;
    if (readOnlySentToOld) report.writeBlockedMs = Math.round(mono() - tBlock);
    const outcome: SwitchoverOutcome = rb.complete ? 'rolled_back' : 'failed';
    return finish(outcome, `${reason}${rb.complete ? ` — rolled back: ${om.name} is the master and writable again, ${nm.name} replicates from it` : ` — ROLLBACK INCOMPLETE: ${rb.problems.join('; ')}`}`);
  }

  // ---------------------------------------------------------------- after the window
  oa.close();
  const newA = na;
  const fin = final;
  const start = nmStart;
  let hookFailure: string | undefined;
  // The check through the VIP is off the critical path: the new master is writable already.
  const vipChecked = vip?.verifyOnNew((w) => report.warnings.push(w));
  try {
    if (!nm.skip_reset_slave) {
      await step(`${nm.name}: RESET SLAVE ALL`, qMs, async () => {
        await newA.q(newA.d.resetReplicaAll(), qMs);
      }).catch((err: unknown) => report.warnings.push(`${nm.name}: RESET SLAVE ALL failed (${errMsg(err)}); its stopped replication settings towards ${om.name} remain`));
    }
  } finally {
    newA.close();
  }

  if (hasOnlineHooks && vip === undefined) {
    await step('online-change hooks (start)', hookTimeoutMs(cluster) * 4 + 5000, async () => {
      const o = await hook('start');
      if (o.aborted) throw new SwitchFailed(`online-change start hook failed (${describeOutcome(o)})`);
      return describeOutcome(o);
    }, (d) => d).catch((err: unknown) => {
      hookFailure = errMsg(err);
    });
  }

  const replUserFor = (rs: ReplicaStatus | undefined): string => cluster.servers.find((s) => s.repl_user)?.repl_user ?? rs?.sourceUser ?? nmSourceUser ?? 'repl';
  const toRepoint = [...plan.replicas.map((n) => byName.get(n)!), ...(opts.origMasterIsNewSlave ? [om] : [])];
  const replicaDeadline = budgetMs + 20_000;
  await step(`repoint ${toRepoint.map((s) => s.name).join(', ') || 'nothing'} to ${nm.name}`, replicaDeadline + 5000, async () => {
    const results = await Promise.allSettled(
      toRepoint.map((srv) =>
        withDeadline(`repoint ${srv.name}`, replicaDeadline, withAdmin(srv, cluster, async (a) => {
          if (srv.name === om.name) {
            // The old master: only if it has nothing the new master lacks.
            const now = await binlogPosition(a, qMs);
            if (compareCoords(now.coord, fin.coord) !== 0) throw new SwitchFailed(`its binlog moved since the switch (${showPos(fin, mode)} → ${showPos(now, mode)}): it has transactions ${nm.name} lacks; left alone, read_only`);
            const password = srv.repl_password ?? cluster.servers.find((s) => s.repl_password)?.repl_password;
            if (password === undefined) throw new SwitchFailed('repl_password is not configured: the old master has no replication credentials to reuse');
            const rs = await replicaStatusOf(a, qMs);
            if (rs !== undefined) await a.q(a.d.stopReplica(), qMs);
            if (mode === 'gtid' && a.d.flavor === 'mariadb') await a.q(a.d.setGtidSlavePos(fin.gtid), qMs);
            await a.q(a.d.changeSource({ host: nm.hostname, port: nm.port, user: replUserFor(undefined), password, ...(mode === 'gtid' ? { gtid: 'auto' as const } : { gtid: false as const, coord: start.coord }) }), qMs);
          } else {
            if (mode === 'position') {
              // It must have applied exactly the old master's last event before it moves to the new master's coordinates.
              const secs = Math.max(1, Math.round(budgetMs / 1000));
              const [w] = await a.q<{ result: unknown }>(a.d.waitForCoord(fin.coord, secs), secs * 1000 + 1500);
              const k = a.d.parseWaitForCoordResult(w?.result).kind;
              if (k !== 'reached') throw new SwitchFailed(`did not apply up to ${om.name}'s final position ${formatCoord(fin.coord)} within ${secs} s (${k === 'timeout' ? 'lag' : 'SQL thread not running'})`);
            }
            await a.q(a.d.stopReplica(), qMs);
            const rs = await replicaStatusOf(a, qMs);
            if (mode === 'position' && rs && compareCoords(rs.exec, fin.coord) !== 0) throw new SwitchFailed(`stopped at ${formatCoord(rs.exec)}, not at ${om.name}'s final position ${formatCoord(fin.coord)}: repair by hand`);
            if (mode === 'gtid' && fin.gtid !== '') {
              // Nothing beyond the old master's final GTID position (a late write there by a privileged session) may come along.
              const [v] = await a.q(a.d.variablesQuery(), qMs);
              const g = v === undefined ? undefined : a.d.parseVariables(v).gtid;
              const applied = g === undefined ? '' : a.d.flavor === 'mariadb' ? (g.slavePos ?? '') : g.executed;
              if (applied !== '' && !gtidContains(a.d.flavor, fin.gtid, applied)) throw new SwitchFailed(`has applied ${applied}, beyond ${om.name}'s final GTID position ${fin.gtid} (a write on ${om.name} after the switch): left stopped, repair by hand`);
            }
            await a.q(a.d.changeSource({ host: nm.hostname, port: nm.port, user: replUserFor(rs), password: srv.repl_password, ...(mode === 'gtid' ? { gtid: 'auto' as const } : { gtid: false as const, coord: start.coord }) }), qMs);
          }
          await a.q(a.d.startReplica(), qMs);
          await waitThreadsRunning(a, 15_000);
        })),
      ),
    );
    results.forEach((r, i) => {
      const name = toRepoint[i]!.name;
      if (r.status === 'fulfilled') report.repointed.push(name);
      else report.notRepointed.push({ name, reason: errMsg(r.reason) });
    });
    return results;
  }, () => `${report.repointed.length} repointed${report.notRepointed.length ? `, ${report.notRepointed.length} NOT: ${report.notRepointed.map((n) => `${n.name} (${n.reason})`).join('; ')}` : ''}`).catch((err: unknown) => {
    for (const s of toRepoint) if (!report.repointed.includes(s.name) && !report.notRepointed.some((n) => n.name === s.name)) report.notRepointed.push({ name: s.name, reason: errMsg(err) });
  });
  if (!opts.origMasterIsNewSlave) {
    note(`${om.name} stays read_only and replicates from nobody (--orig-master-is-new-slave not given)`);
    report.warnings.push(`${om.name} replicates from nobody: a running mhats manager sees two servers replicating from nobody and keeps watching ${om.name}; restart it, or make ${om.name} a replica of ${nm.name}`);
  }

  const vipFailure = await vipChecked;
  if (vipFailure !== undefined) hookFailure = vipFailure;

  // ---------------------------------------------------------------- verify
  let writeFailure: string | undefined;
  await step(`verify: ${nm.name} takes a write, every replica receives it`, 30_000, async () => {
    let mark: { coord: BinlogCoord; gtid: string };
    try {
      mark = await withAdmin(nm, cluster, async (a) => {
        for (const s of HEALTH_CHECK_SETUP) await a.q(s, qMs);
        await a.q(HEALTH_CHECK_INSERT, qMs);
        return binlogPosition(a, qMs);
      });
    } catch (err) {
      writeFailure = `${nm.name} did not take a write: ${errMsg(err)}`;
      throw new SwitchFailed(writeFailure);
    }
    const checked = await Promise.allSettled(
      report.repointed.map((name) =>
        withAdmin(byName.get(name)!, cluster, async (a) => {
          const stmt = mode === 'gtid' ? a.d.waitForGtid(mark.gtid, 10) : a.d.waitForCoord(mark.coord, 10);
          const [w] = await a.q<{ result: unknown }>(stmt, 12_000);
          const reached = mode === 'gtid' ? a.d.parseWaitForGtidResult(w?.result).kind === 'reached' : a.d.parseWaitForCoordResult(w?.result).kind === 'reached';
          const rs = await replicaStatusOf(a, qMs);
          if (rs === undefined || (rs.sourceHost !== nm.hostname && rs.sourceHost !== nm.ip) || rs.sourcePort !== nm.port) throw new SwitchFailed(`does not replicate from ${nm.name}`);
          if (!reached) throw new SwitchFailed(`did not receive ${nm.name}'s heartbeat write (${showPos(mark, mode)}) within 10 s: IO ${rs.ioRunning}, SQL ${rs.sqlRunning ? 'running' : 'stopped'}${rs.lastSqlErrno ? `, error ${rs.lastSqlErrno}: ${rs.lastSqlError}` : ''}${rs.lastIoErrno ? `, IO error ${rs.lastIoErrno}: ${rs.lastIoError}` : ''}`);
        }),
      ),
    );
    const names = [...report.repointed];
    checked.forEach((r, i) => {
      if (r.status === 'rejected') {
        const name = names[i]!;
        report.repointed = report.repointed.filter((n) => n !== name);
        report.notRepointed.push({ name, reason: `verify: ${errMsg(r.reason)}` });
      }
    });
    return names.length - report.notRepointed.filter((n) => n.reason.startsWith('verify:')).length;
  }, (n) => `heartbeat at ${formatCoord(start.coord)}+ received by ${n} replica(s)`).catch(() => undefined);

  if (writeFailure) return finish('failed', `switched to ${nm.name}, but ${writeFailure}`);
  if (hookFailure) return finish('failed', `switched to ${nm.name}, but ${hookFailure}: clients may not reach the new master`);
  if (report.notRepointed.length > 0) return finish('partial', `switched to ${nm.name}; NOT repointed: ${report.notRepointed.map((n) => `${n.name} (${n.reason})`).join('; ')}`);
  return finish('success', `switched from ${om.name} to ${nm.name}; writes blocked for ${report.writeBlockedMs ?? '?'} ms`);

  // ---------------------------------------------------------------- rollback
  async function rollback(reason: string): Promise<{ complete: boolean; actions: string[]; problems: string[] }> {
    const actions: string[] = [];
    const problems: string[] = [];
    note(`rolling back: ${reason}`);
    let candidateReadOnly = true;
    if (promotionSent) {
      // read_only=OFF was sent but not confirmed: the candidate must be read-only again before the old master takes writes.
      try {
        await withDeadline(`${nm.name}: read_only back ON`, qMs + 2000, withAdmin(nm, cluster, async (a) => {
          for (const stmt of a.d.setReadOnly(true)) await a.q(stmt, qMs);
          const [row] = await a.q(a.d.readOnlyQuery(), qMs);
          if (row === undefined || !a.d.parseReadOnly(row).readOnly) throw new SwitchFailed('read_only is still OFF');
        }));
        actions.push(`${nm.name}: read_only ON again`);
      } catch (err) {
        candidateReadOnly = false;
        problems.push(`${nm.name} could not be confirmed read_only (${errMsg(err)})`);
      }
    }
    if (candidateStopped && candidateReadOnly) {
      try {
        await withDeadline(`${nm.name}: restart replication`, qMs + 17_000, withAdmin(nm, cluster, async (a) => {
          await a.q(a.d.startReplica(), qMs);
          await waitThreadsRunning(a, 15_000);
        }));
        actions.push(`${nm.name}: replication from ${om.name} restarted`);
      } catch (err) {
        problems.push(`${nm.name}: replication could not be restarted (${errMsg(err)}): START SLAVE by hand`);
      }
    }
    if (readOnlySentToOld) {
      if (!candidateReadOnly) {
        problems.push(`${om.name} LEFT READ-ONLY so that two writable masters never exist: check ${nm.name}, then SET GLOBAL read_only=OFF on exactly one of them`);
      } else {
        try {
          await withDeadline(`${om.name}: read_only OFF`, qMs + 2000, withAdmin(om, cluster, async (a) => {
            for (const stmt of a.d.setReadOnly(false)) await a.q(stmt, qMs);
            const [row] = await a.q(a.d.readOnlyQuery(), qMs);
            if (row === undefined || a.d.parseReadOnly(row).readOnly) throw new SwitchFailed('read_only is still ON');
          }));
          actions.push(`${om.name}: read_only OFF, writable again`);
        } catch (err) {
          problems.push(`${om.name} could not be made writable again (${errMsg(err)}): it is read_only; SET GLOBAL read_only=OFF on it by hand, or run mhats failover if it is dead`);
        }
      }
    }
    if (vip) {
      await vip.rollback(actions, problems);
    } else if (stopHookRan && hasOnlineHooks) {
      try {
        const o = await hook('start', true);
        if (o.aborted) problems.push(`online-change start hook (rollback, new master = ${om.name}) failed: ${describeOutcome(o)}: undo what the stop hook did by hand`);
        else actions.push(`online-change start hooks with ${om.name} as the master (MHATS_ONLINE_CHANGE_ROLLBACK=1)`);
      } catch (err) {
        problems.push(`the rollback start hook failed: ${errMsg(err)}`);
      }
    }
    for (const a of actions) note(`rollback: ${a}`);
    for (const p of problems) note(`rollback PROBLEM: ${p}`);
    return { complete: problems.length === 0, actions, problems };
  }
}
