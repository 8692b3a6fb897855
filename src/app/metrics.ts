/**
 * Prometheus metrics of the manager (prom-client), on a registry of its own
 * (never the global one, so a library that registers metrics cannot collide
 * or leak into /metrics). Labels are bounded: cluster, server, phase, outcome,
 * failure kind and job names only; never error messages.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CheckResult, Verdict } from '../domain/detector.js';
import type { TopologyAnalysis } from '../domain/topology.js';
import type { FailoverReport } from '../engine/failover.js';
import type { ClusterMonitor, MonitorObserver, MonitorState } from '../engine/monitor.js';
import type { ClusterMaintenance } from '../domain/maintenance.js';

const ROUTE_RESULTS = ['greeting', 'alive_error', 'other_answer', 'refused', 'no_greeting', 'closed', 'timeout', 'unreachable', 'error'] as const;
const MONITOR_STATES: readonly MonitorState[] = ['starting', 'broken', 'watching', 'suspect', 'failing_over', 'blocked', 'stopped'];

export type JobName = 'relay_log_purge' | 'check_repl' | 'journal_retention';
export type JobResult = 'ok' | 'skipped' | 'failed';

export class Metrics {
  readonly registry = new Registry();
  readonly checkDuration: Histogram<'cluster'>;
  readonly checkFailures: Counter<'cluster' | 'kind'>;
  readonly suspicions: Counter<'cluster'>;
  readonly failovers: Counter<'cluster' | 'outcome'>;
  readonly failoverDuration: Histogram<'cluster' | 'outcome'>;
  readonly phaseDuration: Histogram<'cluster' | 'phase'>;
  readonly replicationLag: Gauge<'cluster' | 'server'>;
  readonly up: Gauge<'cluster' | 'server'>;
  readonly leader: Gauge;
  readonly ticks: Counter<'cluster'>;
  readonly state: Gauge<'cluster' | 'state'>;
  readonly topologyHealthy: Gauge<'cluster'>;
  readonly jobRuns: Counter<'cluster' | 'job' | 'result'>;
  readonly jobDuration: Histogram<'cluster' | 'job'>;
  readonly relayLogsPurged: Counter<'cluster' | 'server'>;
  readonly checkReplFindings: Gauge<'cluster' | 'severity'>;
  readonly reloads: Counter<'result'>;
  readonly verdicts: Counter<'cluster' | 'verdict'>;
  readonly witness: Gauge<'cluster' | 'server' | 'says'>;
  readonly witnessFreshness: Gauge<'cluster' | 'server'>;
  readonly route: Gauge<'cluster' | 'via' | 'result'>;
  readonly detection: Histogram<'cluster' | 'basis'>;
  readonly clustersOwned: Gauge;
  readonly handoffs: Counter<'direction'>;
  #lastState = new Map<string, MonitorState>();
  readonly maintenanceCluster: Gauge<'cluster'>;
  readonly maintenanceServers: Gauge<'cluster'>;
  readonly publishes: Counter<'cluster' | 'target' | 'result'>;
  readonly errantServers: Gauge<'cluster'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.checkDuration = new Histogram({
      name: 'mhats_health_check_duration_seconds',
      help: 'Latency of the health checks of each master (successful or not).',
      labelNames: ['cluster'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.checkFailures = new Counter({ name: 'mhats_health_check_failures_total', help: 'Failed health checks of the master, by failure kind.', labelNames: ['cluster', 'kind'], registers });
    this.suspicions = new Counter({ name: 'mhats_master_suspicions_total', help: 'Times the master failed ping_failures checks in a row and the replicas were asked.', labelNames: ['cluster'], registers });
    this.failovers = new Counter({ name: 'mhats_failovers_total', help: 'Failovers by outcome (success, partial, failed, refused).', labelNames: ['cluster', 'outcome'], registers });
    this.failoverDuration = new Histogram({
      name: 'mhats_failover_duration_seconds',
      help: 'Duration of whole failovers.',
      labelNames: ['cluster', 'outcome'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    });
    this.phaseDuration = new Histogram({
      name: 'mhats_failover_phase_duration_seconds',
      help: "Duration of each failover phase (MHA's phase names).",
      labelNames: ['cluster', 'phase'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.replicationLag = new Gauge({ name: 'mhats_replication_lag_seconds', help: 'Seconds_Behind_Master of each replica at the last inspection (absent when unknown).', labelNames: ['cluster', 'server'], registers });
    this.up = new Gauge({ name: 'mhats_server_up', help: 'Whether each server answered the last inspection (1) or not (0).', labelNames: ['cluster', 'server'], registers });
    this.leader = new Gauge({ name: 'mhats_leader', help: 'Whether this manager may fail over (1: leader, or no HA configured; 0: follower).', registers });
    this.leader.set(1);
    this.ticks = new Counter({ name: 'mhats_monitor_ticks_total', help: 'Completed iterations of each cluster monitor loop.', labelNames: ['cluster'], registers });
    this.state = new Gauge({ name: 'mhats_monitor_state', help: 'The state of each cluster monitor (1 for the current state).', labelNames: ['cluster', 'state'], registers });
    this.topologyHealthy = new Gauge({ name: 'mhats_topology_healthy', help: 'Whether the last inspection found no error (check-repl).', labelNames: ['cluster'], registers });
    this.jobRuns = new Counter({ name: 'mhats_job_runs_total', help: 'Scheduled job runs by result.', labelNames: ['cluster', 'job', 'result'], registers });
    this.jobDuration = new Histogram({ name: 'mhats_job_duration_seconds', help: 'Duration of scheduled jobs.', labelNames: ['cluster', 'job'], buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60], registers });
    this.relayLogsPurged = new Counter({ name: 'mhats_relay_log_purges_total', help: 'Relay-log purges done on each replica.', labelNames: ['cluster', 'server'], registers });
    this.checkReplFindings = new Gauge({ name: 'mhats_check_repl_findings', help: 'Findings of the last scheduled check-repl report, by severity.', labelNames: ['cluster', 'severity'], registers });
    this.clustersOwned = new Gauge({ name: 'mhats_clusters_owned', help: 'Clusters this manager owns (etcd sharding; with one leader or a single manager: every cluster it watches).', registers });
    this.handoffs = new Counter({ name: 'mhats_cluster_handoffs_total', help: 'Clusters this manager took (acquired) or handed over (released), etcd sharding.', labelNames: ['direction'], registers });
    this.maintenanceCluster = new Gauge({ name: 'mhats_maintenance', help: 'Whether automatic failover of the cluster is held by maintenance (1: the cluster, or everything, is in maintenance).', labelNames: ['cluster'], registers });
    this.maintenanceServers = new Gauge({ name: 'mhats_maintenance_servers', help: 'Servers of the cluster in maintenance (never candidates).', labelNames: ['cluster'], registers });
    this.publishes = new Counter({ name: 'mhats_master_publish_total', help: 'Writes of the master to service discovery (etcd, consul) by result: publish, unchanged, retract, failed.', labelNames: ['cluster', 'target', 'result'], registers });
    this.errantServers = new Gauge({ name: 'mhats_errant_gtid_servers', help: 'Replicas holding errant GTID transactions (not on the master) at the last inspection; a failover refuses while any exist (mhats errant show).', labelNames: ['cluster'], registers });
    this.reloads = new Counter({ name: 'mhats_config_reloads_total', help: 'Configuration reloads (SIGHUP) by result.', labelNames: ['result'], registers });
    this.verdicts = new Counter({
      name: 'mhats_suspicion_verdicts_total',
      help: 'Verdicts on a suspected master, counted when a suspicion reaches one or changes it: DeadMaster, StorageHang (failover); UnreachableMaster, AliveError, NoWitness, Unconfirmed, SecondaryCheckVeto (no failover).',
      labelNames: ['cluster', 'verdict'],
      registers,
    });
    this.witness = new Gauge({ name: 'mhats_suspicion_witness', help: "What each replica said at the last evaluation of a suspicion (1 for its current answer): alive (fresh events or heartbeats, or an alive error code), dead (its IO thread lost the master), nothing (stale Yes, stopped by hand, unreachable).", labelNames: ['cluster', 'server', 'says'], registers });
    this.witnessFreshness = new Gauge({ name: 'mhats_suspicion_witness_freshness_seconds', help: "For a replica whose IO thread says Yes: how recent its latest proof of receiving was at most (fresh), or for how long nothing arrived (stale), at the last evaluation.", labelNames: ['cluster', 'server'], registers });
    this.route = new Gauge({ name: 'mhats_suspicion_second_route', help: "The second route's last probe of the master from each host (1 for its current result): greeting, alive_error, other_answer, refused, no_greeting, closed, timeout, unreachable, error.", labelNames: ['cluster', 'via', 'result'], registers });
    this.detection = new Histogram({
      name: 'mhats_detection_duration_seconds',
      help: 'From the start of the first failed health check to the death verdict, by what it rested on (refused, unreachable, replicas, stalled).',
      labelNames: ['cluster', 'basis'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 60, 120],
      registers,
    });
  }

  /** The hooks a ClusterMonitor calls. */
  observer(): MonitorObserver {
    return {
      check: (m, r) => this.#check(m.cluster.name, r),
      suspicion: (m) => this.suspicions.inc({ cluster: m.cluster.name }),
      inspected: (m, a) => this.#inspected(m, a),
      verdict: (m, v) => this.#verdict(m, v),
    };
  }

  #lastVerdictCode = new Map<string, string>();

  #verdict(m: ClusterMonitor, v: Verdict): void {
    const cluster = m.cluster.name;
    if (this.#lastVerdictCode.get(cluster) !== v.code || m.detector.consecutiveFailures <= 2) this.verdicts.inc({ cluster, verdict: v.code });
    this.#lastVerdictCode.set(cluster, v.code);
    for (const w of v.evidence.witnesses) {
      for (const says of ['alive', 'dead', 'nothing'] as const) this.witness.set({ cluster, server: w.name, says }, says === w.says ? 1 : 0);
      if (w.freshnessMs === undefined) this.witnessFreshness.remove({ cluster, server: w.name });
      else this.witnessFreshness.set({ cluster, server: w.name }, w.freshnessMs / 1000);
    }
    for (const r of v.evidence.routes ?? []) {
      for (const result of ROUTE_RESULTS) this.route.set({ cluster, via: r.via, result }, result === r.kind ? 1 : 0);
    }
    if (v.dead && v.evidence.failingForMs !== undefined) this.detection.observe({ cluster, basis: v.basis }, v.evidence.failingForMs / 1000);
  }

  #check(cluster: string, r: CheckResult): void {
    this.checkDuration.observe({ cluster }, r.latencyMs / 1000);
    if (!r.ok) this.checkFailures.inc({ cluster, kind: r.kind ?? 'other' });
  }

  #inspected(m: ClusterMonitor, a: TopologyAnalysis): void {
    const cluster = m.cluster.name;
    this.topologyHealthy.set({ cluster }, a.healthy ? 1 : 0);
    if (a.masterObs) this.errantServers.set({ cluster }, new Set(a.findings.filter((f) => f.code === 'errant_gtid' && f.severity === 'error').map((f) => f.server)).size);
    const unreachable = new Set(a.unreachable.map((u) => u.name));
    for (const s of m.cluster.servers) {
      if (unreachable.has(s.name)) this.up.set({ cluster, server: s.name }, 0);
      else if (a.masterObs?.name === s.name || a.replicas.some((r) => r.name === s.name)) this.up.set({ cluster, server: s.name }, 1);
    }
    for (const r of a.replicas) {
      const lag = r.obs.replica?.secondsBehind;
      if (lag === null || lag === undefined) this.replicationLag.remove({ cluster, server: r.name });
      else this.replicationLag.set({ cluster, server: r.name }, lag);
    }
    if (a.masterObs) this.replicationLag.remove({ cluster, server: a.masterObs.name });
  }

  /** After every tick: the loop's progress, and its state when that changed. */
  tick(m: ClusterMonitor): void {
    const cluster = m.cluster.name;
    this.ticks.inc({ cluster });
    if (this.#lastState.get(cluster) === m.state) return;
    this.#lastState.set(cluster, m.state);
    for (const st of MONITOR_STATES) this.state.set({ cluster, state: st }, st === m.state ? 1 : 0);
  }

  maintenance(cluster: string, m: ClusterMaintenance): void {
    this.maintenanceCluster.set({ cluster }, m.clusterWide.length > 0 ? 1 : 0);
    this.maintenanceServers.set({ cluster }, m.serversInMaintenance.length);
  }

  failover(cluster: string, r: FailoverReport): void {
    this.failovers.inc({ cluster, outcome: r.outcome });
    this.failoverDuration.observe({ cluster, outcome: r.outcome }, r.durationMs / 1000);
    for (const p of r.phases) this.phaseDuration.observe({ cluster, phase: p.phase }, p.durationMs / 1000);
  }

  job(cluster: string, job: JobName, result: JobResult, durationMs: number): void {
    this.jobRuns.inc({ cluster, job, result });
    if (result !== 'skipped') this.jobDuration.observe({ cluster, job }, durationMs / 1000);
  }

  /** A removed cluster's series go away (its gauges would otherwise report stale values forever). */
  async forgetCluster(cluster: string): Promise<void> {
    this.#lastVerdictCode.delete(cluster);
    this.#lastState.delete(cluster);
    const metrics = [this.checkDuration, this.checkFailures, this.suspicions, this.failovers, this.failoverDuration, this.phaseDuration, this.replicationLag, this.up, this.ticks, this.state, this.topologyHealthy, this.jobRuns, this.jobDuration, this.relayLogsPurged, this.checkReplFindings, this.maintenanceCluster, this.maintenanceServers, this.publishes, this.errantServers, this.verdicts, this.witness, this.witnessFreshness, this.route, this.detection];
    for (const metric of metrics) {
      const m = metric as unknown as { get(): Promise<{ values: Array<{ labels: Record<string, string | number> }> }>; remove(labels: Record<string, string | number>): void };
      const seen = new Set<string>();
      for (const v of (await m.get()).values) {
        if (v.labels.cluster !== cluster) continue;
        // Histograms list one value per bucket (label le) plus _sum/_count: remove the series once, without le.
        const { le: _le, ...labels } = v.labels;
        const key = JSON.stringify(labels);
        if (seen.has(key)) continue;
        seen.add(key);
        m.remove(labels);
      }
    }
  }

  /** The text exposition and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
