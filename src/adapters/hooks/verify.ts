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
  // Short first attempts, growing: a connection opened before the neighbours learnt the address's new MAC
  // (the gratuitous ARP is sent beside this check) has its SYN dropped by the old host, and the kernel
  // would resend it only after a second. A new attempt sends a new SYN at once.
  let per = 300;
  let want: Promise<Identity> | undefined;
  let last = '';
  for (;;) {
    // The new master's own identity once (asked again only if that failed), beside each attempt through the address.
    if (want === undefined) {
      const w = identityAt(nm.ip, nm.port, nm, Math.max(1000, Math.min(3000, end - performance.now())));
      w.catch(() => {
        if (want === w) want = undefined;
      });
      want = w;
    }
    const budget = Math.max(100, Math.min(per, end - performance.now()));
    per = Math.min(3000, per * 2);
    try {
      // Both connections at once: this check is on a VIP move's critical path.
      const [w, got] = await Promise.all([want, identityAt(host, port, nm, budget)]);
      if (got.serverId === w.serverId) return undefined;
      last = `${host}:${port} reaches server_id ${got.serverId}, not ${nm.name} (server_id ${w.serverId})`;
    } catch (err) {
      last = `${host}:${port}: ${(err as Error).message}`;
    }
    if (performance.now() + 50 > end) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}
