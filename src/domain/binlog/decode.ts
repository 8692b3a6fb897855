/**
 * Decoding of single binlog events: the v4 common header, the Format
 * Description Event, CRC32 checksums, and the bodies of the event types the
 * reader understands. Pure: bytes in, data out; never throws (every problem
 * comes back as a DecodeOutcome of status 'error').
 */
import { crc32 } from './crc32.js';
import {
  EventFlag,
  EventType,
  MariaGtidFlag,
  eventTypeName,
  type BinlogError,
  type BinlogErrorCode,
  type EventData,
  type EventHeader,
  type EventInfo,
  type FormatDescription,
  type QueryRole,
} from './types.js';

export const BINLOG_MAGIC = Uint8Array.of(0xfe, 0x62, 0x69, 0x6e); // \xfe 'bin'
export const COMMON_HEADER_LEN = 19;
const FDE_FIXED_LEN = 2 + 50 + 4 + 1; // binlog_version, server_version, create_timestamp, header_length
const CHECKSUM_LEN = 4;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Thrown inside body decoders only; always caught in decodeEvent. */
class Malformed extends Error {}

/** Bounds-checked little-endian reader over bytes[pos, end). */
class Cursor {
  constructor(
    private readonly b: Uint8Array,
    public pos: number,
    public readonly end: number,
  ) {}
  get left(): number {
    return this.end - this.pos;
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new Malformed(`${what} needs ${n} bytes, ${Math.max(0, this.left)} left`);
  }
  skip(n: number, what = 'field'): void {
    this.need(n, what);
    this.pos += n;
  }
  u8(what = 'u8'): number {
    this.need(1, what);
    return this.b[this.pos++]!;
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.b[this.pos]! | (this.b[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const v = readU32(this.b, this.pos);
    this.pos += 4;
    return v;
  }
  u48(what = 'u48'): number {
    this.need(6, what);
    const lo = readU32(this.b, this.pos);
    const hi = this.b[this.pos + 4]! | (this.b[this.pos + 5]! << 8);
    this.pos += 6;
    return hi * 0x1_0000_0000 + lo;
  }
  u64(what = 'u64'): bigint {
    this.need(8, what);
    const lo = BigInt(readU32(this.b, this.pos));
    const hi = BigInt(readU32(this.b, this.pos + 4));
    this.pos += 8;
    return (hi << 32n) | lo;
  }
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  str(n: number, what = 'string'): string {
    return utf8.decode(this.bytes(n, what));
  }
  rest(): string {
    const v = utf8.decode(this.b.subarray(this.pos, this.end));
    this.pos = this.end;
    return v;
  }
  /** MySQL length-encoded integer (as a number; values above 2^53 are malformed for our purposes). */
  lenenc(what = 'length-encoded int'): number {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16(what);
    if (first === 0xfd) {
      this.need(3, what);
      const v = this.b[this.pos]! | (this.b[this.pos + 1]! << 8) | (this.b[this.pos + 2]! << 16);
      this.pos += 3;
      return v;
    }
    if (first === 0xfe) {
      const v = this.u64(what);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed(`${what} too large`);
      return Number(v);
    }
    throw new Malformed(`${what}: invalid first byte 0x${first.toString(16)}`);
  }
}

export function readU32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

export function readHeader(b: Uint8Array, p: number): EventHeader {
  return {
    timestamp: readU32(b, p),
    typeCode: b[p + 4]!,
    serverId: readU32(b, p + 5),
    eventSize: readU32(b, p + 9),
    logPos: readU32(b, p + 13),
    flags: b[p + 17]! | (b[p + 18]! << 8),
  };
}

export function hasMagic(b: Uint8Array, p = 0): boolean {
  return b.length >= p + 4 && b[p] === 0xfe && b[p + 1] === 0x62 && b[p + 2] === 0x69 && b[p + 3] === 0x6e;
}

function uuidString(u: Uint8Array): string {
  let h = '';
  for (const x of u) h += x.toString(16).padStart(2, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Does this server version write the checksum-algorithm byte (and CRC slot) in its FDE? MySQL ≥ 5.6.1, MariaDB ≥ 5.3. */
export function isChecksumAware(serverVersion: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(serverVersion);
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  const split = /mariadb/i.test(serverVersion) ? [5, 3, 0] : [5, 6, 1];
  for (let i = 0; i < 3; i++) if (v[i] !== split[i]) return v[i]! > split[i]!;
  return true;
}

/** Classify a Query event's text for transaction boundaries. */
export function queryRole(query: string): QueryRole {
  const q = query.trim().replace(/;\s*$/, '').toUpperCase();
  if (q === 'BEGIN' || q === 'START TRANSACTION' || /^BEGIN\s+WORK$/.test(q)) return 'begin';
  if (q === 'COMMIT' || /^COMMIT\s+WORK$/.test(q)) return 'commit';
  if (q === 'ROLLBACK' || /^ROLLBACK\s+WORK$/.test(q)) return 'rollback';
  if (/^XA\s+(START|BEGIN)\b/.test(q)) return 'xa_start';
  if (/^XA\s+END\b/.test(q)) return 'xa_end';
  if (/^XA\s+COMMIT\b/.test(q)) return 'xa_commit';
  if (/^XA\s+ROLLBACK\b/.test(q)) return 'xa_rollback';
  return 'statement';
}

export interface DecodeContext {
  /** The FDE in force (undefined before the first one). */
  fde: FormatDescription | undefined;
  verifyChecksums: boolean;
  /** Require header.logPos === offset + size (true for a server's own binlog, false for relay logs and spliced files). */
  checkLogPos: boolean;
  file: string | undefined;
}

export type DecodeOutcome =
  | { status: 'ok'; event: EventInfo }
  /** Not enough bytes: `need` is the total number of bytes from `pos` required to go on. */
  | { status: 'need-more'; need: number }
  | { status: 'error'; error: BinlogError };

export function makeError(code: BinlogErrorCode, offset: number, file: string | undefined, what: string): BinlogError {
  return { code, offset, ...(file !== undefined ? { file } : {}), message: `${file ?? 'binlog'} at offset ${offset}: ${what}` };
}

/**
 * Decode the event starting at b[pos] (file offset `offset`). Looks only at
 * b[pos, limit). The first event of a file must be the FDE (ctx.fde undefined).
 */
export function decodeEvent(b: Uint8Array, pos: number, limit: number, offset: number, ctx: DecodeContext): DecodeOutcome {
  const avail = limit - pos;
  if (avail < COMMON_HEADER_LEN) return { status: 'need-more', need: COMMON_HEADER_LEN };
  const h = readHeader(b, pos);
  const err = (code: BinlogErrorCode, what: string): DecodeOutcome => ({ status: 'error', error: makeError(code, offset, ctx.file, what) });
  const tname = eventTypeName(h.typeCode);
  const headerLen = ctx.fde?.headerLength ?? COMMON_HEADER_LEN;
  if (h.eventSize < headerLen) return err('bad-event-size', `${tname} event declares size ${h.eventSize}, smaller than the ${headerLen}-byte header`);
  if (ctx.fde === undefined) {
    if (h.typeCode === EventType.START_V3) return err('unsupported-version', 'binlog starts with a Start_v3 event: binlog format v1/v3 (MySQL < 5.0) is not supported');
    if (h.typeCode !== EventType.FORMAT_DESCRIPTION) return err('missing-format-description', `expected a Format_description event first, found type ${h.typeCode} (${tname})`);
    // An FDE is a few hundred bytes; a huge size here means garbage, not a long event.
    if (h.eventSize > 65_536) return err('bad-event-size', `Format_description event declares size ${h.eventSize}, implausible (garbage?)`);
  }
  if (avail < h.eventSize) return { status: 'need-more', need: h.eventSize };
  if (ctx.checkLogPos && h.logPos !== offset + h.eventSize) {
    return err('bad-log-pos', `${tname} event of ${h.eventSize} bytes claims end_log_pos ${h.logPos}, expected ${offset + h.eventSize} (corrupt data, or not a binlog written by one server)`);
  }
  const end = pos + h.eventSize;

  if (h.typeCode === EventType.FORMAT_DESCRIPTION) return decodeFde(b, pos, h, offset, ctx, err);

  const fde = ctx.fde;
  if (fde === undefined) return err('missing-format-description', `${tname} event before any Format_description event`);
  let bodyEnd = end;
  let checksum: EventInfo['checksum'] = 'none';
  if (fde.checksum === 'crc32') {
    if (h.eventSize < fde.headerLength + CHECKSUM_LEN) return err('bad-event-size', `${tname} event declares size ${h.eventSize}, too small for header and CRC32`);
    bodyEnd = end - CHECKSUM_LEN;
    if (ctx.verifyChecksums) {
      const stored = readU32(b, bodyEnd);
      const computed = crc32(b, pos, bodyEnd);
      if (stored !== computed) {
        return err('bad-checksum', `${tname} event (${h.eventSize} bytes): CRC32 mismatch (stored 0x${hex32(stored)}, computed 0x${hex32(computed)})`);
      }
      checksum = 'ok';
    } else checksum = 'unverified';
  }
  if (h.typeCode === EventType.START_ENCRYPTION) {
    return err('encrypted', 'Start_encryption event: this binlog is encrypted (encrypt_binlog=ON); encrypted binlogs are not supported (read them through the server instead)');
  }
  try {
    const data = decodeBody(b, pos + fde.headerLength, bodyEnd, h, fde);
    return { status: 'ok', event: { offset, end: offset + h.eventSize, type: tname, header: h, checksum, data } };
  } catch (e) {
    if (e instanceof Malformed) return err('malformed-event', `${tname} event (${h.eventSize} bytes) is malformed: ${e.message}`);
    return err('malformed-event', `${tname} event (${h.eventSize} bytes) could not be decoded: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function decodeFde(
  b: Uint8Array,
  pos: number,
  h: EventHeader,
  offset: number,
  ctx: DecodeContext,
  err: (code: BinlogErrorCode, what: string) => DecodeOutcome,
): DecodeOutcome {
  const end = pos + h.eventSize;
  const body = pos + COMMON_HEADER_LEN; // the FDE's own header is always the 19-byte v4 one
  if (end - body < FDE_FIXED_LEN) return err('bad-format-description', `Format_description event of ${h.eventSize} bytes is too short`);
  const c = new Cursor(b, body, end);
  const binlogVersion = c.u16();
  if (binlogVersion !== 4) return err('unsupported-version', `binlog format version ${binlogVersion}: only v4 (MySQL ≥ 5.0, MariaDB) is supported`);
  const verBytes = c.bytes(50);
  const nul = verBytes.indexOf(0);
  const serverVersion = utf8.decode(nul >= 0 ? verBytes.subarray(0, nul) : verBytes);
  if (!/^\d+\.\d+/.test(serverVersion)) return err('bad-format-description', `Format_description event has an implausible server version ${JSON.stringify(serverVersion.slice(0, 60))}`);
  const createTimestamp = c.u32();
  const headerLength = c.u8();
  if (headerLength < COMMON_HEADER_LEN) return err('bad-format-description', `Format_description event declares a common-header length of ${headerLength} (< 19)`);
  const aware = isChecksumAware(serverVersion);
  let nTypes = end - c.pos - (aware ? 1 + CHECKSUM_LEN : 0);
  if (nTypes < 0) return err('bad-format-description', `Format_description event of ${h.eventSize} bytes is too short for ${serverVersion}`);
  if (nTypes > 255) nTypes = 255;
  const postHeaderLengths = Array.from(c.bytes(nTypes));
  let checksum: FormatDescription['checksum'];
  let ck: EventInfo['checksum'] = 'none';
  if (aware) {
    const alg = b[end - 5]!;
    if (alg === 0) checksum = 'off';
    else if (alg === 1) checksum = 'crc32';
    else return err('bad-format-description', `Format_description event names checksum algorithm ${alg} (known: 0 = off, 1 = CRC32)`);
    if (checksum === 'crc32') {
      if (ctx.verifyChecksums) {
        // The server clears BINLOG_IN_USE in place at close without re-computing the CRC: check with it cleared.
        const flagsLo = b[pos + 17]! & ~EventFlag.BINLOG_IN_USE;
        let crc = crc32(b, pos, pos + 17);
        crc = crc32(Uint8Array.of(flagsLo), 0, 1, crc);
        crc = crc32(b, pos + 18, end - CHECKSUM_LEN, crc);
        const stored = readU32(b, end - CHECKSUM_LEN);
        if (stored !== crc) return err('bad-checksum', `Format_description event: CRC32 mismatch (stored 0x${hex32(stored)}, computed 0x${hex32(crc)})`);
        ck = 'ok';
      } else ck = 'unverified';
    }
  }
  const fde: FormatDescription = {
    binlogVersion,
    serverVersion,
    flavor: /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql',
    createTimestamp,
    headerLength,
    postHeaderLengths,
    checksum,
    inUse: (h.flags & EventFlag.BINLOG_IN_USE) !== 0,
    serverId: h.serverId,
  };
  return { status: 'ok', event: { offset, end: offset + h.eventSize, type: 'FORMAT_DESCRIPTION', header: h, checksum: ck, data: { kind: 'format_description', fde } } };
}

function postHeaderLen(fde: FormatDescription, type: number, dflt: number): number {
  return fde.postHeaderLengths[type - 1] ?? dflt;
}

const ROWS_TYPES: ReadonlyMap<number, { op: 'write' | 'update' | 'delete' | 'partial_update'; version: 0 | 1 | 2; compressed: boolean }> = new Map([
  [EventType.PRE_GA_WRITE_ROWS, { op: 'write', version: 0, compressed: false }],
  [EventType.PRE_GA_UPDATE_ROWS, { op: 'update', version: 0, compressed: false }],
  [EventType.PRE_GA_DELETE_ROWS, { op: 'delete', version: 0, compressed: false }],
  [EventType.WRITE_ROWS_V1, { op: 'write', version: 1, compressed: false }],
  [EventType.UPDATE_ROWS_V1, { op: 'update', version: 1, compressed: false }],
  [EventType.DELETE_ROWS_V1, { op: 'delete', version: 1, compressed: false }],
  [EventType.WRITE_ROWS_V2, { op: 'write', version: 2, compressed: false }],
  [EventType.UPDATE_ROWS_V2, { op: 'update', version: 2, compressed: false }],
  [EventType.DELETE_ROWS_V2, { op: 'delete', version: 2, compressed: false }],
  [EventType.PARTIAL_UPDATE_ROWS, { op: 'partial_update', version: 2, compressed: false }],
  [EventType.WRITE_ROWS_COMPRESSED_V1, { op: 'write', version: 1, compressed: true }],
  [EventType.UPDATE_ROWS_COMPRESSED_V1, { op: 'update', version: 1, compressed: true }],
  [EventType.DELETE_ROWS_COMPRESSED_V1, { op: 'delete', version: 1, compressed: true }],
  [EventType.WRITE_ROWS_COMPRESSED, { op: 'write', version: 2, compressed: true }],
  [EventType.UPDATE_ROWS_COMPRESSED, { op: 'update', version: 2, compressed: true }],
  [EventType.DELETE_ROWS_COMPRESSED, { op: 'delete', version: 2, compressed: true }],
]);

function decodeBody(b: Uint8Array, body: number, bodyEnd: number, h: EventHeader, fde: FormatDescription): EventData {
  const c = new Cursor(b, body, bodyEnd);
  const t = h.typeCode;
  switch (t) {
    case EventType.QUERY:
    case EventType.QUERY_COMPRESSED: {
      const phl = postHeaderLen(fde, t, 13);
      c.need(phl, 'query post-header');
      const threadId = c.u32();
      const execTime = c.u32();
      const dbLen = c.u8();
      const errorCode = c.u16();
      const statusLen = phl >= 13 ? c.u16() : 0;
      c.pos = body + phl;
      c.skip(statusLen, 'query status variables');
      const database = c.str(dbLen, 'database name');
      c.skip(1, 'database name terminator');
      const compressed = t === EventType.QUERY_COMPRESSED;
      const query = compressed ? '' : c.rest();
      // Compressed queries are at least log_bin_compress_min_len (≥ 10) bytes: never BEGIN/COMMIT.
      return { kind: 'query', threadId, execTime, errorCode, database, query, compressed, role: compressed ? 'statement' : queryRole(query) };
    }
    case EventType.ROTATE: {
      const phl = postHeaderLen(fde, t, 8);
      const position = phl >= 8 ? c.u64('rotate position') : 4n;
      c.pos = body + phl;
      const nextFile = c.rest();
      if (nextFile.length === 0) throw new Malformed('rotate event names no file');
      return { kind: 'rotate', position: Number(position), nextFile };
    }
    case EventType.XID:
      return { kind: 'xid', xid: c.u64('xid') };
    case EventType.XA_PREPARE:
      return { kind: 'xa_prepare', onePhase: c.u8('one_phase') !== 0 };
    case EventType.TABLE_MAP: {
      const phl = postHeaderLen(fde, t, 8);
      const tableId = phl === 6 ? c.u32('table id') : c.u48('table id');
      c.u16('table map flags');
      c.pos = body + phl;
      const dbLen = c.u8('db length');
      const database = c.str(dbLen, 'db name');
      c.skip(1, 'db terminator');
      const tLen = c.u8('table length');
      const table = c.str(tLen, 'table name');
      c.skip(1, 'table terminator');
      const columnCount = c.lenenc('column count');
      c.need(columnCount, 'column types');
      return { kind: 'table_map', tableId, database, table, columnCount };
    }
    case EventType.MARIADB_GTID: {
      const seqNo = c.u64('gtid seq_no');
      const domainId = c.u32('gtid domain_id');
      const flags = c.u8('gtid flags');
      let commitId: bigint | undefined;
      if (flags & MariaGtidFlag.GROUP_COMMIT_ID) commitId = c.u64('commit_id');
      const gtid = `${domainId}-${h.serverId}-${seqNo}`;
      return {
        kind: 'mariadb_gtid',
        domainId,
        serverId: h.serverId,
        seqNo,
        flags,
        standalone: (flags & MariaGtidFlag.STANDALONE) !== 0,
        ...(commitId !== undefined ? { commitId } : {}),
        gtid,
      };
    }
    case EventType.GTID:
    case EventType.ANONYMOUS_GTID: {
      c.u8('gtid flags');
      const uuid = uuidString(c.bytes(16, 'gtid sid'));
      const gno = c.u64('gtid gno');
      const anonymous = t === EventType.ANONYMOUS_GTID;
      let lastCommitted: bigint | undefined;
      let sequenceNumber: bigint | undefined;
      if (c.left >= 17 && b[c.pos] === 2) {
        c.u8();
        lastCommitted = c.u64();
        sequenceNumber = c.u64();
      }
      return {
        kind: 'mysql_gtid',
        anonymous,
        uuid,
        gno,
        gtid: anonymous ? 'ANONYMOUS' : `${uuid}:${gno}`,
        ...(lastCommitted !== undefined ? { lastCommitted } : {}),
        ...(sequenceNumber !== undefined ? { sequenceNumber } : {}),
      };
    }
    case EventType.ANNOTATE_ROWS:
      return { kind: 'annotate_rows', query: c.rest() };
    case EventType.ROWS_QUERY:
      c.skip(1, 'rows query length');
      return { kind: 'rows_query', query: c.rest() };
    case EventType.BINLOG_CHECKPOINT: {
      const phl = postHeaderLen(fde, t, 4);
      const len = c.u32('checkpoint file length');
      c.pos = body + phl;
      return { kind: 'binlog_checkpoint', file: c.str(len, 'checkpoint file name') };
    }
    case EventType.MARIADB_GTID_LIST: {
      const phl = postHeaderLen(fde, t, 4);
      const count = c.u32('gtid count') & 0x0fffffff;
      c.pos = body + phl;
      c.need(count * 16, `${count} GTIDs`);
      const gtids: string[] = [];
      for (let i = 0; i < count; i++) {
        const d = c.u32();
        const s = c.u32();
        const q = c.u64();
        gtids.push(`${d}-${s}-${q}`);
      }
      return { kind: 'gtid_list', gtids };
    }
    case EventType.PREVIOUS_GTIDS: {
      const nSids = c.u64('sid count');
      if (nSids * 24n > BigInt(c.left)) throw new Malformed(`${nSids} SIDs do not fit in ${c.left} bytes`);
      const parts: string[] = [];
      for (let i = 0n; i < nSids; i++) {
        const uuid = uuidString(c.bytes(16, 'sid'));
        const n = c.u64('interval count');
        if (n * 16n > BigInt(c.left)) throw new Malformed(`${n} intervals do not fit in ${c.left} bytes`);
        let s = uuid;
        for (let j = 0n; j < n; j++) {
          const start = c.u64();
          const stop = c.u64() - 1n; // stored end is exclusive
          s += start === stop ? `:${start}` : `:${start}-${stop}`;
        }
        parts.push(s);
      }
      return { kind: 'previous_gtids', gtidSet: parts.join(',') };
    }
    case EventType.HEARTBEAT:
      return { kind: 'heartbeat', file: c.rest() };
    case EventType.INCIDENT: {
      const incident = c.u16('incident number');
      const len = c.u8('incident message length');
      return { kind: 'incident', incident, message: c.str(len, 'incident message') };
    }
    case EventType.STOP:
      return { kind: 'stop' };
    case EventType.INTVAR:
      return { kind: 'intvar' };
    case EventType.RAND:
      return { kind: 'rand' };
    case EventType.USER_VAR:
      return { kind: 'user_var' };
    case EventType.TRANSACTION_PAYLOAD:
      return { kind: 'transaction_payload' };
    default: {
      const r = ROWS_TYPES.get(t);
      if (r) {
        const phl = postHeaderLen(fde, t, r.version === 2 ? 10 : 8);
        const tableId = phl === 6 ? c.u32('table id') : c.u48('table id');
        const flags = c.u16('rows flags');
        return { kind: 'rows', ...r, tableId, flags, stmtEnd: (flags & 1) !== 0 };
      }
      return { kind: 'opaque' };
    }
  }
}
