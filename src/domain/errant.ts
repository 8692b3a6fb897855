/**
 * Errant GTIDs per server (transactions a replica has that its master does
 * not: written on the replica directly). Pure: the topology analysis in, a
 * report out; and the single GTIDs an empty-transaction repair would inject
 * (MySQL only: MariaDB GTIDs are positions, not sets).
 */
import { errantGtids, mysqlGtidCount, mysqlGtidSubtract, mysqlGtidUnion, parseMysqlGtidSet, formatMysqlGtidSet, type MysqlGtidSet } from './gtid.js';
import type { TopologyAnalysis } from './topology.js';
import type { Flavor } from './types.js';

export interface ErrantServer {
  server: string;
  /** As errantGtids() words it: a MySQL GTID set, or MariaDB entries with what the master has. */
  errant: string;
  /** MySQL: the number of transactions. MariaDB: unknown (positions, not sets). */
  count?: number | undefined;
}

export interface ErrantReport {
  master?: string | undefined;
  flavor?: Flavor | undefined;
  servers: ErrantServer[];
  /** Why nothing could be compared (no master observed, ...). */
  unknown?: string | undefined;
}

export function errantReport(a: TopologyAnalysis): ErrantReport {
  const m = a.masterObs;
  if (m === undefined) return { master: a.master, servers: [], unknown: a.master ? `the master ${a.master} could not be observed` : 'no master found' };
  const servers: ErrantServer[] = [];
  for (const r of a.replicas) {
    if (r.obs.version.flavor !== m.version.flavor) continue;
    let e = '';
    try {
      e = errantGtids(m.version.flavor, r.obs.gtid, m.gtid);
    } catch {
      continue;
    }
    if (e === '') continue;
    servers.push({ server: r.name, errant: e, ...(m.version.flavor === 'mysql' ? { count: mysqlGtidCount(parseMysqlGtidSet(e)) } : {}) });
  }
  return { master: m.name, flavor: m.version.flavor, servers };
}

/** The union of every server's errant set, minus what the master already has (MySQL). */
export function errantUnion(report: ErrantReport, masterExecuted: string): MysqlGtidSet {
  let u: MysqlGtidSet = new Map();
  for (const s of report.servers) u = mysqlGtidUnion(u, parseMysqlGtidSet(s.errant));
  return mysqlGtidSubtract(u, parseMysqlGtidSet(masterExecuted));
}

/** Single GTIDs (uuid:n) of a set, in order; refuses more than `cap` (say why rather than run for hours). */
export function singleGtids(set: MysqlGtidSet, cap: number): { ok: true; gtids: string[] } | { ok: false; reason: string } {
  const n = mysqlGtidCount(set);
  if (n > cap) return { ok: false, reason: `${n} errant transactions (${formatMysqlGtidSet(set)}): more than ${cap} empty transactions to inject; a replica with that many is better reseeded` };
  const out: string[] = [];
  for (const [uuid, ivs] of set) for (const [a, b] of ivs) for (let i = a; i <= b; i++) out.push(`${uuid}:${i}`);
  return { ok: true, gtids: out };
}

/** Why MariaDB cannot take the empty-transaction repair, and what to do instead. */
export const MARIADB_INJECT_EXPLANATION = [
  'MariaDB GTIDs are positions (domain-server_id-sequence), not sets: a server keeps one last position per replication domain, and a replica compares positions, not lists of transactions.',
  "An empty transaction on the master cannot carry the replica's server_id and sequence number without moving the master's own position in that domain (later transactions would then be skipped or refused as out of order under gtid_strict_mode): there is no safe equivalent of MySQL's empty-transaction repair.",
  'Instead: if the errant changes are wanted, apply them on the master by hand (they then replicate to everyone); if they are not, reseed the replica from the master. Writes on replicas are prevented by read_only (and by giving applications no SUPER / READ ONLY ADMIN).',
];
