/**
 * Operations on the new master: stop its replication, read its binlog
 * position and what it holds, make it writable, drop its replica settings.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import type { BinlogCoord } from '../../domain/types.js';
import { withAdmin, type Admin } from './admin.js';
import { gtidHoldings } from './replica.js';

const using = <T>(s: ServerConfig, cluster: ClusterConfig, signal: AbortSignal | undefined, fn: (a: Admin) => Promise<T>): Promise<T> => withAdmin(s, cluster, fn, signal);

/** STOP SLAVE (its relay logs stay until the cleanup: other replicas' diffs may need them). */
export function stopReplication(s: ServerConfig, cluster: ClusterConfig, signal?: AbortSignal): Promise<void> {
  return using(s, cluster, signal, async (a) => void (await a.q(a.d.stopReplica())));
}

/** Its own binlog position and what it holds (GTID), read while it is still read-only. */
export function positionOf(s: ServerConfig, cluster: ClusterConfig, signal?: AbortSignal): Promise<{ coord: BinlogCoord | undefined; gtid: string }> {
  return using(s, cluster, signal, async (a) => {
    const [b] = await a.q(a.d.showBinlogStatus());
    const c = b ? a.d.parseBinlogStatus(b) : undefined;
    return { coord: c ? { file: c.file, pos: c.pos } : undefined, gtid: await gtidHoldings(a) };
  });
}

/** read_only=OFF (super_read_only first). */
export function setWritable(s: ServerConfig, cluster: ClusterConfig, signal?: AbortSignal): Promise<void> {
  return using(s, cluster, signal, async (a) => {
    for (const stmt of a.d.setReadOnly(false)) await a.q(stmt);
  });
}

/** RESET SLAVE ALL: the new master forgets the dead one (and its relay logs). */
export function resetReplication(s: ServerConfig, cluster: ClusterConfig, signal?: AbortSignal): Promise<void> {
  return using(s, cluster, signal, async (a) => {
    await a.q(a.d.stopReplica());
    await a.q(a.d.resetReplicaAll());
  });
}
