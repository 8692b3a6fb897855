/**
 * The bookkeeping of one failover run: the report, the journal records (the
 * plan, each phase, each step, the demotion and the promotion), phases under
 * deadlines that cancel, leadership checks, and the hooks. The decisions are
 * in src/domain/failover/; the order of phases in failover.ts.
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { runScript } from '../adapters/hooks/run-script.js';
import { hooksFor, type HookPhase, type HookSpec } from '../config/hooks.js';
import { describeRecord, runHookPhase } from '../adapters/hooks/runner.js';
import { hookEnv, type HookEvent } from '../adapters/hooks/context.js';
import type { HookRecord, PhaseOutcome } from '../adapters/hooks/types.js';
import type { Journal } from '../adapters/journal/journal.js';
import type { FailoverOutcome } from '../domain/guard.js';
import type { FailoverPlan } from '../domain/failover/plan.js';
import type { MasterPosition } from '../domain/detector.js';
import type { BinlogCoord, ServerObservation } from '../domain/types.js';
import type { Logger } from '../ports/logger.js';
import type { Cutter } from './ops/salvage.js';
import { deadline, FailoverFailed } from './ops/admin.js';
import type { FailoverLocks } from '../adapters/leader/failover-lock.js';
import type { SshPool } from '../adapters/ssh/session.js';
import type { ReturnWatchDeps } from './return-watch.js';

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
  maintenance?: readonly string[] | undefined;
  /**
   * The detector's verdict that started an automatic failover (monitor): its code and when it was
   * reached (deps.now clock). A fresh verdict is MHA's double check already done; a storage hang
   * (StorageHang) answers SQL and is failed over all the same (MHA: no double check with INSERT).
   * basis: what the death rested on (refused, unreachable, replicas, stalled); failure: the kind of
   * the manager's last failed check (timeout, refused, ...): a fresh verdict of connections that
   * timed out spares the fence its SQL attempt (skipSqlFence, ops/fencing.ts).
   */
  verdict?: { code: string; at: number; basis?: string | undefined; failure?: string | undefined } | undefined;
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
  /** Before each phase and before the cleanup: false means this manager lost the right to act (HA lease). */
  stillLeader?: () => Promise<boolean>;
  /** Manager HA: the leader's fencing token (etcd lease revision), given to hooks as MHATS_FENCING_TOKEN. */
  fencingToken?: (() => string | undefined) | undefined;
  /** The binlog reader's cut (pure): where the last complete transaction ends. Without it, no salvage. */
  cutBinlog?: Cutter | undefined;
  /**
   * Replicas recovered after the failover ended (delayed ones applying their own relay logs) run in
   * the background; this receives their completion. Without it, runFailover waits for them.
   */
  onDeferred?: ((done: Promise<void>) => void) | undefined;
  /** The new master is writable (called at once, before the replicas are repointed): publish it. Must not throw. */
  onPromoted?: ((newMaster: ServerConfig) => void) | undefined;
  /** The old master answered SQL and was fenced (read_only, sessions killed). Must not throw. */
  onFenced?: ((server: ServerConfig) => void) | undefined;
  /** Persistent SSH sessions (warmed by the monitor): the fence of a hung master and the built-in vip hook reuse them. */
  sshPool?: SshPool | undefined;
  /** The connections of the old master's return watch during the failover (tests; default: real sessions). */
  returnWatchDeps?: ((server: ServerConfig) => ReturnWatchDeps) | undefined;
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
  /** Replicas still being recovered in the background when the failover ended (delayed, slow). */
  deferred: string[];
  newMasterCoord?: BinlogCoord | undefined;
  /**
   * For rejoining the old master by binlog positions (mhats rejoin): where it had been applied up
   * to (the most advanced survivor), what was saved from its binlog, and the new master's position.
   */
  rejoinMap?: { oldMaster: string; oldMasterApplied: BinlogCoord; salvagedTransactions: number; salvagedGtids: string[]; newMaster: string; newMasterCoord: BinlogCoord } | undefined;
  newMasterGtid?: string | undefined;
  lost?: string | undefined;
  /** Writes were lost with asynchronous replication: what semi-sync (AFTER_SYNC) would have done, and how to enable it. */
  semiSyncAdvice?: string | undefined;
  durationMs: number;
  /** ms from the start to the new master being writable. */
  writableAfterMs?: number | undefined;
  /** Every hook that ran, with its verdict. */
  hooks?: HookRecord[] | undefined;
  /** The plan as last revised. */
  plan?: FailoverPlan | undefined;
}

