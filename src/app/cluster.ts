/**
 * From a cluster's config to what the pure modules need: connection targets,
 * server specs, and one inspection of the whole cluster.
 */
import type { ClusterConfig } from '../config/types.js';
import { topologyOptions } from '../config/resolve.js';
import { specOf, target } from '../engine/ops/admin.js';
import { inspectAll, readGtidState } from '../adapters/mysql/inspect.js';
import { errantToConfirm, withMasterGtid } from '../domain/errant-confirm.js';
import type { DbTarget } from '../adapters/mysql/connection.js';
import { analyzeTopology, type ServerSpec } from '../domain/topology.js';
import type { ServerProbe } from '../domain/types.js';
import type { ClusterReport } from '../render/check-repl.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { failedServers as failedOf, summarize, type JournalRecord } from '../domain/guard.js';
import { lostWritesAdvice } from '../domain/semisync.js';
import { isoTime } from '../domain/time.js';

/** Old masters of failovers that have not rejoined as healthy replicas: left out of the analysis. */
export function failedServers(stateDir: string, cluster: ClusterConfig): string[] {
  return failedOf(summarize(new FileJournal(stateDir, cluster.name).read()));
}

/** The cluster minus the servers marked failed. */
export function withoutFailed(cluster: ClusterConfig, failed: string[]): ClusterConfig {
  if (failed.length === 0) return cluster;
  return { ...cluster, servers: cluster.servers.filter((s) => !failed.includes(s.name)) };
}

export function dbTargets(cluster: ClusterConfig): DbTarget[] {
  return cluster.servers.map(target);
}

export function serverSpecs(cluster: ClusterConfig): ServerSpec[] {
  return cluster.servers.map(specOf);
}

export function timeoutsOf(cluster: ClusterConfig): { connectTimeoutMs: number; queryTimeoutMs: number } {
  return { connectTimeoutMs: Math.round(cluster.connect_timeout * 1000), queryTimeoutMs: Math.round(cluster.query_timeout * 1000) };
}

export async function probeCluster(cluster: ClusterConfig, signal?: AbortSignal): Promise<ServerProbe[]> {
  return inspectAll(dbTargets(cluster), { ...timeoutsOf(cluster), now: Date.now, signal });
}

export function analyzeCluster(cluster: ClusterConfig, probes: ServerProbe[]): ClusterReport {
  const specs = serverSpecs(cluster);
  const analysis = analyzeTopology(specs, probes, topologyOptions(cluster));
  return { cluster: cluster.name, specs, analysis };
}

export async function inspectCluster(cluster: ClusterConfig, signal?: AbortSignal): Promise<ClusterReport> {
  const probes = await probeCluster(cluster, signal);
  const report = analyzeCluster(cluster, probes);
  // Errant GTIDs count only when the master, read again after every replica, still lacks them.
  const master = errantToConfirm(report.analysis);
  const t = dbTargets(cluster).find((x) => x.name === master);
  if (t === undefined || report.analysis.masterObs === undefined) return report;
  const later = await readGtidState(t, report.analysis.masterObs.version, { ...timeoutsOf(cluster), now: Date.now, signal });
  return later === undefined ? report : analyzeCluster(cluster, withMasterGtid(probes, t.name, later));
}

/** check-repl: after a failover that lost writes with asynchronous replication, say what semi-sync would have done. */
export function addLostWritesAdvice(r: ClusterReport, records: JournalRecord[]): void {
  const last = summarize(records)
    .filter((s) => s.outcome === 'success' || s.outcome === 'partial')
    .at(-1);
  const f = lostWritesAdvice(last ? { id: last.id, lost: last.lost, at: isoTime(last.startedAt) } : undefined, r.analysis.masterObs);
  if (f) r.analysis.findings.push(f);
}
