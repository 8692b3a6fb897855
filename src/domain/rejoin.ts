/**
 * Rejoining an old master (mhats rejoin, auto_rejoin), pure.
 *
 * An old master may come back as a replica of the current master only if
 * everything it executed is already there ("contained"). If it committed
 * transactions the cluster does not have (diverged: a partition, writes on
 * the isolated side), it must stay fenced: the exact transactions are listed
 * (GTIDs, or the binlog range), extracted for review, never discarded.
 *
 * What decides:
 *   GTID (MySQL sets; MariaDB domain-server-seq): a transaction of the old
 *     master is contained when the new master has it (MariaDB: the new
 *     master holds that domain and server_id up to at least that seq).
 *   Binlog positions (MySQL without GTID): the failover record maps them. The
 *     new master holds the old master's binlog up to `oldMasterApplied` plus
 *     the next `salvagedTransactions` complete transactions (saved from its
 *     binlog at the failover); every complete transaction after those diverged.
 * A transaction cut short by a crash (no commit event before the binlog file
 * ends) never committed: it is reported, never counted as divergent.
 */
import { compareCoords, formatCoord } from './binlog-coord.js';
import { errantGtids, parseMariadbGtidList, parseMysqlGtidSet, formatMysqlGtidSet, mysqlGtidSubtract, type MysqlGtidSet } from './gtid.js';
import type { BinlogCoord, Flavor, GtidState } from './types.js';

/** One row of SHOW BINLOG EVENTS. */
export interface BinlogEventRow {
  file: string;
  pos: number;
  type: string;
  serverId: number;
  endPos: number;
  info: string;
}

export interface BinlogTxn {
  file: string;
  /** Where its first event starts. */
  start: number;
  /** Where its last event ends (the next event's position). */
  end: number;
  /** Its GTID, when it has one ('uuid:n' or 'd-s-n'). */
  gtid?: string | undefined;
  /** The server_id that wrote it. */
  serverId: number;
  /** False: the binlog ends before its commit (a crash mid-write): it never committed. */
  complete: boolean;
}

const OUTSIDE = new Set(['Format_desc', 'Rotate', 'Gtid_list', 'Binlog_checkpoint', 'Previous_gtids', 'Stop', 'Start_encryption', 'Heartbeat', 'Incident']);

function gtidOfInfo(flavor: Flavor, info: string): string | undefined {
  if (flavor === 'mariadb') return /GTID (\d+-\d+-\d+)/.exec(info)?.[1];
  const m = /GTID_NEXT\s*=\s*'([0-9a-fA-F-]+:\d+)'/.exec(info);
  return m?.[1]?.toLowerCase();
}

/**
 * Groups binlog events (in order, possibly across files) into transactions: a GTID event, or
 * BEGIN, opens one; Xid or COMMIT ends it; a statement outside BEGIN (DDL) is one on its own.
 */
export function transactionsOf(flavor: Flavor, events: readonly BinlogEventRow[]): BinlogTxn[] {
  const out: BinlogTxn[] = [];
  let cur: (BinlogTxn & { inBegin: boolean; standaloneGtid: boolean }) | undefined;
  const close = (complete: boolean, end?: number): void => {
    if (!cur) return;
    out.push({ file: cur.file, start: cur.start, end: end ?? cur.end, gtid: cur.gtid, serverId: cur.serverId, complete });
    cur = undefined;
  };
  for (const e of events) {
    if (cur && e.file !== cur.file) close(false); // the file ended inside it
    if (OUTSIDE.has(e.type)) continue;
    if (e.type === 'Gtid' || e.type === 'Anonymous_Gtid') {
      close(false);
      const gtid = e.type === 'Gtid' ? gtidOfInfo(flavor, e.info) : undefined;
      cur = { file: e.file, start: e.pos, end: e.endPos, gtid, serverId: e.serverId, complete: false, inBegin: flavor === 'mariadb' && /^BEGIN\b/.test(e.info.trim()), standaloneGtid: flavor === 'mariadb' && !/^BEGIN\b/.test(e.info.trim()) };
      continue;
    }
    const info = e.info.trim();
    if (e.type === 'Query' && /^BEGIN\b/i.test(info)) {
      if (!cur) cur = { file: e.file, start: e.pos, end: e.endPos, serverId: e.serverId, complete: false, inBegin: true, standaloneGtid: false };
      cur.inBegin = true;
      cur.end = e.endPos;
      continue;
    }
    if (e.type === 'Xid' || e.type === 'XA_prepare' || (e.type === 'Query' && /^(COMMIT|XA COMMIT|ROLLBACK)\b/i.test(info))) {
      if (!cur) continue;
      close(true, e.endPos);
      continue;
    }
    if (e.type === 'Query' && (!cur || !cur.inBegin)) {
      // A statement outside BEGIN…COMMIT (DDL): a transaction of its own.
      if (!cur) cur = { file: e.file, start: e.pos, end: e.endPos, serverId: e.serverId, complete: false, inBegin: false, standaloneGtid: false };
      close(true, e.endPos);
      continue;
    }
    if (cur) cur.end = e.endPos;
  }
  close(false);
  return out;
}

