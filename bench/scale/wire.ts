/**
 * The server side of the MySQL client/server protocol, as much as the scale benchmark's simulator
 * needs (bench/scale/sim-core.ts): the HandshakeV10 greeting, OK, ERR and EOF packets, text result
 * sets, and the split of an incoming byte stream into packets. Written by hand so that a simulated
 * server costs a few buffer copies per statement, not a protocol library's objects per connection.
 * Pure: no sockets here.
 */

/** Capabilities offered in the greeting: everything mysql2 uses except SSL (0x800), compression (0x20) and session tracking (0x800000). CLIENT_DEPRECATE_EOF (0x1000000) is not offered: result sets end with EOF packets. */
export const CAPABILITIES = 0xffffff & ~0x800 & ~0x20 & ~0x800000;
/** SERVER_STATUS_AUTOCOMMIT. */
export const STATUS_AUTOCOMMIT = 0x0002;
/** SERVER_MORE_RESULTS_EXISTS: another result of the same multi-statement query follows. */
export const STATUS_MORE_RESULTS = 0x0008;

/** Column types and character sets of the text protocol. */
export const TYPE_LONGLONG = 8;
export const TYPE_VAR_STRING = 253;
const CHARSET_BINARY = 63;
const CHARSET_UTF8 = 33;

export type Cell = string | number | null;

/** Appends packets to one growing buffer; take() hands the bytes over for one socket write. */
export class PacketWriter {
  #buf: Buffer;
  #len = 0;
  #start = -1;
  /** The sequence id of the next packet. */
  seq = 0;

  constructor(size = 16384) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  /** Starts a packet (its header is written by end()). */
  begin(): this {
    this.#room(4);
    this.#start = this.#len;
    this.#len += 4;
    return this;
  }

  /** Ends the running packet: its length and sequence id. */
  end(): this {
    const n = this.#len - this.#start - 4;
    this.#buf.writeUIntLE(n, this.#start, 3);
    this.#buf[this.#start + 3] = this.seq & 0xff;
    this.seq++;
    this.#start = -1;
    return this;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.#room(2);
    this.#buf.writeUInt16LE(v & 0xffff, this.#len);
    this.#len += 2;
    return this;
  }

  u32(v: number): this {
    this.#room(4);
    this.#buf.writeUInt32LE(v >>> 0, this.#len);
    this.#len += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** A string without length (NUL-terminated ones add u8(0)). */
  raw(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.#room(n);
    this.#buf.write(s, this.#len, n, 'utf8');
    this.#len += n;
    return this;
  }

  /** A length-encoded integer. */
  lenenc(v: number): this {
    if (v < 251) return this.u8(v);
    if (v < 0x10000) return this.u8(0xfc).u16(v);
    if (v < 0x1000000) {
      this.#room(4);
      this.#buf[this.#len++] = 0xfd;
      this.#buf.writeUIntLE(v, this.#len, 3);
      this.#len += 3;
      return this;
    }
    this.#room(9);
    this.#buf[this.#len++] = 0xfe;
    this.#buf.writeBigUInt64LE(BigInt(v), this.#len);
    this.#len += 8;
    return this;
  }

  /** A length-encoded string. */
  str(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.lenenc(n);
    this.#room(n);
    this.#buf.write(s, this.#len, n, 'utf8');
    this.#len += n;
    return this;
  }

  /** A text-protocol cell: NULL is 0xfb, anything else its decimal or text form. */
  cell(v: Cell): this {
    return v === null ? this.u8(0xfb) : this.str(typeof v === 'number' ? String(v) : v);
  }

  ok(status: number, affectedRows = 0): this {
    return this.begin().u8(0x00).lenenc(affectedRows).lenenc(0).u16(status).u16(0).end();
  }

  eof(status: number): this {
    return this.begin().u8(0xfe).u16(0).u16(status).end();
  }

  err(errno: number, message: string, sqlState = '42000'): this {
    return this.begin().u8(0xff).u16(errno).raw('#').raw(sqlState.slice(0, 5)).raw(message).end();
  }

  /** A text result set: column count, definitions, EOF, rows, EOF (with status: more results or not). */
  resultSet(columns: ReadonlyArray<{ name: string; numeric: boolean }>, rows: ReadonlyArray<ReadonlyArray<Cell>>, status: number): this {
    this.begin().lenenc(columns.length).end();
    for (const c of columns) {
      this.begin().str('def').str('').str('').str('').str(c.name).str(c.name).u8(0x0c);
      this.u16(c.numeric ? CHARSET_BINARY : CHARSET_UTF8).u32(c.numeric ? 21 : 1024).u8(c.numeric ? TYPE_LONGLONG : TYPE_VAR_STRING).u16(0).u8(0).u16(0).end();
    }
    this.eof(status);
    for (const r of rows) {
      this.begin();
      for (const v of r) this.cell(v);
      this.end();
    }
    return this.eof(status);
  }

  /** The bytes written since the last take() (a copy: the writer's buffer is reused). */
  take(): Buffer {
    const out = Buffer.from(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    return out;
  }

  get length(): number {
    return this.#len;
  }
}

/**
 * The HandshakeV10 greeting with the connection id left at 0 (greeting() fills it in): protocol 10,
 * the server version, a fixed 20-byte scramble, the capabilities, utf8 and autocommit,
 * mysql_native_password. Any password is accepted.
 */
export function greetingTemplate(serverVersion: string): { packet: Buffer; connIdOffset: number } {
  const w = new PacketWriter(256);
  const scramble = Buffer.from('mhats-scale-sim-salt!'.slice(0, 20), 'latin1');
  w.begin().u8(10).raw(serverVersion).u8(0);
  const connIdOffset = w.length;
  w.u32(0).bytes(scramble.subarray(0, 8)).u8(0).u16(CAPABILITIES & 0xffff).u8(CHARSET_UTF8).u16(STATUS_AUTOCOMMIT).u16((CAPABILITIES >>> 16) & 0xffff);
  w.u8(21).bytes(Buffer.alloc(10)).bytes(scramble.subarray(8, 20)).u8(0).raw('mysql_native_password').u8(0).end();
  return { packet: w.take(), connIdOffset };
}

/** A copy of the greeting template with this connection's id. */
export function greeting(t: { packet: Buffer; connIdOffset: number }, connId: number): Buffer {
  const b = Buffer.from(t.packet);
  b.writeUInt32LE(connId >>> 0, t.connIdOffset);
  return b;
}

/**
 * Splits a byte stream into packets: push() each chunk, and every complete packet is handed to
 * onPacket (its sequence id and payload, a view valid only during the call). Packets of 16 MB and
 * more (split over several) are not needed by the simulator and not supported.
 */
export class PacketReader {
  #pending: Buffer | undefined;
  constructor(private readonly onPacket: (seq: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    const b = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    let off = 0;
    while (b.length - off >= 4) {
      const len = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16);
      if (b.length - off - 4 < len) break;
      this.onPacket(b[off + 3]!, b.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    if (off < b.length) this.#pending = Buffer.from(b.subarray(off));
  }
}
