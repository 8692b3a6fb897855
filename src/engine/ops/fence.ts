/**
 * Fencing an old master that still answers SQL.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import type { Logger } from '../../ports/logger.js';
import { Admin } from './admin.js';

/**
 * Fences a master that still answers SQL: read_only (and super_read_only
 * where it exists), then ends every client connection so no transaction can
 * commit. Returns what it did.
 */
export async function fenceOldMaster(server: ServerConfig, cluster: ClusterConfig, log: Logger): Promise<string> {
  const a = await Admin.open(server, cluster, Math.min(1000, cluster.connect_timeout * 1000));
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
