/**
 * Health checks of a master, each bounded by one hard deadline (connect plus
 * statement): a hung server (SIGSTOP, dead disk, dropped route) fails the
 * check at the deadline instead of hanging the monitor.
 *
 * - CONNECT: a fresh connection every check, SELECT 1, closed. Catches
 *   "cannot accept new connections" fastest. The default.
 * - SELECT:  one persistent connection, SELECT 1 (MHA's default).
 * - INSERT:  one persistent connection writing a heartbeat row
 *   (infra.chk_masterha, MHA's schema): catches a full disk or hung storage.
 */
import type { PingType } from '../../config/types.js';
import type { CheckResult } from '../../domain/detector.js';
import { DbError, openSession, type DbSession, type DbTarget } from './connection.js';
import { LeanAuth, leanQuery, LeanUnsupported } from './lean-connect.js';
import { HEALTH_CHECK_INSERT, HEALTH_CHECK_SELECT, HEALTH_CHECK_SETUP, type Dialect } from './dialect.js';
import type { MasterPosition } from '../../domain/detector.js';

export interface HealthChecker {
  readonly type: PingType;
  check(): Promise<CheckResult>;
  close(): void;
}

export interface HealthOptions {
  timeoutMs: number;
  /** When given, a successful check also reads the master's binlog position (within the same deadline). */
  dialect?: Dialect | undefined;
  /** Wall clock for the position's timestamp. */
  wallNow?: (() => number) | undefined;
  /** Monotonic clock in ms (performance.now in production, a fake in tests). */
  now: () => number;
}

/**
 * CONNECT checks go through the lean client (lean-connect.ts) unless MHATS_PING_CLIENT=mysql2 (a
 * diagnostic switch: the same check through mysql2, as before).
 */
const LEAN = process.env.MHATS_PING_CLIENT !== 'mysql2';

/** MySQL 1290 ER_OPTION_PREVENTS_STATEMENT: read_only. Alive, but not writable. */
const READ_ONLY_ERRNO = 1290;

export function createHealthChecker(type: PingType, target: DbTarget, opts: HealthOptions): HealthChecker {
  let session: DbSession | undefined;
  let prepared = false;
  /** The lean client for CONNECT checks; dropped for good once the server needs what it does not speak (then mysql2). */
  let lean: LeanAuth | undefined = type === 'CONNECT' && LEAN ? new LeanAuth(target) : undefined;

  const drop = (): void => {
    session?.destroy();
    session = undefined;
    prepared = false;
  };

  /** Where the running check is: a timeout in 'statement' means the server accepted the session but did not answer (a storage or lock hang). */
  let stage: 'connect' | 'statement' = 'connect';

  async function once(deadlineAt: number, signal: AbortSignal): Promise<MasterPosition | undefined> {
    const remaining = (): number => Math.max(1, Math.round(deadlineAt - opts.now()));
    stage = 'connect';
    if (lean !== undefined) {
      // A fresh connection without mysql2: the ping (with the position when the dialect is known) and COM_QUIT.
      const d = opts.dialect;
      try {
        const sets = await leanQuery(target, lean, d !== undefined ? `${d.pingWithGtidQuery()}; ${d.showBinlogStatus()}` : HEALTH_CHECK_SELECT, { signal, onAuthenticated: () => (stage = 'statement') });
        return result(sets[0] ?? [], sets[1]);
      } catch (err) {
        if (!(err instanceof LeanUnsupported)) throw err;
        // Not a failure of the server: this server needs what the lean client does not speak; mysql2 from now on.
        lean = undefined;
        stage = 'connect';
      }
    }
    if (type === 'CONNECT' || session === undefined || !session.alive) {
      // Constant statements only: the ping and the position go in one round trip (queryBatch).
      session = await openSession(target, { connectTimeoutMs: remaining(), queryTimeoutMs: remaining() }, signal, { multipleStatements: true });
      if (signal.aborted) throw new DbError(target, 'timeout', 'health check deadline passed');
    }
    stage = 'statement';
    const s = session;
    const d = opts.dialect;
    let gtid: unknown;
    // With the dialect known, a check also reads the master's position: the ping, the GTID position
    // and the binlog coordinates in one round trip (one multi-statement query, one deadline).
    let status: Array<Record<string, unknown>> | undefined;
    if (type === 'INSERT') {
      if (!prepared) {
        for (const stmt of HEALTH_CHECK_SETUP) await s.query(stmt, remaining());
        prepared = true;
      }
      if (d !== undefined) {
        const [, g, b] = await s.queryBatch([HEALTH_CHECK_INSERT, d.gtidPositionQuery(), d.showBinlogStatus()], remaining());
        gtid = g![0]?.gtid;
        status = b;
      } else await s.query(HEALTH_CHECK_INSERT, remaining());
    } else {
      const [rows, b] = d !== undefined ? await s.queryBatch([d.pingWithGtidQuery(), d.showBinlogStatus()], remaining()) : [await s.query(HEALTH_CHECK_SELECT, remaining())];
      if (type === 'CONNECT') {
        s.close();
        session = undefined;
      }
      return result(rows!, b);
    }
    return position(gtid, status);
  }

  /** The SELECT ping's rows (value 1, and the GTID position when asked) and the binlog status: the master's position. */
  function result(rows: Array<Record<string, unknown>>, status: Array<Record<string, unknown>> | undefined): MasterPosition | undefined {
    if (Number(rows[0]?.value) !== 1) throw new DbError(target, 'protocol', 'SELECT 1 did not return 1');
    return position(rows[0]?.gtid, status);
  }

  function position(gtid: unknown, status: Array<Record<string, unknown>> | undefined): MasterPosition | undefined {
    const d = opts.dialect;
    if (d === undefined) return undefined;
    const [b] = status ?? [];
    const bs = b ? d.parseBinlogStatus(b) : undefined;
    return { coord: bs ? { file: bs.file, pos: bs.pos } : undefined, gtid: typeof gtid === 'string' ? gtid : undefined, at: (opts.wallNow ?? Date.now)() };
  }

  return {
    type,
    async check(): Promise<CheckResult> {
      const started = opts.now();
      const deadlineAt = started + opts.timeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const ac = new AbortController();
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort();
          reject(new DbError(target, 'timeout', `health check did not answer within ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
      });
      try {
        const position = await Promise.race([once(deadlineAt, ac.signal), deadline]);
        return { at: opts.now(), ok: true, latencyMs: opts.now() - started, position };
      } catch (err) {
        drop();
        const e = err instanceof DbError ? err : new DbError(target, 'other', String(err));
        const kind = e.errno === READ_ONLY_ERRNO ? 'read_only' : e.kind;
        const message = kind === 'timeout' && stage === 'statement' ? `${e.message} (the connection was accepted: the statement hangs)` : e.message;
        return { at: opts.now(), ok: false, kind, message, errno: e.errno, stage, latencyMs: opts.now() - started };
      } finally {
        clearTimeout(timer);
      }
    },
    close: drop,
  };
}
