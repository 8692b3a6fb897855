/**
 * Fencing an old master that still answers SQL.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { DbError } from '../../adapters/mysql/connection.js';
import { binlogFileIndex, compareCoords, formatCoord } from '../../domain/binlog-coord.js';
import { holdings } from '../../domain/failover/positions.js';
import { gtidContains } from '../../domain/gtid.js';
import type { BinlogCoord } from '../../domain/types.js';
import type { Logger } from '../../ports/logger.js';
import { Admin, FailoverFailed } from './admin.js';

/**
 * Fences a master that still answers SQL: read_only (and super_read_only
 * where it exists), then ends every client connection so no transaction can
 * commit. Returns what it did.
 */
export async function fenceOldMaster(server: ServerConfig, cluster: ClusterConfig, log: Logger): Promise<string> {
  const a = await Admin.open(server, cluster, Math.min(1000, cluster.connect_timeout * 1000)).catch((err: unknown) => Promise.reject(notAnswering(err)));
  try {
    for (const stmt of a.d.setReadOnly(true)) await a.q(stmt, 2000);
    const rows = await a.q<{ id: unknown; user: unknown; command: unknown }>(a.d.processlistQuery(), 2000);
    let killed = 0;
    for (const r of rows) {
      const cid = Number(r.id);
      const user = String(r.user);
      if (cid === a.s.threadId || user === 'system user' || user === 'event_scheduler' || String(r.command) === 'Daemon') continue;
      try {
        await a.q(a.d.killConnection(cid), 2000);
        killed++;
      } catch {
        // already gone
      }
    }
    a.close();
    log.warn({ server: server.name, killed }, `fenced ${server.name}: read_only set, ${killed} connection(s) killed`);
    return `read_only set and ${killed} connection(s) killed`;
  } catch (err) {
    a.destroy();
    throw err;
  }
}

/** The old master gave no SQL session: nothing to fence now. */
export class NotAnswering extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAnswering';
  }
}

/**
 * A session that could not be opened: "not answering" (refused, timed out, lost during the
 * handshake — a proxy in front of a dead server), except when the server answered and refused
 * us (access denied, too many connections): it is alive, and it could not be fenced.
 */
function notAnswering(err: unknown): Error {
  if (err instanceof DbError && (err.kind === 'auth' || err.kind === 'too_many_connections')) return new FailoverFailed(`it answers (${err.message}) but cannot be fenced`);
  return new NotAnswering((err as Error).message);
}

export type Refence = { state: 'unreachable'; detail: string } | { state: 'fenced'; detail: string };

/**
 * Right before the new master takes writes: is the old master still down, or
 * read_only with nothing the new master lacks? systemd restarts a crashed
 * mysqld, possibly writable, in the middle of a failover. If it answers it is
 * fenced (again), and its binlog is compared with what the new master holds:
 * transactions there that the new master lacks (writes accepted after the
 * restart, or a tail nobody saved) stop the promotion.
 *   newMasterHolds  the new master's GTID position/set ('' without GTIDs)
 *   knownEnd        without GTIDs: where the old master's binlog ended (saved or replicated)
 */
export async function refence(server: ServerConfig, cluster: ClusterConfig, log: Logger, newMasterHolds: string, knownEnd: BinlogCoord | undefined, signal?: AbortSignal): Promise<Refence> {
  let fenced: string;
  try {
    fenced = await fenceOldMaster(server, cluster, log);
  } catch (err) {
    if (err instanceof NotAnswering) return { state: 'unreachable', detail: `${server.name} does not answer (${err.message})` };
    throw err;
  }
  const b = await Admin.open(server, cluster, { connectTimeoutMs: Math.min(1000, cluster.connect_timeout * 1000), signal });
  try {
    const [st] = await b.q(b.d.showBinlogStatus(), 2000);
    const [v] = await b.q(b.d.variablesQuery(), 2000);
    const has = v === undefined ? '' : holdings(b.d.flavor, b.d.parseVariables(v).gtid);
    const coord = st === undefined ? undefined : b.d.parseBinlogStatus(st);
    b.close();
    if (has !== '' && newMasterHolds !== '') {
      if (!gtidContains(b.d.flavor, newMasterHolds, has)) throw new FailoverFailed(`${server.name} came back during the failover holding transactions the new master lacks (it holds ${has}; the new master ${newMasterHolds}): not promoting. ${server.name} is fenced (read_only); its data is the most complete: make it writable again, or save those transactions before failing over`);
    } else if (coord !== undefined && knownEnd !== undefined && compareCoords(coord, knownEnd) > 0) {
      const fresh = coord.file !== knownEnd.file && binlogFileIndex(coord.file) === binlogFileIndex(knownEnd.file) + 1 && coord.pos <= FRESH_BINLOG_BYTES;
      if (!fresh) throw new FailoverFailed(`${server.name} came back during the failover and its binlog moved past ${formatCoord(knownEnd)} to ${formatCoord(coord)}: not promoting; it is fenced (read_only)`);
    }
    return { state: 'fenced', detail: `${server.name} answered again: ${fenced}; its binlog holds nothing the new master lacks` };
  } catch (err) {
    b.destroy();
    throw err;
  }
}

/** A binlog file just opened by a restart holds only its header events (format description, previous GTIDs). */
const FRESH_BINLOG_BYTES = 512;
