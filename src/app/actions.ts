/**
 * The operator actions, shared by the command line and the HTTP API so that
 * both run the same code: switchover (pre-checks, plan, execution, journal),
 * finding the dead master for a manual failover, and acknowledging failovers.
 */
import { userInfo } from 'node:os';
import type { ClusterConfig, LoadedConfig } from '../config/types.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { openEtcdJournal } from '../adapters/journal/etcd-journal.js';
import type { Journal } from '../adapters/journal/journal.js';
import { removeMhaStateFiles } from '../adapters/journal/mha-state-files.js';
import { failedServers, summarize, type FailoverSummary } from '../domain/guard.js';
import { executeSwitchover, prepareSwitchover, type Prepared, type StepRecord, type SwitchoverOptions, type SwitchoverReport } from '../engine/switchover.js';
import type { PreCheck, SwitchoverPlan } from '../domain/switchover.js';
import type { Logger } from '../ports/logger.js';
import { inspectCluster, withoutFailed } from './cluster.js';

/** The cluster's journal: in etcd with manager HA (an operator's writes are unfenced), else the file in state_dir. */
export async function openClusterJournal(config: LoadedConfig, cluster: string, writer = `${userInfo().username}-cli`): Promise<Journal> {
  return config.etcd ? openEtcdJournal(config.etcd, cluster, writer) : new FileJournal(config.state_dir, cluster);
}

/** Who runs the command line: `USER@cli`. */
export function cliCaller(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? user;
  }
  return `${user}@cli`;
}

