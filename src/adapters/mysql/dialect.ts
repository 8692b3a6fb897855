/**
 * The flavour/dialect layer: every SQL statement mhats sends to a MySQL or
 * MariaDB server is built here, and every row it reads back is parsed here.
 * PURE: no I/O, no clock. The adapters run the statements.
 *
 * Version boundaries (MySQL reference manual, release notes, MariaDB KB):
 * - MySQL 5.7.8   super_read_only (WL#6799).
 * - MySQL 8.0.22  SHOW REPLICA STATUS, START/STOP REPLICA, RESET REPLICA, SHOW REPLICAS.
 *                 The output of SHOW REPLICA|SLAVE STATUS uses the new terminology
 *                 (Source_Host, Replica_IO_Running, Read_Source_Log_Pos, ...) from this
 *                 release on: "only the terminology used for the statement and its output
 *                 has changed". parseReplicaStatus accepts both column sets regardless.
 * - MySQL 8.0.23  CHANGE REPLICATION SOURCE TO with SOURCE_* options, GET_SOURCE_PUBLIC_KEY.
 * - MySQL 8.0.26  SOURCE_POS_WAIT(), log_replica_updates, rpl_semi_sync_source/replica plugins.
 * - MySQL 8.2.0   SHOW BINARY LOG STATUS (Com_show_binary_log_status introduced 8.2.0),
 *                 RESET BINARY LOGS AND GTIDS.
 * - MySQL 8.4.0   SHOW SLAVE STATUS, CHANGE MASTER TO, START/STOP/RESET SLAVE, SHOW MASTER
 *                 STATUS, RESET MASTER, SHOW SLAVE HOSTS and the MASTER_* options of CHANGE
 *                 REPLICATION SOURCE TO are removed; WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS removed.
 *                 MASTER_POS_WAIT() survives as a deprecated alias (not used here).
 * - MySQL 9.x     as 8.4.
 * - MariaDB       keeps SHOW SLAVE STATUS / CHANGE MASTER TO / MASTER_* columns (the REPLICA
 *                 aliases exist from 10.5.1 but we use the SLAVE forms on every version),
 *                 MASTER_USE_GTID, MASTER_GTID_WAIT, MASTER_POS_WAIT, no super_read_only,
 *                 no gtid_mode/server_uuid, semi-sync built in with master/slave names.
 */
import type { BinlogCoord, GtidState, IoThreadState, ReplicaStatus, SemiSyncState, ServerVersion } from '../../domain/types.js';
import type { Secret } from '../../domain/secret.js';
import type { ProcessRow } from '../../domain/switchover.js';

/** A statement with client-side-escaped placeholders (mysql2 query(sql, values)); secrets go in values, never in sql text. */
export interface Sql {
  sql: string;
  values?: unknown[];
  /** Indexes into values that hold secrets: never log them (see describeSql). */
  sensitive?: number[];
}

/** The statement that tells which dialect to use; run it first on every new connection. */
export const VERSION_QUERY = 'SELECT VERSION() AS version, @@version_comment AS version_comment';

/** Which server answers (hooks verify that a VIP or a proxy reaches the new master): column `id`. */
export const SERVER_ID_QUERY = 'SELECT @@global.server_id AS id';

/**
 * Parses SELECT VERSION() (optionally with @@version_comment).
 * '10.11.6-MariaDB-0+deb12u1-log' → mariadb 10.11.6; '8.0.36-28' → mysql 8.0.36;
 * '5.5.5-10.11.6-MariaDB' (the handshake prefix MariaDB 10.x sends to old clients) → mariadb 10.11.6.
 */
export function parseVersion(raw: string, versionComment?: string): ServerVersion {
  if (typeof raw !== 'string') throw new Error(`server version is not a string: ${String(raw)}`);
  const trimmed = raw.trim();
  const isMaria = /mariadb/i.test(trimmed) || (versionComment !== undefined && /mariadb/i.test(versionComment));
  let body = trimmed;
  // MariaDB ≥10 may present itself as '5.5.5-10.x.y-MariaDB' (replication-protocol compatibility hack).
  const prefixed = /^5\.5\.5-(\d+\.\d+\.\d+.*)$/.exec(body);
  if (prefixed?.[1] !== undefined && isMaria) body = prefixed[1];
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,4})(?:$|[-_+~.a-zA-Z ])/.exec(body);
  if (m === null) throw new Error(`cannot parse server version ${JSON.stringify(raw)}: expected "major.minor.patch[-suffix]"`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const patch = Number(m[3]);
  return { flavor: isMaria ? 'mariadb' : 'mysql', major, minor, patch, raw };
}

/** a ≥ (major.minor.patch) */
export function versionAtLeast(v: ServerVersion, major: number, minor: number, patch: number): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

export function formatVersion(v: ServerVersion): string {
  return `${v.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${v.major}.${v.minor}.${v.patch}`;
}

export interface ChangeSourceOptions {
  host: string;
  port: number;
  user: string;
  /** Omitted: the replica keeps the password it has. */
  password?: Secret | undefined;
  /** File/position replication. Mutually exclusive with GTID positioning. */
  coord?: BinlogCoord | undefined;
  /**
   * 'auto': GTID positioning (MySQL SOURCE_AUTO_POSITION=1; MariaDB MASTER_USE_GTID=slave_pos).
   * 'slave_pos' / 'current_pos': MariaDB only (current_pos for a former master whose own writes
   * are only in its binlog). false: file/position (requires coord; MySQL gets AUTO_POSITION=0,
   * MariaDB MASTER_USE_GTID=no). Undefined: false when coord is given, otherwise 'auto'.
   */
  gtid?: 'auto' | 'slave_pos' | 'current_pos' | false;
  /** Seconds between reconnect attempts. */
  connectRetry?: number;
  /** Seconds (fractions allowed, ms resolution). */
  heartbeatPeriod?: number;
  /** MySQL ≥8.0 only (caching_sha2_password without TLS); ignored on 5.7 and MariaDB, which lack it. */
  getSourcePublicKey?: boolean;
  /** MASTER_DELAY / SOURCE_DELAY, seconds (a delayed replica keeps its delay). */
  delay?: number;
}

/** What parseVariables returns. */
export interface VariablesObservation {
  serverId: number;
  serverUuid?: string;
  readOnly: boolean;
  superReadOnly: boolean | null;
  logBin: boolean;
  logSlaveUpdates: boolean;
  binlogFormat: string;
  gtid: GtidState;
  relayLogPurge: boolean;
  reportHost?: string;
  hostname?: string;
  datadir?: string;
  logBinBasename?: string;
}

