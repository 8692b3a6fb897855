/**
 * GTID arithmetic for both flavours. Pure.
 *
 * MySQL: a GTID set is 'uuid:1-5:7,uuid2:1-3' (whitespace and newlines allowed, UUIDs in any case).
 * Tagged GTIDs (MySQL 8.3+/8.4, WL#15294) are supported: 'uuid:1-5:mytag:1-3' means the untagged
 * transactions 1-5 of uuid plus the transactions 1-3 of uuid tagged "mytag". In a MysqlGtidSet a
 * tagged sequence is keyed 'uuid:tag' (tag lower-cased), an untagged one by 'uuid'.
 *
 * MariaDB: a GTID is 'domain-server_id-seq'. Positions (gtid_binlog_pos, gtid_slave_pos,
 * gtid_current_pos) list one GTID per domain: the last one. gtid_binlog_state lists one per
 * (domain, server_id). Sequence numbers are 64-bit unsigned, hence bigint.
 */
import type { Flavor, GtidState } from './types.js';

// ---------------------------------------------------------------------------------------------
// MySQL

/** Keyed by 'uuid' or 'uuid:tag'; intervals are inclusive, sorted, merged, non-empty. */
export type MysqlGtidSet = Map<string, Array<[number, number]>>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_NODASH_RE = /^[0-9a-f]{32}$/;
const TAG_RE = /^[a-z_][a-z0-9_]{0,31}$/;
const INTERVAL_RE = /^(\d+)(?:-(\d+))?$/;

function normUuid(raw: string, whole: string): string {
  const u = raw.toLowerCase();
  if (UUID_RE.test(u)) return u;
  if (UUID_NODASH_RE.test(u)) return `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`;
  throw new Error(`invalid GTID set ${JSON.stringify(whole)}: ${JSON.stringify(raw)} is not a UUID`);
}

function gno(s: string, whole: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`invalid GTID set ${JSON.stringify(whole)}: transaction number ${s} is too large`);
  if (n < 1) throw new Error(`invalid GTID set ${JSON.stringify(whole)}: transaction numbers start at 1`);
  return n;
}

function normalizeIntervals(ivs: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ivs].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1] + 1) {
      if (e > last[1]) last[1] = e;
    } else {
      out.push([s, e]);
    }
  }
  return out;
}

function addIntervals(set: MysqlGtidSet, key: string, ivs: Array<[number, number]>): void {
  const cur = set.get(key) ?? [];
  set.set(key, normalizeIntervals([...cur, ...ivs]));
}

/** Parses a MySQL GTID set. '' (or only whitespace) is the empty set. Throws a clear Error on garbage. */
export function parseMysqlGtidSet(s: string): MysqlGtidSet {
  if (typeof s !== 'string') throw new Error(`GTID set must be a string, got ${typeof s}`);
  const whole = s;
  const flat = s.replace(/\s+/g, '');
  const set: MysqlGtidSet = new Map();
  if (flat === '') return set;
  for (const seg of flat.split(',')) {
    if (seg === '') throw new Error(`invalid GTID set ${JSON.stringify(whole)}: empty element`);
    const parts = seg.split(':');
    const uuid = normUuid(parts[0] ?? '', whole);
    if (parts.length < 2) throw new Error(`invalid GTID set ${JSON.stringify(whole)}: ${JSON.stringify(seg)} has no transaction numbers`);
    let key = uuid;
    let pendingTag = false;
    for (const p of parts.slice(1)) {
      const m = INTERVAL_RE.exec(p);
      if (m !== null) {
        const a = gno(m[1] ?? '', whole);
        const b = m[2] === undefined ? a : gno(m[2], whole);
        if (b < a) throw new Error(`invalid GTID set ${JSON.stringify(whole)}: interval ${p} ends before it starts`);
        addIntervals(set, key, [[a, b]]);
        pendingTag = false;
        continue;
      }
      const tag = p.toLowerCase();
      if (TAG_RE.test(tag)) {
        if (pendingTag) throw new Error(`invalid GTID set ${JSON.stringify(whole)}: tag without transaction numbers in ${JSON.stringify(seg)}`);
        key = `${uuid}:${tag}`;
        pendingTag = true;
        continue;
      }
      throw new Error(`invalid GTID set ${JSON.stringify(whole)}: ${JSON.stringify(p)} is neither an interval nor a tag`);
    }
    if (pendingTag) throw new Error(`invalid GTID set ${JSON.stringify(whole)}: tag without transaction numbers in ${JSON.stringify(seg)}`);
  }
  return set;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf(':');
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
}

function fmtIntervals(ivs: Array<[number, number]>): string {
  return ivs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(':');
}

