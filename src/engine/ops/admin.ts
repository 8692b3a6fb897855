/**
 * The small I/O operations the failover and the switchover are built from:
 * an admin session on one server (with its dialect), deadlines, polling, and
 * the two error classes a failover ends with.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { closeAfter, openSession, type DbSession, type DbTarget } from '../../adapters/mysql/connection.js';
import { defaultChannelRow, dialectFor, parseVersion, VERSION_QUERY, type Dialect, type Sql } from '../../adapters/mysql/dialect.js';
import { formatCoord, compareCoords } from '../../domain/binlog-coord.js';
import type { ServerSpec } from '../../domain/topology.js';
import type { BinlogCoord, ReplicaStatus, ServerObservation } from '../../domain/types.js';

/** A refusal: nothing was changed. */
export class FailoverRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FailoverRefused';
  }
}

/** A failure after changes began. */
export class FailoverFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FailoverFailed';
  }
}

export function target(s: ServerConfig): DbTarget {
  return { name: s.name, host: s.ip, port: s.port, user: s.user, password: s.password };
}

export function specOf(s: ServerConfig): ServerSpec {
  return {
    name: s.name,
    hostname: s.hostname,
    ip: s.ip,
    port: s.port,
    candidate_master: s.candidate_master,
    no_master: s.no_master,
    ignore_fail: s.ignore_fail,
    promotion_rule: s.promotion_rule,
    promotion_rule_from: s.promotion_rule_from,
    datacenter: s.datacenter,
    region: s.region,
    backup: s.backup,
    allow_promotion: s.allow_promotion,
  };
}

/** Races a promise against a deadline. It does NOT stop the work: use deadline() where the work must stop. */
export async function withDeadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new FailoverFailed(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs fn under a deadline that cancels: when it passes (or `parent` aborts), fn's signal aborts,
 * every admin session opened with it is destroyed (its statement dies with the connection), child
 * processes and SSH commands given the signal are killed, and every later statement refuses to
 * run. The rejection names the deadline.
 */
export async function deadline<T>(what: string, ms: number, parent: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onParent = (): void => ac.abort(parent?.reason ?? new FailoverFailed(`${what}: cancelled`));
  if (parent?.aborted) onParent();
  parent?.addEventListener('abort', onParent, { once: true });
  const timer = setTimeout(() => ac.abort(new FailoverFailed(`${what} did not finish within ${ms} ms`)), ms);
  const aborted = new Promise<never>((_, reject) => {
    if (ac.signal.aborted) reject(ac.signal.reason as Error);
    ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([fn(ac.signal), aborted]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParent);
    // Whatever fn still has in flight stops here too.
    if (!ac.signal.aborted) ac.abort(new FailoverFailed(`${what}: finished`));
  }
}

/** Rejects with the signal's reason when it is aborted. */
export function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new FailoverFailed('cancelled');
}

/** A sleep that ends early (rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const t = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', stop);
      resolve();
    }
    function stop(): void {
      clearTimeout(t);
      reject(signal!.reason as Error);
    }
    signal?.addEventListener('abort', stop, { once: true });
  });
}

export interface AdminOptions {
  connectTimeoutMs?: number | undefined;
  /** Aborting destroys the session: its statement in flight dies, later ones refuse to run. */
  signal?: AbortSignal | undefined;
}

