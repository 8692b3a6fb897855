/**
 * One cluster's watch loop. Every cluster has its own loop, so a slow or dead
 * cluster never delays another. The loop is a fixed delay on monotonic time
 * (never cron): health-check the master, feed the pure detector, and on a
 * suspicion ask the replicas (and secondary_check_script) before failing
 * over. After a failover it goes on watching the new topology; the old master
 * stays marked failed and is fenced (read_only) whenever it answers again.
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { createHealthChecker, type HealthChecker } from '../adapters/mysql/health.js';
import { dialectFor } from '../adapters/mysql/dialect.js';
import { inspectAll, readGtidState } from '../adapters/mysql/inspect.js';
import { errantToConfirm, withMasterGtid } from '../domain/errant-confirm.js';
import { SessionKeeper } from '../adapters/mysql/keeper.js';
import type { Journal } from '../adapters/journal/journal.js';
import { detect, initialDetectorState, type MasterPosition, type CheckResult, type DetectorState, type Verdict } from '../domain/detector.js';
import { WitnessSampler } from '../adapters/mysql/witness.js';
import { SshPool } from '../adapters/ssh/session.js';
import { sshOptionsFor } from '../adapters/ssh/targets.js';
import { detectionSettings, topologyOptions } from '../config/resolve.js';
import { MasterWatch } from './master-watch.js';
import { ReturnWatch, realReturnWatchDeps, returnWatchOptions, type ReturnWatchDeps } from './return-watch.js';
import { returnWatchWindowMs, serversToWatchForReturn } from '../domain/return-watch.js';
import { Suspicion } from './suspicion.js';
import { readMhaStateFiles } from '../adapters/journal/mha-state-files.js';
import { failedServers, guard, summarize, type FailoverSummary, type JournalRecord } from '../domain/guard.js';
import { analyzeTopology, type ServerSpec, type TopologyAnalysis } from '../domain/topology.js';
import type { ServerObservation, ServerProbe } from '../domain/types.js';
import { classifySurvivors } from '../domain/failover/survivors.js';
import type { FailoverPlan } from '../domain/failover/plan.js';
import { reconcileFailed, type Reconciled } from '../domain/reconcile.js';
import { planFrom, runFailover, type FailoverReport } from './failover.js';
import { fenceOldMaster } from './ops/fence.js';
import { hooksFor, type VipHook } from '../config/hooks.js';
import { releaseVips } from '../adapters/hooks/vip.js';
import { specOf, target } from './ops/admin.js';
import type { Logger } from '../ports/logger.js';
import { cutSavedBinlog } from '../domain/binlog-cut.js';
import type { RejoinReport } from './rejoin.js';
import { maintenanceOf, mayFailOverAutomatically, type ClusterMaintenance, type MaintenanceEntry } from '../domain/maintenance.js';
import { handoverDecision, type HandoverLimits, type OwnerView } from '../domain/handover.js';

export type MonitorState = 'starting' | 'broken' | 'watching' | 'suspect' | 'failing_over' | 'blocked' | 'stopped';

export interface MonitorDeps {
  journal: Journal;
  log: Logger;
  /** Wall clock (ms since epoch), for the journal and guard. */
  now: () => number;
  /** Monotonic clock (ms), for intervals and deadlines. */
  mono: () => number;
  sshReachable: (server: ServerConfig) => Promise<boolean>;
  /** Called after every completed tick (systemd watchdog, metrics). */
  onTick?: (m: ClusterMonitor) => void;
  onFailover?: (r: FailoverReport) => void;
  /** What the loop sees, for metrics (every hook optional; none may throw). */
  observer?: MonitorObserver | undefined;
  /** Between failover phases: false = this manager lost the right to act (HA lease). Passed to runFailover. */
  stillLeader?: (() => Promise<boolean>) | undefined;
  /** Manager HA: may this manager start a failover now? A follower only watches (default: yes). */
  isLeader?: (() => boolean) | undefined;
  /** Why this manager may not fail over now, when it is not for want of leadership (MHA's monitor lock held by another manager). */
  notLeaderReason?: (() => string | undefined) | undefined;
  /** Manager HA: the leader's fencing token, for the hooks (MHATS_FENCING_TOKEN). */
  fencingToken?: (() => string | undefined) | undefined;
  /** Persistent SSH sessions (second route, fencing, hooks); the monitor opens its own when not given. */
  sshPool?: SshPool | undefined;
  /** The master changed: adopted (start, switchover seen, after a failover) or just promoted by a failover (writable). Must not throw. */
  onMasterChanged?: ((master: string, how: 'adopted' | 'promoted') => void) | undefined;
  /** A server was fenced (read_only, sessions killed). Must not throw. */
  onFenced?: ((server: string) => void) | undefined;
  /** auto_rejoin: rejoins an old master that answers again (src/engine/rejoin.ts, wired by the manager). */
  rejoin?: ((server: string) => Promise<RejoinReport>) | undefined;
  /** Maintenance entries (every cluster's; the monitor picks its own). Default: none. */
  maintenance?: (() => MaintenanceEntry[]) | undefined;
  /**
   * Where in the ping interval this loop's ticks fall, as a fraction in [0, 1) (default 0): the manager spreads its
   * clusters' loops over the interval, so a thousand health checks are not due in the same millisecond. The
   * first tick waits that long; the interval itself is unchanged.
   */
  phase?: number | undefined;
  /**
   * Sharding: this manager just took the cluster from another owner; that owner's last view (undefined: none, a cold
   * start), read at `readAt` (monotonic ms). Used once, by the first inspection (domain/handover.ts).
   */
  previousOwner?: { view: OwnerView | undefined; readAt: number; limits: HandoverLimits } | undefined;
  /** The return watch's I/O for a failed old master (return-watch.ts); default: real sessions and timers. */
  returnWatchDeps?: ((srv: ServerConfig) => ReturnWatchDeps) | undefined;
}

export interface MonitorObserver {
  /** Every health check of the master. */
  check?(m: ClusterMonitor, r: CheckResult): void;
  /** The detector moved to suspect (the master failed ping_failures checks in a row). */
  suspicion?(m: ClusterMonitor): void;
  /** A suspicion was evaluated: the verdict, with who said what (witnesses, routes) and how fresh. */
  verdict?(m: ClusterMonitor, v: Verdict): void;
  /** A full inspection of the cluster finished. */
  inspected?(m: ClusterMonitor, a: TopologyAnalysis): void;
}

/** The failover that would run if the master died now, from the last inspection (no I/O): the plan, or why there is none. */
export type MonitorPlan = { plan: FailoverPlan; inspectedAt: number } | { plan?: undefined; reason: string; master?: string | undefined };

