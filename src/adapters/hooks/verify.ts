/**
 * "Does this address reach the new master?": a MySQL connection through it
 * (a VIP, HAProxy) with the new master's account, compared by server_id with a direct connection to the new master. Hard deadlines.
 */
import type { ServerConfig } from '../../config/types.js';
import { withSession } from '../mysql/connection.js';
import { SERVER_ID_QUERY } from '../mysql/dialect.js';

export interface Identity {
  serverId: number;
}

/** server_id is unique in a replication topology (MariaDB has no server_uuid). */
const Q = SERVER_ID_QUERY;

async function identityAt(host: string, port: number, s: ServerConfig, timeoutMs: number): Promise<Identity> {
  return withSession({ name: `${s.name} via ${host}:${port}`, host, port, user: s.user, password: s.password }, { connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs }, async (sess) => {
    const [row] = await sess.query<{ id: unknown }>(Q);
    return { serverId: Number(row?.id) };
  });
}

/**
 * Polls until a connection to host:port lands on `nm` (the ARP caches and
 * HAProxy need a moment), or the deadline passes. Returns a failure text, or
 * undefined when it reached the new master.
 */
export async function reachesNewMaster(host: string, port: number, nm: ServerConfig, deadlineMs: number): Promise<string | undefined> {
  const end = performance.now() + deadlineMs;
  const per = Math.max(500, Math.min(3000, deadlineMs / 3));
  let want: Identity | undefined;
  let last = '';
  for (;;) {
    try {
      // Both connections at once: this check is on a VIP move's critical path.
      const [w, got] = await Promise.all([want ?? identityAt(nm.ip, nm.port, nm, per), identityAt(host, port, nm, per)]);
      want = w;
      if (got.serverId === want.serverId) return undefined;
      last = `${host}:${port} reaches server_id ${got.serverId}, not ${nm.name} (server_id ${want.serverId})`;
    } catch (err) {
      last = `${host}:${port}: ${(err as Error).message}`;
    }
    if (performance.now() + 200 > end) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
}