export type CoordWaitResult =
  | { kind: 'reached'; events: number }
  | { kind: 'timeout' }
  /** NULL: SQL thread not running (or stopped while waiting), source info not initialised, bad arguments, or an error. */
  | { kind: 'not_running' };

export type GtidWaitResult = { kind: 'reached' } | { kind: 'timeout' } | { kind: 'error'; raw: unknown };

// ---------------------------------------------------------------------------------------------
// value helpers

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  throw new Error(`unexpected value of type ${typeof v}`);
}

function str(v: unknown): string {
  return text(v) ?? '';
}

function optStr(v: unknown): string | undefined {
  const s = text(v);
  return s === null || s === '' ? undefined : s;
}

function int(v: unknown, what: string): number {
  const s = text(v);
  if (s === null || s.trim() === '') throw new Error(`${what}: missing value`);
  const n = Number(s.trim());
  if (!Number.isFinite(n) || !Number.isInteger(n)) throw new Error(`${what}: not an integer: ${JSON.stringify(s)}`);
  return n;
}

function intOr(v: unknown, dflt: number, what: string): number {
  const s = text(v);
  if (s === null || s.trim() === '') return dflt;
  return int(s, what);
}

function bool(v: unknown, what: string): boolean {
  const s = text(v);
  if (s === null) throw new Error(`${what}: missing value`);
  switch (s.trim().toUpperCase()) {
    case '1':
    case 'ON':
    case 'YES':
    case 'TRUE':
      return true;
    case '0':
    case 'OFF':
    case 'NO':
    case 'FALSE':
    case '':
      return false;
    default:
      throw new Error(`${what}: not a boolean: ${JSON.stringify(s)}`);
  }
}

function optBool(v: unknown, what: string): boolean | undefined {
  return text(v) === null ? undefined : bool(v, what);
}

/** GTID sets come with newlines after commas; keep them on one line. */
function squash(s: string): string {
  return s.replace(/\s+/g, '');
}

/** Case-insensitive column lookup, trying each name in order (new names first). */
function col(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (Object.hasOwn(row, n)) return row[n];
  const lower = new Map<string, unknown>();
  for (const [k, v] of Object.entries(row)) lower.set(k.toLowerCase(), v);
  for (const n of names) {
    const k = n.toLowerCase();
    if (lower.has(k)) return lower.get(k);
  }
  return undefined;
}

function lookup(m: Record<string, string>, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = m[n];
    if (v !== undefined) return v;
  }
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(m)) lower.set(k.toLowerCase(), v);
  for (const n of names) {
    const v = lower.get(n.toLowerCase());
    if (v !== undefined) return v;
  }
  return undefined;
}

