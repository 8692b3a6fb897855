/**
 * Bringing a survivor level: applying binlog events to a read-only server,
 * and differential relay-log recovery (the events a survivor lacks, from the
 * most advanced survivor's relay logs).
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { applyBinlog } from '../../adapters/mysql/apply-binlog.js';
import { formatCoord } from '../../domain/binlog-coord.js';
import type { BinlogCoord } from '../../domain/types.js';
import { Admin, FailoverFailed } from './admin.js';
import { relayDiff, type RelayDiffResult } from './relay-diff.js';
import { recordApplied } from './replica.js';
import { target } from './admin.js';

/**
 * Applies binlog events to a read-only server (super_read_only lifted
 * meanwhile), records their GTIDs where replication looks for them, and
 * verifies it holds them. Returns ms.
 */
export async function applyBinlogTo(cluster: ClusterConfig, server: ServerConfig, bytes: Uint8Array, gtids: string[], signal?: AbortSignal): Promise<number> {
  const a = await Admin.open(server, cluster, { signal });
  let ms: number;
  try {
    for (const stmt of a.d.setSuperReadOnly(false)) await a.q(stmt);
    const applied = await applyBinlog(bytes, target(server), { clientBindir: server.client_bindir, timeoutMs: 120_000, signal });
    for (const stmt of a.d.setSuperReadOnly(true)) await a.q(stmt);
    ms = applied.durationMs;
    a.close();
  } catch (err) {
    a.destroy();
    throw err;
  }
  await recordApplied(server, { cluster, signal }, gtids);
  return ms;
}

/** Differential relay-log recovery from one source survivor (its relay-log location is read once). */
export class RelayCatchUp {
  readonly #cluster: ClusterConfig;
  readonly source: ServerConfig;
  #loc: { dir: string; currentFile: string } | undefined;
  /** Diffs read ahead (prefetch), by their start coordinate. */
  #read = new Map<string, Promise<RelayDiffResult>>();

  constructor(cluster: ClusterConfig, source: ServerConfig) {
    this.#cluster = cluster;
    this.source = source;
  }

  /**
   * Applies to `server` the complete transactions after `from` in the
   * source's relay logs. The server's SQL thread must be stopped. Returns
   * how many were applied; rejects with the reason it could not.
   */
  async catchUp(server: ServerConfig, from: BinlogCoord, signal?: AbortSignal): Promise<{ transactions: number; ms: number }> {
    const cluster = this.#cluster;
    // Read ahead while the relay logs were there (prefetch), else now; a read ahead that failed is tried again.
    const ahead = await this.#read.get(formatCoord(from))?.catch(() => undefined);
    const d = ahead?.ok ? ahead : await this.#diff(from, signal);
    if (!d.ok) throw new FailoverFailed(d.reason);
    if (d.diff === undefined) return { transactions: 0, ms: 0 };
    const ms = await applyBinlogTo(cluster, server, d.diff.bytes, d.diff.gtids, signal);
    return { transactions: d.diff.transactions, ms };
  }

  /**
   * Reads now the events after `from` that a catchUp(…, from) will apply later: a replica recovered in the
   * background after the failover needs them after this source has been repointed (its relay logs discarded).
   * A failed read is tried again by the catchUp.
   */
  async prefetch(from: BinlogCoord, signal?: AbortSignal): Promise<RelayDiffResult> {
    const key = formatCoord(from);
    let p = this.#read.get(key);
    if (p === undefined) {
      p = this.#diff(from, signal);
      this.#read.set(key, p);
    }
    const r = await p.catch((err: unknown): RelayDiffResult => ({ ok: false, reason: (err as Error).message }));
    if (!r.ok) this.#read.delete(key);
    return r;
  }

  async #diff(from: BinlogCoord, signal?: AbortSignal): Promise<RelayDiffResult> {
    const cluster = this.#cluster;
    if (this.#loc === undefined) {
      const a = await Admin.open(this.source, cluster, { signal });
      try {
        const [v] = await a.q(a.d.variablesQuery());
        const [row] = await a.q(a.d.showReplicaStatus());
        if (row === undefined) throw new FailoverFailed(`${this.source.name} is no longer a replica: its relay logs are gone`);
        const file = a.d.parseReplicaStatus(row).relayLogFile;
        const slash = file.lastIndexOf('/');
        this.#loc = slash >= 0 ? { dir: file.slice(0, slash), currentFile: file.slice(slash + 1) } : { dir: a.d.parseVariables(v!).datadir ?? '/var/lib/mysql', currentFile: file };
        a.close();
      } catch (err) {
        a.destroy();
        throw err;
      }
    }
    return relayDiff(cluster, this.source, this.#loc, from, { timeoutMs: 30_000, signal });
  }

  describe(from: BinlogCoord): string {
    return `${this.source.name}'s relay logs after ${formatCoord(from)}`;
  }
}
