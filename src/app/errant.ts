/**
 * Errant GTIDs for the CLI (and the API): the report per cluster, and the
 * MySQL empty-transaction repair on the master, journaled with who and what.
 */
import type { ClusterConfig, LoadedConfig } from '../config/types.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { openEtcdJournal } from '../adapters/journal/etcd-journal.js';
import type { Journal } from '../adapters/journal/journal.js';
import { errantReport, errantUnion, MARIADB_INJECT_EXPLANATION, singleGtids, type ErrantReport } from '../domain/errant.js';
import { formatMysqlGtidSet } from '../domain/gtid.js';
import { UserError } from '../errors/errors.js';
import { ExitCode } from '../errors/exit-codes.js';
import { Admin } from '../engine/ops/admin.js';
import { failedServers, inspectCluster, withoutFailed } from './cluster.js';

export interface ClusterErrant extends ErrantReport {
  cluster: string;
}

export async function errantOf(config: LoadedConfig, cluster: ClusterConfig): Promise<ClusterErrant> {
  const r = await inspectCluster(withoutFailed(cluster, failedServers(config.state_dir, cluster)));
  return { cluster: cluster.name, ...errantReport(r.analysis) };
}

export interface InjectResult {
  cluster: string;
  master: string;
  /** The union of the errant sets that was injected (as a GTID set). */
  injected: string;
  count: number;
  servers: string[];
  durationMs: number;
}

async function journalOf(config: LoadedConfig, cluster: string, by: string): Promise<Journal> {
  return config.etcd ? openEtcdJournal(config.etcd, cluster, by.replace(/[^A-Za-z0-9_.-]/g, '_')) : new FileJournal(config.state_dir, cluster);
}

/**
 * MySQL GTID only: commits one empty transaction on the master per errant GTID of the replicas,
 * so the whole cluster knows them (no data changes). Journaled before (intent) and after (result).
 */
export async function injectEmpty(config: LoadedConfig, cluster: ClusterConfig, by: string, opts: { cap?: number; dryRun?: boolean } = {}): Promise<InjectResult> {
  const rep = await errantOf(config, cluster);
  if (rep.unknown) throw new UserError(`${cluster.name}: cannot compare GTIDs: ${rep.unknown}`, { exitCode: ExitCode.UNREACHABLE });
  if (rep.flavor === 'mariadb') throw new UserError(`${cluster.name} runs MariaDB: inject-empty is for MySQL GTID sets only.\n  ${MARIADB_INJECT_EXPLANATION.join('\n  ')}`, { exitCode: ExitCode.ERROR });
  const master = cluster.servers.find((s) => s.name === rep.master)!;
  const t0 = Date.now();
  const a = await Admin.open(master, cluster).catch((err: unknown) => {
    throw new UserError(`cannot connect to the master ${master.name}: ${(err as Error).message}`, { exitCode: ExitCode.UNREACHABLE });
  });
  try {
    const [v] = await a.q(a.d.variablesQuery());
    const vars = a.d.parseVariables(v!);
    if (!vars.gtid.enabled) throw new UserError(`${master.name} does not run with gtid_mode=ON: there are no GTID sets to repair`, { exitCode: ExitCode.ERROR });
    if (vars.readOnly) throw new UserError(`${master.name} is read_only: not the writable master; check the topology (mhats status)`, { exitCode: ExitCode.TOPOLOGY });
    const union = errantUnion(rep, vars.gtid.executed);
    const list = singleGtids(union, opts.cap ?? 10_000);
    if (!list.ok) throw new UserError(list.reason, { exitCode: ExitCode.ERROR });
    const set = formatMysqlGtidSet(union);
    const servers = rep.servers.map((s) => s.server);
    if (list.gtids.length === 0 || opts.dryRun) {
      a.close();
      return { cluster: cluster.name, master: master.name, injected: set, count: list.gtids.length, servers, durationMs: Date.now() - t0 };
    }
    const journal = await journalOf(config, cluster.name, by);
    const id = `errant-inject-${new Date(t0).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
    journal.append({ type: 'event', id, at: Date.now(), message: `${by} injects ${list.gtids.length} empty transaction(s) on ${master.name} for the errant GTIDs of ${servers.join(', ')}: ${set}`, detail: { action: 'errant_inject_empty', by, master: master.name, servers, gtids: set, phase: 'start' } });
    await journal.flush?.();
    let done = 0;
    try {
      for (const g of list.gtids) {
        for (const stmt of a.d.injectEmptyTransaction(g)) await a.q(stmt);
        done++;
      }
    } finally {
      journal.append({ type: 'event', id, at: Date.now(), message: `${done} of ${list.gtids.length} empty transaction(s) injected on ${master.name} by ${by}`, detail: { action: 'errant_inject_empty', by, master: master.name, servers, gtids: set, injected: done, phase: 'end' } });
      await journal.flush?.().catch(() => undefined);
    }
    a.close();
    return { cluster: cluster.name, master: master.name, injected: set, count: done, servers, durationMs: Date.now() - t0 };
  } catch (err) {
    a.destroy();
    throw err;
  }
}
