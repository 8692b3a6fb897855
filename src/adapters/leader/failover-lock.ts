/**
 * MHA's failover advisory lock (GET_LOCK('MHA_Master_High_Availability_Failover')),
 * taken on every reachable server of a cluster, each on a session of its own,
 * for as long as a failover or a switchover runs. The manager's automatic
 * failover, `mhats failover`, `mhats switchover`, the relay-log purge job and
 * MHA's own tools all take it: whoever comes second sees it held and stops,
 * changing nothing. A server that cannot be reached is skipped (it cannot
 * take part in the failover either).
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { openSession, type DbSession } from '../mysql/connection.js';
import { Dialect, dialectFor, parseVersion, VERSION_QUERY } from '../mysql/dialect.js';

export interface LockHolder {
  server: string;
  /** The connection holding it, and who that is, when it could be read. */
  holder?: string | undefined;
}

export type FailoverLocks =
  | { ok: true; held: string[]; unreachable: string[]; release: () => Promise<void> }
  | { ok: false; busy: LockHolder[]; message: string };

interface Held {
  server: string;
  s: DbSession;
  d: Dialect;
}

async function releaseAll(held: Held[]): Promise<void> {
  await Promise.all(
    held.map(async (h) => {
      if (h.s.alive) await h.s.query(h.d.releaseFailoverLock(), 1000).catch(() => undefined);
      h.s.close();
    }),
  );
}

/**
 * Takes the lock on every server (in parallel; each waits up to waitSec for a purge to finish). All
 * or nothing: when one is held elsewhere, the ones taken are released and the holders are named.
 */
export async function takeFailoverLocks(servers: readonly ServerConfig[], cluster: ClusterConfig, o: { waitSec: number }): Promise<FailoverLocks> {
  const held: Held[] = [];
  const busy: LockHolder[] = [];
  const unreachable: string[] = [];
  await Promise.all(
    servers.map(async (srv) => {
      let s: DbSession;
      try {
        s = await openSession({ name: srv.name, host: srv.ip, port: srv.port, user: srv.user, password: srv.password }, { connectTimeoutMs: Math.min(2000, cluster.connect_timeout * 1000), queryTimeoutMs: Math.max(2000, cluster.query_timeout * 1000) });
      } catch {
        unreachable.push(srv.name);
        return;
      }
      try {
        const [v] = await s.query<{ version: string; version_comment: string | null }>(VERSION_QUERY);
        const d = dialectFor(parseVersion(String(v?.version), v?.version_comment ?? undefined));
        const [r] = await s.query<{ Value: unknown }>(d.getFailoverLock(o.waitSec), (o.waitSec + 3) * 1000);
        const got = d.parseLockResult(r?.Value);
        if (got === 'acquired') {
          held.push({ server: srv.name, s, d });
          return;
        }
        busy.push({ server: srv.name, holder: got === 'busy' ? await describeHolder(s, d) : 'GET_LOCK failed' });
        s.close();
      } catch (err) {
        // It answered, then failed: it cannot be left out silently.
        busy.push({ server: srv.name, holder: `could not take the lock: ${(err as Error).message}` });
        s.destroy();
      }
    }),
  );
  if (busy.length > 0) {
    await releaseAll(held);
    const who = busy.map((b) => `${b.server}${b.holder ? ` (${b.holder})` : ''}`).join('; ');
    return { ok: false, busy, message: `MHA's failover lock (MHA_Master_High_Availability_Failover) is held on ${who}: another failover or switchover (a mhats manager, mhats failover/switchover, or MHA) or a relay-log purge is running on this cluster` };
  }
  return { ok: true, held: held.map((h) => h.server), unreachable, release: () => releaseAll(held) };
}

async function describeHolder(s: DbSession, d: Dialect): Promise<string | undefined> {
  try {
    const [h] = await s.query<{ Value: unknown }>(`SELECT IS_USED_LOCK('${Dialect.FAILOVER_LOCK}') AS Value`);
    const id = d.parseLockHolder(h?.Value);
    if (id === null) return undefined;
    const [p] = await s.query<{ who: string }>({ sql: "SELECT CONCAT(USER, '@', HOST, ', for ', TIME, ' s') AS who FROM information_schema.PROCESSLIST WHERE ID = ?", values: [id] });
    return p ? `held by connection ${id}, ${p.who}` : `held by connection ${id}`;
  } catch {
    return undefined;
  }
}
