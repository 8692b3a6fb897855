/**
 * mysql2 behind hard deadlines. The rules (ecosystem.md, "mysql2 pitfalls"):
 * - every connect and every statement has a deadline of our own, on top of
 *   mysql2's connectTimeout;
 * - on any timeout or error the connection is destroy()ed, never end()ed:
 *   end() waits for a COM_QUIT answer that a hung server never sends;
 * - no pools for probes: one dedicated connection per purpose.
 * Failures are classified (refused, timeout, auth, ...) because "too many
 * connections" and "access denied" mean the server is alive (as in MHA).
 */
import { connect as netConnect } from 'node:net';
import mysql from 'mysql2';
import type { Secret } from '../../domain/secret.js';
import type { ProbeFailureKind } from '../../domain/types.js';
import { ALIVE_ERRNOS } from '../../domain/detector.js';
import type { Sql } from './dialect.js';

export interface DbTarget {
  /** Config name of the server, used in every message. */
  name: string;
  host: string;
  port: number;
  user: string;
  password: Secret;
  /** Source address of the connection (mysql2 itself ignores localAddress: the socket is made here). */
  localAddress?: string | undefined;
}

export interface DbTimeouts {
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

export interface SessionOptions {
  /**
   * Allow several statements in one COM_QUERY (DbSession.queryBatch: one round trip for a fixed list).
   * Only for connections that run the monitor's own constant statements; never with text from outside.
   */
  multipleStatements?: boolean | undefined;
}

/** A failed connect or statement, classified, naming the server. */
export class DbError extends Error {
  readonly kind: ProbeFailureKind;
  readonly errno: number | undefined;
  readonly target: string;
  constructor(target: DbTarget, kind: ProbeFailureKind, detail: string, errno?: number) {
    super(`${target.name} (${target.host}:${target.port}): ${detail}`);
    this.name = 'DbError';
    this.kind = kind;
    this.errno = errno;
    this.target = target.name;
  }
}

/** MySQL error numbers that mean "the server is up but refuses us" (MHA ManagerConst.pm); the list lives with the detector. */
export { ALIVE_ERRNOS };

interface MysqlishError {
  code?: string;
  errno?: number;
  message?: string;
  fatal?: boolean;
}

export function classifyError(err: unknown): { kind: ProbeFailureKind; errno: number | undefined; detail: string } {
  const e = (err ?? {}) as MysqlishError;
  const code = e.code ?? '';
  const errno = typeof e.errno === 'number' && e.errno > 0 && e.errno < 10000 ? e.errno : undefined;
  const msg = e.message ?? String(err);
  if (code === 'ECONNREFUSED') return { kind: 'refused', errno, detail: 'connection refused (is mysqld running?)' };
  if (code === 'ETIMEDOUT' || code === 'PROTOCOL_SEQUENCE_TIMEOUT') return { kind: 'timeout', errno, detail: 'timed out' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'unresolvable', errno, detail: `host name does not resolve (${code})` };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return { kind: 'unreachable', errno, detail: `host unreachable (${code})` };
  if (errno === 1045 || errno === 1044 || code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') return { kind: 'auth', errno, detail: `access denied: ${msg}` };
  if (errno === 1040 || errno === 1203 || errno === 1226) return { kind: 'too_many_connections', errno, detail: msg };
  if (errno !== undefined && ALIVE_ERRNOS.has(errno)) return { kind: 'auth', errno, detail: msg };
  if (code === 'PROTOCOL_CONNECTION_LOST' || code === 'ECONNRESET' || code === 'EPIPE') return { kind: 'protocol', errno, detail: `connection lost (${code})` };
  if (errno !== undefined) return { kind: 'protocol', errno, detail: `${msg} (errno ${errno})` };
  return { kind: 'other', errno, detail: msg };
}

type Row = Record<string, unknown>;

/**
 * One open connection. Every query has a deadline; when it passes, or when any
 * error is fatal, the connection is destroyed and the session is dead.
 */
export class DbSession {
  readonly target: DbTarget;
  readonly timeouts: DbTimeouts;
  /** What cannot change while this connection lives (the server's version: a new binary means a restart, which ends the connection), read once per connection. */
  readonly memo = new Map<string, unknown>();
  /** Can run several statements in one round trip (queryBatch sends them together). */
  readonly multi: boolean;
  #conn: mysql.Connection;
  #dead = false;

  constructor(conn: mysql.Connection, target: DbTarget, timeouts: DbTimeouts, multi = false) {
    this.#conn = conn;
    this.target = target;
    this.timeouts = timeouts;
    this.multi = multi;
    conn.on('error', () => {
      // A fatal error on an idle connection: mark it dead; the next query fails fast.
      this.#dead = true;
    });
  }

  get threadId(): number | null {
    return this.#conn.threadId;
  }

  get alive(): boolean {
    return !this.#dead;
  }

  /** Runs one statement with a deadline. Rows come back as plain objects. */
  query<T extends Row = Row>(stmt: string | Sql, timeoutMs: number = this.timeouts.queryTimeoutMs): Promise<T[]> {
    const sql = typeof stmt === 'string' ? stmt : stmt.sql;
    const values = typeof stmt === 'string' ? undefined : stmt.values;
    return this.#raw(sql, timeoutMs, values).then((result) => (Array.isArray(result) ? (result as T[]) : []));
  }

  /**
   * Runs a fixed list of statements and returns each one's rows, in order. On a connection opened with
   * multipleStatements they go in one COM_QUERY (one round trip, one deadline for all of them);
   * otherwise one after the other, each with its own deadline. The first failing statement fails the
   * whole batch (a server stops a multi-statement query at its first error).
   */
  async queryBatch(stmts: readonly string[], timeoutMs: number = this.timeouts.queryTimeoutMs): Promise<Row[][]> {
    if (!this.multi || stmts.length < 2) {
      const out: Row[][] = [];
      for (const q of stmts) out.push(await this.query(q, timeoutMs));
      return out;
    }
    if (stmts.some((q) => q.includes(';'))) throw new Error('queryBatch: a statement contains a semicolon');
    const sets = await this.#raw(stmts.join('; '), timeoutMs);
    if (!Array.isArray(sets) || sets.length < stmts.length) throw new DbError(this.target, 'protocol', `${firstWords(stmts[0]!)}: expected ${stmts.length} results`);
    return stmts.map((_, i) => (Array.isArray(sets[i]) ? (sets[i] as Row[]) : []));
  }

  /** One COM_QUERY with a deadline: mysql2's raw result. */
  #raw(sql: string, timeoutMs: number, values?: unknown[]): Promise<unknown> {
    if (this.#dead) return Promise.reject(new DbError(this.target, 'protocol', 'connection already closed'));
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.destroy();
        reject(new DbError(this.target, 'timeout', `statement did not answer within ${timeoutMs} ms: ${firstWords(sql)}`));
      }, timeoutMs);
      this.#conn.query({ sql, values, rowsAsArray: false }, (err, result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          const c = classifyError(err);
          if ((err as MysqlishError).fatal) this.destroy();
          reject(new DbError(this.target, c.kind, `${firstWords(sql)}: ${c.detail}`, c.errno));
          return;
        }
        resolve(result);
      });
    });
  }

  /**
   * Polite close for a healthy connection: sends COM_QUIT so the server does
   * not log an aborted connection, but never waits for it: the socket is
   * destroyed after graceMs whatever happens.
   */
  close(graceMs = 500): void {
    if (this.#dead) return;
    this.#dead = true;
    let quitStarted = false;
    this.#conn.end(() => (quitStarted = true));
    // mysql2 calls back just before it writes COM_QUIT, synchronously when no statement is running (always
    // here). Once the socket has handed the QUIT to the kernel, the connection is closed at once: waiting
    // for the server's FIN costs a wakeup per connection and lets a server hung after the QUIT hold the
    // socket. The server still reads the QUIT first (no "aborted connection" in its log).
    const stream = (this.#conn as unknown as { stream?: { writableLength?: number } }).stream;
    if (quitStarted && stream?.writableLength === 0) {
      this.#destroyNow();
      return;
    }
    const timer = setTimeout(() => this.#destroyNow(), graceMs);
    timer.unref();
  }

  #destroyNow(): void {
    try {
      this.#conn.destroy();
    } catch {
      // already gone
    }
  }

  /**
   * Calls fn once when the connection ends or fails, idle or not: the server closed it (its mysqld
   * died: the kernel closes its sockets at once), the network broke it, or this side destroyed it.
   */
  onClose(fn: () => void): void {
    let fired = false;
    const once = (): void => {
      if (fired) return;
      fired = true;
      this.#dead = true;
      fn();
    };
    this.#conn.once('end', once);
    this.#conn.on('error', once);
  }

  /** This connection no longer keeps the process alive (an idle connection kept for its close event). */
  unref(): void {
    (this.#conn as unknown as { stream?: { unref?: () => void } }).stream?.unref?.();
  }

  /** Closes at once: never waits on the server. */
  destroy(): void {
    this.#dead = true;
    try {
      this.#conn.destroy();
    } catch {
      // already gone
    }
  }
}

function firstWords(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Opens a connection with a hard deadline. On a timeout the half-open
 * connection is destroyed; a connection that completes after the deadline
 * is destroyed too.
 */
export function openSession(target: DbTarget, timeouts: DbTimeouts, signal?: AbortSignal, options: SessionOptions = {}): Promise<DbSession> {
  const multi = options.multipleStatements === true;
  return new Promise<DbSession>((resolve, reject) => {
    let settled = false;
    const conn = mysql.createConnection({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password.reveal(),
      connectTimeout: timeouts.connectTimeoutMs,
      multipleStatements: multi,
      supportBigNumbers: true,
      bigNumberStrings: false,
      dateStrings: true,
      enableKeepAlive: false,
      // No prepared statements are used: mysql2's default cache (16,000 entries per connection,
      // allocated up front) costs about 0.5 MB and 1 ms of CPU per connection for nothing.
      maxPreparedStatements: 1,
      ...(target.localAddress !== undefined ? { stream: () => netConnect({ host: target.host, port: target.port, localAddress: target.localAddress }).setNoDelay(true) } : {}),
    });
    const fail = (err: DbError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      try {
        conn.destroy();
      } catch {
        // ignore
      }
      reject(err);
    };
    const onAbort = (): void => fail(new DbError(target, 'timeout', 'connect aborted'));
    const timer = setTimeout(() => fail(new DbError(target, 'timeout', `no answer within ${timeouts.connectTimeoutMs} ms (server hung, or the route is dropped)`)), timeouts.connectTimeoutMs + 50);
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.once('error', (err: unknown) => {
      const c = classifyError(err);
      fail(new DbError(target, c.kind, c.detail, c.errno));
    });
    conn.once('connect', () => {
      if (settled) {
        conn.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      conn.removeAllListeners('error');
      resolve(new DbSession(conn, target, timeouts, multi));
    });
  });
}

/** Runs fn on an open connection, then closes it; destroys it instead when fn throws (its state is then unknown). */
export async function closeAfter<S extends { close(): void; destroy(): void }, T>(s: S, fn: (s: S) => Promise<T>): Promise<T> {
  try {
    const r = await fn(s);
    s.close();
    return r;
  } catch (err) {
    s.destroy();
    throw err;
  }
}

/** Opens, runs fn, and always ends the connection (closeAfter). */
export async function withSession<T>(target: DbTarget, timeouts: DbTimeouts, fn: (s: DbSession) => Promise<T>, signal?: AbortSignal): Promise<T> {
  return closeAfter(await openSession(target, timeouts, signal), fn);
}
