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
import { runScript } from '../adapters/hooks/run-script.js';
import type { Journal } from '../adapters/journal/journal.js';
import { readMhaStateFiles } from '../adapters/journal/mha-state-files.js';
import { confirm, detect, initialDetectorState, type MasterPosition, type CheckResult, type DetectorState, type ReplicaView, type SecondaryCheckOutcome, type Verdict } from '../domain/detector.js';
import { failedServers, guard, summarize, type FailoverSummary, type JournalRecord } from '../domain/guard.js';
import { analyzeTopology, resolveSource, type ServerSpec, type TopologyAnalysis } from '../domain/topology.js';
import type { ServerObservation, ServerProbe } from '../domain/types.js';
import { classifySurvivors } from '../domain/failover/survivors.js';
import type { FailoverPlan } from '../domain/failover/plan.js';
import { reconcileFailed, type Reconciled } from '../domain/reconcile.js';
import { planFrom, runFailover, type FailoverReport } from './failover.js';
import { fenceOldMaster } from './ops/fence.js';
import { specOf, target } from './ops/admin.js';
import type { Logger } from '../ports/logger.js';
import { cutSavedBinlog } from '../domain/binlog-cut.js';
import type { RejoinReport } from './rejoin.js';
import { maintenanceOf, mayFailOverAutomatically, type ClusterMaintenance, type MaintenanceEntry } from '../domain/maintenance.js';

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
  /** Manager HA: the leader's fencing token, for the hooks (MHATS_FENCING_TOKEN). */
  fencingToken?: (() => string | undefined) | undefined;
  /** The master changed: adopted (start, switchover seen, after a failover) or just promoted by a failover (writable). Must not throw. */
  onMasterChanged?: ((master: string, how: 'adopted' | 'promoted') => void) | undefined;
  /** A server was fenced (read_only, sessions killed). Must not throw. */
  onFenced?: ((server: string) => void) | undefined;
  /** auto_rejoin: rejoins an old master that answers again (src/engine/rejoin.ts, wired by the manager). */
  rejoin?: ((server: string) => Promise<RejoinReport>) | undefined;
  /** Maintenance entries (every cluster's; the monitor picks its own). Default: none. */
  maintenance?: (() => MaintenanceEntry[]) | undefined;
}

export interface MonitorObserver {
  /** Every health check of the master. */
  check?(m: ClusterMonitor, r: CheckResult): void;
  /** The detector moved to suspect (the master failed ping_failures checks in a row). */
  suspicion?(m: ClusterMonitor): void;
  /** A full inspection of the cluster finished. */
  inspected?(m: ClusterMonitor, a: TopologyAnalysis): void;
}

/** The failover that would run if the master died now, from the last inspection (no I/O): the plan, or why there is none. */
export type MonitorPlan = { plan: FailoverPlan; inspectedAt: number } | { plan?: undefined; reason: string; master?: string | undefined };