/** Stops the failover after the promotion: the outcome is partial. */
export class StopPartial extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StopPartial';
  }
}

function newId(now: number, cluster: string): string {
  const d = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${cluster}-${d}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
}

export class FailoverRun {
  readonly req: FailoverRequest;
  readonly deps: FailoverDeps;
  readonly cluster: ClusterConfig;
  readonly id: string;
  readonly t0: number;
  readonly log: Logger;
  readonly report: FailoverReport;
  readonly byName: Map<string, ServerConfig>;
  /** The begin record is written: from here on everything is journaled. */
  begun = false;
  promoted = false;
  stopHooksRan = false;
  #fencingToken: string | undefined;
  #planRevision = 0;
  readonly #hooks: HookSpec[];
  readonly #hookEnv: string | undefined;
  readonly hookProblem: string | undefined;

  constructor(req: FailoverRequest, deps: FailoverDeps) {
    this.req = req;
    this.deps = deps;
    this.cluster = req.cluster;
    this.t0 = deps.now();
    this.id = newId(this.t0, req.cluster.name);
    this.log = deps.log.child({ cluster: req.cluster.name, failover: this.id });
    this.byName = new Map(req.cluster.servers.map((s) => [s.name, s]));
    this.report = { id: this.id, outcome: 'failed', exitCode: 1, oldMaster: req.deadMaster, reason: '', phases: [], recovered: [], notRecovered: [], rejected: [], deferred: [], durationMs: 0, hooks: [] };
    const hp = hooksFor(req.cluster, deps.environment);
    this.#hooks = hp.ok ? hp.hooks : [];
    this.#hookEnv = hp.ok ? hp.environment : undefined;
    this.hookProblem = hp.ok ? undefined : hp.reason;
  }

  /** MHA's failover lock on every reachable survivor, held for the whole failover (released by finish). */
  locks: FailoverLocks | undefined;

  get hooks(): HookSpec[] {
    return this.#hooks;
  }

  server(name: string): ServerConfig {
    const s = this.byName.get(name);
    if (s === undefined) throw new FailoverFailed(`${name} is not a server of ${this.cluster.name}`);
    return s;
  }

  /** The begin record, durable (etcd: under this leader's fencing token) before anything changes. */
  async begin(deadMaster: string): Promise<void> {
    const j = this.deps.journal;
    j.append({ type: 'begin', id: this.id, cluster: this.cluster.name, at: this.t0, deadMaster, trigger: this.req.trigger, reason: this.req.reason });
    if (j.flush) await j.flush();
    this.#fencingToken = this.deps.fencingToken?.();
    this.begun = true;
  }

  event(message: string, detail?: unknown): void {
    this.log.info({ detail }, message);
    if (this.begun) this.deps.journal.append({ type: 'event', id: this.id, at: this.deps.now(), message, detail });
  }