/** Canonical text: UUIDs sorted, untagged intervals first then tags sorted, intervals merged; ',' between UUIDs. */
export function formatMysqlGtidSet(s: MysqlGtidSet): string {
  const byUuid = new Map<string, Array<[string, Array<[number, number]>]>>();
  for (const [key, ivs] of s) {
    const norm = normalizeIntervals(ivs);
    if (norm.length === 0) continue;
    const [uuid, tag] = splitKey(key);
    const list = byUuid.get(uuid) ?? [];
    list.push([tag, norm]);
    byUuid.set(uuid, list);
  }
  const out: string[] = [];
  for (const uuid of [...byUuid.keys()].sort()) {
    const list = (byUuid.get(uuid) ?? []).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const parts = [uuid];
    for (const [tag, ivs] of list) {
      if (tag !== '') parts.push(tag);
      parts.push(fmtIntervals(ivs));
    }
    out.push(parts.join(':'));
  }
  return out.join(',');
}

function subtractIntervals(a: Array<[number, number]>, b: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const bs = normalizeIntervals(b);
  for (const [s0, e] of normalizeIntervals(a)) {
    let s = s0;
    for (const [bs0, be] of bs) {
      if (be < s) continue;
      if (bs0 > e) break;
      if (bs0 > s) out.push([s, bs0 - 1]);
      s = be + 1;
      if (s > e) break;
    }
    if (s <= e) out.push([s, e]);
  }
  return out;
}

/** a − b */
export function mysqlGtidSubtract(a: MysqlGtidSet, b: MysqlGtidSet): MysqlGtidSet {
  const out: MysqlGtidSet = new Map();
  for (const [key, ivs] of a) {
    const rest = subtractIntervals(ivs, b.get(key) ?? []);
    if (rest.length > 0) out.set(key, rest);
  }
  return out;
}

/** a ∪ b */
export function mysqlGtidUnion(a: MysqlGtidSet, b: MysqlGtidSet): MysqlGtidSet {
  const out: MysqlGtidSet = new Map();
  for (const src of [a, b]) for (const [key, ivs] of src) addIntervals(out, key, ivs);
  for (const [key, ivs] of out) if (ivs.length === 0) out.delete(key);
  return out;
}

/** a ∩ b */
export function mysqlGtidIntersect(a: MysqlGtidSet, b: MysqlGtidSet): MysqlGtidSet {
  return mysqlGtidSubtract(a, mysqlGtidSubtract(a, b));
}

/** a ⊆ b */
export function mysqlGtidIsSubset(a: MysqlGtidSet, b: MysqlGtidSet): boolean {
  return mysqlGtidCount(mysqlGtidSubtract(a, b)) === 0;
}

export function mysqlGtidEquals(a: MysqlGtidSet, b: MysqlGtidSet): boolean {
  return mysqlGtidIsSubset(a, b) && mysqlGtidIsSubset(b, a);
}

/** Number of transactions in the set. */
export function mysqlGtidCount(a: MysqlGtidSet): number {
  let n = 0;
  for (const ivs of a.values()) for (const [s, e] of normalizeIntervals(ivs)) n += e - s + 1;
  return n;
}

// ---------------------------------------------------------------------------------------------
// MariaDB

export interface MariadbGtid {
  domain: number;
  serverId: number;
  seq: bigint;
}

const U32 = 4294967295;
const U64 = 18446744073709551615n;
const MARIA_RE = /^(\d+)-(\d+)-(\d+)$/;

/** 'domain-server-seq,...' (whitespace allowed). '' is the empty list. Throws a clear Error on garbage. */
export function parseMariadbGtidList(s: string): MariadbGtid[] {
  if (typeof s !== 'string') throw new Error(`GTID list must be a string, got ${typeof s}`);
  const flat = s.replace(/\s+/g, '');
  if (flat === '') return [];
  return flat.split(',').map((item) => {
    const m = MARIA_RE.exec(item);
    if (m === null) throw new Error(`invalid MariaDB GTID list ${JSON.stringify(s)}: ${JSON.stringify(item)} is not domain-server_id-seq`);
    const domain = Number(m[1]);
    const serverId = Number(m[2]);
    const seq = BigInt(m[3] ?? '0');
    if (domain > U32) throw new Error(`invalid MariaDB GTID ${item}: domain id out of range`);
    if (serverId > U32) throw new Error(`invalid MariaDB GTID ${item}: server id out of range`);
    if (seq > U64) throw new Error(`invalid MariaDB GTID ${item}: sequence number out of range`);
    return { domain, serverId, seq };
  });
}

/** Formats in the order given. */
export function formatMariadbGtidList(l: readonly MariadbGtid[]): string {
  return l.map((g) => `${g.domain}-${g.serverId}-${g.seq}`).join(',');
}

function formatMariadbGtid(g: MariadbGtid): string {
  return `${g.domain}-${g.serverId}-${g.seq}`;
}

/** A position per domain (the highest seq when a domain is listed more than once). */
function positionByDomain(l: readonly MariadbGtid[]): Map<number, MariadbGtid> {
  const m = new Map<number, MariadbGtid>();
  for (const g of l) {
    const cur = m.get(g.domain);
    if (cur === undefined || g.seq > cur.seq) m.set(g.domain, g);
  }
  return m;
}

/** Highest seq seen per (domain, server_id). */
function stateByOrigin(lists: ReadonlyArray<readonly MariadbGtid[]>): Map<string, MariadbGtid> {
  const m = new Map<string, MariadbGtid>();
  for (const l of lists) {
    for (const g of l) {
      const k = `${g.domain}-${g.serverId}`;
      const cur = m.get(k);
      if (cur === undefined || g.seq > cur.seq) m.set(k, g);
    }
  }
  return m;
}

