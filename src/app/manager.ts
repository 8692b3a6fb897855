/**
 * The composition root of `mhats manager`: one process for all clusters.
 * Builds the adapters (pino, the journal, SSH, MySQL, metrics, sd_notify,
 * HTTP) and runs one monitor per cluster, each on its own loop, plus each
 * cluster's calendar jobs.
 *
 * Service behaviour:
 *  - READY=1 once every cluster has been inspected at least once; STATUS=
 *    lines a person can read; WATCHDOG=1 only while every monitor loop makes
 *    progress (a wedged loop stops the pings and systemd restarts us);
 *    STOPPING=1 on shutdown.
 *  - reload() (SIGHUP): re-reads the configuration; clusters are added,
 *    removed and changed without a restart. A monitor is only ever stopped
 *    between ticks, so a failover in progress is never interrupted: the
 *    change applies when it has finished. An invalid configuration is
 *    rejected and the running one stays in force.
 *  - stop() (SIGTERM): STOPPING=1, then every loop stops after its current
 *    tick; a failover in progress is finished first.
 *  - Manager HA. With `etcd:` configured, the managers elect a leader on an
 *    etcd lease; only the leader fails over (leadership is re-checked
 *    between failover phases, and the journal's writes are fenced by the
 *    lease's revision), followers watch and stay ready. The failover journal
 *    lives in etcd, so a new leader sees an unfinished failover and refuses
 *    to start a conflicting one. On stop the leader resigns (revokes its
 *    lease) after any failover in progress.
 *    Without etcd, a single manager guards itself: a lock file with its PID
 *    in state_dir, and MHA's monitor lock on every master it watches.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig, EtcdSettings, HttpSettings, HttpToken, LoadedConfig, ServerConfig } from '../config/types.js';
import { checkScriptStatus } from './script-status.js';
import { readHttpToken } from '../config/load.js';
import { createApi, type Api } from '../adapters/http/api.js';
import { ManagerApi, type ApiHost } from './api.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { readMhaStateFiles } from '../adapters/journal/mha-state-files.js';
import { EtcdJournal } from '../adapters/journal/etcd-journal.js';
import type { Journal } from '../adapters/journal/journal.js';
import { EtcdClient } from '../adapters/leader/etcd-client.js';
import { Election, abortableSleep } from '../adapters/leader/election.js';
import { ShardOwner, ownerKey } from '../adapters/leader/shards.js';
import { OwnerViews } from '../adapters/leader/views.js';
import { handoverTimes, viewOf, type OwnerView } from '../domain/handover.js';
import { LocalLock } from '../adapters/leader/local-lock.js';
import { MasterMonitorLock } from '../adapters/leader/advisory-lock.js';
import { createLogger } from '../adapters/logging.js';
import { sshExec } from '../adapters/ssh/client.js';
import { Metrics } from './metrics.js';
import { createNotifier, type Notifier } from '../adapters/systemd.js';
import { hostForUrl, startHttpServer, type HttpServerHandle, type Probe } from '../adapters/http/server.js';
import { Secret } from '../domain/secret.js';
import { guard, summarize } from '../domain/guard.js';
import { isoTime } from '../domain/time.js';
import type { Verdict } from '../domain/detector.js';
import { ClusterMonitor, type MonitorDeps } from '../engine/monitor.js';
import type { Logger } from '../ports/logger.js';
import { VERSION } from '../version.js';
import { sshOptionsFor } from '../adapters/ssh/targets.js';
import { ClusterJobs, type PurgeOptions } from './jobs.js';
import { MasterPublisher } from './publisher.js';
import { join } from 'node:path';
import { rejoinServer } from '../engine/rejoin.js';
import type { PublishCandidate } from '../domain/publish.js';
import { etcdMaintenanceView, fileMaintenanceView, type MaintenanceView } from './maintenance.js';
import { activeEntries, describeEntry, maintenanceOf } from '../domain/maintenance.js';

export function sshReachableFor(cluster: ClusterConfig): (server: ServerConfig) => Promise<boolean> {
  return async (server) => {
    const { target, options } = sshOptionsFor(cluster, server);
    try {
      const r = await sshExec(target, ['true'], { ...options, timeoutMs: cluster.ssh.connect_timeout * 1000 + 2000 });
      return r.code === 0;
    } catch {
      return false;
    }
  };
}

/** Manager HA. Without it this manager is always the leader. */
export interface Leadership {
  /** May this manager fail over now? (metrics, /status) */
  isLeader(): boolean;
  /** Re-checked between failover phases: false stops the failover. */
  stillLeader(): Promise<boolean>;
  /** For /readyz: the leader, or a follower that is healthy. */
  healthy(): boolean;
  /** The leader's fencing token (etcd: the leader key's revision), for hooks. */
  fencingToken?(): string | undefined;
}

export const alwaysLeader: Leadership = { isLeader: () => true, stillLeader: () => Promise.resolve(true), healthy: () => true };

export interface ManagerOptions {
  log?: Logger | undefined;
  metrics?: Metrics | undefined;
  notifier?: Notifier | undefined;
  leadership?: Leadership | undefined;
  /** Re-reads the configuration on reload(); without it reload() is refused. */
  loadConfig?: (() => Promise<{ config: LoadedConfig; clusters: ClusterConfig[] }>) | undefined;
  /** HTTP endpoint from the command line: undefined = the config's; null = off. */
  http?: HttpSettings | null | undefined;
  /** The write API's token file from the command line (overrides http.token_file; re-read on reload). */
  httpTokenFile?: string | undefined;
  /** The console's built assets (default: dist/console beside the code). */
  consoleDir?: string | undefined;
  purge?: PurgeOptions | undefined;
  now?: () => number;
  mono?: () => number;
  /** Without etcd: the lock file in state_dir and MHA's monitor lock on the masters (default on; tests may turn them off). */
  singleManagerGuards?: boolean | undefined;
}

/** This manager's name in etcd: the configured one, else HOSTNAME-PID. */
export function instanceName(e: EtcdSettings): string {
  return e.instance ?? `${hostname()}-${process.pid}`;
}

interface Entry {
  cluster: ClusterConfig;
  fingerprint: string;
  monitor: ClusterMonitor;
  jobs: ClusterJobs;
  monitorLock: MasterMonitorLock | undefined;
  ac: AbortController;
  done: Promise<void>;
  stopping: boolean;
}

/** A change of any setting (passwords compared by hash, never kept in clear) restarts the cluster's monitor. */
export function clusterFingerprint(c: ClusterConfig, stateDir: string): string {
  return JSON.stringify({ c, stateDir }, (_k, v: unknown) => (v instanceof Secret ? `sha256:${createHash('sha256').update(v.reveal()).digest('hex')}` : v));
}

/** The most one tick may take before its loop counts as wedged (its statements all have deadlines). */
export function tickBudgetMs(c: ClusterConfig): number {
  const sql = (c.connect_timeout + 4 * c.query_timeout) * 1000;
  return Math.max(2 * sql + Math.max(10_000, c.ssh.connect_timeout * 2000) + 5000, 3 * c.ping_interval * 1000);
}

export interface LoopView {
  name: string;
  ticks: number;
  busySince: number | undefined;
  inFailover: boolean;
  stopped: boolean;
  budgetMs: number;
}

/**
 * Do all monitor loops make progress? A loop progresses when it completed a tick since the last
 * ping, sleeps between ticks, runs a tick (its first one too: a cluster added by a reload) that is
 * still within its budget, or runs a failover (whose phases have their own deadlines). A loop that
 * died does not. (No ping at all is sent before READY=1, i.e. before every loop has ticked once;
 * systemd arms the watchdog only then.)
 */
