/**
 * The CONNECT health check's fresh connection without mysql2: a minimal client for the one thing it
 * does every second per cluster — connect, authenticate, run the monitor's own constant statements,
 * send COM_QUIT and close. mysql2 builds a connection object, its config, a packet parser, command
 * objects and an auth plugin per connection; at a thousand servers that is most of the manager's CPU
 * and garbage. This is a socket, a byte buffer and a closure.
 *
 * It speaks only the common case: protocol 4.1 with mysql_native_password, or caching_sha2_password
 * when the server has the account cached (fast authentication), auth-switch requests to either, text
 * result sets, several statements in one query. Anything else — another authentication plugin, a
 * caching_sha2 full authentication (needs TLS or the server's RSA key), a greeting it does not know —
 * throws LeanUnsupported before any statement ran, and the caller does the check with mysql2
 * (connection.ts) instead. Every failure of the server or the network is a DbError classified as
 * connection.ts classifies mysql2's (refused, timeout, auth, too many connections, ...).
 *
 * The deadline is the caller's: when `signal` aborts, the socket is destroyed and the promise rejects.
 * The password is never logged; its hashes are kept by the caller (LeanAuth), not recomputed.
 */
import { createHash } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { classifyError, DbError, type DbTarget } from './connection.js';

/** The server cannot be spoken to with this client (not a failure of the server): use mysql2. */
export class LeanUnsupported extends Error {
  constructor(detail: string) {
    super(`lean client: ${detail}`);
    this.name = 'LeanUnsupported';
  }
}

// Capability flags (MySQL protocol).
const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_LONG_FLAG = 0x4;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_TRANSACTIONS = 0x2000;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_MULTI_STATEMENTS = 0x10000;
const CLIENT_MULTI_RESULTS = 0x20000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const SERVER_MORE_RESULTS_EXISTS = 0x8;
/** utf8_general_ci: known to every server version; the monitor's answers are ASCII. */
const CHARSET = 33;
const MAX_PACKET = 0x1000000;

/** Integer column types: answered as numbers when exact (as mysql2 with supportBigNumbers and without bigNumberStrings). */
const INT_TYPES = new Set([1, 2, 3, 8, 9, 13]);

const NATIVE = 'mysql_native_password';
const SHA2 = 'caching_sha2_password';

type Row = Record<string, unknown>;

const sha1 = (...b: Buffer[]): Buffer => {
  const h = createHash('sha1');
  for (const x of b) h.update(x);
  return h.digest();
};
const sha256 = (...b: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const x of b) h.update(x);
  return h.digest();
};
const xor = (a: Buffer, b: Buffer): Buffer => {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
};

/** What authentication needs from the password, computed once per target (not per check). */
export class LeanAuth {
  readonly user: Buffer;
  readonly #empty: boolean;
  readonly #sha1: Buffer;
  readonly #sha1sha1: Buffer;
  readonly #sha256: Buffer;
  readonly #sha256sha256: Buffer;

  constructor(target: DbTarget) {
    const pw = Buffer.from(target.password.reveal(), 'utf8');
    this.user = Buffer.from(target.user, 'utf8');
    this.#empty = pw.length === 0;
    this.#sha1 = sha1(pw);
    this.#sha1sha1 = sha1(this.#sha1);
    this.#sha256 = sha256(pw);
    this.#sha256sha256 = sha256(this.#sha256);
    pw.fill(0);
  }