export interface MonitorSnapshot {
  cluster: string;
  state: MonitorState;
  master?: string | undefined;
  detector: DetectorState;
  lastVerdict?: Verdict | undefined;
  failed: string[];
  lastAnalysis?: { healthy: boolean; errors: string[] } | undefined;
  lastFailover?: FailoverSummary | undefined;
  blockedReason?: string | undefined;
  /** The journal reconciled with the topology: what was decided about each failed server. */
  reconciled: Reconciled[];
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class ClusterMonitor {
  readonly cluster: ClusterConfig;
  readonly deps: MonitorDeps;
  state: MonitorState = 'starting';
  master: string | undefined;
  detector: DetectorState = initialDetectorState;
  lastVerdict: Verdict | undefined;
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
  #checker: HealthChecker | undefined;
  #log: Logger;
  #lastReport = '';
  #lastInspectAt = -Infinity;
  #inFailover = false;
  /** After a refused failover, do not retry before this (monotonic ms), unless the verdict changes. */
  #retryAfter = -Infinity;
  /** Operator actions (API switchover, manual failover) waiting to run between two ticks. */
  #actions: Array<{ what: string; run: () => Promise<void>; cancel: (err: Error) => void }> = [];
  #wake: AbortController | undefined;
  #running = false;
  /** The operator action running now (the loop does not tick meanwhile). */
  activity: { what: string; since: number } | undefined;
  /** One kept connection per server for inspections and the replicas' views (never for CONNECT pings). */
  #keeper = new SessionKeeper();
  /** The journal's records as last summarized: the journal returns the same array while it is unchanged. */
  #summaryMemo: { records: JournalRecord[]; failed: string[] } | undefined;
  /** A dead master is held by maintenance: the reason (undefined when not held). */
  heldByMaintenance: string | undefined;
  #maintenanceLoggedAt = -Infinity;
  /** auto_rejoin: servers being rejoined, and when a refused one may be tried again (monotonic ms). */
  #rejoining = new Set<string>();
  #rejoinRetryAt = new Map<string, number>();

  constructor(cluster: ClusterConfig, deps: MonitorDeps) {
    this.cluster = cluster;
    this.deps = deps;
    this.#log = deps.log.child({ cluster: cluster.name });
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
      this.#wake?.abort();
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
    const records = this.deps.journal.read();
    if (this.#summaryMemo?.records !== records) this.#summaryMemo = { records, failed: failedServers(summarize(records)) };
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
      failed: this.failedServers(),
      lastAnalysis: this.lastAnalysis ? { healthy: this.lastAnalysis.healthy, errors: this.lastAnalysis.findings.filter((f) => f.severity === 'error').map((f) => `${f.server ?? this.cluster.name}: ${f.message}`) } : undefined,
      lastFailover: summaries.filter((s) => s.outcome !== 'refused').at(-1),
      blockedReason: this.blockedReason,
      reconciled: this.reconciled,
    };
  }

  /** Every configured server: addresses are resolved against all of them (failed ones too), so messages name the right server. */
  #specs(): ServerSpec[] {
    return this.cluster.servers.map(specOf);
  }