function checkInt(n: number, what: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${what} must be an integer in [${min}, ${max}], got ${String(n)}`);
  return n;
}

function checkText(s: string, what: string): string {
  if (typeof s !== 'string' || s.length === 0) throw new Error(`${what} must be a non-empty string`);
  if (s.includes('\0')) throw new Error(`${what} must not contain NUL`);
  return s;
}

/** Wait functions: MASTER_POS_WAIT treats 0 or a negative timeout as "wait forever", and truncates
 * fractions on some versions (0.4 → 0 → forever). Always send a whole number of seconds ≥ 1. */
function waitSeconds(timeoutSec: number): number {
  if (typeof timeoutSec !== 'number' || !Number.isFinite(timeoutSec) || timeoutSec <= 0) {
    throw new Error(`wait timeout must be a positive number of seconds (0 or negative means "wait forever" to the server), got ${String(timeoutSec)}`);
  }
  return Math.max(1, Math.ceil(timeoutSec));
}

function resultNumber(v: unknown): number | null {
  const s = text(v);
  if (s === null || s.trim() === '') return null;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : null;
}

// ---------------------------------------------------------------------------------------------

export class Dialect {
  readonly version: ServerVersion;
  readonly flavor: 'mysql' | 'mariadb';
  /** MySQL ≥5.7.8. MariaDB has none; note that on MariaDB 10.11 (verified 10.11.19, MDEV-29596) SUPER no longer bypasses
   *  read_only, only READ ONLY ADMIN does (ALL PRIVILEGES includes it), so read_only is close to MySQL super_read_only there. */
  readonly hasSuperReadOnly: boolean;
  /** MySQL ≥8.0.22: SHOW REPLICA STATUS, START/STOP/RESET REPLICA, SHOW REPLICAS. */
  readonly replicaKeyword: boolean;
  /** MySQL ≥8.0.23: CHANGE REPLICATION SOURCE TO ... SOURCE_*. */
  readonly sourceOptions: boolean;
  /** MySQL ≥8.0.26: SOURCE_POS_WAIT, log_replica_updates. */
  readonly sourcePosWait: boolean;
  /** MySQL ≥8.2.0: SHOW BINARY LOG STATUS, RESET BINARY LOGS AND GTIDS. */
  readonly binaryLogStatus: boolean;

  constructor(version: ServerVersion) {
    this.version = version;
    this.flavor = version.flavor;
    const my = version.flavor === 'mysql';
    this.hasSuperReadOnly = my && versionAtLeast(version, 5, 7, 8);
    this.replicaKeyword = my && versionAtLeast(version, 8, 0, 22);
    this.sourceOptions = my && versionAtLeast(version, 8, 0, 23);
    this.sourcePosWait = my && versionAtLeast(version, 8, 0, 26);
    this.binaryLogStatus = my && versionAtLeast(version, 8, 2, 0);
  }

  private get isMaria(): boolean {
    return this.flavor === 'mariadb';
  }

  /** 'REPLICA' or 'SLAVE' for START/STOP/RESET. */
  private get replicaWord(): string {
    return this.replicaKeyword ? 'REPLICA' : 'SLAVE';
  }

  // ---- inspection ---------------------------------------------------------------------------

  /**
   * One SELECT of the @@global variables inspection needs, each aliased to a stable snake_case
   * column. Variables a flavour lacks are selected as NULL (selecting an unknown @@variable is an
   * error, 1193). Both gtid_executed (MySQL) and gtid_current_pos (MariaDB) columns exist; the
   * other flavour's is NULL. log_slave_updates reads log_replica_updates on MySQL ≥8.0.26.
   */
  variablesQuery(): string {
    const my = !this.isMaria;
    const g = (name: string, alias: string = name): string => `@@global.${name} AS ${alias}`;
    const nul = (alias: string): string => `NULL AS ${alias}`;
    const cols = [
      g('server_id'),
      my ? g('server_uuid') : nul('server_uuid'),
      g('read_only'),
      this.hasSuperReadOnly ? g('super_read_only') : nul('super_read_only'),
      g('log_bin'),
      this.sourcePosWait ? g('log_replica_updates', 'log_slave_updates') : g('log_slave_updates'),
      g('binlog_format'),
      my ? g('gtid_mode') : nul('gtid_mode'),
      my ? g('gtid_executed') : nul('gtid_executed'),
      my ? nul('gtid_current_pos') : g('gtid_current_pos'),
      my ? nul('gtid_binlog_pos') : g('gtid_binlog_pos'),
      my ? nul('gtid_slave_pos') : g('gtid_slave_pos'),
      my ? nul('gtid_binlog_state') : g('gtid_binlog_state'),
      my ? nul('gtid_strict_mode') : g('gtid_strict_mode'),
      my ? nul('gtid_domain_id') : g('gtid_domain_id'),
      g('relay_log_purge'),
      g('report_host'),
      g('hostname'),
      g('datadir'),
      g('log_bin_basename'),
    ];
    return `SELECT ${cols.join(', ')}`;
  }

  /** Parses the row of variablesQuery() (values may be strings, numbers, bigint, null or Buffers). */
  parseVariables(row: Record<string, unknown>): VariablesObservation {
    const serverId = int(col(row, 'server_id'), 'server_id');
    let gtid: GtidState;
    if (this.isMaria) {
      const executed = squash(str(col(row, 'gtid_current_pos')));
      const binlogPos = squash(str(col(row, 'gtid_binlog_pos')));
      const slavePos = squash(str(col(row, 'gtid_slave_pos')));
      const binlogState = squash(str(col(row, 'gtid_binlog_state')));
      const domain = text(col(row, 'gtid_domain_id'));
      gtid = {
        // No gtid_mode on MariaDB: GTIDs are always generated when binlogging. "Enabled" here means
        // the server has any GTID position; the adapter should also OR in Using_Gtid != No.
        enabled: executed !== '' || binlogPos !== '' || slavePos !== '',
        executed,
        binlogPos,
        slavePos,
        binlogState,
        strictMode: optBool(col(row, 'gtid_strict_mode'), 'gtid_strict_mode'),
        domainId: domain === null ? undefined : int(domain, 'gtid_domain_id'),
      };
    } else {
      gtid = {
        enabled: str(col(row, 'gtid_mode')).toUpperCase() === 'ON',
        executed: squash(str(col(row, 'gtid_executed'))),
      };
    }
    const out: VariablesObservation = {
      serverId,
      readOnly: bool(col(row, 'read_only'), 'read_only'),
      superReadOnly: this.hasSuperReadOnly ? bool(col(row, 'super_read_only'), 'super_read_only') : null,
      logBin: bool(col(row, 'log_bin'), 'log_bin'),
      logSlaveUpdates: bool(col(row, 'log_slave_updates', 'log_replica_updates'), 'log_slave_updates'),
      binlogFormat: str(col(row, 'binlog_format')).toUpperCase(),
      gtid,
      relayLogPurge: bool(col(row, 'relay_log_purge'), 'relay_log_purge'),
    };
    const uuid = optStr(col(row, 'server_uuid'));
    if (uuid !== undefined) out.serverUuid = uuid.toLowerCase();
    const reportHost = optStr(col(row, 'report_host'));
    if (reportHost !== undefined) out.reportHost = reportHost;
    const hostname = optStr(col(row, 'hostname'));
    if (hostname !== undefined) out.hostname = hostname;
    const datadir = optStr(col(row, 'datadir'));
    if (datadir !== undefined) out.datadir = datadir;
    const base = optStr(col(row, 'log_bin_basename'));
    if (base !== undefined) out.logBinBasename = base;
    return out;
  }

  /** Default connection/channel. On MySQL with several channels there is one row per channel: pick with defaultChannelRow(). */
  showReplicaStatus(): string {
    return this.replicaKeyword ? 'SHOW REPLICA STATUS' : 'SHOW SLAVE STATUS';
  }

  /** Handles Master_* + Slave_* (MariaDB, MySQL < 8.0.22) and Source_* + Replica_* (MySQL ≥ 8.0.22) columns. */
  parseReplicaStatus(row: Record<string, unknown>): ReplicaStatus {
    const io = str(col(row, 'Replica_IO_Running', 'Slave_IO_Running'));
    const ioRunning: IoThreadState = io === 'Yes' ? 'Yes' : io === 'Connecting' ? 'Connecting' : 'No';
    const usingGtid = optStr(col(row, 'Using_Gtid'));
    const autoPos = col(row, 'Auto_Position');
    const secs = text(col(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master'));
    const st: ReplicaStatus = {
      sourceHost: str(col(row, 'Source_Host', 'Master_Host')),
      sourcePort: intOr(col(row, 'Source_Port', 'Master_Port'), 0, 'Source_Port'),
      sourceUser: str(col(row, 'Source_User', 'Master_User')),
      ioRunning,
      sqlRunning: str(col(row, 'Replica_SQL_Running', 'Slave_SQL_Running')) === 'Yes',
      read: {
        file: str(col(row, 'Source_Log_File', 'Master_Log_File')),
        pos: intOr(col(row, 'Read_Source_Log_Pos', 'Read_Master_Log_Pos'), 0, 'Read_Source_Log_Pos'),
      },
      exec: {
        file: str(col(row, 'Relay_Source_Log_File', 'Relay_Master_Log_File')),
        pos: intOr(col(row, 'Exec_Source_Log_Pos', 'Exec_Master_Log_Pos'), 0, 'Exec_Source_Log_Pos'),
      },
      relayLogFile: str(col(row, 'Relay_Log_File')),
      relayLogPos: intOr(col(row, 'Relay_Log_Pos'), 0, 'Relay_Log_Pos'),
      secondsBehind: secs === null || secs.trim() === '' ? null : int(secs, 'Seconds_Behind_Source'),
      lastIoErrno: intOr(col(row, 'Last_IO_Errno'), 0, 'Last_IO_Errno'),
      lastIoError: str(col(row, 'Last_IO_Error')),
      lastSqlErrno: intOr(col(row, 'Last_SQL_Errno'), 0, 'Last_SQL_Errno'),
      lastSqlError: str(col(row, 'Last_SQL_Error')),
      gtidAutoPosition: usingGtid !== undefined ? usingGtid.toLowerCase() !== 'no' : intOr(autoPos, 0, 'Auto_Position') === 1,
      mariadbUsingGtid: usingGtid,
      // MariaDB: Gtid_IO_Pos (what the IO thread has received). SHOW SLAVE STATUS has no executed set on
      // MariaDB (SHOW ALL SLAVES STATUS has Gtid_Slave_Pos); use @@gtid_slave_pos from parseVariables.
      retrievedGtidSet: squash(str(col(row, 'Retrieved_Gtid_Set', 'Gtid_IO_Pos'))),
      executedGtidSet: squash(str(col(row, 'Executed_Gtid_Set', 'Gtid_Slave_Pos'))),
      sqlDelay: intOr(col(row, 'SQL_Delay'), 0, 'SQL_Delay'),
      sqlThreadState: str(col(row, 'Replica_SQL_Running_State', 'Slave_SQL_Running_State')),
      filters: {
        replicateDoDb: str(col(row, 'Replicate_Do_DB')),
        replicateIgnoreDb: str(col(row, 'Replicate_Ignore_DB')),
        replicateDoTable: str(col(row, 'Replicate_Do_Table')),
        replicateIgnoreTable: str(col(row, 'Replicate_Ignore_Table')),
        replicateWildDoTable: str(col(row, 'Replicate_Wild_Do_Table')),
        replicateWildIgnoreTable: str(col(row, 'Replicate_Wild_Ignore_Table')),
      },
    };
    return st;
  }

  /** SHOW BINARY LOG STATUS on MySQL ≥8.2.0 (SHOW MASTER STATUS is deprecated in 8.2, removed in 8.4); SHOW MASTER STATUS otherwise. */
  showBinlogStatus(): string {
    return this.binaryLogStatus ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS';
  }

  /** The server's GTID position as one column `gtid`: MariaDB @@gtid_binlog_pos, MySQL @@gtid_executed. */
  gtidPositionQuery(): string {
    return `SELECT ${this.#gtidPositionExpr()} AS gtid`;
  }

  /** The SELECT ping and the GTID position in one statement (one round trip less per health check): columns `value` (1) and `gtid`. */
  pingWithGtidQuery(): string {
    return `${HEALTH_CHECK_SELECT}, ${this.#gtidPositionExpr()} AS gtid`;
  }

  #gtidPositionExpr(): string {
    return this.isMaria ? '@@global.gtid_binlog_pos' : '@@global.gtid_executed';
  }

  /** Columns File, Position, Binlog_Do_DB, Binlog_Ignore_DB, and on MySQL Executed_Gtid_Set. An empty result means log_bin is off. */
  parseBinlogStatus(row: Record<string, unknown>): BinlogCoord & { doDb: string; ignoreDb: string; executedGtidSet?: string } {
    const file = str(col(row, 'File'));
    if (file === '') throw new Error('binlog status row has no File');
    const out: BinlogCoord & { doDb: string; ignoreDb: string; executedGtidSet?: string } = {
      file,
      pos: int(col(row, 'Position'), 'Position'),
      doDb: str(col(row, 'Binlog_Do_DB')),
      ignoreDb: str(col(row, 'Binlog_Ignore_DB')),
    };
    const g = text(col(row, 'Executed_Gtid_Set'));
    if (g !== null) out.executedGtidSet = squash(g);
    return out;
  }

  /** Columns Log_name, File_size (and Encrypted on MySQL 8). */
  showBinaryLogs(): string {
    return 'SHOW BINARY LOGS';
  }

  parseBinaryLog(row: Record<string, unknown>): { file: string; size: number } {
    return { file: str(col(row, 'Log_name')), size: intOr(col(row, 'File_size'), 0, 'File_size') };
  }

  /** On a source: registered replicas. MySQL ≥8.0.22 SHOW REPLICAS (Server_Id, Host, Port, Source_Id, Replica_UUID); else SHOW SLAVE HOSTS. */
  showReplicas(): string {
    return this.replicaKeyword ? 'SHOW REPLICAS' : 'SHOW SLAVE HOSTS';
  }

  /** Rows Variable_name/Value: rpl_semi_sync_master_... and rpl_semi_sync_slave_..., or with the 8.0.26+ plugins rpl_semi_sync_source_... and rpl_semi_sync_replica_.... */
  semiSyncVariablesQuery(): string {
    return "SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'";
  }

  /** Rows Variable_name/Value: Rpl_semi_sync_master_status, Rpl_semi_sync_master_clients (or the _source_ names). */
  semiSyncStatusQuery(): string {
    return "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'";
  }

  /** Maps are Variable_name → Value; names are matched case-insensitively. Absent plugin → all off. */
  parseSemiSync(vars: Record<string, string>, status: Record<string, string>): SemiSyncState {
    const on = (v: string | undefined): boolean => v !== undefined && bool(v, 'semi-sync variable');
    const clients = lookup(status, 'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_master_clients');
    const waitNo = lookup(vars, 'rpl_semi_sync_source_wait_no_replica', 'rpl_semi_sync_master_wait_no_slave');
    const point = lookup(vars, 'rpl_semi_sync_source_wait_point', 'rpl_semi_sync_master_wait_point');
    const timeout = lookup(vars, 'rpl_semi_sync_source_timeout', 'rpl_semi_sync_master_timeout');
    return {
      sourceEnabled: on(lookup(vars, 'rpl_semi_sync_source_enabled', 'rpl_semi_sync_master_enabled')),
      replicaEnabled: on(lookup(vars, 'rpl_semi_sync_replica_enabled', 'rpl_semi_sync_slave_enabled')),
      sourceActive: on(lookup(status, 'Rpl_semi_sync_source_status', 'Rpl_semi_sync_master_status')),
      sourceClients: clients === undefined || clients.trim() === '' ? 0 : int(clients, 'Rpl_semi_sync_source_clients'),
      ...(waitNo !== undefined && waitNo.trim() !== '' ? { waitNoReplica: on(waitNo) } : {}),
      ...(point !== undefined && point.trim() !== '' ? { waitPoint: point.trim().toUpperCase() } : {}),
      ...(timeout !== undefined && timeout.trim() !== '' ? { timeoutMs: int(timeout, 'rpl_semi_sync_master_timeout') } : {}),
    };
  }

  /** Users holding REPLICATION SLAVE (columns user, host). Privileges granted through roles are not seen. */
  replicationUsersQuery(): string {
    return "SELECT User AS user, Host AS host FROM mysql.user WHERE Repl_slave_priv = 'Y' ORDER BY User, Host";
  }

  /** Columns id, user, host, db, command, time, state, info. */
  processlistQuery(): string {
    return 'SELECT ID AS id, USER AS user, HOST AS host, DB AS db, COMMAND AS command, TIME AS time, STATE AS state, INFO AS info FROM information_schema.PROCESSLIST';
  }

  // ---- replication control -------------------------------------------------------------------

  stopReplica(thread?: 'io' | 'sql'): string {
    return `STOP ${this.replicaWord}${threadSuffix(thread)}`;
  }

  startReplica(thread?: 'io' | 'sql'): string {
    return `START ${this.replicaWord}${threadSuffix(thread)}`;
  }

  /** Forgets the source entirely (connection parameters, relay logs). The replica threads must be stopped first. */
  resetReplicaAll(): string {
    return `RESET ${this.replicaWord} ALL`;
  }

  /**
   * CHANGE REPLICATION SOURCE TO (MySQL ≥8.0.23) / CHANGE MASTER TO. Host, user, password and log file
   * are placeholders (values); integers are inlined after validation. The password never appears in sql.
   * The replica threads must be stopped first (MySQL < 8.0 and MariaDB require it for most options).
   */
  changeSource(o: ChangeSourceOptions): Sql {
    const my = !this.isMaria;
    const P = this.sourceOptions ? 'SOURCE_' : 'MASTER_';
    const head = this.sourceOptions ? 'CHANGE REPLICATION SOURCE TO' : 'CHANGE MASTER TO';
    const parts: string[] = [];
    const values: unknown[] = [];
    const sensitive: number[] = [];

    const gtid = o.gtid ?? (o.coord !== undefined ? false : 'auto');
    if (gtid !== false && o.coord !== undefined) {
      throw new Error('changeSource: a binlog coordinate and GTID positioning are mutually exclusive (pass gtid: false with coord)');
    }
    if (gtid === false && o.coord === undefined) throw new Error('changeSource: file/position replication needs a coord');
    if (my && (gtid === 'slave_pos' || gtid === 'current_pos')) {
      throw new Error(`changeSource: gtid '${gtid}' is MariaDB-only; use 'auto' on MySQL`);
    }

    parts.push(`${P}HOST = ?`);
    values.push(checkText(o.host, 'source host'));
    parts.push(`${P}PORT = ${checkInt(o.port, 'source port', 1, 65535)}`);
    parts.push(`${P}USER = ?`);
    values.push(checkText(o.user, 'replication user'));
    if (o.password !== undefined) {
      parts.push(`${P}PASSWORD = ?`);
      sensitive.push(values.length);
      values.push(o.password.reveal());
    }
    if (o.coord !== undefined) {
      parts.push(`${P}LOG_FILE = ?`);
      values.push(checkText(o.coord.file, 'binlog file'));
      parts.push(`${P}LOG_POS = ${checkInt(o.coord.pos, 'binlog position', 0)}`);
    }
    if (my) {
      // AUTO_POSITION=0 must be explicit: LOG_FILE/LOG_POS with auto-position still on is error 1776.
      parts.push(`${P}AUTO_POSITION = ${gtid === false ? 0 : 1}`);
    } else {
      parts.push(`MASTER_USE_GTID = ${gtid === false ? 'no' : gtid === 'auto' ? 'slave_pos' : gtid}`);
    }
    if (o.connectRetry !== undefined) parts.push(`${P}CONNECT_RETRY = ${checkInt(o.connectRetry, 'connect retry', 1, 31536000)}`);
    if (o.heartbeatPeriod !== undefined) {
      const h = o.heartbeatPeriod;
      if (typeof h !== 'number' || !Number.isFinite(h) || h < 0 || h > 4294967) throw new Error(`heartbeat period must be 0..4294967 seconds, got ${String(h)}`);
      parts.push(`${P}HEARTBEAT_PERIOD = ${String(Math.round(h * 1000) / 1000)}`);
    }
    if (o.delay !== undefined) parts.push(`${P}DELAY = ${checkInt(o.delay, 'replication delay', 0, 2147483647)}`);
    if (o.getSourcePublicKey !== undefined && my && versionAtLeast(this.version, 8, 0, 0)) {
      parts.push(`${this.sourceOptions ? 'GET_SOURCE_PUBLIC_KEY' : 'GET_MASTER_PUBLIC_KEY'} = ${o.getSourcePublicKey ? 1 : 0}`);
    }
    const out: Sql = { sql: `${head} ${parts.join(', ')}`, values };
    if (sensitive.length > 0) out.sensitive = sensitive;
    return out;
  }

  /**
   * Lifts a replica's MASTER_DELAY and keeps its relay logs: naming the relay-log position it
   * stands at (Relay_Log_File / Relay_Log_Pos) is what stops CHANGE MASTER from discarding the
   * relay logs (without it, MariaDB drops them: a delayed replica of a dead master would lose
   * everything it received but had not applied). The replica threads must be stopped.
   */
  liftDelayKeepingRelayLog(relayFile: string, relayPos: number): Sql {
    return this.setDelayKeepingRelayLog(0, relayFile, relayPos);
  }

  /** Sets a replica's MASTER_DELAY (0 lifts it) and keeps its relay logs (see liftDelayKeepingRelayLog). The replica threads must be stopped. */
  setDelayKeepingRelayLog(delay: number, relayFile: string, relayPos: number): Sql {
    const P = this.sourceOptions ? 'SOURCE_' : 'MASTER_';
    const head = this.sourceOptions ? 'CHANGE REPLICATION SOURCE TO' : 'CHANGE MASTER TO';
    return { sql: `${head} ${P}DELAY = ${checkInt(delay, 'replication delay', 0, 2147483647)}, RELAY_LOG_FILE = ?, RELAY_LOG_POS = ${checkInt(relayPos, 'relay log position', 4)}`, values: [checkText(relayFile, 'relay log file')] };
  }

  /**
   * Safe order. on: read_only=ON first, then super_read_only=ON (setting super_read_only=ON alone
   * would also turn read_only on, but the explicit order keeps the effect visible step by step).
   * off: super_read_only=OFF first, then read_only=OFF. MariaDB and MySQL < 5.7.8: read_only only.
   */
  /**
   * While mhats itself writes to a read-only server (applying saved or differential binlog events),
   * super_read_only must be off but read_only stays on. [] where there is no super_read_only.
   */
  setSuperReadOnly(on: boolean): string[] {
    return this.hasSuperReadOnly ? [`SET GLOBAL super_read_only = ${on ? 'ON' : 'OFF'}`] : [];
  }

  setReadOnly(on: boolean): string[] {
    const v = on ? 'ON' : 'OFF';
    if (!this.hasSuperReadOnly) return [`SET GLOBAL read_only = ${v}`];
    return on ? ['SET GLOBAL read_only = ON', 'SET GLOBAL super_read_only = ON'] : ['SET GLOBAL super_read_only = OFF', 'SET GLOBAL read_only = OFF'];
  }

  /**
   * Waits until the SQL thread has applied up to c (a coordinate in the SOURCE's binlog).
   * Column `result`: NULL = SQL thread not running / stopped while waiting / not a replica / error;
   * -1 = timeout; n ≥ 0 = reached (n events waited for). See parseWaitForCoordResult.
   * timeoutSec must be > 0 (the server reads 0 or less as "forever"); it is rounded up to whole seconds.
   */
  waitForCoord(c: BinlogCoord, timeoutSec: number): Sql {
    const fn = this.sourcePosWait ? 'SOURCE_POS_WAIT' : 'MASTER_POS_WAIT';
    const pos = checkInt(c.pos, 'binlog position', 0);
    return { sql: `SELECT ${fn}(?, ${pos}, ${waitSeconds(timeoutSec)}) AS result`, values: [checkText(c.file, 'binlog file')] };
  }

  /**
   * MySQL: WAIT_FOR_EXECUTED_GTID_SET(set, timeout) waits for @@gtid_executed ⊇ set (any source of
   * the transactions) — result 0 reached, 1 timeout, errors raise.
   * MariaDB: MASTER_GTID_WAIT(pos, timeout) waits until @@gtid_slave_pos reaches pos in every domain
   * listed (replicated transactions only) — result 0 reached, -1 timeout.
   * Column `result`; see parseWaitForGtidResult. timeoutSec as in waitForCoord.
   */
  waitForGtid(set: string, timeoutSec: number): Sql {
    const t = waitSeconds(timeoutSec);
    const fn = this.isMaria ? 'MASTER_GTID_WAIT' : 'WAIT_FOR_EXECUTED_GTID_SET';
    if (typeof set !== 'string') throw new Error('GTID set must be a string');
    return { sql: `SELECT ${fn}(?, ${t}) AS result`, values: [squash(set)] };
  }

  parseWaitForCoordResult(v: unknown): CoordWaitResult {
    const n = resultNumber(v);
    if (n === null) return { kind: 'not_running' };
    if (n === -1) return { kind: 'timeout' };
    if (n >= 0) return { kind: 'reached', events: n };
    return { kind: 'not_running' };
  }

  parseWaitForGtidResult(v: unknown): GtidWaitResult {
    const n = resultNumber(v);
    if (n === 0) return { kind: 'reached' };
    if (this.isMaria ? n === -1 : n === 1) return { kind: 'timeout' };
    return { kind: 'error', raw: v };
  }

  killConnection(id: number): string {
    return `KILL CONNECTION ${checkInt(id, 'connection id', 1)}`;
  }

  /** One page of a binlog file's events, from an event boundary (both flavours): columns Log_name, Pos, Event_type, Server_id, End_log_pos, Info. */
  showBinlogEvents(file: string, pos: number, limit: number): Sql {
    if (!/^[A-Za-z0-9_.-]+$/.test(file)) throw new Error(`invalid binlog file name ${JSON.stringify(file)}`);
    return { sql: `SHOW BINLOG EVENTS IN ? FROM ${checkInt(pos, 'binlog position', 0)} LIMIT ${checkInt(limit, 'limit', 1, 100_000)}`, values: [file] };
  }

  parseBinlogEvent(row: Record<string, unknown>): { file: string; pos: number; type: string; serverId: number; endPos: number; info: string } {
    return {
      file: str(col(row, 'Log_name')),
      pos: int(col(row, 'Pos'), 'Pos'),
      type: str(col(row, 'Event_type')),
      serverId: int(col(row, 'Server_id'), 'Server_id'),
      endPos: int(col(row, 'End_log_pos'), 'End_log_pos'),
      info: str(col(row, 'Info')),
    };
  }

  /**
   * MySQL only: the statements that commit an empty transaction with this GTID on a source, so a
   * transaction that exists only on a replica (errant) is known to the whole cluster (no data change).
   */
  injectEmptyTransaction(gtid: string): string[] {
    if (this.isMaria) throw new Error('MariaDB GTIDs are positions (domain-server-seq), not sets: an empty transaction cannot fill in another server\'s sequence number');
    const m = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(:[A-Za-z0-9_]{1,32})?:(\d+)$/.exec(gtid.trim());
    if (!m) throw new Error(`not a single MySQL GTID (uuid[:tag]:n): ${JSON.stringify(gtid)}`);
    return [`SET GTID_NEXT = '${m[1]!.toLowerCase()}${m[2] ?? ''}:${checkInt(Number(m[3]), 'transaction number', 1)}'`, 'BEGIN', 'COMMIT', "SET GTID_NEXT = 'AUTOMATIC'"];
  }

  killQuery(id: number): string {
    return `KILL QUERY ${checkInt(id, 'connection id', 1)}`;
  }

  /** Session-only: statements after this are (not) written to the binlog. */
  setSessionSqlLogBin(on: boolean): string {
    return `SET SESSION sql_log_bin = ${on ? 'ON' : 'OFF'}`;
  }

  /** Deletes all binary logs and clears the GTID history. Destructive: only for rebuilding a server. */
  resetBinaryLogsAndGtids(): string {
    return this.binaryLogStatus ? 'RESET BINARY LOGS AND GTIDS' : 'RESET MASTER';
  }

  /** Rotates the binary log (both flavours). */
  flushBinaryLogs(): string {
    return 'FLUSH BINARY LOGS';
  }

  /** MariaDB only: sets @@global.gtid_slave_pos (the replica threads must be stopped). */
  setGtidSlavePos(pos: string): Sql {
    if (!this.isMaria) throw new Error('gtid_slave_pos is MariaDB-only');
    return { sql: 'SET GLOBAL gtid_slave_pos = ?', values: [squash(pos)] };
  }

  // -------------------------------------------------------------------------------------------
  // Relay-log purge (MHA purge_relay_logs) and MHA's failover advisory lock

  /** MHA's advisory lock name, shared with MHA's own tools so that they see each other. */
  static readonly FAILOVER_LOCK = 'MHA_Master_High_Availability_Failover';

  /**
   * MHA's advisory lock (SlaveUtil.pm Get_Failover_Lock_SQL): a failover and purge_relay_logs take it
   * on a server so that only one of them works there at a time. Column `Value`: 1 = acquired,
   * 0 = timed out (someone else holds it), NULL = error. Held until releaseFailoverLock() or the
   * session ends. timeoutSec ≥ 0 (0 = do not wait).
   */
  getFailoverLock(timeoutSec: number): Sql {
    return { sql: `SELECT GET_LOCK('${Dialect.FAILOVER_LOCK}', ${checkInt(timeoutSec, 'lock timeout', 0, 86_400)}) AS Value` };
  }

  /** Column `Value`: 1 released, 0 held by another session, NULL not held. */
  releaseFailoverLock(): string {
    return `SELECT RELEASE_LOCK('${Dialect.FAILOVER_LOCK}') AS Value`;
  }

  /** Column `Value` (1 / 0) of a GET_LOCK/RELEASE_LOCK statement. */
  parseLockResult(v: unknown): 'acquired' | 'busy' | 'error' {
    const n = resultNumber(v);
    return n === 1 ? 'acquired' : n === 0 ? 'busy' : 'error';
  }

  /** Column `Value`: 1 when the server deletes relay logs once applied, 0 when they are kept (MHA's recommended setting). */
  relayLogPurgeQuery(): string {
    return 'SELECT @@global.relay_log_purge AS Value';
  }

  setRelayLogPurge(on: boolean): string {
    return `SET GLOBAL relay_log_purge = ${on ? 1 : 0}`;
  }

  /**
   * Rotates the relay log only, without writing the statement to the binlog. With relay_log_purge=1 the
   * SQL thread deletes each relay log it has finished once it moves past the rotation: unapplied
   * relay logs are never removed. (MySQL ≥ 5.5.1 and every supported MariaDB know RELAY.)
   */
  flushRelayLogs(): string {
    return 'FLUSH NO_WRITE_TO_BINLOG RELAY LOGS';
  }

  // -------------------------------------------------------------------------------------------
  // Online master switch (switchover)

  /** Parses one row of processlistQuery() (columns id, user, host, db, command, time, state, info). */
  parseProcess(row: Record<string, unknown>): ProcessRow {
    return {
      id: int(col(row, 'id'), 'processlist id'),
      user: str(col(row, 'user')),
      host: str(col(row, 'host')),
      db: text(col(row, 'db')),
      command: str(col(row, 'command')),
      time: intOr(col(row, 'time'), 0, 'processlist time'),
      state: text(col(row, 'state')),
      info: text(col(row, 'info')),
    };
  }

  /**
   * Session lock_wait_timeout (whole seconds ≥ 1). SET GLOBAL read_only takes the global read lock
   * and so waits for running writes and pending commits; with this the SERVER gives up (error 1205)
   * and leaves read_only as it was, instead of switching it later, after the client stopped waiting.
   */
  setSessionLockWaitTimeout(seconds: number): string {
    return `SET SESSION lock_wait_timeout = ${waitSeconds(seconds)}`;
  }

  /** Columns read_only and super_read_only (NULL where the server has none): to verify a change. */
  readOnlyQuery(): string {
    return `SELECT @@global.read_only AS read_only, ${this.hasSuperReadOnly ? '@@global.super_read_only' : 'NULL'} AS super_read_only`;
  }

  parseReadOnly(row: Record<string, unknown>): { readOnly: boolean; superReadOnly: boolean | null } {
    return {
      readOnly: bool(col(row, 'read_only'), 'read_only'),
      superReadOnly: this.hasSuperReadOnly ? bool(col(row, 'super_read_only'), 'super_read_only') : null,
    };
  }

  /**
   * The GTID position of the server's own binlog, column `gtid`: MariaDB @@gtid_binlog_pos (what
   * its replicas wait for with MASTER_GTID_WAIT), MySQL @@gtid_executed.
   */
  binlogGtidQuery(): string {
    return this.isMaria ? 'SELECT @@global.gtid_binlog_pos AS gtid' : 'SELECT @@global.gtid_executed AS gtid';
  }

  parseBinlogGtid(row: Record<string, unknown> | undefined): string {
    return row === undefined ? '' : squash(str(col(row, 'gtid')));
  }

  // -------------------------------------------------------------------------------------------
  // Failure detection: the replicas' view, with fresh evidence only

  /**
   * The statements whose results tell what a replica receives from its source, in order (run them on
   * one session, then parseWitness on their results):
   * - MariaDB: SHOW ALL SLAVES STATUS: the status columns plus Slave_received_heartbeats and
   *   Slave_heartbeat_period in one row per connection (the default connection is Connection_name '').
   * - MySQL: SHOW REPLICA|SLAVE STATUS, then performance_schema.replication_connection_status
   *   (COUNT_RECEIVED_HEARTBEATS; how long ago the last heartbeat, or on ≥8.0 the last queued
   *   transaction, arrived, by the replica's own clock) joined with replication_connection_configuration
   *   (HEARTBEAT_INTERVAL). That one may fail (performance_schema off): the status still counts.
   */
  witnessQueries(): string[] {
    if (this.isMaria) return ['SHOW ALL SLAVES STATUS'];
    const last = versionAtLeast(this.version, 8, 0, 0) ? 'GREATEST(s.LAST_HEARTBEAT_TIMESTAMP, s.LAST_QUEUED_TRANSACTION_END_QUEUE_TIMESTAMP)' : 's.LAST_HEARTBEAT_TIMESTAMP';
    return [
      this.showReplicaStatus(),
      'SELECT s.COUNT_RECEIVED_HEARTBEATS AS heartbeats, ' +
        `IF(${last} < '1971-01-01', NULL, TIMESTAMPDIFF(MICROSECOND, ${last}, NOW(6))) AS received_ago_us, ` +
        'c.HEARTBEAT_INTERVAL AS heartbeat_period ' +
        'FROM performance_schema.replication_connection_status s LEFT JOIN performance_schema.replication_connection_configuration c ON c.CHANNEL_NAME = s.CHANNEL_NAME ' +
        "WHERE s.CHANNEL_NAME = ''",
    ];
  }

  /** Parses the results of witnessQueries() (a result may be undefined when its statement failed). */
  parseWitness(results: Array<Record<string, unknown>[] | undefined>): { status?: ReplicaStatus; heartbeats?: number; receivedAgoMs?: number; heartbeatPeriod?: number } {
    const row = defaultChannelRow(results[0] ?? []);
    if (row === undefined) return {};
    const out: { status?: ReplicaStatus; heartbeats?: number; receivedAgoMs?: number; heartbeatPeriod?: number } = { status: this.parseReplicaStatus(row) };
    const num = (v: unknown): number | undefined => resultNumber(v) ?? undefined;
    if (this.isMaria) {
      const hb = num(col(row, 'Slave_received_heartbeats'));
      const period = num(col(row, 'Slave_heartbeat_period'));
      if (hb !== undefined) out.heartbeats = hb;
      if (period !== undefined) out.heartbeatPeriod = period;
      return out;
    }
    const f = results[1]?.[0];
    if (f !== undefined) {
      const hb = num(col(f, 'heartbeats'));
      const ago = num(col(f, 'received_ago_us'));
      const period = num(col(f, 'heartbeat_period'));
      if (hb !== undefined) out.heartbeats = hb;
      if (ago !== undefined && ago >= 0) out.receivedAgoMs = ago / 1000;
      if (period !== undefined) out.heartbeatPeriod = period;
    }
    return out;
  }

  /**
   * How soon a replica notices a silent source, for check-repl: column `net_timeout` (slave_net_timeout,
   * replica_net_timeout on MySQL ≥8.0.26) and, on MySQL, `heartbeat_period` of the default channel
   * (performance_schema; may fail when it is off). MariaDB's heartbeat period is Slave_heartbeat_period
   * in SHOW ALL SLAVES STATUS (witnessQueries).
   */
  replicationTimingQuery(): string {
    const v = this.sourcePosWait ? '@@global.replica_net_timeout' : '@@global.slave_net_timeout';
    if (this.isMaria) return `SELECT ${v} AS net_timeout, NULL AS heartbeat_period`;
    return `SELECT ${v} AS net_timeout, (SELECT HEARTBEAT_INTERVAL FROM performance_schema.replication_connection_configuration WHERE CHANNEL_NAME = '') AS heartbeat_period`;
  }

  /** MHA's monitor advisory lock: held on the master by the manager watching it (MHA SlaveUtil.pm). */
  static readonly MONITOR_LOCK = 'MHA_Master_High_Availability_Monitor';

  /**
   * Takes the monitor lock; column `Value`: 1 taken, 0 held by another session (a second manager,
   * or MHA's masterha_manager), NULL error. timeoutSec ≥ 0 (0 = do not wait).
   */
  getMonitorLock(timeoutSec: number): Sql {
    return { sql: `SELECT GET_LOCK('${Dialect.MONITOR_LOCK}', ${checkInt(timeoutSec, 'lock timeout', 0, 86_400)}) AS Value` };
  }

  /** Column `Value`: 1 released, 0 held by another session, NULL not held. */
  releaseMonitorLock(): string {
    return `SELECT RELEASE_LOCK('${Dialect.MONITOR_LOCK}') AS Value`;
  }

  /** Column `Value`: the connection id holding the monitor lock, NULL when free. */
  monitorLockHolderQuery(): string {
    return `SELECT IS_USED_LOCK('${Dialect.MONITOR_LOCK}') AS Value`;
  }

  /**
   * Column `host`: the client address of one connection as the server sees it ("ip:port", or
   * "localhost" for a socket); no row when it is gone. Tells this manager's own earlier session
   * (cut off by the network while it held the monitor lock) from another manager's.
   */
  connectionHostQuery(id: number): string {
    return `SELECT HOST AS host FROM information_schema.PROCESSLIST WHERE ID = ${checkInt(id, 'connection id', 1)}`;
  }

  /** The connection id of IS_USED_LOCK(), or null when the lock is free. */
  parseLockHolder(v: unknown): number | null {
    const n = resultNumber(v);
    return n === null || n <= 0 ? null : n;
  }
}