/** Appends without ever failing the action: the journal is its history, not its safety. */
function appendQuietly(journal: Journal | undefined, r: Parameters<Journal['append']>[0], log: Logger): void {
  if (!journal) return;
  try {
    journal.append(r);
  } catch (err) {
    log.warn({ err: (err as Error).message, journal: journal.path }, `could not record ${r.type} ${r.id} in the journal: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------- switchover

export interface SwitchoverRequest {
  /** Servers in maintenance: left out of the switch. */
  maintenance?: string[] | undefined;
  /** A server of the cluster (config name, hostname or ip); undefined: chosen by the rules. */
  newMaster?: string | undefined;
  origMasterIsNewSlave: boolean;
  runningUpdatesLimit: number;
  maxLag: number;
  timeout: number;
}

export const SWITCHOVER_DEFAULTS = { runningUpdatesLimit: 1, maxLag: 1, timeout: 5 } as const;

export type SwitchoverSetup =
  | { ok: true; cluster: ClusterConfig; opts: SwitchoverOptions; unfinished?: FailoverSummary | undefined }
  | { ok: false; field: 'new_master'; reason: string };

/**
 * The cluster as the switchover sees it (old masters of past failovers that never rejoined are not
 * part of it), the new master resolved to its config name, and any unfinished failover (which
 * refuses the switch).
 */
export function switchoverSetup(full: ClusterConfig, records: ReturnType<Journal['read']>, req: SwitchoverRequest): SwitchoverSetup {
  const summaries = summarize(records);
  const cluster = withoutFailed(full, failedServers(summaries));
  const byHost = (n: string): string | undefined => cluster.servers.find((s) => s.name === n || s.hostname === n || s.ip === n)?.name;
  const newMaster = req.newMaster !== undefined ? byHost(req.newMaster) : undefined;
  if (req.newMaster !== undefined && newMaster === undefined) {
    const failed = full.servers.some((s) => s.name === req.newMaster || s.hostname === req.newMaster || s.ip === req.newMaster);
    return { ok: false, field: 'new_master', reason: failed ? `${req.newMaster} is the old master of a failover and has not rejoined the cluster` : `${req.newMaster} is not a server of ${full.name}` };
  }
  const unfinished = summaries.find((s) => s.endedAt === undefined && !s.acked);
  return {
    ok: true,
    cluster,
    unfinished,
    opts: { maintenance: req.maintenance, newMaster, origMasterIsNewSlave: req.origMasterIsNewSlave, runningUpdatesLimit: req.runningUpdatesLimit, maxLag: req.maxLag, timeout: req.timeout, unfinishedFailover: unfinished?.id },
  };
}

/** The pre-checks and the plan (inspects every server; changes nothing). */
export function prepareClusterSwitchover(cluster: ClusterConfig, opts: SwitchoverOptions, log: Logger): Promise<Prepared> {
  return prepareSwitchover(cluster, opts, { log });
}

export function switchoverId(cluster: string, now: number): string {
  return `${cluster}-switchover-${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')}`;
}

/**
 * Runs a prepared switchover and records it in the journal (start with who asked, end with the
 * outcome, the write-blocked time and every step), on success and on failure alike.
 */
export async function runJournaledSwitchover(
  cluster: ClusterConfig,
  plan: SwitchoverPlan,
  checks: PreCheck[],
  opts: SwitchoverOptions,
  deps: { log: Logger; journal?: Journal | undefined; by: string; now?: () => number; onStep?: (s: StepRecord) => void; onNote?: (m: string) => void; onStart?: (id: string) => void },
): Promise<SwitchoverReport & { id: string }> {
  const now = deps.now ?? Date.now;
  const t0 = now();
  const id = switchoverId(cluster.name, t0);
  deps.onStart?.(id);
  appendQuietly(deps.journal, { type: 'switchover', id, cluster: cluster.name, at: t0, by: deps.by, from: plan.master, to: plan.newMaster }, deps.log);
  let report: SwitchoverReport | undefined;
  try {
    report = await executeSwitchover(cluster, plan, checks, opts, { log: deps.log, onStep: deps.onStep, onNote: deps.onNote });
    return { ...report, id };
  } finally {
    const r = report;
    appendQuietly(
      deps.journal,
      r
        ? { type: 'switchover_end', id, at: now(), outcome: r.outcome, oldMaster: r.oldMaster, newMaster: r.outcome === 'success' || r.outcome === 'partial' ? r.newMaster : r.oldMaster, durationMs: r.durationMs, writeBlockedMs: r.writeBlockedMs, reason: r.reason, steps: r.steps }
        : { type: 'switchover_end', id, at: now(), outcome: 'failed', oldMaster: plan.master, newMaster: undefined, durationMs: now() - t0, reason: 'the switchover stopped with an unexpected error (see the log)', steps: [] },
      deps.log,
    );
    await deps.journal?.flush?.().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- manual failover

export type DeadMaster = { ok: true; dead: string } | { ok: false; reason: string; field?: 'dead_master' | undefined; alive?: boolean | undefined };

/**
 * The master to fail over: the one named (config name, hostname or ip), else the one the replicas
 * point at. With `mustBeDead` it must not answer (a live master is switched over, not failed over).
 */
export async function findDeadMaster(cluster: ClusterConfig, named: string | undefined, mustBeDead: boolean): Promise<DeadMaster> {
  const byHost = (n: string): string | undefined => cluster.servers.find((s) => s.name === n || s.hostname === n || s.ip === n)?.name;
  let dead = named !== undefined ? byHost(named) : undefined;
  if (named !== undefined && dead === undefined) return { ok: false, field: 'dead_master', reason: `${named} is not a server of ${cluster.name}` };
  if (dead !== undefined && !mustBeDead) return { ok: true, dead };
  const r = await inspectCluster(cluster);
  dead ??= r.analysis.master;
  if (dead === undefined) return { ok: false, field: 'dead_master', reason: 'cannot tell which server is the master: name the dead master' };
  if (!r.analysis.unreachable.some((u) => u.name === dead)) return { ok: false, alive: true, reason: `the master ${dead} answers: it is not dead (use switchover for a live master)` };
  return { ok: true, dead };
}

// ---------------------------------------------------------------- ack

/** Acknowledges the cluster's open failovers (or only `id`); returns those acknowledged. */
export function ackFailovers(journal: Journal, by: string, now: number, id?: string): FailoverSummary[] {
  const open = summarize(journal.read()).filter((s) => !s.acked && s.outcome !== 'refused' && (id === undefined || s.id === id));
  for (const s of open) journal.append({ type: 'ack', id: s.id, at: now, by });
  return open;
}

/**
 * `mhats ack` (and POST .../ack): MHA's state files in manager_workdir are removed (throws, naming
 * the file, when one cannot be), then the open failovers (or only `id`) are acknowledged. With an
 * `id` the MHA files stay: they belong to no mhats failover.
 */
export function ackCluster(cluster: ClusterConfig, journal: Journal, by: string, now: number, id?: string): { acked: FailoverSummary[]; removed: string[] } {
  const removed = id === undefined ? removeMhaStateFiles(cluster.manager_workdir, cluster.name) : [];
  return { acked: ackFailovers(journal, by, now, id), removed };
}
