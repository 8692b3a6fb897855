/**
 * The small I/O operations the failover and the switchover are built from:
 * an admin session on one server (with its dialect), deadlines, polling, and
 * the two error classes a failover ends with.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { openSession, type DbSession, type DbTarget } from '../../adapters/mysql/connection.js';
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
  return { name: s.name, hostname: s.hostname, ip: s.ip, port: s.port, candidate_master: s.candidate_master, no_master: s.no_master, ignore_fail: s.ignore_fail };
}

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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An admin connection to one server, with its dialect. */
export class Admin {
  readonly server: ServerConfig;
  readonly s: DbSession;
  readonly d: Dialect;
  private constructor(server: ServerConfig, s: DbSession, d: Dialect) {
    this.server = server;
    this.s = s;
    this.d = d;
  }
  static async open(server: ServerConfig, cluster: ClusterConfig, connectTimeoutMs?: number): Promise<Admin> {
    const s = await openSession(target(server), { connectTimeoutMs: connectTimeoutMs ?? cluster.connect_timeout * 1000, queryTimeoutMs: cluster.query_timeout * 1000 });
    try {
      const [v] = await s.query<{ version: string; version_comment: string | null }>(VERSION_QUERY);
      return new Admin(server, s, dialectFor(parseVersion(String(v?.version), v?.version_comment ?? undefined)));
    } catch (err) {
      s.destroy();
      throw err;
    }
  }
  q<T extends Record<string, unknown> = Record<string, unknown>>(stmt: string | Sql, timeoutMs?: number): Promise<T[]> {
    return this.s.query<T>(stmt, timeoutMs);
  }
  close(): void {
    this.s.close();
  }
  destroy(): void {
    this.s.destroy();
  }
}

/** Opens an admin session, runs fn, closes it (destroys it on an error). */
export async function withAdmin<T>(server: ServerConfig, cluster: ClusterConfig, fn: (a: Admin) => Promise<T>): Promise<T> {
  const a = await Admin.open(server, cluster);
  try {
    const r = await fn(a);
    a.close();
    return r;
  } catch (err) {
    a.destroy();
    throw err;
  }
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
    await sleep(50);
  }
}

export async function waitUntil(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (performance.now() > end) throw new FailoverFailed(`${what}: not reached within ${ms} ms`);
    await sleep(50);
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