function threadSuffix(thread: 'io' | 'sql' | undefined): string {
  if (thread === undefined) return '';
  return thread === 'io' ? ' IO_THREAD' : ' SQL_THREAD';
}

/** Oldest versions whose statements this module knows; older servers are refused with a clear error. */
export const MIN_MYSQL = { major: 5, minor: 7, patch: 0 } as const;
export const MIN_MARIADB = { major: 10, minor: 0, patch: 2 } as const;

export function dialectFor(version: ServerVersion): Dialect {
  const min = version.flavor === 'mariadb' ? MIN_MARIADB : MIN_MYSQL;
  if (!versionAtLeast(version, min.major, min.minor, min.patch)) {
    throw new Error(`${formatVersion(version)} (${version.raw}) is not supported: mhats needs ${version.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ≥ ${min.major}.${min.minor}.${min.patch}`);
  }
  return new Dialect(version);
}

/**
 * From SHOW REPLICA STATUS rows (one per channel on MySQL), the default channel's row: Channel_Name ''
 * (MySQL) or Connection_name '' (MariaDB SHOW ALL SLAVES STATUS), or the only row when there is no
 * such column. undefined when the server is not a replica.
 */
export function defaultChannelRow(rows: Record<string, unknown>[]): Record<string, unknown> | undefined {
  const first = rows[0];
  if (first === undefined) return undefined;
  if (col(first, 'Channel_Name', 'Connection_name') === undefined) return first;
  return rows.find((r) => str(col(r, 'Channel_Name', 'Connection_name')) === '');
}

