/**
 * The lost-transaction report (pure): what the old master had, as last seen,
 * that no survivor has. Exact by GTID where the flavour has them (MariaDB
 * always; MySQL with gtid_mode=ON), by binlog coordinates otherwise.
 */
import { formatCoord, compareCoords } from './binlog-coord.js';
import { formatMysqlGtidSet, mysqlGtidCount, mysqlGtidSubtract, mysqlGtidUnion, parseMariadbGtidList, parseMysqlGtidSet, type MysqlGtidSet } from './gtid.js';
import type { MasterPosition } from './detector.js';
import type { BinlogCoord, Flavor } from './types.js';
import { isoTime } from './time.js';

export interface SurvivorPosition {
  /** Everything this survivor has from the master, as GTID positions/sets (MariaDB: gtid_binlog_pos and gtid_slave_pos). */
  gtids: string[];
  /** Its applied position in the old master's binlog. */
  exec?: BinlogCoord | undefined;
}

export interface LostReport {
  /** 'none', or what was lost. */
  text: string;
  count?: number | undefined;
  exact: boolean;
}

export function lostTransactions(flavor: Flavor, master: MasterPosition | undefined, survivors: SurvivorPosition[]): LostReport {
  if (master === undefined) return { text: 'unknown: the old master was never observed', exact: false };
  const asOf = `as of its last successful health check at ${isoTime(master.at)}; anything it acknowledged after that is unknown`;
  if (master.gtid !== undefined && master.gtid.trim() !== '') {
    if (flavor === 'mariadb') {
      const best = new Map<number, bigint>();
      for (const s of survivors) {
        for (const list of s.gtids) {
          for (const g of parseMariadbGtidList(list)) {
            const cur = best.get(g.domain);
            if (cur === undefined || g.seq > cur) best.set(g.domain, g.seq);
          }
        }
      }
      const parts: string[] = [];
      let count = 0n;
      for (const m of parseMariadbGtidList(master.gtid)) {
        const have = best.get(m.domain) ?? 0n;
        if (m.seq > have) {
          const first = have + 1n;
          parts.push(first === m.seq ? `${m.domain}-${m.serverId}-${m.seq}` : `${m.domain}-${m.serverId}-${first}..${m.domain}-${m.serverId}-${m.seq}`);
          count += m.seq - have;
        }
      }
      if (parts.length === 0) return { text: `none (${asOf})`, count: 0, exact: true };
      return { text: `${count} transaction(s): ${parts.join(', ')} (${asOf})`, count: Number(count), exact: true };
    }
    let have: MysqlGtidSet = new Map();
    for (const s of survivors) for (const list of s.gtids) have = mysqlGtidUnion(have, parseMysqlGtidSet(list));
    const lost = mysqlGtidSubtract(parseMysqlGtidSet(master.gtid), have);
    const n = mysqlGtidCount(lost);
    if (n === 0) return { text: `none (${asOf})`, count: 0, exact: true };
    return { text: `${n} transaction(s): ${formatMysqlGtidSet(lost)} (${asOf})`, count: n, exact: true };
  }
  const best = survivors.map((s) => s.exec).filter((c): c is BinlogCoord => c !== undefined).sort(compareCoords).at(-1);
  if (master.coord === undefined || best === undefined) return { text: 'unknown: no binlog position to compare', exact: false };
  if (compareCoords(master.coord, best) <= 0) return { text: `none (${asOf})`, count: 0, exact: true };
  return { text: `the old master's binlog from ${formatCoord(best)} to ${formatCoord(master.coord)} (${asOf})`, exact: false };
}
