/**
 * Pre-failover checks on the survivors, pure. The master is dead, so errant
 * transactions are judged against what the other survivors (and the master,
 * as last observed) have: a transaction that only one replica has and that
 * did not come from the dead master was written on that replica directly.
 */
import { formatMysqlGtidSet, mysqlGtidSubtract, mysqlGtidUnion, parseMariadbGtidList, parseMysqlGtidSet, type MysqlGtidSet } from './gtid.js';
import type { Flavor, GtidState } from './types.js';

export interface SurvivorGtid {
  name: string;
  serverId: number;
  serverUuid?: string | undefined;
  gtid: GtidState;
}

function mariaEntries(g: GtidState): string[] {
  return [g.binlogState, g.binlogPos, g.slavePos, g.executed].filter((s): s is string => s !== undefined && s.trim() !== '');
}

/** Errant transactions per survivor ('' entries omitted). */
export function errantAmongSurvivors(
  flavor: Flavor,
  survivors: SurvivorGtid[],
  deadMaster: { serverId: number; serverUuid?: string | undefined; lastGtid?: GtidState | undefined },
): Array<{ name: string; errant: string }> {
  const out: Array<{ name: string; errant: string }> = [];
  for (const r of survivors) {
    const others = survivors.filter((o) => o.name !== r.name);
    if (flavor === 'mysql') {
      if (others.length === 0 && !deadMaster.lastGtid) continue; // nothing to compare with: cannot judge
      let known: MysqlGtidSet = new Map();
      for (const o of others) known = mysqlGtidUnion(known, parseMysqlGtidSet(o.gtid.executed));
      if (deadMaster.lastGtid) known = mysqlGtidUnion(known, parseMysqlGtidSet(deadMaster.lastGtid.executed));
      const mine = mysqlGtidSubtract(parseMysqlGtidSet(r.gtid.executed), known);
      if (deadMaster.serverUuid) mine.delete(deadMaster.serverUuid.toLowerCase());
      else {
        // The dead master's UUID is unknown (a manual failover: it was never observed alive). A
        // transaction written on a survivor carries that survivor's UUID; any other one came from
        // upstream, and the most advanced replica simply received more of it: not errant.
        const own = new Set(survivors.map((o) => o.serverUuid?.toLowerCase()).filter((u): u is string => u !== undefined));
        for (const uuid of [...mine.keys()]) if (!own.has(uuid)) mine.delete(uuid);
      }
      const s = formatMysqlGtidSet(mine);
      if (s !== '') out.push({ name: r.name, errant: s });
      continue;
    }
    const best = new Map<string, bigint>();
    const sources = [...others.map((o) => o.gtid), ...(deadMaster.lastGtid ? [deadMaster.lastGtid] : [])];
    if (sources.length === 0) continue; // nothing to compare with: cannot judge
    for (const g of sources) {
      for (const list of mariaEntries(g)) {
        for (const e of parseMariadbGtidList(list)) {
          const k = `${e.domain}-${e.serverId}`;
          const cur = best.get(k);
          if (cur === undefined || e.seq > cur) best.set(k, e.seq);
        }
      }
    }
    const own = r.gtid.binlogState && r.gtid.binlogState.trim() !== '' ? r.gtid.binlogState : r.gtid.executed;
    const errant: string[] = [];
    // Dead master unknown (manual failover, never observed): only survivors' own server_ids can be errant.
    const survivorIds = new Set(survivors.map((o) => o.serverId));
    for (const e of parseMariadbGtidList(own)) {
      if (e.serverId === deadMaster.serverId) continue; // came from the dead master: at worst unreceived elsewhere, never errant
      if (deadMaster.serverId < 0 && !survivorIds.has(e.serverId)) continue;
      const k = `${e.domain}-${e.serverId}`;
      const known = best.get(k);
      if (known === undefined || known < e.seq) errant.push(`${e.domain}-${e.serverId}-${e.seq}`);
    }
    if (errant.length > 0) out.push({ name: r.name, errant: errant.join(',') });
  }
  return out;
}
