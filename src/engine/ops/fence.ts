/**
 * Fencing an old master that still answers SQL (the statements are in fencing.ts, with the
 * kill over SSH of a mysqld that SQL cannot fence).
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { detectionSettings } from '../../config/resolve.js';
import type { SshPool } from '../../adapters/ssh/session.js';
import { holdings } from '../../domain/failover/positions.js';
import type { BinlogCoord } from '../../domain/types.js';
import type { Logger } from '../../ports/logger.js';
import { Admin, FailoverFailed } from './admin.js';
import { fenceOverSql, killMysqldOverSsh } from './fencing.js';

/**
 * Fences a master that still answers SQL (fenceOverSql, src/engine/ops/fencing.ts): read_only
 * (and super_read_only where it exists) with a lock_wait_timeout, every client session killed
 * whether or not read_only took, then read back. Returns what it did; throws NotAnswering when no
 * SQL session opens, and FailoverFailed when it answers but read_only is not verified (access
 * denied, too many connections, a statement that failed). Aborting `signal` destroys its sessions
 * (a deadline): it then returns (or throws) at once.
 */
export async function fenceOldMaster(server: ServerConfig, cluster: ClusterConfig, log: Logger, signal?: AbortSignal): Promise<string> {
  const r = await fenceOverSql(server, cluster, undefined, signal);
  if (r.sql === 'not_answering') throw new NotAnswering(r.detail);
  if (r.sql === 'unverified') throw new FailoverFailed(`it answers but could not be fenced: ${r.detail}`);
  log.warn({ server: server.name, killed: r.sessionsKilled }, `fenced ${server.name}: ${r.detail}`);
  return r.detail;
}

/** The old master gave no SQL session: nothing to fence now. */
export class NotAnswering extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAnswering';
  }
}

export type Refence = { state: 'unreachable'; detail: string } | { state: 'fenced'; detail: string; holds: string; coord: BinlogCoord | undefined };

/**
 * Right before the new master takes writes: is the old master still down? systemd restarts a
 * crashed mysqld, possibly writable, in the middle of a failover. If it answers it is fenced
 * (again: read_only, every session killed, read back) and what it holds is read: its GTID
 * position/set ('' without GTIDs) and its binlog position. Whether that lets the promotion go on
 * is decided by onOldMasterReturned() (src/domain/failover/returned.ts). Throws FailoverFailed
 * when it answers and cannot be fenced. connectMs: the connection's deadline when not the usual
 * one (after a power-off).
 */
export async function refence(server: ServerConfig, cluster: ClusterConfig, log: Logger, signal?: AbortSignal, pool?: SshPool, connectMs?: number): Promise<Refence> {
  const r = await fenceOverSql(server, cluster, connectMs);
  if (r.sql === 'not_answering') return { state: 'unreachable', detail: `${server.name} does not answer (${r.detail})` };
  if (r.sql === 'unverified') {
    // It answers and SQL did not fence it: stop its mysqld (fence_hung_master), or do not promote.
    if (detectionSettings(cluster).fence_hung_master === 'kill') {
      const k = await killMysqldOverSsh(server, cluster, { pool, timeoutMs: Math.max(8000, cluster.ssh.connect_timeout * 1000 + 6000), signal });
      if (k.outcome === 'killed' || k.outcome === 'not_running') {
        log.warn({ server: server.name, pids: k.pids }, `${server.name} answered again and SQL did not fence it (${r.detail}): ${k.detail}`);
        return { state: 'unreachable', detail: `${server.name} answered again and SQL did not fence it (${r.detail}); ${k.detail}` };
      }
      throw new FailoverFailed(`${server.name} answered again and could not be fenced (${r.detail}; ${k.detail}): not promoting another master beside it`);
    }
    throw new FailoverFailed(`${server.name} answered again and could not be fenced (${r.detail}; fence_hung_master=none): not promoting another master beside it`);
  }
  log.warn({ server: server.name, killed: r.sessionsKilled }, `fenced ${server.name} again: ${r.detail}`);
  const b = await Admin.open(server, cluster, { connectTimeoutMs: Math.min(1000, cluster.connect_timeout * 1000), signal });
  try {
    const [st] = await b.q(b.d.showBinlogStatus(), 2000);
    const [v] = await b.q(b.d.variablesQuery(), 2000);
    const holds = v === undefined ? '' : holdings(b.d.flavor, b.d.parseVariables(v).gtid);
    const coord = st === undefined ? undefined : b.d.parseBinlogStatus(st);
    b.close();
    return { state: 'fenced', detail: `${server.name} answered again: ${r.detail}`, holds, coord };
  } catch (err) {
    b.destroy();
    throw err;
  }
}