/** SHOW VARIABLES / SHOW STATUS rows → name → value (names as the server wrote them). */
export function variableRows(rows: Record<string, unknown>[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const r of rows) {
    const k = text(col(r, 'Variable_name'));
    if (k !== null) m[k] = str(col(r, 'Value'));
  }
  return m;
}

/** A statement as a log line: values inlined as quoted literals, secrets as '***'. Never execute the result. */
export function describeSql(s: Sql | string): string {
  if (typeof s === 'string') return s;
  const values = s.values ?? [];
  const hidden = new Set(s.sensitive ?? []);
  let i = 0;
  return s.sql.replace(/\?/g, () => {
    const idx = i++;
    if (idx >= values.length) return '?';
    if (hidden.has(idx)) return "'***'";
    const v = values[idx];
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
    return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  });
}

// ---------------------------------------------------------------------------------------------
// Health checks (MHA HealthCheck.pm compatible; identical on every flavour and version)

/** SELECT ping: one row, column `value` = 1. */
export const HEALTH_CHECK_SELECT = 'SELECT 1 AS value';

/**
 * INSERT ping preparation, run once per connection: MHA's infra.chk_masterha schema (kept for
 * compatibility with existing deployments; MHA's `int(10)` display width is dropped because
 * MySQL ≥8.0.17 deprecates it — same column type).
 */
export const HEALTH_CHECK_SETUP: readonly string[] = [
  'CREATE DATABASE IF NOT EXISTS infra',
  "CREATE TABLE IF NOT EXISTS infra.chk_masterha (`key` tinyint NOT NULL PRIMARY KEY, `val` int unsigned NOT NULL DEFAULT '0')",
];

/** INSERT ping: writes (and binlogs) one heartbeat row. Fails with 1290 on a read_only server. */
export const HEALTH_CHECK_INSERT = 'INSERT INTO infra.chk_masterha VALUES (1, UNIX_TIMESTAMP()) ON DUPLICATE KEY UPDATE val = UNIX_TIMESTAMP()';
