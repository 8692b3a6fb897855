/**
 * Bringing a survivor level: applying binlog events to a read-only server,
 * and differential relay-log recovery (the events a survivor lacks, from the
 * most advanced survivor's relay logs).
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { applyBinlog } from '../../adapters/mysql/apply-binlog.js';
import { formatCoord } from '../../domain/binlog-coord.js';
import { gtidContains } from '../../domain/gtid.js';
import type { BinlogCoord } from '../../domain/types.js';
import { Admin, FailoverFailed, target } from './admin.js';
import { relayDiff } from './relay-diff.js';

/** Applies binlog events to a read-only server (super_read_only lifted meanwhile) and verifies their GTIDs. Returns ms. */
export async function applyBinlogTo(cluster: ClusterConfig, server: ServerConfig, bytes: Uint8Array, gtids: string[]): Promise<number> {
  const a = await Admin.open(server, cluster);
  try {
    for (const stmt of a.d.setSuperReadOnly(false)) await a.q(stmt);
    const applied = await applyBinlog(bytes, target(server), { clientBindir: server.client_bindir, timeoutMs: 120_000 });
    for (const stmt of a.d.setSuperReadOnly(true)) await a.q(stmt);
    if (gtids.length > 0) {
      const [v] = await a.q(a.d.variablesQuery());
      const g = a.d.parseVariables(v!).gtid;
      const pos = a.d.flavor === 'mariadb' ? (g.binlogPos ?? g.executed) : g.executed;
      if (!gtidContains(a.d.flavor, pos, gtids.join(','))) throw new FailoverFailed(`the applied transactions are not all on ${server.name} (it is at ${pos}; applied up to ${gtids.at(-1) ?? '?'})`);
    }
    a.close();
    return applied.durationMs;
  } catch (err) {
    a.destroy();
    throw err;
  }
}

/** Differential relay-log recovery from one source survivor (its relay-log location is read once). */
export class RelayCatchUp {
  readonly #cluster: ClusterConfig;
  readonly source: ServerConfig;
  readonly #note: (message: string) => void;
  #loc: { dir: string; currentFile: string } | undefined;

  constructor(cluster: ClusterConfig, source: ServerConfig, note: (message: string) => void) {
    this.#cluster = cluster;
    this.source = source;
    this.#note = note;
  }

  /** Applies to `server` the events after `from` in the source's relay logs. true, or why not. */
  async catchUp(server: ServerConfig, from: BinlogCoord): Promise<true | string> {
    const cluster = this.#cluster;
    try {
      if (this.#loc === undefined) {
        const a = await Admin.open(this.source, cluster);
        try {
          const [v] = await a.q(a.d.variablesQuery());
          const [row] = await a.q(a.d.showReplicaStatus());
          const file = a.d.parseReplicaStatus(row!).relayLogFile;
          const slash = file.lastIndexOf('/');
          this.#loc = slash >= 0 ? { dir: file.slice(0, slash), currentFile: file.slice(slash + 1) } : { dir: a.d.parseVariables(v!).datadir ?? '/var/lib/mysql', currentFile: file };
          a.close();
        } catch (err) {
          a.destroy();
          throw err;
        }
      }
      const d = await relayDiff(cluster, this.source, this.#loc, from, { timeoutMs: 30_000 });
      if (!d.ok) return d.reason;
      if (d.diff === undefined) return true;
      const ms = await applyBinlogTo(cluster, server, d.diff.bytes, d.diff.gtids);
      this.#note(`${server.name}: applied ${d.diff.transactions} transaction(s) it lacked from ${this.source.name}'s relay logs (after ${formatCoord(from)}) in ${ms} ms`);
      return true;
    } catch (err) {
      return (err as Error).message;
    }
  }
}