  /**
   * Inspects every server. Failed old masters are probed too but left out of the analysis; the
   * journal is then reconciled with what was observed (fence, rejoin, or adopt each failed one).
   */
  async inspect(): Promise<TopologyAnalysis> {
    const specs = this.#specs();
    const opts = { connectTimeoutMs: this.cluster.connect_timeout * 1000, queryTimeoutMs: this.cluster.query_timeout * 1000, now: this.deps.now };
    const all = await inspectAll(this.cluster.servers.map(target), opts, this.#keeper);
    this.lastProbes = all;
    if (await this.#reconcile(all)) return this.inspect();
    const failed = new Set(this.failedServers());
    const servers = this.cluster.servers.filter((s) => !failed.has(s.name));
    const probes = all.filter((p) => !failed.has(p.ok ? p.obs.name : p.failure.name));
    const analyze = (p: typeof probes): TopologyAnalysis =>
      analyzeTopology(specs, p, {
        secondsBehindMaster: this.cluster.seconds_behind_master,
        checkReplFilter: this.cluster.check_repl_filter,
        multiTierSlave: this.cluster.multi_tier_slave,
        replUser: this.cluster.servers.find((s) => s.repl_user)?.repl_user,
      });
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
    const classification = classifySurvivors({ servers: this.#specs(), deadMaster: master, probes, failed, maintenance, lastMaster: lastObs ? { serverId: lastObs.serverId, serverUuid: lastObs.serverUuid, gtid: lastObs.gtid } : undefined });
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
    this.#running = true;
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
      this.ticks++;
      this.deps.onTick?.(this);
      if (signal.aborted) break;
      const watching = this.state === 'watching' || this.state === 'suspect' || this.state === 'blocked';
      const failing = this.detector.phase !== 'healthy' && this.state !== 'blocked';
      const wait = !watching ? Math.max(interval, 2000) : failing ? this.cluster.ping_retry_interval * 1000 : interval;
      if (this.#actions.length > 0) continue;
      this.#wake = new AbortController();
      await sleep(wait - (this.deps.mono() - started), AbortSignal.any([signal, this.#wake.signal]));
      this.#wake = undefined;
    }
    this.#running = false;
    for (let a = this.#actions.shift(); a !== undefined; a = this.#actions.shift()) a.cancel(new Error(`the monitor of ${this.cluster.name} stopped before the action ran`));
    this.#checker?.close();
    this.#keeper.close();
    this.state = 'stopped';
  }

  async tick(): Promise<void> {
    // The journal's failed servers against what is observed: never fence before the topology is known.
    if (this.lastAnalysis !== undefined) await this.#checkFailedServers();
    if (this.state === 'starting' || this.state === 'broken' || this.master === undefined) {
      const a = await this.inspect();
      if (a.healthy && a.master !== undefined) {
        this.#adopt(a.master);
        this.#reportOnce('info', `watching:${a.master}`, { master: a.master, replicas: a.replicas.map((r) => r.name), mode: a.mode }, `watching ${this.cluster.name}: master ${a.master}, replicas ${a.replicas.map((r) => r.name).join(', ')}`);
      } else {
        this.state = 'broken';
        const errors = a.findings.filter((f) => f.severity === 'error').map((f) => `${f.server ?? this.cluster.name}: ${f.message}`);
        this.#reportOnce('error', `broken:${errors.join('|')}`, { errors }, `topology of ${this.cluster.name} is broken; not watching for failover until it is healthy: ${errors.join('; ')}`);
      }
      return;
    }
    if (!this.#checkerHasDialect && this.lastAnalysis?.masterObs?.name === this.master) this.#adopt(this.master);
    const r = await this.#checker!.check();
    if (r.ok && r.position) this.lastMasterPosition = r.position;
    this.#observe(() => this.deps.observer?.check?.(this, r));
    const { state: next, transition } = detect(this.detector, r, this.cluster.ping_failures);
    this.detector = next;
    if (transition === 'suspect') this.#observe(() => this.deps.observer?.suspicion?.(this));
    if (transition === 'first_failure' || transition === 'failure') this.#log.warn({ master: this.master, kind: r.kind, failures: next.consecutiveFailures, latencyMs: Math.round(r.latencyMs) }, `health check of ${this.master} failed (${next.consecutiveFailures}/${this.cluster.ping_failures}): ${r.message ?? r.kind ?? ''}`);
    if (transition === 'alive_but_refusing') this.#log.warn({ master: this.master, kind: r.kind }, `${this.master} refuses the health check but is alive (${r.kind}): not counted as a failure`);
    if (transition === 'recovered') {
      this.#log.info({ master: this.master }, `${this.master} answers health checks again`);
      this.lastVerdict = undefined;
      if (this.state === 'suspect') this.state = 'watching';
      if (this.heldByMaintenance !== undefined) this.#releaseMaintenanceHold();
    }
    if (next.phase === 'suspect') {
      if (this.state === 'watching') this.state = 'suspect';
      await this.#confirmAndAct();
      return;
    }
    // Refresh the whole view now and then (lag, the master's last position for the lost-transaction report).
    if (r.ok && this.deps.mono() - this.#lastInspectAt > Math.max(10_000, this.cluster.ping_interval * 5000)) {
      const a = await this.inspect();
      this.#adoptMovedMaster(a);
    }
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
    this.#checker = createHealthChecker(this.cluster.ping_type, target(srv), {
      timeoutMs: this.cluster.ping_timeout * 1000,
      now: this.deps.mono,
      wallNow: this.deps.now,
      dialect: obs ? dialectFor(obs.version) : undefined,
    });
    this.master = master;
    this.detector = initialDetectorState;
    this.state = this.blockedReason ? 'blocked' : 'watching';
    this.#observe(() => this.deps.onMasterChanged?.(master, 'adopted'));
  }

  async #confirmAndAct(): Promise<void> {
    const master = this.master!;
    const masterSrv = this.cluster.servers.find((s) => s.name === master)!;
    const failed = new Set(this.failedServers());
    const others = this.cluster.servers.filter((s) => s.name !== master && !failed.has(s.name));
    const probes = await inspectAll(others.map(target), { connectTimeoutMs: this.cluster.connect_timeout * 1000, queryTimeoutMs: this.cluster.query_timeout * 1000, now: this.deps.now }, this.#keeper);
    const specs = this.#specs();
    const observed = new Map<string, ServerObservation>();
    for (const p of probes) if (p.ok) observed.set(p.obs.name, p.obs);
    const views: ReplicaView[] = probes.map((p) => {
      if (!p.ok) return { name: p.failure.name, reachable: false, replicatesFromMaster: true };
      const rs = p.obs.replica;
      const src = rs ? resolveSource(specs, observed, rs.sourceHost, rs.sourcePort) : undefined;
      return { name: p.obs.name, reachable: true, replicatesFromMaster: src?.name === master, ioRunning: rs?.ioRunning, lastIoErrno: rs?.lastIoErrno };
    });
    let secondary: SecondaryCheckOutcome = { kind: 'unset' };
    const witnessesSayDead = !views.some((v) => v.reachable && v.replicatesFromMaster && v.ioRunning === 'Yes');
    if (this.cluster.secondary_check_script && witnessesSayDead) secondary = await this.#secondaryCheck(masterSrv);
    const verdict = confirm(master, views, secondary);
    const changed = this.lastVerdict?.code !== verdict.code;
    this.lastVerdict = verdict;
    if (!verdict.dead) {
      if (changed) this.#log.warn({ master, verdict: verdict.code, views }, verdict.reason);
      // Nobody replicates from it any more: the master may have been switched over and the old one stopped.
      if (verdict.code === 'NoWitness' || views.every((v) => !v.reachable || !v.replicatesFromMaster)) this.#adoptMovedMaster(await this.inspect());
      return;
    }
    if (this.deps.isLeader && !this.deps.isLeader()) {
      // A follower never fails over; it watches for the master the leader promotes.
      this.#reportOnce('error', `follower-dead:${master}`, { master, verdict: verdict.code }, `MASTER ${master} IS DEAD: ${verdict.reason}. This manager is not the leader: the leader fails it over; watching for the new master`);
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
    this.#log.error({ master, verdict: verdict.code, witnesses: verdict.witnesses }, `MASTER ${master} IS DEAD: ${verdict.reason}`);
    const g = guard(summarize(this.deps.journal.read()), this.deps.now(), this.cluster.last_failover_minute, 'auto', this.cluster.name, readMhaStateFiles(this.cluster.manager_workdir, this.cluster.name));
    if (!g.allowed) {
      this.blockedReason = g.reason;
      if (changed || this.state !== 'blocked') this.#log.error({ master, blocking: g.blocking }, `automatic failover refused: ${g.reason}`);
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
    try {
      const report = await runFailover(
        { cluster: this.cluster, deadMaster: dead, newMaster: opts.newMaster, trigger: opts.trigger, reason: opts.reason, maintenance: this.maintenance().serversInMaintenance, lastMasterObs: this.lastMasterObs?.name === dead ? this.lastMasterObs : undefined, lastMasterPosition: this.lastMasterPosition },
        {
          journal: this.deps.journal,
          log: this.deps.log,
          now: this.deps.now,
          sshReachable: this.deps.sshReachable,
          cutBinlog: cutSavedBinlog,
          ...(this.deps.stillLeader ? { stillLeader: this.deps.stillLeader } : {}),
          fencingToken: this.deps.fencingToken,
          onPromoted: (s) => this.#observe(() => this.deps.onMasterChanged?.(s.name, 'promoted')),
          onFenced: (s) => this.#observe(() => this.deps.onFenced?.(s.name)),
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
      }
      return report;
    } finally {
      this.#inFailover = false;
    }
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
    const decisions = reconcileFailed(failed, this.#specs(), probes);
    this.reconciled = decisions;
    let changed = false;
    for (const d of decisions) {
      const srv = this.cluster.servers.find((s) => s.name === d.server)!;
      const open = summarize(this.deps.journal.read()).filter((x) => (x.demoted ?? x.deadMaster) === d.server && !x.rejoined);
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

  async #secondaryCheck(master: ServerConfig): Promise<SecondaryCheckOutcome> {
    const r = await runScript({
      command: this.cluster.secondary_check_script!,
      args: [`--user=${master.ssh_user}`, `--master_host=${master.hostname}`, `--master_ip=${master.ip}`, `--master_port=${master.port}`, `--master_user=${master.user}`, `--ping_type=${this.cluster.ping_type}`, ...(master.ssh_port !== 22 ? [`--port=${master.ssh_port}`] : [])],
      timeoutMs: Math.max(10_000, this.cluster.ssh.connect_timeout * 2000),
      env: { MHATS_CLUSTER: this.cluster.name, MHATS_MASTER_PASSWORD: master.password.reveal() },
    });
    if (r.timedOut) return { kind: 'error', detail: `timed out after ${r.durationMs} ms` };
    if (r.exitCode === 0) return { kind: 'dead' };
    if (r.exitCode === null) return { kind: 'error', detail: `killed by ${r.signal ?? 'signal'}` };
    return { kind: 'alive', exitCode: r.exitCode, detail: (r.stderr || r.stdout).split('\n').slice(-2).join(' | ') };
  }
}