/** The last suspicion of a master, kept after it ended: why it did or did not become a failover. */
export interface SuspicionRecord {
  master: string;
  /** Wall clock (ms since epoch). */
  startedAt: number;
  endedAt?: number | undefined;
  outcome: 'ongoing' | 'recovered' | 'failover' | 'master_changed';
  /** The last verdict of this suspicion, with who said what and how fresh. */
  verdict?: Verdict | undefined;
  /** Wall clock of that verdict. */
  verdictAt?: number | undefined;
  evaluations: number;
}

export interface MonitorSnapshot {
  cluster: string;
  state: MonitorState;
  master?: string | undefined;
  detector: DetectorState;
  lastVerdict?: Verdict | undefined;
  lastSuspicion?: SuspicionRecord | undefined;
  failed: string[];
  lastAnalysis?: { healthy: boolean; errors: string[] } | undefined;
  lastFailover?: FailoverSummary | undefined;
  blockedReason?: string | undefined;
  /** The journal reconciled with the topology: what was decided about each failed server. */
  reconciled: Reconciled[];
}

/** After a refused connection, the one short re-check before the verdict (certain evidence waits no longer). */
const REFUSED_RECHECK_MS = 150;
/** How often a suspicion that does not fail over repeats its verdict at warn (else it is logged when it changes). */
const VERDICT_REPEAT_MS = 10_000;
/** A long run of failed checks (every 150 ms while refused) is logged once in this many ms after the first ping_failures. */
const FAILURE_LOG_EVERY_MS = 5_000;

/**
 * The loop's pause between ticks: a timer that wake() ends early. One per loop, reused every tick (an
 * AbortController and two listeners per tick and cluster were a measurable part of a thousand loops' work).
 */
class Pause {
  #done: (() => void) | undefined;
  /** Waits ms, or until wake(). */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => this.wake(), Math.max(0, ms));
      this.#done = () => {
        clearTimeout(t);
        this.#done = undefined;
        resolve();
      };
    });
  }
  /** Ends the running wait now (nothing when none runs). */
  wake(): void {
    this.#done?.();
  }
}

export class ClusterMonitor {
  readonly cluster: ClusterConfig;
  readonly deps: MonitorDeps;
  state: MonitorState = 'starting';
  master: string | undefined;
  detector: DetectorState = initialDetectorState;
  lastVerdict: Verdict | undefined;
  /** The current or last suspicion of the master. */
  lastSuspicion: SuspicionRecord | undefined;
  lastAnalysis: TopologyAnalysis | undefined;
  lastMasterObs: ServerObservation | undefined;
  /** Every server's probe at the last inspection (failed servers too). */
  lastProbes: ServerProbe[] = [];
  /** The journal reconciled with the observed topology, at the last check. */
  reconciled: Reconciled[] = [];
  blockedReason: string | undefined;
  ticks = 0;
  /** The master's binlog position at its last successful health check. */
  lastMasterPosition: MasterPosition | undefined;
  #checkerHasDialect = false;
  /** Monotonic ms at which the running tick started; undefined between ticks (the watchdog's view). */
  busySince: number | undefined;
  /** What the running tick waits for (a stuck loop is reported with it). */
  stage: string | undefined;
  #checker: HealthChecker | undefined;
  /** An idle connection to the master: its close (mysqld died) triggers a health check at once (master-watch.ts). */
  #watch: MasterWatch | undefined;
  /** Failed old masters watched for their return (return-watch.ts): one answering wakes the loop, which fences it at once. */
  #returnWatches = new Map<string, ReturnWatch>();
  /** A watched failed old master answered since the last tick began: the next tick runs at once. */
  #returnAnswered = false;
  #log: Logger;
  #lastReport = '';
  #lastInspectAt = -Infinity;
  #inFailover = false;
  /** After a refused failover, do not retry before this (monotonic ms), unless the verdict changes. */
  #retryAfter = -Infinity;
  /** The running suspicion (from the first failed check until the master answers or is failed over). */
  #suspicion: Suspicion | undefined;
  #sampler: WitnessSampler;
  readonly pool: SshPool;
  #ownPool: boolean;
  /** Operator actions (API switchover, manual failover) waiting to run between two ticks. */
  #actions: Array<{ what: string; run: () => Promise<void>; cancel: (err: Error) => void }> = [];
  #pause = new Pause();
  #running = false;
  /** The operator action running now (the loop does not tick meanwhile). */
  activity: { what: string; since: number } | undefined;
  /** One kept connection per server for inspections and the replicas' views (never for CONNECT pings). */
  #keeper = new SessionKeeper();
  /** The journal's records as last summarized: the journal returns the same array while it is unchanged. */
  #summaryMemo: { records: JournalRecord[]; summaries: FailoverSummary[]; failed: string[] } | undefined;
  /** A dead master is held by maintenance: the reason (undefined when not held). */
  heldByMaintenance: string | undefined;
  #maintenanceLoggedAt = -Infinity;
  /** When a verdict that does not fail over was last logged at warn (it is repeated every VERDICT_REPEAT_MS while it lasts). */
  #verdictLoggedAt = -Infinity;
  #failureLoggedAt = -Infinity;
  /** auto_rejoin: servers being rejoined, and when a refused one may be tried again (monotonic ms). */
  #rejoining = new Set<string>();
  /** Reconcile: failed old masters whose hosts were checked for the VIP since they came back; one being checked; retry times. */
  #vipChecked = new Set<string>();
  #vipChecking = new Set<string>();
  #vipRetryAt = new Map<string, number>();
  #rejoinRetryAt = new Map<string, number>();
  /**
   * The master was adopted dead at the first look as its new owner (the previous owner's view counted): since when it
   * has been failing (wall ms, the previous owner's record, or the first look). Until it answers, or another master is adopted.
   */
  inheritedFailure: { since: number } | undefined;
  /** The previous owner's view, until the first inspection has used it. */
  #previousOwner: MonitorDeps['previousOwner'];

  /** The periodic full inspection's period (ms), while the master answers. */
  readonly #inspectEveryMs: number;
  /**
   * How much sooner than a full period the first periodic inspection comes: the loop's phase times the period, so
   * that the clusters' inspections spread over the period as their checks spread over the interval (a thousand
   * clusters started together would otherwise all inspect in the same second, every period).
   */
  #inspectSkewMs = 0;
  /** What the loop derives from its (unchanging) cluster config, computed once rather than per tick or inspection. */
  readonly #det: ReturnType<typeof detectionSettings>;
  readonly #topologyOptions: ReturnType<typeof topologyOptions>;
  /** Every configured server: addresses are resolved against all of them (failed ones too), so messages name the right server. */
  readonly #serverSpecs: ServerSpec[];
  readonly #targets: ReturnType<typeof target>[];