/** An admin connection to one server, with its dialect. */
export class Admin {
  readonly server: ServerConfig;
  readonly s: DbSession;
  readonly d: Dialect;
  readonly signal: AbortSignal | undefined;
  readonly #onAbort: () => void;
  private constructor(server: ServerConfig, s: DbSession, d: Dialect, signal: AbortSignal | undefined) {
    this.server = server;
    this.s = s;
    this.d = d;
    this.signal = signal;
    this.#onAbort = () => s.destroy();
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }
  static async open(server: ServerConfig, cluster: ClusterConfig, opts?: number | AdminOptions): Promise<Admin> {
    const o: AdminOptions = typeof opts === 'number' ? { connectTimeoutMs: opts } : (opts ?? {});
    checkSignal(o.signal);
    const s = await openSession(target(server), { connectTimeoutMs: o.connectTimeoutMs ?? cluster.connect_timeout * 1000, queryTimeoutMs: cluster.query_timeout * 1000 }, o.signal);
    try {
      checkSignal(o.signal);
      const [v] = await s.query<{ version: string; version_comment: string | null }>(VERSION_QUERY);
      return new Admin(server, s, dialectFor(parseVersion(String(v?.version), v?.version_comment ?? undefined)), o.signal);
    } catch (err) {
      s.destroy();
      throw err;
    }
  }
  async q<T extends Record<string, unknown> = Record<string, unknown>>(stmt: string | Sql, timeoutMs?: number): Promise<T[]> {
    checkSignal(this.signal);
    try {
      return await this.s.query<T>(stmt, timeoutMs);
    } catch (err) {
      // A statement killed by the deadline reports the deadline, not "connection lost".
      checkSignal(this.signal);
      throw err;
    }
  }
  close(): void {
    this.signal?.removeEventListener('abort', this.#onAbort);
    this.s.close();
  }
  destroy(): void {
    this.signal?.removeEventListener('abort', this.#onAbort);
    this.s.destroy();
  }
}

/** Opens an admin session, runs fn, closes it (destroys it on an error). */
export async function withAdmin<T>(server: ServerConfig, cluster: ClusterConfig, fn: (a: Admin) => Promise<T>, signal?: AbortSignal): Promise<T> {
  return closeAfter(await Admin.open(server, cluster, { signal }), fn);
}

/** The default channel's replica status, or undefined when the server is not a replica. */
export async function replicaStatusOf(a: Admin, ms: number): Promise<ReplicaStatus | undefined> {
  const row = defaultChannelRow(await a.q(a.d.showReplicaStatus(), ms));
  return row === undefined ? undefined : a.d.parseReplicaStatus(row);
}

/**
 * Waits until a replica's SQL thread has applied everything complete that its
 * IO thread received. When the relay log ends inside a transaction (the master
 * died mid-write), Exec never reaches Read: then "has read all relay log" with
 * Exec standing still is the end (as MHA's read_all_relay_log).
 */
export async function waitRelayApplied(a: Admin, ms: number): Promise<{ read: BinlogCoord; exec: BinlogCoord; partial: boolean }> {
  const end = performance.now() + ms;
  let prevExec = '';
  let still = 0;
  for (;;) {
    const [row] = await a.q(a.d.showReplicaStatus());
    if (row === undefined) throw new FailoverFailed(`${a.server.name} is no longer a replica`);
    const rs = a.d.parseReplicaStatus(row);
    if (!rs.sqlRunning) throw new FailoverFailed(`${a.server.name}'s SQL thread stopped${rs.lastSqlErrno ? `: error ${rs.lastSqlErrno}: ${rs.lastSqlError}` : ''}`);
    if (compareCoords(rs.exec, rs.read) >= 0) return { read: rs.read, exec: rs.exec, partial: false };
    const ex = formatCoord(rs.exec);
    still = ex === prevExec ? still + 1 : 0;
    prevExec = ex;
    if (still >= 3 && /read all relay log/i.test(rs.sqlThreadState ?? '')) return { read: rs.read, exec: rs.exec, partial: true };
    if (performance.now() > end) throw new FailoverFailed(`${a.server.name} did not apply its relay log up to ${formatCoord(rs.read)} within ${ms} ms (at ${ex})`);
    await sleep(50, a.signal);
  }
}

export async function waitUntil(what: string, ms: number, fn: () => Promise<boolean>, signal?: AbortSignal): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    checkSignal(signal);
    if (await fn()) return;
    if (performance.now() > end) throw new FailoverFailed(`${what}: not reached within ${ms} ms`);
    await sleep(50, signal);
  }
}

/** The replication user: the config's repl_user, else the one the replica uses now. */
export function replUser(cluster: ClusterConfig, o: ServerObservation): string {
  return cluster.servers.find((s) => s.repl_user)?.repl_user ?? o.replica?.sourceUser ?? 'repl';
}

/** Deadline of one MHA hook script. */
export function hookTimeoutMs(_cluster: ClusterConfig): number {
  return 60_000;
}