export function loopsProgress(loops: LoopView[], lastTicks: ReadonlyMap<string, number>, mono: number): { ok: boolean; stuck: string[] } {
  const stuck: string[] = [];
  for (const l of loops) {
    if (l.inFailover) continue;
    if (l.stopped) {
      stuck.push(l.name);
      continue;
    }
    if (l.ticks > (lastTicks.get(l.name) ?? 0)) continue;
    if (l.busySince === undefined) continue;
    if (mono - l.busySince < l.budgetMs) continue;
    stuck.push(l.name);
  }
  return { ok: stuck.length === 0, stuck };
}

export class Manager {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly notifier: Notifier;
  leadership: Leadership;
  readonly startedAt: number;
  /** Manager HA on etcd (undefined: a single manager). */
  election: Election | undefined;
  /** Clusters spread over the managers (etcd.sharding); undefined: one leader, or a single manager. */
  shards: ShardOwner | undefined;
  /** Sharding: each owner's last view of its clusters in etcd, for their next owner (domain/handover.ts). */
  views: OwnerViews | undefined;
  /** Sharding: the previous owner's view of a cluster just taken, read before its monitor starts. */
  #previousViews = new Map<string, { view: OwnerView | undefined; readAt: number }>();
  #viewsDone: Promise<void> | undefined;
  /** The clusters of the configuration (with sharding only the owned ones have a monitor). */
  #configured = new Map<string, ClusterConfig>();
  #etcd: { client: EtcdClient; settings: EtcdSettings; instance: string } | undefined;
  #journals = new Map<string, EtcdJournal>();
  #electionAc = new AbortController();
  #electionDone: Promise<void> | undefined;
  #localLock: LocalLock | undefined;
  #lastJournalRefresh = -Infinity;
  #refreshing = false;
  readonly done: Promise<void>;
  config: LoadedConfig | undefined;
  http: HttpServerHandle | undefined;
  #opts: ManagerOptions;
  #entries = new Map<string, Entry>();
  #phases: { of: Map<string, ClusterConfig>; at: Map<string, number> } | undefined;
  /** Monitors being stopped (removed or changed clusters): awaited on shutdown. */
  #retiring = new Set<Promise<void>>();
  #ready = false;
  #stopping: Promise<void> | undefined;
  #resolveDone!: () => void;
  #timer: NodeJS.Timeout | undefined;
  #lastPingTicks = new Map<string, number>();
  #stuckLogged = false;
  /** Monitor loops that stopped progressing (see #service). */
  #stuck: Array<{ cluster: string; busySeconds?: number; stage?: string; stopped?: boolean }> = [];
  #reloadChain: Promise<unknown> = Promise.resolve();
  #httpSettings: HttpSettings | undefined;
  #loadedAt = 0;
  /** The API and the console (fastify), created with the first HTTP listener and kept across listener changes. */
  #api: Api | undefined;
  #token: HttpToken | undefined;
  #consoleDir: string | undefined;
  /** Maintenance entries (the file in state_dir, or etcd): every monitor reads them. */
  maintenance: MaintenanceView | undefined;
  #maintenanceLogged = '';
  /** Service discovery (config `publish:`). */
  publisher: MasterPublisher | undefined;
  #publishSig = '';
  #publishTimer: NodeJS.Timeout | undefined;