  constructor(cluster: ClusterConfig, deps: MonitorDeps) {
    this.cluster = cluster;
    this.#det = detectionSettings(cluster);
    this.#topologyOptions = topologyOptions(cluster);
    this.#serverSpecs = cluster.servers.map(specOf);
    this.#targets = cluster.servers.map(target);
    this.#inspectEveryMs = Math.max(10_000, cluster.ping_interval * 5000);
    this.deps = deps;
    this.#log = deps.log.child({ cluster: cluster.name });
    this.#sampler = new WitnessSampler({ connectTimeoutMs: Math.min(1000, cluster.connect_timeout * 1000), queryTimeoutMs: Math.min(2000, cluster.query_timeout * 1000) }, deps.mono);
    this.#ownPool = deps.sshPool === undefined;
    this.pool = deps.sshPool ?? new SshPool({ log: this.#log });
    this.#previousOwner = deps.previousOwner;
  }

  get inFailover(): boolean {
    return this.#inFailover;
  }

  /** Is an operator action running or waiting? */
  get busy(): boolean {
    return this.activity !== undefined || this.#actions.length > 0;
  }

  /**
   * Runs an operator action (a switchover or manual failover asked for through the API) in this
   * loop, between two ticks: no health check, detection or automatic failover runs meanwhile, so
   * the action and the monitor never act on the cluster at once. Afterwards the cluster is
   * inspected at once, and a master the action moved is watched. Rejects when the loop is not
   * running or stops first.
   */
  exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (!this.#running) return Promise.reject(new Error(`the monitor of ${this.cluster.name} is not running`));
    return new Promise<T>((resolve, reject) => {
      this.#actions.push({
        what,
        run: async () => {
          try {
            resolve(await fn());
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
        cancel: reject,
      });
      this.#pause.wake();
    });
  }

  async #runActions(): Promise<void> {
    let ran = false;
    for (let a = this.#actions.shift(); a !== undefined; a = this.#actions.shift()) {
      this.activity = { what: a.what, since: this.deps.now() };
      try {
        await a.run();
      } finally {
        this.activity = undefined;
      }
      ran = true;
    }
    if (!ran || this.state === 'starting' || this.state === 'broken') return;
    // What the action changed, seen at once (a switched master is watched from now on).
    try {
      this.#adoptMovedMaster(await this.inspect());
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, `inspection after an operator action failed: ${(err as Error).message}`);
    }
  }

  /** Closes the connections kept for inspections (run() does it when it stops). */
  closeConnections(): void {
    this.#keeper.close();
    this.#sampler.close();
    if (this.#ownPool) this.pool.close();
  }

  /** Maintenance of this cluster in force now (global, cluster and server entries). */
  maintenance(): ClusterMaintenance {
    return maintenanceOf(this.#maintenanceEntries(), this.cluster.name, this.deps.now());
  }

  #maintenanceEntries(): MaintenanceEntry[] {
    try {
      return this.deps.maintenance?.() ?? [];
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, `cannot read the maintenance entries: ${(err as Error).message}`);
      return [];
    }
  }

  /** Old masters that have not rejoined: never promoted, never repointed automatically. */
  failedServers(): string[] {
    // Asked several times per tick: the journal file is looked at once a second at most (its own appends at once).
    const records = this.deps.journal.readRecent?.(1000) ?? this.deps.journal.read();
    if (this.#summaryMemo?.records !== records) {
      const summaries = summarize(records);
      this.#summaryMemo = { records, summaries, failed: failedServers(summaries) };
    }
    return this.#summaryMemo.failed;
  }

  snapshot(): MonitorSnapshot {
    const summaries = summarize(this.deps.journal.read());
    return {
      cluster: this.cluster.name,
      state: this.state,
      master: this.master,
      detector: this.detector,
      lastVerdict: this.lastVerdict,
      lastSuspicion: this.lastSuspicion,
      failed: this.failedServers(),
      lastAnalysis: this.lastAnalysis ? { healthy: this.lastAnalysis.healthy, errors: this.lastAnalysis.findings.filter((f) => f.severity === 'error').map((f) => `${f.server ?? this.cluster.name}: ${f.message}`) } : undefined,
      lastFailover: summaries.filter((s) => s.outcome !== 'refused').at(-1),
      blockedReason: this.blockedReason,
      reconciled: this.reconciled,
    };
  }


