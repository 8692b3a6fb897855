/**
 * Which failed old masters are watched for their return (src/engine/return-watch.ts): every
 * server the journal holds failed (not rejoined, not adopted) whose last failover ended less than
 * `windowMs` ago. A mysqld killed during a failover is typically started again within seconds
 * (systemd Restart=, an operator); without read_only=ON in its my.cnf it comes back writable,
 * and the monitor's regular tick would fence it up to a ping_interval later. Past the window the
 * tick alone watches it (one connection attempt per failed server every ~100 ms is cheap, but not
 * forever). Pure: summaries and clocks in, names out.
 */
import type { FailoverSummary } from './guard.js';

export function serversToWatchForReturn(summaries: FailoverSummary[], failed: readonly string[], now: number, windowMs: number): string[] {
  if (failed.length === 0) return [];
  const out: string[] = [];
  for (const name of failed) {
    let last: number | undefined;
    for (const s of summaries) {
      if ((s.demoted ?? s.deadMaster) !== name) continue;
      const at = s.endedAt ?? s.promotedAt ?? s.startedAt;
      if (last === undefined || at > last) last = at;
    }
    // A failed server with no failover of its own in the journal (should not happen): watched like a fresh one.
    if (last === undefined || now - last < windowMs) out.push(name);
  }
  return out;
}

/** How long after a failover its old master is watched for its return: last_failover_minute, at least 10 minutes. */
export function returnWatchWindowMs(lastFailoverMinute: number): number {
  return Math.max(10, lastFailoverMinute) * 60_000;
}