/** The recorded mapping of a failover (binlog positions): see FailoverReport.rejoinMap. */
export interface RejoinMap {
  oldMaster: string;
  oldMasterApplied: BinlogCoord;
  salvagedTransactions: number;
  salvagedGtids: string[];
  newMaster: string;
  newMasterCoord: BinlogCoord;
}

export interface RejoinInput {
  flavor: Flavor;
  /** How the cluster replicates now. */
  mode: 'gtid' | 'position';
  oldGtid: GtidState;
  newGtid: GtidState;
  /** Transactions of the old master's binlog after `scanFrom`, in order. */
  tail: BinlogTxn[];
  /** Where the scan started (the failover record's coordinate, or the start of the files read). */
  scanFrom: BinlogCoord | undefined;
  /** The scan stopped before the end of the binlog (a cap): divergence before scanFrom cannot be excluded by the scan alone. */
  truncated?: boolean | undefined;
  map?: RejoinMap | undefined;
  /** The old master's server_id (MariaDB: its own GTIDs carry it). */
  oldServerId?: number | undefined;
}

export type RejoinDecision =
  | {
      kind: 'contained';
      /** gtid: by GTID auto-positioning; position: at the new master's coordinate the failover recorded. */
      how: 'gtid' | 'position';
      startAt?: BinlogCoord | undefined;
      /** Transactions cut short by a crash (never committed), for the report. */
      incomplete: BinlogTxn[];
      reason: string;
    }
  | {
      kind: 'diverged';
      divergent: BinlogTxn[];
      /** Every divergent GTID (MySQL: the whole set, also what the scan did not reach). */
      gtids: string[];
      /** From the first divergent transaction's start to the last one's end. */
      range?: { from: BinlogCoord; to: BinlogCoord } | undefined;
      incomplete: BinlogTxn[];
      reason: string;
    }
  | { kind: 'refused'; reason: string };

/** Does the new master hold this MariaDB GTID? (Same domain and server_id up to at least this seq.) */
function mariaKnown(newGtid: GtidState): (gtid: string) => boolean {
  const best = new Map<string, bigint>();
  for (const list of [newGtid.binlogState, newGtid.binlogPos, newGtid.slavePos, newGtid.executed]) {
    if (list === undefined || list.trim() === '') continue;
    for (const e of parseMariadbGtidList(list)) {
      const k = `${e.domain}-${e.serverId}`;
      const cur = best.get(k);
      if (cur === undefined || e.seq > cur) best.set(k, e.seq);
    }
  }
  return (gtid) => {
    const [e] = parseMariadbGtidList(gtid);
    if (e === undefined) return false;
    const known = best.get(`${e.domain}-${e.serverId}`);
    return known !== undefined && known >= e.seq;
  };
}

/** MariaDB: origins (domain, serverId) where `a` holds a higher seq than `b`, as "d-s-N (it has up to d-s-M)". */
function originsAhead(a: GtidState, b: GtidState, serverId: number): string[] {
  const best = (g: GtidState): Map<number, bigint> => {
    const m = new Map<number, bigint>();
    for (const list of [g.binlogState, g.binlogPos, g.slavePos, g.executed]) {
      if (list === undefined || list.trim() === '') continue;
      for (const e of parseMariadbGtidList(list)) if (e.serverId === serverId && (m.get(e.domain) ?? -1n) < e.seq) m.set(e.domain, e.seq);
    }
    return m;
  };
  const ma = best(a);
  const mb = best(b);
  const out: string[] = [];
  for (const [d, seq] of ma) {
    const have = mb.get(d);
    if (have === undefined || have < seq) out.push(`${d}-${serverId}-${seq} (it has ${have === undefined ? 'nothing' : `up to ${d}-${serverId}-${have}`})`);
  }
  return out;
}

/** Does the new master hold this transaction? By GTID; a transaction without one cannot be told (false). */
export function heldBy(flavor: Flavor, newGtid: GtidState): (t: BinlogTxn) => boolean {
  const known = flavor === 'mariadb' ? mariaKnown(newGtid) : mysqlKnown(parseMysqlGtidSet(newGtid.executed));
  return (t) => t.gtid !== undefined && known(t.gtid);
}

function mysqlKnown(newSet: MysqlGtidSet): (gtid: string) => boolean {
  return (gtid) => mysqlGtidSubtract(parseMysqlGtidSet(gtid), newSet).size === 0;
}

