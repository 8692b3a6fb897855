/**
 * MHA's monitor lock (GET_LOCK('MHA_Master_High_Availability_Monitor') on the
 * master), the decisions about it: data in, data out. The adapter that holds
 * the lock is src/adapters/leader/advisory-lock.ts.
 *
 * - A session of this manager that held the lock, then was cut off by the
 *   network, keeps the lock on the master after this side destroyed it: its
 *   FIN waits behind an unacknowledged retransmission, and the server drops
 *   the session only when a retransmission gets through after the route
 *   heals (measured: about 0.6–1.4 s after a 5 s cut, longer after longer
 *   cuts). That holder is this manager, not a second one: it is killed and
 *   the lock taken back.
 * - A conflict (another session holds the lock) blocks automatic failover
 *   only while it can be seen. A lock dies with its server: once the master
 *   refuses connections, or cannot be checked for staleMs, the holder seen
 *   earlier blocks nothing. A second manager that really watches it must
 *   take MHA's failover lock on the replicas first, as this one does, which
 *   keeps the two from promoting twice.
 */

/** A session that held the lock: its connection id and its client address as the server saw it. */
export interface LockSession {
  id: number;
  /** PROCESSLIST.HOST ("ip:port", or "localhost"). */
  host: string;
}

/** Is the holder this manager's own earlier session (same connection id and same client ip:port)? */
export function isOwnOrphan(mine: LockSession | undefined, holder: number | null, holderHost: string | undefined): boolean {
  return mine !== undefined && holder !== null && holder === mine.id && holderHost !== undefined && holderHost === mine.host && /:\d+$/.test(holderHost);
}

/** Does a conflict seen at seenAt still block, now that the master could not be checked (failure kind)? */
export function conflictStillBlocks(seenAt: number, failure: string, now: number, staleMs: number): boolean {
  if (failure === 'refused') return false;
  return now - seenAt < staleMs;
}
