/**
 * What a server holds of the replication stream, as one GTID position (pure).
 *
 * MariaDB keeps three positions and none of them alone says what a server
 * holds: gtid_binlog_pos lacks replicated transactions when
 * log_slave_updates=OFF (MariaDB's default) and is empty without a binlog;
 * gtid_slave_pos lacks what a client applied (a relay-log diff, the dead
 * master's saved binlog); gtid_current_pos takes gtid_binlog_pos only for the
 * server's own server_id. Within a domain, sequence numbers only grow, so the
 * highest one over the three is what the server holds.
 *
 * MySQL: gtid_executed holds everything.
 */
import { formatMariadbGtidList, parseMariadbGtidList, type MariadbGtid } from '../gtid.js';
import type { Flavor, GtidState } from '../types.js';

/** Per domain, the highest GTID over all the lists given (MariaDB). */
export function mariadbMaxPosition(lists: ReadonlyArray<string | undefined>): string {
  const best = new Map<number, MariadbGtid>();
  for (const l of lists) {
    if (l === undefined || l.trim() === '') continue;
    for (const g of parseMariadbGtidList(l)) {
      const cur = best.get(g.domain);
      if (cur === undefined || g.seq > cur.seq) best.set(g.domain, g);
    }
  }
  return formatMariadbGtidList([...best.values()].sort((a, b) => a.domain - b.domain));
}

/** Everything a server holds, as one GTID position (MariaDB) or set (MySQL). '' when it has none. */
export function holdings(flavor: Flavor, g: GtidState): string {
  if (flavor === 'mysql') return g.executed;
  return mariadbMaxPosition([g.binlogPos, g.slavePos, g.executed]);
}

/**
 * What a MariaDB replica's gtid_slave_pos must become after a client applied
 * `applied` (GTIDs of a relay-log diff) to it: each domain advanced to the
 * applied transaction, so that replicating by GTID never sends them again.
 */
export function advanceSlavePos(slavePos: string, applied: readonly string[]): string {
  return mariadbMaxPosition([slavePos, ...applied]);
}