  /** The authentication response for a plugin and a 20-byte scramble; undefined for a plugin this client does not speak. */
  token(plugin: string, scramble: Buffer): Buffer | undefined {
    if (plugin !== NATIVE && plugin !== SHA2) return undefined;
    if (this.#empty) return Buffer.alloc(0);
    // mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
    if (plugin === NATIVE) return xor(this.#sha1, sha1(scramble, this.#sha1sha1));
    // caching_sha2_password (fast path): SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble).
    return xor(this.#sha256, sha256(this.#sha256sha256, scramble));
  }
}

/** A length-encoded integer at off: [value, next offset]. */
function lenenc(b: Buffer, off: number): [number, number] {
  const f = b[off]!;
  if (f < 0xfb) return [f, off + 1];
  if (f === 0xfc) return [b.readUInt16LE(off + 1), off + 3];
  if (f === 0xfd) return [b.readUIntLE(off + 1, 3), off + 4];
  if (f === 0xfe) return [Number(b.readBigUInt64LE(off + 1)), off + 9];
  return [-1, off + 1]; // 0xfb: NULL
}

function lenencStr(b: Buffer, off: number): [string, number] {
  const [n, o] = lenenc(b, off);
  return [b.toString('utf8', o, o + n), o + n];
}

function errPacket(target: DbTarget, p: Buffer): DbError {
  const errno = p.readUInt16LE(1);
  // 4.1: '#' and a five-character SQL state before the message (absent in an early greeting error).
  const message = p[3] === 0x23 ? p.toString('utf8', 9) : p.toString('utf8', 3);
  const c = classifyError({ errno, message });
  return new DbError(target, c.kind, c.detail, c.errno);
}

function packet(seq: number, payload: Buffer): Buffer {
  const h = Buffer.allocUnsafe(4 + payload.length);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq & 0xff;
  payload.copy(h, 4);
  return h;
}

/** COM_QUIT, sequence 0. */
const QUIT = packet(0, Buffer.from([0x01]));

/**
 * COM_QUERY followed by COM_QUIT, in one write: the server runs the statements, answers, then reads the QUIT and
 * closes (nothing in its log as an aborted connection), and the client saves a write and a wakeup per check.
 * The monitor's statements are a handful of constants: the bytes are made once per text.
 */
const queryThenQuit = new Map<string, Buffer>();
function queryPackets(sql: string): Buffer {
  let b = queryThenQuit.get(sql);
  if (b === undefined) {
    b = Buffer.concat([packet(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'utf8')])), QUIT]);
    if (queryThenQuit.size < 64) queryThenQuit.set(sql, b);
  }
  return b;
}

export interface LeanOptions {
  /** The caller's deadline: aborting destroys the socket. */
  signal: AbortSignal;
  /** Called once authenticated (the check's stage moves from connect to statement). */
  onAuthenticated?: (() => void) | undefined;
}

/**
 * Opens a fresh connection, runs `sql` (the monitor's constant statements; several separated by
 * semicolons need the server's CLIENT_MULTI_STATEMENTS) with COM_QUIT behind it, and closes. Resolves with
 * each statement's rows, in order.
 */
