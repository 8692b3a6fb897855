/**
 * Shapes of the binlog reader: event type codes, decoded events, transactions,
 * structured errors. Pure data.
 */

/** Event type codes (MySQL 5.x/8.x numbering, plus MariaDB's 160+ range). */
export const EventType = {
  UNKNOWN: 0,
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  LOAD: 6,
  SLAVE: 7,
  CREATE_FILE: 8,
  APPEND_BLOCK: 9,
  EXEC_LOAD: 10,
  DELETE_FILE: 11,
  NEW_LOAD: 12,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  PRE_GA_WRITE_ROWS: 20,
  PRE_GA_UPDATE_ROWS: 21,
  PRE_GA_DELETE_ROWS: 22,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS_V2: 30,
  UPDATE_ROWS_V2: 31,
  DELETE_ROWS_V2: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  // MariaDB
  ANNOTATE_ROWS: 160,
  BINLOG_CHECKPOINT: 161,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
  START_ENCRYPTION: 164,
  QUERY_COMPRESSED: 165,
  WRITE_ROWS_COMPRESSED_V1: 166,
  UPDATE_ROWS_COMPRESSED_V1: 167,
  DELETE_ROWS_COMPRESSED_V1: 168,
  WRITE_ROWS_COMPRESSED: 169,
  UPDATE_ROWS_COMPRESSED: 170,
  DELETE_ROWS_COMPRESSED: 171,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map(Object.entries(EventType).map(([k, v]) => [v, k]));

/** 'QUERY', 'MARIADB_GTID', ... or 'TYPE_<n>' for a code this reader does not know. */
export function eventTypeName(code: number): string {
  return NAMES.get(code) ?? `TYPE_${code}`;
}

/** Common-header flags. */
export const EventFlag = {
  /** On the FDE while the server has the file open; cleared at a clean close. Still set after a crash. */
  BINLOG_IN_USE: 0x1,
  SUPPRESS_USE: 0x8,
  /** Made up by the server (e.g. the fake Rotate a master sends at the start of a dump). */
  ARTIFICIAL: 0x20,
  /** Written to a relay log by the replica's IO thread itself. */
  RELAY_LOG: 0x40,
} as const;

/** MariaDB GTID event flags (flags2). */
export const MariaGtidFlag = {
  STANDALONE: 0x1,
  GROUP_COMMIT_ID: 0x2,
  TRANSACTIONAL: 0x4,
  ALLOW_PARALLEL: 0x8,
  WAITED: 0x10,
  DDL: 0x20,
  PREPARED_XA: 0x40,
  COMPLETED_XA: 0x80,
} as const;

export type ChecksumAlg = 'off' | 'crc32';

export interface FormatDescription {
  /** Always 4 (older versions are refused). */
  binlogVersion: number;
  /** e.g. '10.11.19-MariaDB-0+deb12u1-log' */
  serverVersion: string;
  flavor: 'mariadb' | 'mysql';
  createTimestamp: number;
  /** Common-header length (19 for v4). */
  headerLength: number;
  /** Post-header length per event type: postHeaderLengths[type - 1]. */
  postHeaderLengths: number[];
  /** 'off' when the server is checksum-aware but binlog_checksum=NONE; undefined for a pre-checksum server. */
  checksum: ChecksumAlg | undefined;
  /** The FDE's BINLOG_IN_USE flag: the file was not closed cleanly (server running, or crashed). */
  inUse: boolean;
  /** Server that wrote the FDE. */
  serverId: number;
}

export interface EventHeader {
  timestamp: number;
  typeCode: number;
  serverId: number;
  eventSize: number;
  /** end_log_pos: in a binlog, the file offset just after the event; in a relay log, the MASTER's; 0 for artificial events. */
  logPos: number;
  flags: number;
}

/** What the reader decoded from an event's body. */
export type EventData =
  | { kind: 'format_description'; fde: FormatDescription }
  | { kind: 'rotate'; position: number; nextFile: string }
  | {
      kind: 'query';
      threadId: number;
      execTime: number;
      errorCode: number;
      database: string;
      /** Statement text ('' when compressed). */
      query: string;
      /** MariaDB QUERY_COMPRESSED_EVENT: the text is zlib-compressed and not decoded here. */
      compressed: boolean;
      /** What the statement means for transaction boundaries. */
      role: QueryRole;
    }
  | { kind: 'xid'; xid: bigint }
  | { kind: 'xa_prepare'; onePhase: boolean }
  | { kind: 'table_map'; tableId: number; database: string; table: string; columnCount: number }
  | { kind: 'rows'; op: 'write' | 'update' | 'delete' | 'partial_update'; version: 0 | 1 | 2; compressed: boolean; tableId: number; flags: number; stmtEnd: boolean }
  | { kind: 'mysql_gtid'; anonymous: boolean; uuid: string; gno: bigint; gtid: string; lastCommitted?: bigint; sequenceNumber?: bigint }
  | { kind: 'mariadb_gtid'; domainId: number; serverId: number; seqNo: bigint; flags: number; standalone: boolean; commitId?: bigint; gtid: string }
  | { kind: 'annotate_rows'; query: string }
  | { kind: 'rows_query'; query: string }
  | { kind: 'binlog_checkpoint'; file: string }
  | { kind: 'gtid_list'; gtids: string[] }
  | { kind: 'previous_gtids'; gtidSet: string }
  | { kind: 'heartbeat'; file: string }
  | { kind: 'incident'; incident: number; message: string }
  | { kind: 'stop' }
  | { kind: 'intvar' | 'rand' | 'user_var' }
  | { kind: 'transaction_payload' }
  /** A type this reader does not decode (kept with its header and boundaries). */
  | { kind: 'opaque' };

/** How a Query event affects transaction boundaries. */
export type QueryRole = 'begin' | 'commit' | 'rollback' | 'xa_start' | 'xa_end' | 'xa_commit' | 'xa_rollback' | 'statement';

export interface EventInfo {
  /** File offset of the event's first byte. */
  offset: number;
  /** File offset just after the event (offset + eventSize). */
  end: number;
  type: string;
  header: EventHeader;
  /** 'ok' when a CRC32 was present and verified; 'unverified' when present but not checked; 'none' when the binlog has no checksums. */
  checksum: 'ok' | 'unverified' | 'none';
  data: EventData;
}

export interface TransactionInfo {
  /** File offset of its first event (GTID, BEGIN, or the first event of a statement). */
  start: number;
  /** File offset just after its last event (Xid, COMMIT, or the statement). */
  end: number;
  /** MariaDB 'domain-server-seq', MySQL 'uuid:n', 'ANONYMOUS' (MySQL anonymous GTID), or undefined (no GTID event). */
  gtid: string | undefined;
  /** end_log_pos of the last event (the master's, in a relay log). */
  endLogPos: number;
  /** end_log_pos of the event just before the transaction (i.e. the transaction's start coordinate), when known. */
  startLogPos: number | undefined;
  /** 'ddl' for a standalone statement (MariaDB GTID standalone flag, or a statement outside BEGIN..COMMIT). */
  kind: 'transaction' | 'ddl';
  /** Event type of the terminating event: 'XID', 'QUERY' (COMMIT/ROLLBACK/statement), 'XA_PREPARE', ... */
  endedBy: string;
  eventCount: number;
}

export type BinlogErrorCode =
  | 'bad-magic'
  | 'truncated-header'
  | 'truncated-event'
  | 'bad-event-size'
  | 'bad-checksum'
  | 'bad-format-description'
  | 'missing-format-description'
  | 'unsupported-version'
  | 'encrypted'
  | 'malformed-event'
  | 'bad-log-pos';

export interface BinlogError {
  code: BinlogErrorCode;
  /** File offset where the problem is (the start of the broken event, or where the data ends). */
  offset: number;
  /** File name when the caller gave one. */
  file?: string;
  /** Human text naming the file, offset and what is wrong. */
  message: string;
}
