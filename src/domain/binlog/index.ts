/**
 * Binlog and relay-log reader (MySQL ≥ 5.0 / MariaDB, binlog format v4). Pure:
 * bytes in (Uint8Array), data out; no I/O, no clock, never throws on bad data.
 * The base of dead-master binlog salvage and differential relay-log recovery.
 *
 * What it reads
 * - The magic `\xfebin`, the 19-byte v4 common header (timestamp, type,
 *   server_id, event_size, end_log_pos, flags), the Format_description event
 *   (binlog version, server version, header length, post-header lengths,
 *   checksum algorithm: CRC32 or off), and checks the CRC32 of every event
 *   (the FDE's with BINLOG_IN_USE cleared, as the server computes it).
 * - Decoded bodies: Query (text, database, BEGIN/COMMIT/XA role), Xid,
 *   XA_prepare, Table_map, Write/Update/Delete rows v0/v1/v2 and MariaDB's
 *   compressed ones (table id, STMT_END flag; row images are not decoded),
 *   Rotate, Stop, Incident, Heartbeat, MySQL Gtid/Anonymous_gtid
 *   (`uuid:n`), Previous_gtids (GTID set), MariaDB GTID (domain, seq,
 *   flags: standalone, commit id; `domain-server-seq`), Annotate_rows,
 *   Binlog_checkpoint, Gtid_list, Rows_query; Intvar/Rand/User_var and
 *   Transaction_payload by kind; any other type is kept as an 'opaque' event.
 * - Start_encryption stops the read with error 'encrypted': encrypted binlogs
 *   are not supported.
 *
 * Transactions (see transactions.ts for the rules): each complete one with
 * its start/end offsets, GTID, end_log_pos and start coordinate.
 *
 * Errors are values (BinlogError: code, file, offset, message): a wrong
 * magic, a truncated header or event, an event_size smaller than the header,
 * a bad CRC32, an end_log_pos that does not match the offset (own binlogs
 * only), a malformed body. Reading stops at the first one; everything before
 * it is reported. Each event is at least 19 bytes, so a read always ends.
 *
 * API
 * - readBinlog(bytes, opts) → BinlogReadResult: fde, events, transactions,
 *   openTransaction (started, not ended), validEnd, error, complete.
 *   opts.kind 'relay' for relay logs; opts.fde + opts.startOffset to read a
 *   slice that starts mid-file (e.g. salvage from a replica's read position).
 * - BinlogStreamReader: the same, fed in chunks (push / finish), for files
 *   read over SSH without holding them whole.
 * - lastCompleteTransactionEnd(bytes, opts) → CutPoint: where to cut a binlog
 *   that may end mid-event or mid-transaction (crashed master), so that no
 *   partial transaction is applied; why, and the last whole transaction.
 * - findMasterCoordInRelay(relayFiles, {file, pos}) → the relay file and
 *   offset after which the master's events following that coordinate start,
 *   or an error (mid-transaction, inside an event, not reached, purged, ...).
 * - crc32(bytes), eventTypeName(code), EventType, queryRole(text).
 *
 * Not covered: row images are not decoded (they are applied by the server,
 * not by us); compressed query text (MariaDB log_bin_compress) and MySQL 8
 * Transaction_payload contents are not decompressed; binlog v1/v3.
 */
export { crc32 } from './crc32.js';
export { BINLOG_MAGIC, COMMON_HEADER_LEN, decodeEvent, isChecksumAware, queryRole, readHeader, type DecodeContext, type DecodeOutcome } from './decode.js';
export { BinlogStreamReader, lastCompleteTransactionEnd, readBinlog, type BinlogReadResult, type CutPoint, type ReadOptions } from './reader.js';
export { findMasterCoordInRelay, isRelayFindError, type MasterCoord, type RelayFindError, type RelayFindResult, type RelayLogFile, type RelayPosition } from './relay.js';
export { TransactionTracker, type OpenTransaction } from './transactions.js';
export {
  EventFlag,
  EventType,
  MariaGtidFlag,
  eventTypeName,
  type BinlogError,
  type BinlogErrorCode,
  type ChecksumAlg,
  type EventData,
  type EventHeader,
  type EventInfo,
  type FormatDescription,
  type QueryRole,
  type TransactionInfo,
} from './types.js';