  /**
   * Inspects every server. Failed old masters are probed too but left out of the analysis; the
   * journal is then reconciled with what was observed (fence, rejoin, or adopt each failed one).
   */
  async inspect(): Promise<TopologyAnalysis> {
    const specs = this.#serverSpecs;
    const opts = { connectTimeoutMs: this.cluster.connect_timeout * 1000, queryTimeoutMs: this.cluster.query_timeout * 1000, now: this.deps.now };
    const all = await inspectAll(this.#targets, opts, this.#keeper);
    this.lastProbes = all;
    if (await this.#reconcile(all)) return this.inspect();
    const failed = new Set(this.failedServers());
    const servers = this.cluster.servers.filter((s) => !failed.has(s.name));
    const probes = all.filter((p) => !failed.has(p.ok ? p.obs.name : p.failure.name));
    const analyze = (p: typeof probes): TopologyAnalysis =>
      analyzeTopology(specs, p, this.#topologyOptions);
    let a = analyze(probes);
    // Errant GTIDs count only when the master, read again after every replica, still lacks them.
    const confirmOn = errantToConfirm(a);
    const masterSrv = confirmOn !== undefined ? servers.find((s) => s.name === confirmOn) : undefined;
    if (masterSrv !== undefined && a.masterObs !== undefined) {
      const later = await readGtidState(target(masterSrv), a.masterObs.version, opts, this.#keeper);
      if (later !== undefined) a = analyze(withMasterGtid(probes, masterSrv.name, later));
    }
    this.lastAnalysis = a;
    this.#lastInspectAt = this.deps.mono();
    if (a.masterObs) this.lastMasterObs = a.masterObs;
    this.#observe(() => this.deps.observer?.inspected?.(this, a));
    return a;
  }

  #observe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, `observer failed: ${(err as Error).message}`);
    }
  }

  /**
   * The failover that would run if the master died now (the same classification and plan as the
   * failover's Phase 1), from the last inspection: no I/O. The real failover re-reads everything.
   */
  plan(): MonitorPlan {
    const a = this.lastAnalysis;
    if (a === undefined) return { reason: 'the cluster has not been inspected yet', master: this.master };
    const master = this.master ?? a.master;
    if (master === undefined) return { reason: 'no master identified' };
    if (this.master !== undefined && a.master !== undefined && a.master !== this.master) {
      return { reason: `the last inspection saw ${a.master} as master, before ${this.master} took over; the next one comes within seconds`, master };
    }
    const failed = new Set(this.failedServers());
    const probes = this.lastProbes.filter((p) => (p.ok ? p.obs.name : p.failure.name) !== master);
    const lastObs = this.lastMasterObs?.name === master ? this.lastMasterObs : undefined;
    const maintenance = this.maintenance().serversInMaintenance;
    const classification = classifySurvivors({ servers: this.#serverSpecs, deadMaster: master, probes, failed, maintenance, lastMaster: lastObs ? { serverId: lastObs.serverId, serverUuid: lastObs.serverUuid, gtid: lastObs.gtid } : undefined });
    const inspectedAt = Math.min(...classification.survivors.map((s) => s.obs.observedAt), a.masterObs?.observedAt ?? Infinity);
    const plan = planFrom({ cluster: this.cluster, deadMaster: master, trigger: 'auto', reason: 'plan', maintenance, lastMasterObs: lastObs, lastMasterPosition: this.lastMasterPosition }, classification, Number.isFinite(inspectedAt) ? inspectedAt : this.deps.now());
    return { plan, inspectedAt: plan.at };
  }

  #reportOnce(level: 'info' | 'warn' | 'error', key: string, obj: object, msg: string): void {
    if (this.#lastReport === key) return;
    this.#lastReport = key;
    this.#log[level](obj, msg);
  }

  async run(signal: AbortSignal): Promise<void> {
    const interval = this.cluster.ping_interval * 1000;
    const unfinished = summarize(this.deps.journal.read()).find((s) => s.outcome === undefined && !s.acked);
    if (unfinished) {
      this.#log.error({ failover: unfinished.id }, `an unfinished failover was found in the journal (${unfinished.id}, dead master ${unfinished.deadMaster}): the manager stopped during it. No automatic failover until an operator checks the topology and runs: mhats ack ${this.cluster.name}`);
    }
    // The loop's place in the interval: its first tick waits for it (a thousand clusters do not start, nor
    // ping, in the same millisecond); every later tick keeps it.
    const phaseMs = Math.min(Math.max(this.deps.phase ?? 0, 0), 0.999) * interval;
    this.#inspectSkewMs = Math.min(Math.max(this.deps.phase ?? 0, 0), 0.999) * this.#inspectEveryMs;
    this.#running = true;
    const onAbort = (): void => this.#pause.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    if (phaseMs > 0 && !signal.aborted && this.#actions.length === 0) await this.#pause.wait(phaseMs);
    while (!signal.aborted) {
      await this.#runActions();
      if (signal.aborted) break;
      const started = this.deps.mono();
      this.busySince = started;
      try {
        await this.tick();
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, `monitor tick failed: ${(err as Error).message}`);
      }
      this.busySince = undefined;
      this.stage = undefined;
      // A failover that just ended: its old master is watched for its return from now on, not from the next tick.
      this.#syncReturnWatches();
      this.ticks++;
      this.deps.onTick?.(this);
      if (signal.aborted) break;
      const wait = this.#nextWait(interval);
      if (this.#actions.length > 0 || this.#returnAnswered) continue;
      await this.#pause.wait(wait - (this.deps.mono() - started));
    }
    signal.removeEventListener('abort', onAbort);
    this.#running = false;
    for (let a = this.#actions.shift(); a !== undefined; a = this.#actions.shift()) a.cancel(new Error(`the monitor of ${this.cluster.name} stopped before the action ran`));
    this.#checker?.close();
    this.#watch?.close();
    this.#closeReturnWatches();
    this.#endSuspicion();
    this.#sampler.close();
    if (this.#ownPool) this.pool.close();
    this.#keeper.close();
    this.state = 'stopped';
  }

  /**
   * How long until the next check: the interval while healthy; after a refused connection one short
   * re-check (certain evidence needs no more); after other failures ping_retry_interval; while a
   * witness or the second route says the master is alive (only the manager's route is broken), the
   * interval again.
   */
  #nextWait(interval: number): number {
    const watching = this.state === 'watching' || this.state === 'suspect' || this.state === 'blocked';
    if (!watching) return Math.max(interval, 2000);
    if (this.detector.phase === 'healthy' || this.state === 'blocked') return interval;
    const v = this.lastVerdict;
    if (v !== undefined && !v.dead && (v.code === 'UnreachableMaster' || v.code === 'AliveError')) return interval;
    const retry = this.cluster.ping_retry_interval * 1000;
    return this.detector.lastFailure?.class === 'refused' ? Math.min(retry, REFUSED_RECHECK_MS) : retry;
  }

  #endSuspicion(outcome: SuspicionRecord['outcome'] = 'master_changed'): void {
    if (this.#suspicion !== undefined && this.lastSuspicion?.outcome === 'ongoing') {
      this.lastSuspicion = { ...this.lastSuspicion, outcome, endedAt: this.deps.now() };
    }
    this.#suspicion?.close();
    this.#suspicion = undefined;
  }

  /** SSH sessions to every server, opened ahead of need: the second route, the fence of a hung master, the built-in hooks. */
  #warmSsh(): void {
    if (!this.#det.second_route) return;
    const failed = new Set(this.failedServers());
    for (const srv of this.cluster.servers) {
      if (failed.has(srv.name)) continue;
      const { target: t, options } = sshOptionsFor(this.cluster, srv);
      this.pool.warm(t, options);
    }
  }

  async tick(): Promise<void> {
    this.#returnAnswered = false;
    this.#syncReturnWatches();
    // The journal's failed servers against what is observed: never fence before the topology is known.
    this.stage = 'probing the failed old masters';
    if (this.lastAnalysis !== undefined) await this.#checkFailedServers();
    if (this.state === 'starting' || this.state === 'broken' || this.master === undefined) {
      this.stage = 'inspecting the topology';
      const a = await this.inspect();
      // The first inspection after this manager took the cluster over from another owner (sharding): once.
      const prev = this.#previousOwner;
      this.#previousOwner = undefined;
      if (a.healthy && a.master !== undefined) {
        this.#adopt(a.master);
        this.#reportOnce('info', `watching:${a.master}`, { master: a.master, replicas: a.replicas.map((r) => r.name), mode: a.mode }, `watching ${this.cluster.name}: master ${a.master}, replicas ${a.replicas.map((r) => r.name).join(', ')}`);
      } else {
        const errors = a.findings.filter((f) => f.severity === 'error').map((f) => `${f.server ?? this.cluster.name}: ${f.message}`);
        const h = prev && this.state === 'starting' ? handoverDecision(prev.view, { master: a.master, masterReachable: a.masterObs !== undefined, errors: a.findings.filter((f) => f.severity === 'error').map((f) => ({ code: f.code, server: f.server })) }, this.deps.mono() - prev.readAt, this.deps.now(), prev.limits) : undefined;
        if (h?.adopt) {
          // The previous owner's last view counts: a master that just failed, confirmed (or not) as usual.
          this.#log.error({ master: h.master, previousOwner: prev?.view?.by, view: prev?.view, errors }, `first look at ${this.cluster.name} as its new owner: the master ${h.master} cannot be reached, but ${h.reason}: watching ${h.master} as a master that just failed (the replicas and the second route confirm before any failover): ${errors.join('; ')}`);
          this.#lastReport = '';
          this.#adopt(h.master);
          this.inheritedFailure = { since: Math.min(prev?.view?.failingSince ?? Infinity, this.deps.now()) };
          return;
        }
        this.state = 'broken';
        const why = h ? ` (a master dead at this manager's first look is not failed over: ${h.reason})` : '';
        this.#reportOnce('error', `broken:${errors.join('|')}`, { errors, ...(h ? { handover: h.reason } : {}) }, `topology of ${this.cluster.name} is broken; not watching for failover until it is healthy: ${errors.join('; ')}${why}`);
      }
      return;
    }
    if (!this.#checkerHasDialect && this.lastAnalysis?.masterObs?.name === this.master) this.#adopt(this.master);
    this.stage = `health check of ${this.master}`;
    const r = await this.#checker!.check();
    if (r.ok && r.position) this.lastMasterPosition = r.position;
    if (r.ok) this.inheritedFailure = undefined;
    if (r.ok) this.#watch?.ensure();
    this.#observe(() => this.deps.observer?.check?.(this, r));
    const det = this.#det;
    const { state: next, transition } = detect(this.detector, r, { failuresToSuspect: this.cluster.ping_failures, stallsToFail: det.ping_stall_failures });
    this.detector = next;
    if ((transition === 'first_failure' || transition === 'failure') && this.#logFailure(next.consecutiveFailures)) {
      const what = next.lastFailure?.class === 'stall' ? ` (statement timeout ${next.consecutiveStalls}/${det.ping_stall_failures})` : next.lastFailure?.class === 'refused' ? ' (refused)' : '';
      this.#log.warn({ master: this.master, kind: r.kind, stage: r.stage, failures: next.consecutiveFailures, stalls: next.consecutiveStalls, latencyMs: Math.round(r.latencyMs) }, `health check of ${this.master} failed (${next.consecutiveFailures}/${this.cluster.ping_failures})${what}: ${r.message ?? r.kind ?? ''}`);
    }
    if (transition === 'alive_but_refusing') this.#log.warn({ master: this.master, kind: r.kind, errno: r.errno }, `${this.master} refuses the health check but is alive (${r.kind}${r.errno ? ` ${r.errno}` : ''}): not counted as a failure`);
    if (transition === 'recovered') {
      this.#log.info({ master: this.master }, `${this.master} answers health checks again`);
      this.lastVerdict = undefined;
      this.#endSuspicion('recovered');
      if (this.state === 'suspect') this.state = 'watching';
      if (this.heldByMaintenance !== undefined) this.#releaseMaintenanceHold();
    }
    if (next.phase !== 'healthy') {
      // The evidence is gathered from the first failure on, in the background (replica samples, the second route).
      if (this.#suspicion === undefined) {
        this.#suspicion = this.#newSuspicion();
        this.lastSuspicion = { master: this.master, startedAt: this.deps.now() - Math.max(0, r.latencyMs), outcome: 'ongoing', evaluations: 0 };
        this.#warmSsh();
      }
      if (next.phase === 'suspect' && this.state === 'watching') this.state = 'suspect';
      // Decide once the evidence can be enough: a re-check (certain or not), or the run of stalls.
      const ready = next.consecutiveFailures >= Math.min(2, this.cluster.ping_failures) || next.consecutiveStalls >= det.ping_stall_failures;
      this.stage = `evaluating the suspicion of ${this.master}`;
      if (ready && transition !== 'alive_but_refusing') await this.#confirmAndAct();
      return;
    }
    // Refresh the whole view now and then (lag, the master's last position for the lost-transaction report).
    if (r.ok && this.deps.mono() - this.#lastInspectAt + this.#inspectSkewMs > this.#inspectEveryMs) {
      this.#inspectSkewMs = 0;
      this.stage = 'inspecting the topology';
      const a = await this.inspect();
      this.#adoptMovedMaster(a);
      this.#warmSsh();
    }
  }

  /** Each failed check is logged up to ping_failures; after that one line in FAILURE_LOG_EVERY_MS (the verdict says the rest). */
  #logFailure(n: number): boolean {
    if (n <= Math.max(3, this.cluster.ping_failures) || this.deps.mono() - this.#failureLoggedAt >= FAILURE_LOG_EVERY_MS) {
      this.#failureLoggedAt = this.deps.mono();
      return true;
    }
    return false;
  }

  #newSuspicion(): Suspicion {
    const master = this.cluster.servers.find((s) => s.name === this.master)!;
    const failed = new Set(this.failedServers());
    return new Suspicion({
      cluster: this.cluster,
      master,
      replicas: this.cluster.servers.filter((s) => s.name !== master.name && !failed.has(s.name)),
      specs: this.cluster.servers.map((s) => ({ name: s.name, hostname: s.hostname, ip: s.ip, port: s.port, candidate_master: s.candidate_master, no_master: s.no_master, ignore_fail: s.ignore_fail })),
      sampler: this.#sampler,
      pool: this.#det.second_route ? this.pool : undefined,
      mono: this.deps.mono,
      log: this.#log,
    });
  }

  /**
   * A switchover (mhats switchover, MHA's online switch, or by hand) moved the master: when a
   * writable server that every replica follows is found, watch it. The old master may still be
   * up (read_only, replicating from nobody), which check-repl reports; it is not watched.
   */
  #adoptMovedMaster(a: TopologyAnalysis): boolean {
    if (a.master === undefined || a.master === this.master || a.masterObs === undefined || a.masterObs.readOnly) return false;
    const following = a.replicas.filter((r) => r.source === a.master);
    const elsewhere = a.replicas.filter((r) => r.source !== undefined && r.source !== a.master);
    if (following.length === 0 || elsewhere.length > 0) return false;
    this.#log.warn({ from: this.master, to: a.master }, `the master changed outside mhats (${this.master ?? '?'} → ${a.master}): watching ${a.master}`);
    this.#adopt(a.master);
    return true;
  }

  #adopt(master: string): void {
    const srv = this.cluster.servers.find((s) => s.name === master)!;
    // A maintenance hold was about the old, dead master: a new master (failed over by an operator) is watched afresh.
    if (master !== this.master && this.heldByMaintenance !== undefined) {
      this.heldByMaintenance = undefined;
      this.blockedReason = undefined;
    }
    this.#checker?.close();
    // Knowing the master's version, each successful check also records its binlog position (lost-transaction report).
    const a = this.lastAnalysis;
    const obs = a?.masterObs?.name === master ? a.masterObs : a?.replicas.find((r) => r.name === master)?.obs;
    this.#checkerHasDialect = obs !== undefined;
    this.lastMasterPosition = undefined;
    this.#watch?.close();
    this.#watch = new MasterWatch(target(srv), () => this.#pause.wake(), Math.min(1000, this.cluster.connect_timeout * 1000));
    // Open from the start (the master was just seen healthy): the first health check comes only a ping_interval later.
    this.#watch.ensure();
    this.#checker = createHealthChecker(this.cluster.ping_type, target(srv), {
      timeoutMs: this.cluster.ping_timeout * 1000,
      now: this.deps.mono,
      wallNow: this.deps.now,
      dialect: obs ? dialectFor(obs.version) : undefined,
    });
    this.master = master;
    this.inheritedFailure = undefined;
    this.detector = initialDetectorState;
    this.lastVerdict = undefined;
    this.#endSuspicion();
    this.state = this.blockedReason ? 'blocked' : 'watching';
    this.#warmSsh();
    this.#observe(() => this.deps.onMasterChanged?.(master, 'adopted'));
  }

  async #confirmAndAct(): Promise<void> {
    const master = this.master!;
    // The evidence is gathered from the first failed check on (tick); the replicas are asked, and
    // the suspicion counted, once per episode: after ping_failures failed checks, or sooner on
    // certain evidence (refused).
    const firstEvaluation = this.#suspicion === undefined || this.lastSuspicion?.outcome !== 'ongoing' || this.lastSuspicion.evaluations === 0;
    this.#suspicion ??= this.#newSuspicion();
    if (firstEvaluation) this.#observe(() => this.deps.observer?.suspicion?.(this));
    const verdict = await this.#suspicion.evaluate(this.detector);
    const changed = this.lastVerdict?.code !== verdict.code;
    this.lastVerdict = verdict;
    if (this.lastSuspicion?.outcome === 'ongoing') this.lastSuspicion = { ...this.lastSuspicion, verdict, verdictAt: this.deps.now(), evaluations: this.lastSuspicion.evaluations + 1 };
    this.#observe(() => this.deps.observer?.verdict?.(this, verdict));
    const evidence = { witnesses: verdict.evidence.witnesses.map((w) => ({ name: w.name, says: w.says, class: w.class, freshnessMs: w.freshnessMs, detail: w.detail })), routes: verdict.evidence.routes?.map((r) => ({ via: r.via, says: r.says, kind: r.kind, elapsedMs: r.elapsedMs, detail: r.detail })) };
    // The log says why there is no failover, also long after the verdict first changed: the tail of the log must explain itself.
    const repeat = changed || this.deps.mono() - this.#verdictLoggedAt >= VERDICT_REPEAT_MS;
    if (repeat) this.#verdictLoggedAt = this.deps.mono();
    if (!verdict.dead) {
      if (repeat) this.#log.warn({ master, verdict: verdict.code, ...evidence }, verdict.reason);
      else this.#log.debug({ master, verdict: verdict.code, ...evidence }, verdict.reason);
      // Nobody replicates from it any more: the master may have been switched over and the old one stopped.
      if (verdict.code === 'NoWitness' || verdict.evidence.witnesses.every((w) => w.class === 'unreachable' || w.class === 'not_replica')) {
        this.stage = 'inspecting the topology (no witness of the master)';
        this.#adoptMovedMaster(await this.inspect());
      }
      return;
    }
    if (this.deps.isLeader && !this.deps.isLeader()) {
      // A follower never fails over; it watches for the master the leader promotes.
      const why = this.deps.notLeaderReason?.();
      if (why !== undefined) {
        if (repeat) this.#log.error({ master, verdict: verdict.code }, `MASTER ${master} IS DEAD: ${verdict.reason}. NOT failing over automatically: ${why}; watching for the new master`);
      } else this.#reportOnce('error', `follower-dead:${master}`, { master, verdict: verdict.code }, `MASTER ${master} IS DEAD: ${verdict.reason}. This manager is not the leader: the leader fails it over; watching for the new master`);
      if (this.deps.mono() - this.#lastInspectAt > 1000) this.#adoptMovedMaster(await this.inspect());
      return;
    }
    const hold = mayFailOverAutomatically(this.#maintenanceEntries(), this.cluster.name, this.deps.now());
    if (!hold.allowed) {
      // Watched and reported, never failed over automatically: say loudly what would have happened.
      const first = this.heldByMaintenance === undefined;
      this.heldByMaintenance = hold.reason;
      this.blockedReason = `in maintenance: ${hold.reason}`;
      this.state = 'blocked';
      if (first || changed || this.deps.mono() - this.#maintenanceLoggedAt >= 60_000) {
        this.#maintenanceLoggedAt = this.deps.mono();
        const mp = this.plan();
        const p = mp.plan;
        const would = p?.ok ? `promote ${p.newMaster!.name} (${p.choice?.ok ? p.choice.reason : ''})` : `not be able to fail over (${p ? p.refusal!.reason : mp.plan === undefined ? mp.reason : ''})`;
        this.#log.error(
          { master, verdict: verdict.code, maintenance: hold.entries.map((e) => e.id), wouldPromote: p?.ok ? p.newMaster!.name : null, rule: p?.ok && p.choice?.ok ? p.choice.rule : undefined },
          `MASTER ${master} IS DEAD (${verdict.reason}) but ${hold.reason}. NOT failing over automatically. Without the maintenance mhats would now ${would}. To fail over now: mhats failover --cluster ${this.cluster.name}; to let the manager do it: mhats maintenance stop --cluster ${this.cluster.name}`,
        );
      }
      return;
    }
    if (this.heldByMaintenance !== undefined) {
      this.#log.warn({ master }, `maintenance of ${this.cluster.name} is over (stopped or expired) and the master ${master} is still dead: failing over now`);
      this.#releaseMaintenanceHold();
    }
    this.#log.error({ master, verdict: verdict.code, basis: verdict.basis, relied: verdict.witnesses, failingForMs: verdict.evidence.failingForMs, ...evidence }, `MASTER ${master} IS DEAD: ${verdict.reason}`);
    const g = guard(summarize(this.deps.journal.read()), this.deps.now(), this.cluster.last_failover_minute, 'auto', this.cluster.name, readMhaStateFiles(this.cluster.manager_workdir, this.cluster.name));
    if (!g.allowed) {
      this.blockedReason = g.reason;
      if (repeat || this.state !== 'blocked') this.#log.error({ master, blocking: g.blocking }, `automatic failover refused: ${g.reason}`);
      this.state = 'blocked';
      return;
    }
    if (this.deps.mono() < this.#retryAfter) return;
    const report = await this.failover({ trigger: 'auto', reason: verdict.reason });
    if (report.outcome === 'refused') {
      // The cause needs a person (or time): retry at a calm pace, not every tick.
      this.#retryAfter = this.deps.mono() + 30_000;
      this.#log.error({ master, reason: report.reason }, `automatic failover of ${master} refused; retrying in 30 s: ${report.reason}`);
    }
  }

  #releaseMaintenanceHold(): void {
    this.heldByMaintenance = undefined;
    this.blockedReason = undefined;
    if (this.state === 'blocked') this.state = this.detector.phase === 'healthy' ? 'watching' : 'suspect';
  }

  /** Runs a failover of the current master (automatic, or requested by an operator). */
  async failover(opts: { trigger: 'auto' | 'manual'; reason: string; newMaster?: string | undefined; deadMaster?: string | undefined }): Promise<FailoverReport> {
    if (this.#inFailover) throw new Error('a failover of this cluster is already running');
    const dead = opts.deadMaster ?? this.master;
    if (dead === undefined) throw new Error(`no master known for ${this.cluster.name}: name the dead master`);
    this.#inFailover = true;
    this.state = 'failing_over';
    const s = this.lastSuspicion;
    const verdict = opts.trigger === 'auto' && s?.master === dead && s.verdict?.dead && s.verdictAt !== undefined ? { code: s.verdict.code, at: s.verdictAt, basis: s.verdict.basis, failure: s.verdict.evidence.lastFailure?.kind } : undefined;
    if (this.lastSuspicion?.outcome === 'ongoing' && this.lastSuspicion.master === dead) this.lastSuspicion = { ...this.lastSuspicion, outcome: 'failover', endedAt: this.deps.now() };
    try {
      const report = await runFailover(
        { cluster: this.cluster, deadMaster: dead, newMaster: opts.newMaster, trigger: opts.trigger, reason: opts.reason, maintenance: this.maintenance().serversInMaintenance, lastMasterObs: this.lastMasterObs?.name === dead ? this.lastMasterObs : undefined, lastMasterPosition: this.lastMasterPosition, verdict },
        {
          journal: this.deps.journal,
          log: this.deps.log,
          now: this.deps.now,
          sshReachable: this.deps.sshReachable,
          cutBinlog: cutSavedBinlog,
          // Kept SSH sessions (warmed when the suspicion began): the fence of a hung master reuses them.
          sshPool: this.pool,
          ...(this.deps.stillLeader ? { stillLeader: this.deps.stillLeader } : {}),
          fencingToken: this.deps.fencingToken,
          onPromoted: (s) => this.#observe(() => this.deps.onMasterChanged?.(s.name, 'promoted')),
          onFenced: (s) => this.#observe(() => this.deps.onFenced?.(s.name)),
          returnWatchDeps: this.deps.returnWatchDeps,
          // Delayed replicas recovering after the failover never hold up the watch loop.
          onDeferred: (done) => void done.catch((err: unknown) => this.#log.error({ err: (err as Error).message }, `recovering a replica after the failover failed: ${(err as Error).message}`)),
        },
      );
      this.deps.onFailover?.(report);
      if (report.outcome === 'success' || report.outcome === 'partial') {
        this.blockedReason = undefined;
        this.lastMasterObs = undefined;
        this.#adopt(report.newMaster!);
        this.#lastReport = '';
        this.#log.info({ newMaster: report.newMaster, oldMaster: dead, durationMs: report.durationMs }, `now watching the new master ${report.newMaster}; ${dead} stays marked failed`);
        await this.inspect().catch(() => undefined);
      } else if (report.outcome === 'failed') {
        this.state = 'blocked';
        this.blockedReason = `failover ${report.id} failed: ${report.reason}`;
      } else {
        this.state = 'suspect';
        // Refused (nothing changed): the suspicion goes on.
        if (this.lastSuspicion?.outcome === 'failover' && this.lastSuspicion.master === dead) this.lastSuspicion = { ...this.lastSuspicion, outcome: 'ongoing', endedAt: undefined };
      }
      return report;
    } finally {
      this.#inFailover = false;
    }
  }

  /**
   * The failed old masters watched for their return (src/domain/return-watch.ts decides which): only while the
   * loop runs; a watch that answers wakes the loop, whose next tick probes and fences at once.
   */
  #syncReturnWatches(): void {
    if (!this.#running) return;
    const failed = this.failedServers();
    const want = failed.length === 0 ? [] : serversToWatchForReturn(this.#summaryMemo?.summaries ?? [], failed, this.deps.now(), returnWatchWindowMs(this.cluster.last_failover_minute));
    for (const [name, w] of this.#returnWatches) {
      if (!want.includes(name)) {
        w.close();
        this.#returnWatches.delete(name);
      }
    }
    for (const name of want) {
      if (this.#returnWatches.has(name)) continue;
      const srv = this.cluster.servers.find((s) => s.name === name);
      if (srv === undefined) continue;
      const deps = this.deps.returnWatchDeps?.(srv) ?? realReturnWatchDeps(target(srv));
      const w = new ReturnWatch(name, deps, returnWatchOptions(this.cluster), () => {
        this.#log.debug({ server: name }, `${name} (a failed old master) answers again: probing it now`);
        this.#returnAnswered = true;
        this.#pause.wake();
      });
      this.#returnWatches.set(name, w);
      w.start();
    }
  }

  #closeReturnWatches(): void {
    for (const w of this.#returnWatches.values()) w.close();
    this.#returnWatches.clear();
  }

  /** The failed old masters watched for their return now (tests, metrics). */
  get returnWatches(): ReadonlyMap<string, ReturnWatch> {
    return this.#returnWatches;
  }

  /** Each tick: the failed old masters are probed (quickly) and reconciled with the last view of the others. */
  async #checkFailedServers(): Promise<void> {
    const failed = this.failedServers();
    if (failed.length === 0) {
      this.reconciled = [];
      return;
    }
    const servers = this.cluster.servers.filter((s) => failed.includes(s.name));
    const fresh = await inspectAll(servers.map(target), { connectTimeoutMs: Math.min(1000, this.cluster.connect_timeout * 1000), queryTimeoutMs: 1000, now: this.deps.now });
    const others = this.lastProbes.filter((p) => !failed.includes(p.ok ? p.obs.name : p.failure.name));
    if (await this.#reconcile([...others, ...fresh])) await this.inspect();
  }

  /**
   * The journal reconciled with the observed topology (domain/reconcile.ts): a failed server is
   * fenced only while the cluster has moved on; one the cluster was rebuilt around is adopted; one
   * replicating healthily from the master rejoined. True when the set of failed servers changed.
   */
  async #reconcile(probes: ServerProbe[]): Promise<boolean> {
    const failed = this.failedServers();
    if (failed.length === 0) {
      this.reconciled = [];
      return false;
    }
    const decisions = reconcileFailed(failed, this.#serverSpecs, probes);
    this.reconciled = decisions;
    let changed = false;
    for (const d of decisions) {
      const srv = this.cluster.servers.find((s) => s.name === d.server)!;
      const open = summarize(this.deps.journal.read()).filter((x) => (x.demoted ?? x.deadMaster) === d.server && !x.rejoined);
      // A failed old master that answers again, the cluster having moved on: its host must not hold the VIP (once per return).
      if (d.action === 'fence') this.#releaseVip(srv);
      else this.#vipChecked.delete(d.server);
      if (d.action === 'fence' && d.writable) {
        this.#log.error({ server: d.server, reason: d.reason }, `the failed old master ${d.server} is back and WRITABLE: fencing it (${d.reason})`);
        await fenceOldMaster(srv, this.cluster, this.#log).then(
          () => this.#observe(() => this.deps.onFenced?.(d.server)),
          (err: unknown) => this.#log.error({ server: d.server }, `could not fence ${d.server}: ${(err as Error).message}`),
        );
      } else if (d.action === 'fence' && this.cluster.auto_rejoin && this.deps.rejoin && this.master !== undefined && this.state === 'watching' && (this.deps.isLeader?.() ?? true)) {
        // Answers, read-only, the cluster has moved on: an old master to rejoin (auto_rejoin).
        this.#autoRejoin(d.server);
      } else if (d.action === 'rejoin') {
        for (const x of open) this.deps.journal.append({ type: 'rejoin', id: x.id, at: this.deps.now(), server: d.server });
        this.#log.info({ server: d.server }, `${d.reason}: back in the cluster as a replica`);
        changed = true;
      } else if (d.action === 'adopt') {
        for (const x of open) this.deps.journal.append({ type: 'adopted', id: x.id, at: this.deps.now(), server: d.server, reason: d.reason });
        this.#log.warn({ server: d.server, failovers: open.map((x) => x.id), reason: d.reason }, `${d.server} is recorded as the failed old master of ${open.map((x) => x.id).join(', ')}, but ${d.reason}: adopting the cluster as it is (not fencing ${d.server})`);
        changed = true;
      }
    }
    return changed;
  }

  /**
   * The built-in vip hooks' addresses taken off a failed old master's host that came back (its stop hook
   * could not reach it during the failover, or it restarted with the address): in the background, once
   * each time it comes back, retried every 30 s when SSH fails. Never on the current master's host.
   */
  #releaseVip(srv: ServerConfig): void {
    const name = srv.name;
    if (this.#vipChecked.has(name) || this.#vipChecking.has(name) || this.deps.mono() < (this.#vipRetryAt.get(name) ?? -Infinity)) return;
    const hp = hooksFor(this.cluster);
    const vips = hp.ok ? hp.hooks.filter((h): h is VipHook => h.type === 'vip' && h.phases.includes('stop')) : [];
    const master = this.cluster.servers.find((s) => s.name === this.master);
    if (vips.length === 0 || master === undefined || master.name === name) return;
    if (master.ssh_host === srv.ssh_host && master.ssh_port === srv.ssh_port) {
      this.#vipChecked.add(name);
      this.#log.warn({ server: name }, `${name} (a failed old master) shares its host with the master ${master.name}: its VIP is not released there`);
      return;
    }
    this.#vipChecking.add(name);
    void releaseVips(vips, this.cluster, srv, { ssh: this.cluster.ssh, pool: this.pool, timeoutMs: Math.max(5000, this.cluster.ssh.connect_timeout * 1000 + 3000) })
      .then((rs) => {
        for (const r of rs) {
          if (r.outcome === 'removed') this.#log.warn({ server: name, hook: r.hook, address: r.address }, `the failed old master ${name}'s host still held the VIP ${r.address} (${r.hook}): released it (${r.detail})`);
          else if (r.outcome === 'failed') this.#log.error({ server: name, hook: r.hook, address: r.address }, `could not check the failed old master ${name}'s host for the VIP ${r.address} (${r.hook}): ${r.detail}; trying again in 30 s`);
        }
        if (rs.every((r) => r.outcome !== 'failed')) {
          this.#vipChecked.add(name);
          this.#vipRetryAt.delete(name);
        } else this.#vipRetryAt.set(name, this.deps.mono() + 30_000);
      })
      .catch((err: unknown) => {
        this.#vipRetryAt.set(name, this.deps.mono() + 30_000);
        this.#log.error({ server: name, err: (err as Error).message }, `could not check the failed old master ${name}'s host for the VIP: ${(err as Error).message}`);
      })
      .finally(() => this.#vipChecking.delete(name));
  }

  /** auto_rejoin: in the background (a rejoin reads binlogs; the health checks go on). A refusal is retried every 10 minutes, and said once. */
  #autoRejoin(name: string): void {
    if (this.#rejoining.has(name) || this.deps.mono() < (this.#rejoinRetryAt.get(name) ?? -Infinity)) return;
    this.#rejoining.add(name);
    this.#log.info({ server: name }, `auto_rejoin: ${name} (an old master) answers again: trying to rejoin it as a replica of ${this.master ?? '?'}`);
    void this.deps.rejoin!(name)
      .then((r) => {
        if (r.outcome === 'rejoined' || r.outcome === 'already') {
          this.#rejoinRetryAt.delete(name);
          this.#log.info({ server: name, how: r.how }, `auto_rejoin: ${r.reason}`);
          return;
        }
        this.#rejoinRetryAt.set(name, this.deps.mono() + 600_000);
        this.#log.error({ server: name, outcome: r.outcome, divergent: r.divergent?.gtids, extractFile: r.extractFile }, `auto_rejoin of ${name} ${r.outcome === 'diverged' ? 'REFUSED' : r.outcome}: ${r.reason}${r.extractFile ? `; the divergent transactions are in ${r.extractFile}` : ''}. It stays fenced; next attempt in 10 minutes (or: mhats rejoin ${name})`);
      })
      .catch((err: unknown) => {
        this.#rejoinRetryAt.set(name, this.deps.mono() + 600_000);
        this.#log.error({ server: name, err: (err as Error).message }, `auto_rejoin of ${name} failed: ${(err as Error).message}`);
      })
      .finally(() => this.#rejoining.delete(name));
  }
}