export function leanQuery(target: DbTarget, auth: LeanAuth, sql: string, opts: LeanOptions): Promise<Row[][]> {
  return new Promise<Row[][]>((resolve, reject) => {
    let settled = false;
    if (opts.signal.aborted) {
      reject(new DbError(target, 'timeout', 'connect aborted'));
      return;
    }
    const socket: Socket = netConnect({ host: target.host, port: target.port, ...(target.localAddress !== undefined ? { localAddress: target.localAddress } : {}) });
    const finish = (err: Error | undefined, sets?: Row[][]): void => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      // On success the QUIT went with the query (the server reads it before it sees the close): closed at once.
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(sets!);
    };
    const onAbort = (): void => finish(new DbError(target, 'timeout', 'connect aborted'));
    opts.signal.addEventListener('abort', onAbort, { once: true });

    const multi = sql.includes(';');
    let state: 'greeting' | 'auth' | 'result' = 'greeting';
    let plugin = '';
    // Result parsing.
    const sets: Row[][] = [];
    let columns: Array<{ name: string; int: boolean }> | undefined;
    let columnCount = 0;
    let rows: Row[] = [];
    let phase: 'head' | 'columns' | 'rows' = 'head';

    const onPacket = (seq: number, p: Buffer): void => {
      if (state === 'greeting') {
        if (p[0] === 0xff) return finish(errPacket(target, p));
        if (p[0] !== 10) return finish(new LeanUnsupported(`greeting protocol ${p[0]}`));
        let o = p.indexOf(0, 1);
        if (o < 0) return finish(new LeanUnsupported('greeting without a version'));
        o += 1 + 4; // NUL, connection id
        const s1 = p.subarray(o, o + 8);
        o += 9;
        let caps = p.readUInt16LE(o);
        o += 2 + 1 + 2; // capabilities (low), charset, status
        caps |= p.readUInt16LE(o) << 16;
        o += 2;
        const dataLen = p[o]!;
        o += 1 + 10;
        const need = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | (multi ? CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS : 0);
        if ((caps & need) !== need) return finish(new LeanUnsupported(`server capabilities 0x${caps.toString(16)}`));
        const n2 = Math.max(13, dataLen - 8);
        const s2 = p.subarray(o, o + n2 - 1); // without its trailing NUL
        o += n2;
        const end = p.indexOf(0, o);
        plugin = p.toString('latin1', o, end < 0 ? p.length : end);
        const scramble = Buffer.concat([s1, s2]).subarray(0, 20);
        const token = auth.token(plugin, scramble);
        if (token === undefined) return finish(new LeanUnsupported(`authentication plugin ${plugin}`));
        const flags = CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | (multi ? CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS : 0);
        const head = Buffer.alloc(32);
        head.writeUInt32LE(flags, 0);
        head.writeUInt32LE(MAX_PACKET, 4);
        head[8] = CHARSET;
        const body = Buffer.concat([head, auth.user, Buffer.from([0, token.length]), token, Buffer.from(plugin, 'latin1'), Buffer.from([0])]);
        state = 'auth';
        socket.write(packet(seq + 1, body));
        return;
      }
      if (state === 'auth') {
        const t = p[0];
        if (t === 0x00) {
          state = 'result';
          opts.onAuthenticated?.();
          socket.write(queryPackets(sql));
          return;
        }
        if (t === 0xff) return finish(errPacket(target, p));
        if (t === 0xfe) {
          // Auth switch: another plugin, a new scramble.
          const end = p.indexOf(0, 1);
          plugin = p.toString('latin1', 1, end < 0 ? p.length : end);
          let data = end < 0 ? Buffer.alloc(0) : p.subarray(end + 1);
          if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
          const token = auth.token(plugin, data.subarray(0, 20));
          if (token === undefined || data.length < 20) return finish(new LeanUnsupported(`authentication switch to ${plugin}`));
          socket.write(packet(seq + 1, token));
          return;
        }
        if (t === 0x01 && plugin === SHA2 && p[1] === 0x03) return; // fast authentication succeeded: the OK follows
        return finish(new LeanUnsupported(t === 0x01 && plugin === SHA2 && p[1] === 0x04 ? 'caching_sha2_password full authentication' : `authentication packet 0x${(t ?? 0).toString(16)}`));
      }
      // Result sets.
      if (phase === 'head') {
        const t = p[0];
        if (t === 0xff) return finish(errPacket(target, p));
        if (t === 0x00) {
          // OK: a statement without rows.
          sets.push([]);
          let o = 1;
          o = lenenc(p, o)[1];
          o = lenenc(p, o)[1];
          const status = p.readUInt16LE(o);
          if ((status & SERVER_MORE_RESULTS_EXISTS) === 0) return finish(undefined, sets);
          return;
        }
        [columnCount] = lenenc(p, 0);
        columns = [];
        rows = [];
        phase = 'columns';
        return;
      }
      if (phase === 'columns') {
        if (p[0] === 0xfe && p.length < 9) {
          phase = 'rows';
          return;
        }
        let o = 0;
        for (let i = 0; i < 4; i++) o = lenenc(p, o)[1] + lenenc(p, o)[0]; // catalog, schema, table, org_table
        const [name, o2] = lenencStr(p, o);
        o = lenenc(p, o2)[1] + lenenc(p, o2)[0]; // org_name
        o = lenenc(p, o)[1]; // length of the fixed fields (0x0c)
        const type = p[o + 2 + 4]!;
        columns!.push({ name, int: INT_TYPES.has(type) });
        return;
      }
      // Rows.
      if (p[0] === 0xfe && p.length < 9) {
        sets.push(rows);
        phase = 'head';
        const status = p.readUInt16LE(3);
        if ((status & SERVER_MORE_RESULTS_EXISTS) === 0) finish(undefined, sets);
        return;
      }
      if (p[0] === 0xff) return finish(errPacket(target, p));
      const row: Row = {};
      let o = 0;
      for (let i = 0; i < columnCount; i++) {
        const c = columns![i]!;
        if (p[o] === 0xfb) {
          row[c.name] = null;
          o += 1;
          continue;
        }
        const [s, next] = lenencStr(p, o);
        o = next;
        if (c.int) {
          const n = Number(s);
          row[c.name] = Number.isSafeInteger(n) ? n : s;
        } else row[c.name] = s;
      }
      rows.push(row);
    };

    let pending: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      const b = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      pending = undefined;
      let off = 0;
      while (!settled && b.length - off >= 4) {
        const len = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16);
        if (len === 0xffffff) return finish(new LeanUnsupported('a packet of 16 MB or more'));
        if (b.length - off - 4 < len) break;
        try {
          onPacket(b[off + 3]!, b.subarray(off + 4, off + 4 + len));
        } catch (err) {
          // A malformed packet (a bounds error while parsing): not a server this client understands.
          return finish(new DbError(target, 'protocol', `malformed packet: ${(err as Error).message}`));
        }
        off += 4 + len;
      }
      if (!settled && off < b.length) pending = Buffer.from(b.subarray(off));
    };

    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('error', (err) => {
      if (settled) return;
      const c = classifyError(err);
      finish(new DbError(target, c.kind, c.detail, c.errno));
    });
    // Our own destroy() after the answer also ends here: no error object (and its stack) unless it counts.
    socket.on('close', () => settled || finish(new DbError(target, 'protocol', `connection lost (closed by the server${state === 'greeting' ? ' before its greeting' : ''})`)));
  });
}