  /** The plan as one record (before anything changes; again when revised). */
  journalPlan(plan: FailoverPlan, reason: string): void {
    this.report.plan = plan;
    this.#planRevision++;
    if (this.begun) this.deps.journal.append({ type: 'plan', id: this.id, at: this.deps.now(), revision: this.#planRevision, reason, plan });
  }

  demoted(server: string): void {
    if (this.begun) this.deps.journal.append({ type: 'demoted', id: this.id, at: this.deps.now(), server });
  }

  markPromoted(server: string): void {
    this.promoted = true;
    this.report.writableAfterMs = this.deps.now() - this.t0;
    if (this.begun) this.deps.journal.append({ type: 'promoted', id: this.id, at: this.deps.now(), server });
  }

  /** Runs one step on one server, journaling its outcome after it. */
  async step<T>(server: string, kind: string, fn: () => Promise<T>, detail?: (r: T) => string | undefined): Promise<T> {
    const s0 = this.deps.now();
    try {
      const r = await fn();
      const d = detail?.(r);
      if (this.begun) this.deps.journal.append({ type: 'step', id: this.id, at: this.deps.now(), server, step: kind, ok: true, durationMs: this.deps.now() - s0, ...(d ? { detail: d } : {}) });
      return r;
    } catch (err) {
      const msg = (err as Error).message;
      this.log.warn({ server, step: kind }, `${server}: ${kind} failed: ${msg}`);
      if (this.begun) this.deps.journal.append({ type: 'step', id: this.id, at: this.deps.now(), server, step: kind, ok: false, durationMs: this.deps.now() - s0, detail: msg });
      throw err;
    }
  }

  async stillLeader(): Promise<boolean> {
    if (!this.deps.stillLeader) return true;
    return this.deps.stillLeader().catch(() => false);
  }

  /** A phase: leadership re-checked first, then run under a deadline that cancels its work. */
  async phase<T>(name: string, deadlineMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!(await this.stillLeader())) throw new (this.promoted ? StopPartial : FailoverFailed)(`lost leadership before ${name}: stopping`);
    const start = this.deps.now();
    this.log.info({ phase: name }, `${name} started`);
    let ok = false;
    try {
      const r = await deadline(name, deadlineMs, undefined, fn);
      ok = true;
      return r;
    } finally {
      const durationMs = this.deps.now() - start;
      this.report.phases.push({ phase: name, durationMs, ok });
      if (this.begun) this.deps.journal.append({ type: 'phase', id: this.id, phase: name, at: this.deps.now(), durationMs, ok });
      this.log.info({ phase: name, durationMs, ok }, `${name} ${ok ? 'completed' : 'failed'} in ${durationMs} ms`);
    }
  }

  /** Hooks: MHA's script keys, then the environment's hook set (src/config/hooks.ts); `only`: a subset of them, in the same order. */
  async hooksIn(phase: HookPhase, ev: Partial<HookEvent> & { origMaster: ServerConfig }, signal?: AbortSignal, only?: (h: HookSpec) => boolean): Promise<PhaseOutcome> {
    if (phase === 'stop') this.stopHooksRan = true;
    return runHookPhase(only ? this.#hooks.filter(only) : this.#hooks, { kind: 'failover', phase, cluster: this.cluster, id: this.id, environment: this.#hookEnv, ...ev, env: hookEnv(this.cluster, ev.origMaster, ev.newMaster, this.id, this.#fencingToken) }, this.cluster.ssh, {
      runScript: this.deps.runHook ?? runScript,
      signal,
      sshPool: this.deps.sshPool,
      onRecord: (r) => {
        this.report.hooks?.push(r);
        const line = describeRecord(r);
        if (r.verdict === 'ok') this.log.info({ hook: r.name, phase: r.phase, durationMs: r.durationMs, hosts: r.hosts }, line);
        else this.log.warn({ hook: r.name, phase: r.phase, verdict: r.verdict, exitCode: r.exitCode, timedOut: r.timedOut, hosts: r.hosts }, line);
        if (this.begun) this.deps.journal.append({ type: 'event', id: this.id, at: this.deps.now(), message: line, detail: { hook: r.name, type: r.type, phase: r.phase, verdict: r.verdict, durationMs: r.durationMs, exitCode: r.exitCode, timedOut: r.timedOut, hosts: r.hosts } });
      },
    });
  }

  finish(outcome: FailoverOutcome, reason: string): FailoverReport {
    const r = this.report;
    r.outcome = outcome;
    r.reason = reason;
    r.exitCode = outcome === 'success' ? 0 : outcome === 'partial' ? 10 : 1;
    r.durationMs = this.deps.now() - this.t0;
    this.#fencingToken = undefined;
    if (this.locks?.ok) this.locks.release().catch(() => undefined);
    if (this.begun) {
      this.deps.journal.append({
        type: 'end',
        id: this.id,
        at: this.deps.now(),
        outcome,
        newMaster: this.promoted ? r.newMaster : undefined,
        oldMaster: this.req.deadMaster,
        durationMs: r.durationMs,
        reason,
        lost: r.lost,
        detail: { phases: r.phases, recovered: r.recovered, notRecovered: r.notRecovered, rejected: r.rejected, deferred: r.deferred, newMasterCoord: r.newMasterCoord, newMasterGtid: r.newMasterGtid, rejoinMap: r.rejoinMap },
      });
    }
    return r;
  }
}