function nonEmpty(s: string | undefined): s is string {
  return s !== undefined && s.trim() !== '';
}

// ---------------------------------------------------------------------------------------------
// Flavour-generic questions

/**
 * Transactions on the replica that its master does not have (errant). '' when none.
 *
 * MySQL: the canonical GTID set replica.executed − master.executed.
 *
 * MariaDB: every (domain, server_id, seq) the replica has logged — its gtid_binlog_state, or its
 * gtid_current_pos when the state is unknown — is checked against what the master is known to
 * have: the highest seq per (domain, server_id) over the master's gtid_binlog_state,
 * gtid_binlog_pos, gtid_slave_pos and gtid_current_pos. An entry is errant when the master has
 * nothing from that (domain, server_id), or only a lower seq. Per-domain seq comparison alone
 * would be wrong: master 0-1-100 does NOT contain a replica's local 0-2-5. A replica that once was
 * the master (entries 0-2-n) is not errant as long as the master also has 0-2-n.
 * The answer is a human-readable list, e.g. "0-2-5 (master has nothing from server_id 2 in domain 0)".
 */
export function errantGtids(flavor: Flavor, replica: GtidState, master: GtidState): string {
  if (flavor === 'mysql') {
    return formatMysqlGtidSet(mysqlGtidSubtract(parseMysqlGtidSet(replica.executed), parseMysqlGtidSet(master.executed)));
  }
  const replicaEntries = parseMariadbGtidList(nonEmpty(replica.binlogState) ? replica.binlogState : replica.executed);
  const known = stateByOrigin([master.binlogState, master.binlogPos, master.slavePos, master.executed].filter(nonEmpty).map(parseMariadbGtidList));
  const out: string[] = [];
  for (const g of stateByOrigin([replicaEntries]).values()) {
    const m = known.get(`${g.domain}-${g.serverId}`);
    if (m === undefined) out.push(`${formatMariadbGtid(g)} (master has nothing from server_id ${g.serverId} in domain ${g.domain})`);
    else if (m.seq < g.seq) out.push(`${formatMariadbGtid(g)} (master has only up to ${formatMariadbGtid(m)})`);
  }
  return out.join(', ');
}

/**
 * Does A already contain everything of B (A ⊇ B)?
 * MySQL: set containment. MariaDB: positions (gtid_current_pos / gtid_binlog_pos / gtid_slave_pos):
 * for every domain of B, A has that domain with a higher seq, or the same seq from the same
 * server_id. Same seq from another server_id means the histories diverged: false. A higher seq
 * is taken to contain B's GTID (true under gtid_strict_mode; positions alone cannot tell more).
 */
export function gtidContains(flavor: Flavor, a: string, b: string): boolean {
  if (flavor === 'mysql') return mysqlGtidIsSubset(parseMysqlGtidSet(b), parseMysqlGtidSet(a));
  const pa = positionByDomain(parseMariadbGtidList(a));
  for (const gb of positionByDomain(parseMariadbGtidList(b)).values()) {
    const ga = pa.get(gb.domain);
    if (ga === undefined || ga.seq < gb.seq) return false;
    if (ga.seq === gb.seq && ga.serverId !== gb.serverId) return false;
  }
  return true;
}

/**
 * "Most advanced" ordering of two positions: 1 when a is ahead of b (a ⊋ b), -1 when behind,
 * 0 when equal, undefined when incomparable (each has something the other lacks: diverged).
 * MariaDB compares per domain as gtidContains does.
 */
export function compareGtidPositions(flavor: Flavor, a: string, b: string): -1 | 0 | 1 | undefined {
  let aHasMore: boolean;
  let bHasMore: boolean;
  if (flavor === 'mysql') {
    const sa = parseMysqlGtidSet(a);
    const sb = parseMysqlGtidSet(b);
    aHasMore = !mysqlGtidIsSubset(sa, sb);
    bHasMore = !mysqlGtidIsSubset(sb, sa);
  } else {
    const pa = positionByDomain(parseMariadbGtidList(a));
    const pb = positionByDomain(parseMariadbGtidList(b));
    aHasMore = false;
    bHasMore = false;
    for (const d of new Set([...pa.keys(), ...pb.keys()])) {
      const ga = pa.get(d);
      const gb = pb.get(d);
      if (gb === undefined) aHasMore = true;
      else if (ga === undefined) bHasMore = true;
      else if (ga.seq > gb.seq) aHasMore = true;
      else if (ga.seq < gb.seq) bHasMore = true;
      else if (ga.serverId !== gb.serverId) return undefined;
    }
  }
  if (aHasMore && bHasMore) return undefined;
  if (aHasMore) return 1;
  if (bHasMore) return -1;
  return 0;
}

/** Parses either flavour, only to validate: throws a clear Error on garbage. */
export function validateGtidText(flavor: Flavor, s: string): void {
  if (flavor === 'mysql') parseMysqlGtidSet(s);
  else parseMariadbGtidList(s);
}