export function decideRejoin(i: RejoinInput): RejoinDecision {
  const incomplete = i.tail.filter((t) => !t.complete);
  const complete = i.tail.filter((t) => t.complete);
  const hasGtid = i.flavor === 'mariadb' || (i.oldGtid.executed.trim() !== '' && i.newGtid.executed.trim() !== '');
  let divergent: BinlogTxn[];
  let gtids: string[];
  /** Divergence found outside the part of the binlog that was read (whole GTID state compared). */
  let outside = '';
  if (hasGtid) {
    const known = i.flavor === 'mariadb' ? mariaKnown(i.newGtid) : mysqlKnown(parseMysqlGtidSet(i.newGtid.executed));
    divergent = complete.filter((t) => t.gtid === undefined || !known(t.gtid));
    gtids = divergent.flatMap((t) => (t.gtid ? [t.gtid] : []));
    if (i.flavor === 'mysql') {
      const extra = mysqlGtidSubtract(parseMysqlGtidSet(i.oldGtid.executed), parseMysqlGtidSet(i.newGtid.executed));
      for (const g of gtids) for (const [u] of parseMysqlGtidSet(g)) if (extra.has(u)) extra.set(u, mysqlGtidSubtract(new Map([[u, extra.get(u)!]]), parseMysqlGtidSet(g)).get(u) ?? []);
      outside = formatMysqlGtidSet(new Map([...extra].filter(([, iv]) => iv.length > 0)));
    } else if (divergent.length === 0) {
      outside = errantGtids('mariadb', i.oldGtid, i.newGtid);
    }
  } else if (i.map) {
    const after = complete.filter((t) => compareCoords({ file: t.file, pos: t.start }, i.map!.oldMasterApplied) >= 0);
    if (after.length < i.map.salvagedTransactions) {
      return { kind: 'refused', reason: `its binlog holds ${after.length} complete transaction(s) after ${formatCoord(i.map.oldMasterApplied)}, fewer than the ${i.map.salvagedTransactions} saved from it at the failover: it lost part of its binlog (a crash without sync_binlog=1?). Replicating from the recorded position would skip transactions: reseed it from the current master` };
    }
    divergent = after.slice(i.map.salvagedTransactions);
    gtids = [];
  } else {
    return { kind: 'refused', reason: 'its transactions carry no GTIDs and no failover record maps its binlog coordinates to the current master: containment cannot be proven; reseed it from the current master' };
  }
  if (divergent.length > 0 || outside !== '') {
    const range = divergent.length > 0 ? { from: { file: divergent[0]!.file, pos: divergent[0]!.start }, to: { file: divergent[divergent.length - 1]!.file, pos: divergent[divergent.length - 1]!.end } } : undefined;
    const parts = [
      ...(divergent.length > 0 ? [`${divergent.length} transaction(s) the current master does not have${gtids.length ? ` (${gtids.join(', ')})` : ''}, in its binlog from ${formatCoord(range!.from)} to ${formatCoord(range!.to)}`] : []),
      ...(outside !== '' ? [`transactions the current master does not have before the part of its binlog that was read: ${outside}`] : []),
    ];
    return { kind: 'diverged', divergent, gtids: outside !== '' && i.flavor === 'mysql' ? [...gtids, outside] : gtids, range, incomplete, reason: `it committed ${parts.join('; and ')}` };
  }
  if (i.truncated && i.map === undefined && i.flavor === 'mysql' && !hasGtid) {
    return { kind: 'refused', reason: 'only the end of its binlog was read and no failover record says where to start: containment cannot be proven; reseed it' };
  }
  if (i.mode === 'gtid') return { kind: 'contained', how: 'gtid', incomplete, reason: 'everything it executed is on the current master (by GTID)' };
  if (!i.map) return { kind: 'refused', reason: "the cluster replicates by binlog positions and no failover record maps this server's coordinates to the current master's binlog: reseed it, or switch the cluster to GTID" };
  if (i.flavor === 'mariadb' && i.oldServerId !== undefined) {
    // Starting at the recorded coordinate is right only if it still holds everything the new master has from it.
    const lacking = originsAhead(i.newGtid, i.oldGtid, i.oldServerId);
    if (lacking.length > 0) {
      return { kind: 'refused', reason: `the current master holds transactions from it that it no longer has (${lacking.join(', ')}): it lost part of its binlog (a crash without sync_binlog=1?). Replicating from the recorded position would skip them: reseed it from the current master` };
    }
  }
  return { kind: 'contained', how: 'position', startAt: i.map.newMasterCoord, incomplete, reason: `everything it committed is on ${i.map.newMaster}: its binlog up to ${formatCoord(i.map.oldMasterApplied)}${i.map.salvagedTransactions ? ` plus the ${i.map.salvagedTransactions} transaction(s) saved at the failover` : ''}, which ${i.map.newMaster} held at ${formatCoord(i.map.newMasterCoord)}` };
}