  constructor(opts: ManagerOptions = {}) {
    this.#opts = opts;
    this.log = opts.log ?? createLogger();
    this.metrics = opts.metrics ?? new Metrics();
    this.notifier = opts.notifier ?? createNotifier({ log: this.log });
    this.leadership = opts.leadership ?? alwaysLeader;
    this.startedAt = (opts.now ?? Date.now)();
    this.done = new Promise((r) => (this.#resolveDone = r));
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }
  #mono(): number {
    return (this.#opts.mono ?? (() => performance.now()))();
  }

  get monitors(): ClusterMonitor[] {
    return [...this.#entries.values()].map((e) => e.monitor);
  }

  get ready(): boolean {
    return this.#ready;
  }

  async start(config: LoadedConfig, clusters: ClusterConfig[]): Promise<void> {
    this.config = config;
    this.#loadedAt = this.#now();
    this.log.info({ clusters: clusters.map((c) => c.name), stateDir: config.state_dir, files: config.files, version: VERSION }, `mhats manager starting: ${clusters.length} cluster(s)`);
    for (const w of config.warnings) this.log.warn({}, w);
    this.#configured = new Map(clusters.map((c) => [c.name, c]));
    await this.#startHa(config, clusters);
    if (!this.maintenance) {
      try {
        this.maintenance = fileMaintenanceView(config.state_dir);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, `cannot read maintenance entries from ${config.state_dir}: ${(err as Error).message}`);
      }
    }
    this.#logMaintenance();
    this.#applyPublish(config);
    this.metrics.leader.set(this.leadership.isLeader() ? 1 : 0);
    this.#setToken(config);
    this.#consoleDir = this.#opts.consoleDir ?? findConsoleDir();
    // With sharding a cluster's monitor starts when this manager owns it.
    if (!this.shards) for (const c of clusters) this.#startEntry(c, config.state_dir);
    await this.#applyHttp(this.#opts.http === undefined ? config.http : (this.#opts.http ?? undefined));
    const wd = this.notifier.watchdogMs;
    // Watchdog pings at a third of WATCHDOG_USEC: a slow tick gets a second chance before systemd's deadline.
    const every = wd !== undefined ? Math.max(50, Math.min(1000, wd / 3)) : 1000;
    this.#timer = setInterval(() => this.#service(), every);
    if (wd !== undefined) this.log.info({ watchdogMs: wd, pingEveryMs: Math.round(every) }, `systemd watchdog: ${wd} ms; WATCHDOG=1 while every monitor loop progresses`);
  }

  // ---------------------------------------------------------------- manager HA

  get #guards(): boolean {
    return this.#opts.leadership === undefined && this.#opts.singleManagerGuards !== false;
  }

  async #startHa(config: LoadedConfig, clusters: ClusterConfig[]): Promise<void> {
    if (this.#opts.leadership !== undefined) return;
    const e = config.etcd;
    if (e === undefined) {
      if (!this.#guards) return;
      // One manager per state directory; throws naming the PID of the one that runs.
      const lock = new LocalLock(config.state_dir);
      lock.acquire();
      this.#localLock = lock;
      this.log.info({ lockFile: lock.path, pid: lock.pid }, `single manager (no etcd configured): holding ${lock.path}, and MHA's monitor lock on each master`);
      return;
    }
    const instance = instanceName(e);
    const client = new EtcdClient({ endpoints: e.endpoints, timeoutMs: e.request_timeout * 1000 });
    this.#etcd = { client, settings: e, instance };
    this.maintenance = etcdMaintenanceView(client, e.prefix, instance);
    if (e.sharding) {
      this.#startShards(client, e, instance, clusters);
      return;
    }
    const key = `${e.prefix}/leader`;
    const election = new Election({
      store: client,
      key,
      instance,
      ttlSeconds: e.lease_ttl,
      log: this.log,
      mono: () => this.#mono(),
      now: () => this.#now(),
      onElected: () => this.#onElected(),
      onChange: (leader) => this.metrics.leader.set(leader ? 1 : 0),
    });
    this.election = election;
    this.leadership = {
      isLeader: () => election.isLeader(),
      stillLeader: () => election.stillLeader(),
      healthy: () => election.healthy(),
      fencingToken: () => election.fencingToken(),
    };
    this.log.info({ endpoints: e.endpoints, key, instance, leaseTtl: e.lease_ttl }, `manager HA on etcd (${e.endpoints.join(', ')}): instance ${instance}, leader key ${key}, lease TTL ${e.lease_ttl} s`);
    // Every cluster's journal is read before its monitor starts (it reports an unfinished failover at once).
    for (const c of clusters) this.#journalFor(c.name);
    await this.#refreshJournals().catch((err: unknown) => this.log.error({ err: (err as Error).message }, `cannot read the failover journal from etcd: ${(err as Error).message}; this manager does not lead until it can`));
    this.#electionDone = election.run(this.#electionAc.signal).catch((err: unknown) => this.log.error({ err: (err as Error).message }, `the election loop stopped: ${(err as Error).message}`));
  }

  #startShards(client: EtcdClient, e: EtcdSettings, instance: string, clusters: ClusterConfig[]): void {
    const views = new OwnerViews({
      store: client,
      prefix: e.prefix,
      ttlSeconds: handoverTimes({ leaseTtlS: e.lease_ttl, requestTimeoutS: e.request_timeout, pingIntervalS: 0, connectTimeoutS: 0 }).viewTtlS,
      log: this.log,
      mono: () => this.#mono(),
      progressing: () => this.#stuck.length === 0,
    });
    this.views = views;
    const shards = new ShardOwner({
      store: client,
      prefix: e.prefix,
      instance,
      ttlSeconds: e.lease_ttl,
      log: this.log,
      mono: () => this.#mono(),
      now: () => this.#now(),
      clusters: () => [...this.#configured.keys()],
      busy: (c) => this.#entries.get(c)?.monitor.inFailover ?? false,
      onAcquire: async (c, token) => {
        const cfg = this.#configured.get(c);
        if (!cfg || this.#stopping) throw new Error(this.#stopping ? 'stopping' : 'not in the configuration');
        // The journal must be current before this manager acts: an unfinished failover blocks it.
        await this.#journalFor(c).refresh();
        const unfinished = summarize(this.#journalFor(c).read()).find((x) => x.outcome === undefined && !x.acked);
        if (unfinished) this.log.error({ cluster: c, failover: unfinished.id, deadMaster: unfinished.deadMaster }, `new owner of ${c}: failover ${unfinished.id} of ${unfinished.deadMaster} (${isoTime(unfinished.startedAt)}) never finished: the manager that ran it stopped during it. This manager will NOT start another failover of ${c} until an operator checks the topology and runs: mhats ack ${c}`);
        // The previous owner's last view (it counts if the master is found dead at the first look).
        const view = await views.read(c).catch((err: unknown) => {
          this.log.warn({ cluster: c, err: (err as Error).message }, `cannot read the previous owner's view of ${c}: ${(err as Error).message}; a master dead at the first look will not be failed over`);
          return undefined;
        });
        this.#previousViews.set(c, { view, readAt: this.#mono() });
        this.log.info({ cluster: c, view }, view === undefined ? `taking ${c}: no recent view of it by a previous owner` : `taking ${c}: its previous owner ${view.by} last saw ${view.master === undefined ? 'no master (a broken topology)' : `the master ${view.master} ${view.healthy ? 'healthy' : `failing since ${isoTime(view.failingSince ?? view.at)}`}`}`);
        this.log.debug({ cluster: c, token }, `starting the monitor of ${c}`);
        if (!this.#entries.has(c)) this.#startEntry(cfg, this.config?.state_dir ?? '');
      },
      onRelease: async (c) => {
        const entry = this.#entries.get(c);
        if (!entry) return;
        this.#entries.delete(c);
        await this.#stopEntry(entry);
        await views.release(c).catch(() => undefined);
        await this.#journals.get(c)?.flush().catch(() => undefined);
        await this.metrics.forgetCluster(c);
      },
      onChange: () => this.#shardMetrics(),
    });
    this.shards = shards;
    this.leadership = { isLeader: () => shards.owned.size > 0 && !shards.stopped, stillLeader: () => Promise.resolve(!shards.stopped), healthy: () => shards.healthy() };
    this.log.info({ endpoints: e.endpoints, instance, leaseTtl: e.lease_ttl, clusters: clusters.length }, `clusters spread over the managers on etcd (${e.endpoints.join(', ')}): instance ${instance}, owner keys ${ownerKey(e.prefix, '<cluster>')}, lease TTL ${e.lease_ttl} s`);
    for (const c of clusters) this.#journalFor(c.name);
    this.#electionDone = shards.run(this.#electionAc.signal, abortableSleep).catch((err: unknown) => this.log.error({ err: (err as Error).message }, `the cluster ownership loop stopped: ${(err as Error).message}`));
    this.#viewsDone = views.run(this.#electionAc.signal, abortableSleep, shards.pollMs).catch((err: unknown) => this.log.error({ err: (err as Error).message }, `the loop recording the views of the clusters stopped: ${(err as Error).message}`));
  }

  #shardMetrics(): void {
    const s = this.shards;
    if (!s) return;
    this.metrics.clustersOwned.set(s.owned.size);
    this.metrics.leader.set(s.owned.size > 0 ? 1 : 0);
    this.metrics.handoffs.inc({ direction: 'acquired' }, s.acquired - this.#handoffsSeen.acquired);
    this.metrics.handoffs.inc({ direction: 'released' }, s.released - this.#handoffsSeen.released);
    this.#handoffsSeen = { acquired: s.acquired, released: s.released };
  }
  #handoffsSeen = { acquired: 0, released: 0 };

  #journalFor(cluster: string): EtcdJournal {
    let j = this.#journals.get(cluster);
    if (j) return j;
    const etcd = this.#etcd!;
    const key = `${etcd.settings.prefix}/leader`;
    j = new EtcdJournal({
      client: etcd.client,
      prefix: etcd.settings.prefix,
      cluster,
      writer: etcd.instance,
      now: () => this.#now(),
      fence: () => {
        if (this.shards) {
          const t = this.shards.fencingToken(cluster);
          return t === undefined ? undefined : { key: ownerKey(etcd.settings.prefix, cluster), token: t };
        }
        const token = this.election?.fencingToken();
        return token === undefined ? undefined : { key, token };
      },
      onWriteError: (err, r) => {
        const fn = err.name === 'NotLeaderError' ? this.log.debug.bind(this.log) : this.log.error.bind(this.log);
        fn({ cluster, record: r.type, id: r.id, err: err.message }, `journal record ${r.type} of ${r.id} not written to etcd: ${err.message}`);
      },
    });
    this.#journals.set(cluster, j);
    return j;
  }

  /** Re-reads every cluster's journal from etcd (rejects if one could not be read). */
  async #refreshJournals(): Promise<void> {
    const rs = await Promise.allSettled([...[...this.#journals.values()].map((j) => j.refresh()), ...(this.maintenance?.refresh ? [this.maintenance.refresh()] : [])]);
    this.#lastJournalRefresh = this.#mono();
    const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (bad) throw bad.reason as Error;
  }

  /** Won the election: the journal must be current before this manager may act. */
  async #onElected(): Promise<void> {
    await this.#refreshJournals();
    for (const [cluster, j] of this.#journals) {
      const unfinished = summarize(j.read()).find((s) => s.outcome === undefined && !s.acked);
      if (unfinished) {
        this.log.error(
          { cluster, failover: unfinished.id, deadMaster: unfinished.deadMaster },
          `new leader: failover ${unfinished.id} of ${unfinished.deadMaster} (${isoTime(unfinished.startedAt)}) never finished: the manager that ran it stopped during it. This manager will NOT start another failover of ${cluster} until an operator checks the topology and runs: mhats ack ${cluster}`,
        );
      }
    }
  }

  // ---------------------------------------------------------------- clusters

  #startEntry(c: ClusterConfig, stateDir: string): void {
    const mha = readMhaStateFiles(c.manager_workdir, c.name);
    if (mha.error) this.log.warn({ cluster: c.name, file: mha.error.path }, `${mha.error.path} exists: MHA's last failover of ${c.name} failed; automatic failover stays blocked until an operator runs: mhats ack ${c.name}`);
    else if (mha.complete && this.#now() - mha.complete.mtime < c.last_failover_minute * 60_000) this.log.warn({ cluster: c.name, file: mha.complete.path }, `${mha.complete.path}: MHA failed ${c.name} over at ${isoTime(mha.complete.mtime)}; no automatic failover until last_failover_minute (${c.last_failover_minute}) has passed, or: mhats ack ${c.name}`);
    let journal: Journal;
    try {
      journal = this.#etcd ? this.#journalFor(c.name) : new FileJournal(stateDir, c.name);
    } catch (err) {
      this.log.error({ cluster: c.name, err: (err as Error).message }, `cannot watch ${c.name}: its state directory is not usable: ${(err as Error).message}`);
      return;
    }
    const monitor: ClusterMonitor = new ClusterMonitor(c, {
      journal,
      log: this.log,
      now: () => this.#now(),
      mono: () => this.#mono(),
      sshReachable: sshReachableFor(c),
      onTick: (m) => this.#onTick(m),
      onFailover: (r) => this.metrics.failover(c.name, r),
      observer: this.metrics.observer(),
      isLeader: () => (this.shards ? this.shards.isOwner(c.name) : this.leadership.isLeader()) && !(monitorLock?.blocked ?? false),
      stillLeader: async () => !(monitorLock?.blocked ?? false) && (this.shards ? this.shards.isOwner(c.name) : await this.leadership.stillLeader()),
      notLeaderReason: () => (monitorLock?.blocked ? monitorLock.blockedReason() : undefined),
      fencingToken: () => (this.shards ? this.shards.fencingToken(c.name) : this.leadership.fencingToken?.()),
      maintenance: () => this.maintenance?.entries() ?? [],
      phase: this.#phaseOf(c.name),
      previousOwner: this.#takePreviousView(c),
      onMasterChanged: (master, how) => this.#onMasterChanged(c.name, master, how),
      onFenced: (server) => this.#onFenced(c.name, server),
      rejoin: (server) => rejoinServer({ cluster: c, server, journal, by: `mhats manager (auto_rejoin)${this.#etcd ? ` ${this.#etcd.instance}` : ''}`, extractDir: join(stateDir, c.name, 'rejoin'), log: this.log, now: () => this.#now() }),
    });
    // Without etcd: MHA's monitor lock on the master, which a second manager (or MHA) would hold.
    const monitorLock: MasterMonitorLock | undefined = !this.#etcd && this.#guards ? new MasterMonitorLock({ cluster: c, master: (): string | undefined => monitor.master, log: this.log, now: () => this.#now() }) : undefined;
    monitorLock?.start();
    const jobs = new ClusterJobs({
      cluster: c,
      journal,
      log: this.log,
      metrics: this.metrics,
      busy: () => monitor.inFailover,
      master: () => monitor.master,
      inMaintenance: () => monitor.maintenance().serversInMaintenance,
      now: () => this.#now(),
      purge: this.#opts.purge,
    });
    const ac = new AbortController();
    const done = monitor.run(ac.signal).catch((err: unknown) => {
      this.log.error({ cluster: c.name, err: (err as Error).message }, `monitor of ${c.name} stopped: ${(err as Error).message}`);
    });
    jobs.start();
    this.#entries.set(c.name, { cluster: c, fingerprint: clusterFingerprint(c, stateDir), monitor, jobs, monitorLock, ac, done, stopping: false });
  }

  /** Sharding: the previous owner's view of a cluster just taken, with the limits within which it counts (once). */
  #takePreviousView(c: ClusterConfig): MonitorDeps['previousOwner'] {
    const prev = this.#previousViews.get(c.name);
    this.#previousViews.delete(c.name);
    const e = this.#etcd?.settings;
    if (prev === undefined || e === undefined) return undefined;
    const t = handoverTimes({ leaseTtlS: e.lease_ttl, requestTimeoutS: e.request_timeout, pingIntervalS: c.ping_interval, connectTimeoutS: c.connect_timeout });
    return { ...prev, limits: { maxFailingMs: t.maxFailingMs, maxReadAgeMs: t.maxReadAgeMs } };
  }

  /** The cluster's place among the configured ones, as a fraction of the ping interval (its loop's phase). */
  #phaseOf(cluster: string): number {
    if (this.#phases?.of !== this.#configured) this.#phases = { of: this.#configured, at: new Map([...this.#configured.keys()].map((name, i, all) => [name, i / all.length])) };
    return this.#phases.at.get(cluster) ?? 0;
  }

  /** Stops a cluster's monitor after its current tick (and any failover in it) and its jobs. */
  #stopEntry(e: Entry): Promise<void> {
    e.stopping = true;
    e.ac.abort();
    const p = Promise.all([e.done, e.jobs.stop()]).then(() => e.monitorLock?.stop());
    this.#retiring.add(p);
    void p.finally(() => this.#retiring.delete(p));
    return p;
  }

  // ---------------------------------------------------------------- publishing the master

  #applyPublish(config: LoadedConfig): void {
    const sig = JSON.stringify(config.publish ?? null, (_k, v: unknown) => (v instanceof Secret ? `sha256:${createHash('sha256').update(v.reveal()).digest('hex')}` : v));
    if (sig === this.#publishSig) return;
    this.#publishSig = sig;
    clearInterval(this.#publishTimer);
    this.#publishTimer = undefined;
    this.publisher = MasterPublisher.fromConfig(config, { log: this.log, metrics: this.metrics, now: () => this.#now() });
    if (!this.publisher) return;
    const p = this.publisher;
    this.log.info({ targets: p.stores.map((x) => `${x.kind} ${x.where}`), prefix: p.settings.prefix, interval: p.settings.interval }, `publishing each cluster's master to ${p.stores.map((x) => x.kind).join(' and ')} (orchestrator's keys ${p.settings.prefix ? `${p.settings.prefix}/` : ''}mysql/master/CLUSTER), reconciled every ${p.settings.interval} s`);
    this.#publishTimer = setInterval(() => this.#reconcilePublished(), p.settings.interval * 1000);
    this.#publishTimer.unref();
  }

  /** What the monitor knows about `name` as a master to publish. */
  #facts(m: ClusterMonitor, name: string): Omit<PublishCandidate, 'name'> {
    const obs = m.lastAnalysis?.masterObs?.name === name ? m.lastAnalysis.masterObs : undefined;
    return { isCurrentMaster: m.master === name, failed: m.failedServers().includes(name), readOnly: obs?.readOnly, healthy: m.detector.phase === 'healthy' && m.inheritedFailure === undefined && m.state !== 'failing_over' && m.heldByMaintenance === undefined };
  }

  /** What the scripts' status checks last ran against, per cluster (master and script commands). */
  #scriptsChecked = new Map<string, string>();
  /** One status check at a time: a fleet's managers start without a burst of script processes. */
  #scriptQueue: Promise<void> = Promise.resolve();

  /**
   * MHA's check_scripts when the manager adopts a master: master_ip_failover_script and
   * shutdown_script answer --command=status. MHA refuses to start when one fails; mhats
   * keeps watching (a cluster left unwatched is worse) and logs an error that says what a
   * failover would run into, once per master and script.
   */
  #checkScripts(cluster: ClusterConfig, srv: ServerConfig): void {
    if (!cluster.master_ip_failover_script?.trim() && !cluster.shutdown_script?.trim()) return;
    const key = `${srv.name}|${cluster.master_ip_failover_script ?? ''}|${cluster.shutdown_script ?? ''}`;
    if (this.#scriptsChecked.get(cluster.name) === key) return;
    this.#scriptsChecked.set(cluster.name, key);
    this.#scriptQueue = this.#scriptQueue
      .then(async () => {
        if (this.#stopping) return;
        for (const f of await checkScriptStatus(cluster, srv)) {
          if (f.severity === 'error') this.log.error({ cluster: cluster.name, server: srv.name }, `${cluster.name}: ${f.message}; a failover would run this script (MHA refuses to start here): ${f.hint ?? ''}`);
          else this.log.info({ cluster: cluster.name, server: srv.name }, `${cluster.name}: ${f.message}`);
        }
      })
      .catch((err: unknown) => this.log.warn({ cluster: cluster.name }, `${cluster.name}: the scripts' status check could not run: ${String(err)}`));
  }

  #onMasterChanged(cluster: string, master: string, how: 'adopted' | 'promoted'): void {
    const e = this.#entries.get(cluster);
    const adopted = how === 'adopted' ? e?.cluster.servers.find((s) => s.name === master) : undefined;
    if (e && adopted) this.#checkScripts(e.cluster, adopted);
    const p = this.publisher;
    if (!e || !p || !this.leadership.isLeader()) return;
    const srv = e.cluster.servers.find((s) => s.name === master);
    if (!srv) return;
    if (how === 'promoted') void p.publish(e.cluster, srv, { isCurrentMaster: true, failed: false, readOnly: false, healthy: true }, 'promoted by a failover');
    else void p.publish(e.cluster, srv, this.#facts(e.monitor, master), `the manager watches ${master} as master`, false);
  }

  #onFenced(cluster: string, server: string): void {
    const e = this.#entries.get(cluster);
    const srv = e?.cluster.servers.find((s) => s.name === server);
    if (!e || !srv || !this.publisher) return;
    void this.publisher.retractIfPointsAt(e.cluster, srv, 'fenced (read_only)');
  }

  /** Every publish.interval: rewrite what differs (only the leader writes). */
  #reconcilePublished(): void {
    const p = this.publisher;
    if (!p || this.#stopping || !this.leadership.isLeader()) return;
    for (const e of this.#entries.values()) {
      const m = e.monitor;
      if (m.master === undefined || e.stopping) continue;
      const srv = e.cluster.servers.find((s) => s.name === m.master);
      if (srv) void p.publish(e.cluster, srv, this.#facts(m, srv.name), 'reconciliation', false);
    }
  }

  /** Says when a maintenance starts or ends (as this manager sees it), once. */
  #logMaintenance(): void {
    if (!this.maintenance) return;
    const now = this.#now();
    const active = activeEntries(this.maintenance.entries(), now);
    const key = active.map((e) => e.id).join(',');
    if (key === this.#maintenanceLogged) return;
    const before = new Set(this.#maintenanceLogged.split(',').filter(Boolean));
    for (const e of active) if (!before.has(e.id)) this.log.warn({ maintenance: e.id, scope: e.scope, cluster: e.cluster, server: e.server, owner: e.owner, until: isoTime(e.expiresAt) }, `MAINTENANCE in force: ${describeEntry(e, now)}`);
    const ids = new Set(active.map((e) => e.id));
    for (const id of before) if (!ids.has(id)) this.log.info({ maintenance: id }, `maintenance ${id} is over (stopped or expired)`);
    this.#maintenanceLogged = key;
  }

  #onTick(m: ClusterMonitor): void {
    this.metrics.tick(m);
    if (this.views && this.shards) this.#recordView(m);
    this.metrics.maintenance(m.cluster.name, m.maintenance());
    if (!this.#ready && !this.#stopping && [...this.#entries.values()].every((e) => e.monitor.ticks > 0)) {
      this.#ready = true;
      const line = this.statusLine();
      this.log.info({ clusters: this.monitors.map((x) => x.cluster.name) }, `ready: every cluster inspected (${line})`);
      void this.notifier.ready(line);
    }
  }

  /** Sharding: what this owner sees of the cluster, recorded in etcd when it changes (for the next owner). */
  #recordView(m: ClusterMonitor): void {
    const c = m.cluster.name;
    const token = this.shards?.fencingToken(c);
    const e = this.#entries.get(c);
    if (token === undefined || e === undefined || e.monitor !== m || e.stopping) return;
    const s = m.lastSuspicion;
    const suspicion = s !== undefined && s.master === m.master && (s.outcome === 'ongoing' || s.outcome === 'failover') ? s.startedAt : undefined;
    const view = viewOf({ state: m.state, master: m.master, detectorHealthy: m.detector.phase === 'healthy' && m.inheritedFailure === undefined, failingSince: m.inheritedFailure?.since ?? suspicion }, this.#etcd?.instance ?? '', this.#now());
    if (view !== undefined) this.views?.set(c, token, view);
  }

  /** One line for `systemctl status`. */
  statusLine(): string {
    const parts = this.monitors.map((m) => {
      const c = m.cluster.name;
      switch (m.state) {
        case 'watching':
          return `${c}: master ${m.master ?? '?'} ok${m.maintenance().clusterWide.length > 0 ? ' (in maintenance: no automatic failover)' : ''}`;
        case 'suspect':
          return `${c}: master ${m.master ?? '?'} SUSPECT`;
        case 'failing_over':
          return `${c}: FAILING OVER ${m.master ?? '?'}`;
        case 'blocked':
          return m.heldByMaintenance !== undefined ? `${c}: master ${m.master ?? '?'} DEAD, NOT failed over: IN MAINTENANCE` : `${c}: master ${m.master ?? '?'}, automatic failover BLOCKED (mhats ack ${c})`;
        case 'broken':
          return `${c}: topology BROKEN, not watching`;
        case 'starting':
          return `${c}: starting`;
        case 'stopped':
          return `${c}: stopped`;
      }
    });
    return `${this.#stopping ? 'stopping; ' : ''}${this.monitors.length} cluster(s): ${parts.join('; ')}`;
  }

  #service(): void {
    if (this.#stopping) return;
    if (!this.shards) this.metrics.clustersOwned.set(this.leadership.isLeader() ? this.#entries.size : 0);
    // With sharding a manager may own nothing yet (or ever): ready once its first ownership round is done.
    if (this.shards && !this.#ready && this.shards.steps > 0 && [...this.#entries.values()].every((e) => e.monitor.ticks > 0)) {
      this.#ready = true;
      void this.notifier.ready(this.statusLine());
      this.log.info({ owned: [...this.shards.owned.keys()] }, `ready: owns ${this.shards.owned.size} of ${this.#configured.size} cluster(s)`);
    }
    this.metrics.leader.set(this.leadership.isLeader() ? 1 : 0);
    // Followers (and the leader, for acknowledgements) follow the journal in etcd.
    if (this.#etcd && !this.#refreshing && this.#mono() - this.#lastJournalRefresh >= 2000) {
      this.#refreshing = true;
      void this.#refreshJournals()
        .catch((err: unknown) => this.log.debug({ err: (err as Error).message }, `journal refresh from etcd failed: ${(err as Error).message}`))
        .finally(() => (this.#refreshing = false));
    }
    this.#logMaintenance();
    if (!this.#ready) return;
    void this.notifier.status(this.statusLine());
    // Every second (with or without systemd): a monitor loop that stopped progressing is logged, fails
    // /healthz, and withholds the systemd watchdog ping (systemd then restarts the manager).
    const entries = [...this.#entries.values()];
    const loops: LoopView[] = entries.map((e) => ({
      name: e.cluster.name,
      ticks: e.monitor.ticks,
      busySince: e.monitor.busySince,
      inFailover: e.monitor.inFailover,
      stopped: e.monitor.state === 'stopped' && !e.stopping,
      budgetMs: tickBudgetMs(e.cluster),
    }));
    const mono = this.#mono();
    const p = loopsProgress(loops, this.#lastPingTicks, mono);
    if (!p.ok) {
      this.#stuck = p.stuck.map((name) => {
        const m = this.#entries.get(name)?.monitor;
        const busy = m?.busySince !== undefined ? Math.round((mono - m.busySince) / 1000) : undefined;
        return { cluster: name, ...(busy !== undefined ? { busySeconds: busy } : {}), ...(m?.stage ? { stage: m.stage } : {}), ...(m?.state === 'stopped' ? { stopped: true } : {}) };
      });
      const what = this.#stuck.map((x) => `${x.cluster}${x.stopped ? ' (its loop stopped)' : ` (busy for ${x.busySeconds ?? '?'} s: ${x.stage ?? '?'})`}`).join(', ');
      if (!this.#stuckLogged) this.log.error({ stuck: this.#stuck }, `monitor loop(s) not progressing: ${what}; /healthz fails${this.notifier.watchdogMs !== undefined ? ' and the systemd watchdog ping is withheld' : ''}`);
      this.#stuckLogged = true;
      return;
    }
    if (this.#stuckLogged) this.log.info({}, `every monitor loop progresses again${this.notifier.watchdogMs !== undefined ? ': watchdog pings resume' : ''}`);
    this.#stuckLogged = false;
    this.#stuck = [];
    this.#lastPingTicks = new Map(loops.map((l) => [l.name, l.ticks]));
    if (this.notifier.watchdogMs !== undefined) void this.notifier.watchdog();
  }

  // ---------------------------------------------------------------- HTTP

  async #applyHttp(settings: HttpSettings | undefined): Promise<void> {
    const same = (a: HttpSettings | undefined, b: HttpSettings | undefined): boolean => a?.host === b?.host && a?.port === b?.port;
    if (this.http && same(settings, this.#httpSettings)) return;
    const old = this.http;
    if (settings === undefined) {
      this.#httpSettings = undefined;
      this.http = undefined;
      if (old) {
        await old.close();
        this.log.info({}, 'HTTP endpoint disabled');
      }
      return;
    }
    // Same port as the running one: the old must go first.
    if (old && old.port === settings.port) await old.close();
    try {
      this.#api ??= await createApi(new ManagerApi(this.#apiHost(), { log: this.log, now: () => this.#now(), version: VERSION }), { log: this.log, version: VERSION });
      const api = this.#api;
      this.http = await startHttpServer(settings, { healthz: () => this.healthz(), readyz: () => this.readyz(), status: () => this.status(), metrics: () => this.metrics.render(), other: (req, res) => api.handle(req, res) }, this.log);
      this.#httpSettings = settings;
      if (old) await old.close();
      this.log.info({ url: this.http.url }, `HTTP endpoint on ${this.http.url} (/healthz /readyz /status /metrics; API ${this.http.url}/api/v1; console ${this.http.url}/)`);
      this.#warnExposure();
    } catch (err) {
      // Never fatal: watching the clusters matters more than the endpoint.
      this.http = old && old.port !== settings.port ? old : undefined;
      this.log.error({ err: (err as Error).message, listen: `${hostForUrl(settings.host)}:${settings.port}` }, `HTTP endpoint not started on ${hostForUrl(settings.host)}:${settings.port}: ${(err as Error).message}`);
    }
  }

  /** The write API's token: the command line's file (re-read), else http.token_file. Logs when writes turn on or off. */
  #setToken(config: LoadedConfig): void {
    const before = this.#token;
    let next = config.http_token;
    if (this.#opts.httpTokenFile !== undefined) {
      const r = readHttpToken(this.#opts.httpTokenFile);
      if (r.ok) {
        next = r.token;
        for (const w of r.warnings) this.log.warn({}, w);
      } else {
        // At start the command line checked it; on a reload keep the token in force.
        this.log.error({}, `--http-token-file ${r.message}; the token in force stays`);
        next = before;
      }
    }
    this.#token = next;
    if (before === undefined && next !== undefined) this.log.info({ tokenFile: next.file }, `HTTP write API on: bearer token from ${next.file}`);
    else if (before !== undefined && next === undefined) this.log.warn({}, 'HTTP write API off: no http.token_file any more; writes answer 403');
    else if (before !== undefined && next !== undefined && (before.file !== next.file || before.token.reveal() !== next.token.reveal())) this.log.info({ tokenFile: next.file }, `HTTP write API token reloaded from ${next.file}`);
  }

  #warnExposure(): void {
    const s = this.#httpSettings;
    const w = s ? exposureNotice(s, this.#token !== undefined) : undefined;
    if (s && w) this.log[w.level]({ listen: `${hostForUrl(s.host)}:${s.port}` }, w.message);
  }

  #apiHost(): ApiHost {
    const isStopping = (): boolean => this.#stopping !== undefined;
    const isReady = (): boolean => this.ready;
    return {
      entries: () => [...this.#entries.values()].map((e) => ({ cluster: e.cluster, monitor: e.monitor, restarting: e.stopping })),
      isLeader: () => this.leadership.isLeader(),
      ha: () => {
        const el = this.election;
        if (el && this.#etcd) return { mode: 'etcd', instance: el.instance, leader: el.leader?.instance ?? null };
        return { mode: this.#localLock ? 'single' : 'external', instance: null, leader: null };
      },
      get ready() {
        return isReady();
      },
      get stopping() {
        return isStopping();
      },
      startedAt: this.startedAt,
      token: () => this.#token?.token,
      consoleDir: () => this.#consoleDir,
      config: () => this.config,
      maintenance: () => this.maintenance,
    };
  }

  healthz(): Probe {
    const stuck = this.#stuck.length > 0;
    return { ok: !stuck, body: { ok: !stuck, pid: process.pid, version: VERSION, uptimeSeconds: Math.round((this.#now() - this.startedAt) / 1000), ...(stuck ? { stuck: this.#stuck } : {}) } };
  }

  readyz(): Probe {
    const notInspected = this.monitors.filter((m) => m.ticks === 0).map((m) => m.cluster.name);
    const leaderOk = this.leadership.healthy();
    const ok = !this.#stopping && notInspected.length === 0 && leaderOk && (this.#entries.size > 0 || (this.shards !== undefined && this.shards.steps > 0));
    const reasons = [
      ...(notInspected.length > 0 ? [`not inspected yet: ${notInspected.join(', ')}`] : []),
      ...(leaderOk ? [] : ['neither the leader nor a healthy follower']),
      ...(this.#stopping ? ['stopping'] : []),
    ];
    return { ok, body: { ready: ok, leader: this.leadership.isLeader(), ...(reasons.length > 0 ? { reasons } : {}) } };
  }

  /** /status: per cluster, the topology, the last failover, the guard, and the failover plan. Nothing secret. */
  status(): unknown {
    const now = this.#now();
    return {
      version: VERSION,
      pid: process.pid,
      startedAt: isoTime(this.startedAt),
      ready: this.#ready,
      stopping: this.#stopping !== undefined,
      leader: this.leadership.isLeader(),
      ha: this.#haStatus(),
      config: this.config ? { format: this.config.format, files: this.config.files, stateDir: this.config.state_dir, loadedAt: isoTime(this.#loadedAt) } : undefined,
      clusters: [...this.#entries.values()].map((e) => ({ ...(clusterStatus(e, now) as Record<string, unknown>), publish: this.publisher?.status(e.cluster.name) ?? null })),
    };
  }

  #haStatus(): unknown {
    const sh = this.shards;
    if (sh && this.#etcd) {
      return {
        mode: 'etcd-sharding',
        endpoints: this.#etcd.settings.endpoints,
        instance: sh.instance,
        lease: sh.lease,
        leaseRemainingMs: Math.max(0, Math.round(sh.remainingMs())),
        managers: sh.members,
        owned: [...sh.owned.keys()].sort(),
        handoffs: { acquired: sh.acquired, released: sh.released },
        owners: Object.fromEntries([...this.#configured.keys()].sort().map((c) => [c, sh.owners.get(c)?.instance ?? null])),
      };
    }
    const el = this.election;
    if (el && this.#etcd) {
      return { mode: 'etcd', endpoints: this.#etcd.settings.endpoints, key: el.key, instance: el.instance, state: el.isLeader() ? 'leader' : el.state === 'stopped' ? 'stopped' : 'follower', leader: el.leader, fencingToken: el.fencingToken(), leaseRemainingMs: el.state === 'leader' ? Math.max(0, Math.round(el.remainingMs())) : undefined };
    }
    if (this.#localLock) {
      const conflicts = [...this.#entries.values()].flatMap((e) => (e.monitorLock?.conflict ? [{ cluster: e.cluster.name, master: e.monitorLock.conflict.master, holderConnection: e.monitorLock.conflict.holder }] : []));
      return { mode: 'single', lockFile: this.#localLock.path, monitorLockConflicts: conflicts };
    }
    return { mode: 'external' };
  }

  // ---------------------------------------------------------------- reload and stop

  /** Re-reads the configuration (SIGHUP). Reloads run one at a time. */
  reload(): Promise<'applied' | 'rejected'> {
    const p = this.#reloadChain.then(() => this.#reload());
    this.#reloadChain = p.catch(() => undefined);
    return p;
  }

  async #reload(): Promise<'applied' | 'rejected'> {
    if (this.#stopping) return 'rejected';
    const load = this.#opts.loadConfig;
    if (!load || !this.config) {
      this.log.warn({}, 'reload requested, but this manager cannot re-read its configuration');
      return 'rejected';
    }
    this.log.info({ files: this.config.files }, 'reloading the configuration');
    let next: { config: LoadedConfig; clusters: ClusterConfig[] };
    try {
      next = await load();
    } catch (err) {
      this.metrics.reloads.inc({ result: 'rejected' });
      const msg = (err as Error).message;
      this.log.error({ err: msg }, `configuration reload REJECTED; the running configuration stays in force: ${msg}`);
      return 'rejected';
    }
    if (this.#stopping) return 'rejected';
    for (const w of next.config.warnings) this.log.warn({}, w);
    if (JSON.stringify(next.config.etcd) !== JSON.stringify(this.config.etcd)) this.log.warn({}, 'the etcd settings changed: they apply at the next restart (the rest of the configuration is reloaded now)');
    if (next.config.state_dir !== this.config.state_dir && this.#localLock) this.log.warn({}, 'state_dir changed: the manager lock stays in the old one until the next restart');
    const stateDir = next.config.state_dir;
    const wanted = new Map(next.clusters.map((c) => [c.name, c]));
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const [name, e] of this.#entries) {
      if (wanted.has(name)) continue;
      removed.push(name);
      this.#entries.delete(name);
      if (e.monitor.inFailover) this.log.warn({ cluster: name }, `cluster ${name} was removed from the configuration: its monitor stops when the failover in progress has finished`);
      void this.#stopEntry(e).then(() => this.metrics.forgetCluster(name)).then(() => this.log.info({ cluster: name }, `stopped watching ${name} (removed from the configuration)`));
    }
    for (const [name, c] of wanted) {
      const e = this.#entries.get(name);
      if (!e) {
        added.push(name);
        // With sharding the cluster starts when this manager takes it.
        if (this.shards) {
          if (this.#etcd) this.#journalFor(name);
        } else this.#startEntry(c, stateDir);
        continue;
      }
      if (e.fingerprint === clusterFingerprint(c, stateDir)) continue;
      changed.push(name);
      // Replace after the old loop has finished its tick (and any failover in it).
      if (e.monitor.inFailover) this.log.warn({ cluster: name }, `cluster ${name} changed: its monitor restarts with the new settings when the failover in progress has finished`);
      const placeholder = { ...e, fingerprint: clusterFingerprint(c, stateDir) };
      this.#entries.set(name, placeholder);
      void this.#stopEntry(e).then(() => {
        if (this.#stopping || this.#entries.get(name) !== placeholder) return;
        this.#entries.delete(name);
        this.#startEntry(c, stateDir);
        this.log.info({ cluster: name }, `watching ${name} again with its new settings`);
      });
    }
    this.config = next.config;
    this.#configured = wanted;
    this.#loadedAt = this.#now();
    const hadToken = this.#token !== undefined;
    this.#setToken(next.config);
    this.#applyPublish(next.config);
    const listen = this.#opts.http === undefined ? next.config.http : (this.#opts.http ?? undefined);
    // Writes turned off on an endpoint that stays where it is: say again who can reach it.
    if (hadToken !== (this.#token !== undefined) && this.http && listen?.host === this.#httpSettings?.host && listen?.port === this.#httpSettings?.port) this.#warnExposure();
    await this.#applyHttp(listen);
    this.metrics.reloads.inc({ result: 'applied' });
    const what = [added.length ? `added ${added.join(', ')}` : '', removed.length ? `removed ${removed.join(', ')}` : '', changed.length ? `changed ${changed.join(', ')}` : ''].filter(Boolean).join('; ') || 'no cluster changed';
    this.log.info({ added, removed, changed }, `configuration reloaded: ${what}`);
    return 'applied';
  }

  /** Stops everything; a failover in progress finishes first. Idempotent. */
  stop(reason = 'stopping'): Promise<void> {
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  async #stop(reason: string): Promise<void> {
    const busy = this.monitors.filter((m) => m.inFailover).map((m) => m.cluster.name);
    const line = busy.length > 0 ? `${reason}: finishing the failover in progress (${busy.join(', ')}) first` : reason;
    if (busy.length > 0) this.log.warn({ clusters: busy }, `stopping after the failover in progress finishes (${busy.join(', ')})`);
    const stopping = this.notifier.stopping(line);
    clearInterval(this.#timer);
    clearInterval(this.#publishTimer);
    const entries = [...this.#entries.values()];
    await Promise.all([...entries.map((e) => this.#stopEntry(e)), ...this.#retiring]);
    // Every failover has finished: write what is queued, then hand the leadership over at once.
    await Promise.all([...this.#journals.values()].map((j) => j.flush().catch(() => undefined)));
    this.#electionAc.abort();
    await this.#electionDone;
    await this.#viewsDone;
    // The last views are written before the clusters go (they outlive this manager for the next owners).
    await this.views?.settle();
    await this.election?.resign();
    await this.shards?.resign();
    this.#localLock?.release();
    await this.publisher?.idle();
    await this.#api?.close().catch(() => undefined);
    await this.http?.close();
    await stopping;
    this.#resolveDone();
  }
}

function clusterStatus(e: Entry, now: number): unknown {
  const m = e.monitor;
  const snap = m.snapshot();
  const a = m.lastAnalysis;
  const failed = new Set(snap.failed);
  const unreachable = new Map((a?.unreachable ?? []).map((u) => [u.name, u]));
  const servers = e.cluster.servers.map((s) => {
    const base = {
      name: s.name,
      host: s.hostname,
      port: s.port,
      candidate_master: s.candidate_master,
      no_master: s.no_master,
      // Promotion rules and locations (config): what the plan's ranking reads.
      ...(s.promotion_rule !== undefined ? { promotion_rule: s.promotion_rule } : {}),
      ...(s.datacenter !== undefined ? { datacenter: s.datacenter } : {}),
      ...(s.region !== undefined ? { region: s.region } : {}),
      ...(s.backup ? { backup: true } : {}),
      ...(s.allow_promotion ? { allow_promotion: true } : {}),
    };
    if (failed.has(s.name)) return { ...base, role: 'failed' };
    const u = unreachable.get(s.name);
    if (u) return { ...base, role: 'unreachable', error: { kind: u.kind, message: u.message } };
    if (a?.masterObs?.name === s.name) return { ...base, role: 'master', readOnly: a.masterObs.readOnly, version: a.masterObs.version.raw, binlog: a.masterObs.binlog ? `${a.masterObs.binlog.file}:${a.masterObs.binlog.pos}` : undefined, gtid: a.masterObs.gtid.executed || undefined };
    const r = a?.replicas.find((x) => x.name === s.name);
    if (r) {
      const rs = r.obs.replica;
      return {
        ...base,
        role: 'replica',
        source: r.source,
        readOnly: r.obs.readOnly,
        version: r.obs.version.raw,
        relayLogPurge: r.obs.relayLogPurge,
        replication: rs ? { io: rs.ioRunning, sql: rs.sqlRunning, secondsBehind: rs.secondsBehind, read: `${rs.read.file}:${rs.read.pos}`, exec: `${rs.exec.file}:${rs.exec.pos}`, gtid: rs.gtidAutoPosition, lastIoError: rs.lastIoError || undefined, lastSqlError: rs.lastSqlError || undefined } : undefined,
      };
    }
    return { ...base, role: 'unknown' };
  });
  const summaries = summarize(m.deps.journal.read());
  const g = guard(summaries, now, e.cluster.last_failover_minute, 'auto', e.cluster.name, readMhaStateFiles(e.cluster.manager_workdir, e.cluster.name));
  const unfinished = summaries.find((s) => s.outcome === undefined && !s.acked);
  const lf = snap.lastFailover;
  return {
    name: e.cluster.name,
    state: snap.state,
    master: snap.master,
    ticks: m.ticks,
    inFailover: m.inFailover,
    restarting: e.stopping,
    detector: { phase: snap.detector.phase, consecutiveFailures: snap.detector.consecutiveFailures, consecutiveStalls: snap.detector.consecutiveStalls, lastFailure: snap.detector.lastFailure ? { kind: snap.detector.lastFailure.kind, class: snap.detector.lastFailure.class, message: snap.detector.lastFailure.message } : undefined },
    lastVerdict: snap.lastVerdict ? verdictStatus(snap.lastVerdict) : undefined,
    lastSuspicion: snap.lastSuspicion
      ? { master: snap.lastSuspicion.master, outcome: snap.lastSuspicion.outcome, startedAt: isoTime(snap.lastSuspicion.startedAt), endedAt: snap.lastSuspicion.endedAt !== undefined ? isoTime(snap.lastSuspicion.endedAt) : undefined, evaluations: snap.lastSuspicion.evaluations, verdictAt: snap.lastSuspicion.verdictAt !== undefined ? isoTime(snap.lastSuspicion.verdictAt) : undefined, verdict: snap.lastSuspicion.verdict ? verdictStatus(snap.lastSuspicion.verdict) : undefined }
      : undefined,
    topology: a
      ? { healthy: a.healthy, mode: a.mode, master: a.master, inspectedAt: a.masterObs ? isoTime(a.masterObs.observedAt) : undefined, servers, errors: snap.lastAnalysis?.errors ?? [], warnings: a.findings.filter((f) => f.severity === 'warning').map((f) => `${f.server ?? e.cluster.name}: ${f.message}`) }
      : { servers },
    lastFailover: lf
      ? { id: lf.id, deadMaster: lf.deadMaster, newMaster: lf.newMaster, outcome: lf.outcome ?? 'unfinished', trigger: lf.trigger, startedAt: isoTime(lf.startedAt), endedAt: lf.endedAt !== undefined ? isoTime(lf.endedAt) : undefined, durationMs: lf.durationMs, reason: lf.reason, lost: lf.lost, acked: lf.acked, phases: lf.phases }
      : null,
    guard: g.allowed ? { automaticFailover: 'allowed' } : { automaticFailover: 'blocked', reason: g.reason, blocking: g.blocking },
    unfinishedFailover: unfinished ? { id: unfinished.id, deadMaster: unfinished.deadMaster, startedAt: isoTime(unfinished.startedAt) } : undefined,
    failedServers: snap.failed,
    journalReconciled: snap.reconciled,
    blockedReason: snap.blockedReason,
    plan: planStatus(m, g.allowed),
    maintenance: maintenanceStatus(m, now),
    schedules: e.cluster.schedules ?? {},
  };
}

/** A verdict for /status: what was decided, on what, and who said what, with how fresh its evidence was. */
function verdictStatus(v: Verdict): unknown {
  const e = v.evidence;
  return {
    code: v.code,
    dead: v.dead,
    basis: v.dead ? v.basis : undefined,
    reason: v.reason,
    reliedOn: v.dead ? v.witnesses : undefined,
    checks: { consecutiveFailures: e.consecutiveFailures, consecutiveStalls: e.consecutiveStalls, lastFailure: e.lastFailure, failingForMs: e.failingForMs },
    witnesses: e.witnesses.map((w) => ({ name: w.name, says: w.says, class: w.class, io: w.io, errno: w.errno, freshnessMs: w.freshnessMs !== undefined ? Math.round(w.freshnessMs) : undefined, detail: w.detail })),
    secondRoute: e.routes === undefined ? 'none' : e.routes.map((r) => ({ via: r.via, says: r.says, result: r.kind, errno: r.errno, elapsedMs: r.elapsedMs, detail: r.detail })),
    secondaryCheckScript: e.secondary.kind === 'unset' ? undefined : e.secondary,
  };
}

function maintenanceStatus(m: ClusterMonitor, now: number): unknown {
  const mt: ReturnType<typeof maintenanceOf> = m.maintenance();
  const entry = (x: (typeof mt.clusterWide)[number]): unknown => ({ id: x.id, scope: x.scope, cluster: x.cluster, server: x.server, owner: x.owner, reason: x.reason, startedAt: isoTime(x.startedAt), expiresAt: isoTime(x.expiresAt), remainingSeconds: Math.max(0, Math.round((x.expiresAt - now) / 1000)) });
  return {
    automaticFailover: mt.clusterWide.length > 0 ? 'held' : 'allowed',
    heldDeadMaster: m.heldByMaintenance !== undefined,
    cluster: mt.clusterWide.map(entry),
    servers: Object.fromEntries(Object.entries(mt.servers).map(([k, v]) => [k, v.map(entry)])),
  };
}

/**
 * /status's plan: a summary (would promote whom, by which rule, why, and every rejected or
 * excluded server), then the whole FailoverPlan (domain/failover/plan.ts: each replica's standing
 * and steps, the salvage, the expected loss) under `detail`.
 */
export function planStatus(m: ClusterMonitor, allowed: boolean): unknown {
  const mp = m.plan();
  const held = m.maintenance().clusterWide.length > 0 ? 'the cluster is in maintenance: it would NOT be failed over automatically (see maintenance)' : undefined;
  const note = held ?? (allowed ? undefined : 'automatic failover is currently blocked by the guard (see guard); an operator can still run mhats failover');
  if (mp.plan === undefined) return { wouldPromote: null, why: mp.reason, deadMaster: mp.master, latest: [], rejected: [], excluded: [], ...(note ? { note } : {}) };
  const p = mp.plan;
  const excluded = p.excluded.filter((e) => e.scope === 'failover').map((e) => ({ name: e.server, code: e.code, reason: e.reason }));
  const summary = {
    wouldPromote: p.ok ? p.newMaster!.name : null,
    ...(p.ok && p.choice?.ok ? { rule: p.choice.rule } : {}),
    why: p.ok ? (p.choice?.ok ? p.choice.reason : '') : p.refusal!.reason,
    deadMaster: p.deadMaster,
    latest: p.latest.names,
    rejected: p.choice?.rejected ?? [],
    // The eligible, best first: the promotion rule and location that placed each (domain/promotion.ts).
    ranking: p.choice?.ranking ?? [],
    excluded,
    basedOnInspectionAt: isoTime(mp.inspectedAt),
    expectedLoss: p.expectedLoss.text,
    ...(note ? { note } : {}),
  };
  return { ...summary, detail: p };
}

/** What to say at start about who can reach the HTTP endpoint (nothing on loopback). */
export function exposureNotice(s: HttpSettings, hasToken: boolean): { level: 'warn' | 'info'; message: string } | undefined {
  if (isLoopback(s.host)) return undefined;
  const where = `${hostForUrl(s.host)}:${s.port}`;
  if (!hasToken) return { level: 'warn', message: `HTTP endpoint listens on ${where}, not a loopback address, without http.token_file: anyone who reaches it can read the topology, the failover plan and the journal (writes are off). Listen on 127.0.0.1, or put it behind a proxy that authenticates` };
  return { level: 'info', message: `HTTP endpoint listens on ${where}, not a loopback address: reads are open to anyone who reaches it; writes need the bearer token` };
}

/** 127.0.0.0/8, ::1 and localhost: only this host can connect. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The console's built assets: dist/console beside the compiled code, or (running from src/ with tsx) in the build output. */
export function findConsoleDir(): string | undefined {
  for (const rel of ['../console/', '../../dist/console/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}
