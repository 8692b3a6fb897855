/**
 * Fencing that holds: the old master must not commit another write once the
 * failover has begun.
 *
 * 1. Over SQL, when it answers: SET GLOBAL read_only (and super_read_only)
 *    with a session lock_wait_timeout, so the server gives up instead of
 *    flipping read_only later on its own; every client session killed
 *    whether or not read_only succeeded (a session stuck in a commit holds
 *    the global read lock read_only waits for); read_only tried again after
 *    the kills when it had failed; then read back: verified or not.
 * 2. Over SSH, when SQL did not fence it (hung: SSH answers, SQL does not; or
 *    a storage hang: statements stall): its mysqld is killed with SIGKILL, by
 *    the PID in master_pid_file or the process listening on its address and
 *    port (only a mysqld or mariadbd process, never another), and waited for.
 *    fence_hung_master: none leaves it running; a shutdown_script (MHA) runs
 *    instead, in the stop hooks.
 * Otherwise a hung server, once it resumes, commits the writes that were
 * waiting in its sockets.
 *
 * Everything has a deadline; the result says what was done and verified, for
 * the journal.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { detectionSettings } from '../../config/resolve.js';
import { DbError } from '../../adapters/mysql/connection.js';
import { sshExec, type SshError } from '../../adapters/ssh/client.js';
import type { SshPool } from '../../adapters/ssh/session.js';
import { sshOptionsFor } from '../../adapters/ssh/targets.js';
import type { Logger } from '../../ports/logger.js';
import { Admin } from './admin.js';

/** The server gives up waiting for the global read lock after this (SET GLOBAL read_only), seconds. */
const LOCK_WAIT_TIMEOUT_S = 2;

export interface HardFenceOptions {
  log: Logger;
  /** Persistent SSH sessions (warm before the failover): the kill costs one round trip. */
  pool?: SshPool | undefined;
  /** A shutdown_script (MHA) stops the old master in the stop hooks: no built-in kill. */
  shutdownHook: boolean;
  signal?: AbortSignal | undefined;
  /**
   * Does its host answer SSH (a probe already under way)? false: the kill is not tried (it would only
   * wait out its deadline on a silent host).
   */
  sshUp?: Promise<boolean> | undefined;
  /**
   * The detector saw its last connections or statements time out (a fresh verdict, skipSqlFence):
   * the SQL attempt would only wait out its connect timeout, so the kill over SSH comes at once.
   */
  skipSql?: string | undefined;
  /** Awaited once the SQL part is over, before any kill over SSH: what it found. */
  afterSql?: ((sql: SqlFence) => Promise<void>) | undefined;
}

/**
 * Does the detector's verdict make the fence's SQL attempt pointless (pure)? When it is fresh (under
 * a second, as MHA's double check) and rested on connections that timed out with no route reaching a
 * live server (a hung mysqld, or a host cut off): the attempt would only wait out its connect timeout.
 * Not for a storage hang (statements stall on connections it accepts): SQL reaches it at once, kills
 * the session holding a lock, and fences it without a kill. Only with fence_hung_master: kill (the
 * kill is then the fence; with none, SQL is the only fence there is). Returns why, or undefined.
 */
export function skipSqlFence(v: { basis?: string | undefined; failure?: string | undefined; at: number } | undefined, now: number, mode: 'kill' | 'none'): string | undefined {
  if (v === undefined || mode !== 'kill' || now - v.at >= 1000) return undefined;
  if (v.basis === 'unreachable' && v.failure === 'timeout') return 'its connections just timed out and no route reached a live server';
  return undefined;
}

export type SqlFence =
  /** read_only read back ON, client sessions killed. */
  | 'fenced'
  /** It answered, but read_only could not be set or read back. */
  | 'unverified'
  /** No SQL session: refused, timed out (hung, or the host is down), lost. */
  | 'not_answering';

export type KillOutcome = 'killed' | 'not_running' | 'not_needed' | 'disabled' | 'shutdown_script' | 'no_ssh' | 'failed';

export interface HardFenceResult {
  sql: SqlFence;
  /** Why there was no SQL session ('refused', 'timeout', ...), when there was none. */
  sqlFailure?: string | undefined;
  readOnly?: boolean | undefined;
  sessionsKilled: number;
  kill: KillOutcome;
  /** PIDs killed over SSH. */
  pids?: number[] | undefined;
  /** It can no longer commit: read_only verified, or its mysqld is not running. */
  safe: boolean;
  /** One line for the journal and the log. */
  detail: string;
}

/** SQL part: read_only with lock_wait_timeout, every client session killed whatever read_only did, verified. */
export async function fenceOverSql(server: ServerConfig, cluster: ClusterConfig, connectTimeoutMs?: number, signal?: AbortSignal): Promise<{ sql: SqlFence; sqlFailure?: string; readOnly?: boolean; sessionsKilled: number; detail: string }> {
  const connectMs = connectTimeoutMs ?? Math.min(1000, cluster.connect_timeout * 1000);
  let a: Admin;
  try {
    a = await Admin.open(server, cluster, { connectTimeoutMs: connectMs, signal });
  } catch (err) {
    const kind = err instanceof DbError ? err.kind : 'other';
    // It answered but refuses us (access denied, too many connections): alive, and not fenced.
    if (kind === 'auth' || kind === 'too_many_connections') return { sql: 'unverified', sessionsKilled: 0, detail: `answers but refuses the manager (${(err as Error).message}): NOT fenced over SQL` };
    return { sql: 'not_answering', sqlFailure: kind, sessionsKilled: 0, detail: `no SQL session (${(err as Error).message})` };
  }
  const notes: string[] = [];
  const setReadOnly = async (adm: Admin): Promise<boolean> => {
    try {
      await adm.q(adm.d.setSessionLockWaitTimeout(LOCK_WAIT_TIMEOUT_S), 2000);
      for (const stmt of adm.d.setReadOnly(true)) await adm.q(stmt, (LOCK_WAIT_TIMEOUT_S + 1) * 1000);
      return true;
    } catch (err) {
      notes.push(`read_only: ${(err as Error).message}`);
      return false;
    }
  };
  let admin: Admin | undefined = a;
  const reopen = async (): Promise<Admin | undefined> => {
    if (admin?.s.alive) return admin;
    admin?.destroy();
    admin = await Admin.open(server, cluster, { connectTimeoutMs: connectMs, signal }).catch((err: unknown) => {
      notes.push(`reconnect: ${(err as Error).message}`);
      return undefined;
    });
    return admin;
  };
  try {
    let ro = await setReadOnly(a);
    // Every client session, whether or not read_only took: one stuck in a commit holds the lock read_only waits for.
    let killed = 0;
    const k = await reopen();
    if (k !== undefined) {
      try {
        const rows = await k.q<{ id: unknown; user: unknown; command: unknown }>(k.d.processlistQuery(), 2000);
        const ids = rows.filter((r) => Number(r.id) !== k.s.threadId && String(r.user) !== 'system user' && String(r.user) !== 'event_scheduler' && String(r.command) !== 'Daemon').map((r) => Number(r.id));
        const results = await Promise.allSettled(ids.map((id) => k.q(k.d.killConnection(id), 2000)));
        killed = results.filter((r) => r.status === 'fulfilled').length;
      } catch (err) {
        notes.push(`kill sessions: ${(err as Error).message}`);
      }
    }
    if (!ro) {
      const again = await reopen();
      if (again !== undefined) ro = await setReadOnly(again);
    }
    // Read it back.
    let readOnly: boolean | undefined;
    const v = await reopen();
    if (v !== undefined) {
      try {
        const [row] = await v.q(v.d.readOnlyQuery(), 2000);
        const st = row ? v.d.parseReadOnly(row) : undefined;
        readOnly = st === undefined ? undefined : st.readOnly && st.superReadOnly !== false;
      } catch (err) {
        notes.push(`read back: ${(err as Error).message}`);
      }
    }
    admin?.close();
    const sql: SqlFence = readOnly === true ? 'fenced' : 'unverified';
    const detail = `${readOnly === true ? 'read_only verified ON' : readOnly === false ? 'read_only still OFF' : 'read_only not verified'}, ${killed} client session(s) killed${notes.length ? ` (${notes.join('; ')})` : ''}`;
    return { sql, readOnly, sessionsKilled: killed, detail };
  } catch (err) {
    admin?.destroy();
    return { sql: 'unverified', sessionsKilled: 0, detail: `fencing over SQL failed: ${(err as Error).message}` };
  }
}

/**
 * Kills the server's mysqld over SSH: the PID in the pid file when given (if that process is a
 * mysqld or mariadbd), else the mysqld listening on the port at one of the addresses (or a
 * wildcard); SIGKILL, then waits up to 5 s for it to be gone (a zombie counts as gone).
 * Positional parameters: $1 port, $2 pid file ('' for none), then the addresses.
 */
export const KILL_MYSQLD = `port=$1; pidfile=$2; shift 2
is_mysqld() { case "$(cat /proc/$1/comm 2>/dev/null)" in mysqld|mariadbd) return 0;; esac; return 1; }
running() { [ -d /proc/$1 ] && ! grep -q '^State:[[:space:]]*Z' /proc/$1/status 2>/dev/null; }
found=
if [ -n "$pidfile" ] && [ -r "$pidfile" ]; then p=$(tr -dc 0-9 < "$pidfile"); if [ -n "$p" ] && is_mysqld "$p"; then found=$p; fi; fi
if [ -z "$found" ]; then
  if command -v ss >/dev/null 2>&1; then
    for line in $(ss -Hltnp "sport = :$port" 2>/dev/null | awk '{print $4 "|" $NF}'); do
      addr=\${line%%|*}; addr=\${addr%:*}; addr=\${addr#[}; addr=\${addr%]}
      ok=0; for a in "$@" '*' 0.0.0.0 '::' '::ffff:0.0.0.0'; do [ "$addr" = "$a" ] && ok=1; done
      [ $ok = 1 ] || continue
      for p in $(echo "$line" | sed 's/pid=/\\n/g' | sed -n 's/^\\([0-9][0-9]*\\).*/\\1/p'); do is_mysqld "$p" && found="$found $p"; done
    done
  else
    echo "ss not found: cannot find the process on port $port" >&2; exit 4
  fi
fi
if [ -z "$found" ]; then echo none; exit 0; fi
for p in $found; do kill -KILL "$p" 2>/dev/null && echo "killed $p"; done
i=0
while [ $i -lt 50 ]; do
  alive=; for p in $found; do running "$p" && alive="$alive $p"; done
  [ -z "$alive" ] && exit 0
  sleep 0.1; i=$((i+1))
done
echo "still running after SIGKILL:$alive" >&2; exit 3`;

/** Parses KILL_MYSQLD's output. */
export function parseKillOutput(r: { code: number | null; stdout: string; stderr: string }): { outcome: 'killed' | 'not_running' | 'failed'; pids: number[]; detail: string } {
  const pids = [...r.stdout.matchAll(/^killed (\d+)$/gm)].map((m) => Number(m[1]));
  if (r.code === 0 && /^none$/m.test(r.stdout)) return { outcome: 'not_running', pids: [], detail: 'no mysqld running there (none listens on its port)' };
  if (r.code === 0 && pids.length > 0) return { outcome: 'killed', pids, detail: `mysqld (pid ${pids.join(', ')}) killed with SIGKILL, gone` };
  const err = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ');
  return { outcome: 'failed', pids, detail: `kill over SSH failed (exit ${r.code ?? '?'}${err ? `: ${err}` : ''})` };
}

/** Stops the server's mysqld over SSH (the persistent session when there is one). */
export async function killMysqldOverSsh(server: ServerConfig, cluster: ClusterConfig, o: { pool?: SshPool | undefined; timeoutMs: number; signal?: AbortSignal | undefined }): Promise<{ outcome: 'killed' | 'not_running' | 'failed' | 'no_ssh'; pids: number[]; detail: string }> {
  const { target: t, options } = sshOptionsFor(cluster, server);
  const addresses = [...new Set([server.ip, server.hostname])];
  const argv = ['sh', '-c', KILL_MYSQLD, 'mhats-fence', String(server.port), server.master_pid_file ?? '', ...addresses];
  try {
    const r = o.pool ? await o.pool.run(t, options, argv, { timeoutMs: o.timeoutMs, signal: o.signal }) : await sshExec(t, argv, { ...options, timeoutMs: o.timeoutMs, signal: o.signal });
    return parseKillOutput(r);
  } catch (err) {
    const e = err as SshError;
    // The SSH connection itself failed: the host does not answer SSH (or refuses us).
    if (e.name === 'SshError' && e.kind !== 'other') return { outcome: 'no_ssh', pids: [], detail: `SSH to ${server.name} failed (${e.message})` };
    return { outcome: 'failed', pids: [], detail: `kill over SSH failed: ${(err as Error).message}` };
  }
}

/**
 * The whole fence of an old master at failover time: SQL first, then, when SQL did not fence it,
 * its mysqld killed over SSH (fence_hung_master: kill, the default), unless a shutdown_script
 * does that in the stop hooks.
 */
export async function fenceHard(server: ServerConfig, cluster: ClusterConfig, o: HardFenceOptions): Promise<HardFenceResult> {
  const sql: Awaited<ReturnType<typeof fenceOverSql>> = o.skipSql !== undefined && !o.shutdownHook ? { sql: 'not_answering', sqlFailure: 'timeout', sessionsKilled: 0, detail: `SQL not tried: ${o.skipSql}` } : await fenceOverSql(server, cluster);
  const base = { sql: sql.sql, sqlFailure: sql.sqlFailure, readOnly: sql.readOnly, sessionsKilled: sql.sessionsKilled };
  await o.afterSql?.(sql.sql);
  if (sql.sql === 'fenced') {
    const r: HardFenceResult = { ...base, kill: 'not_needed', safe: true, detail: `fenced over SQL: ${sql.detail}` };
    o.log.warn({ server: server.name, ...base }, `fenced ${server.name}: ${r.detail}`);
    return r;
  }
  const why = sql.sql === 'not_answering' ? `it does not answer SQL (${sql.detail})` : `SQL did not fence it (${sql.detail})`;
  const mode = detectionSettings(cluster).fence_hung_master;
  if (o.shutdownHook) {
    return { ...base, kill: 'shutdown_script', safe: false, detail: `${why}; shutdown_script stops it (MHA)` };
  }
  if (mode === 'none') {
    const r: HardFenceResult = { ...base, kill: 'disabled', safe: false, detail: `${why}; fence_hung_master=none: its mysqld is left running` };
    if (sql.sql === 'unverified' || sql.sqlFailure === 'timeout') o.log.error({ server: server.name }, `${server.name} ${r.detail}: if it resumes, it may commit writes that were waiting`);
    return r;
  }
  if (o.sshUp !== undefined && !(await o.sshUp)) {
    const r: HardFenceResult = { ...base, kill: 'no_ssh', safe: false, detail: `${why}; SSH to ${server.name} failed (no answer to the reachability probe): its mysqld could not be killed` };
    o.log.error({ server: server.name, kill: r.kill }, `could not stop ${server.name}: ${r.detail}`);
    return r;
  }
  const k = await killMysqldOverSsh(server, cluster, { pool: o.pool, timeoutMs: Math.max(8000, cluster.ssh.connect_timeout * 1000 + 6000), signal: o.signal });
  const safe = k.outcome === 'killed' || k.outcome === 'not_running';
  const r: HardFenceResult = { ...base, kill: k.outcome, pids: k.pids.length ? k.pids : undefined, safe, detail: `${why}; ${k.detail}` };
  if (k.outcome === 'killed') o.log.warn({ server: server.name, pids: k.pids }, `fenced ${server.name}: ${r.detail}`);
  else if (!safe) o.log.error({ server: server.name, kill: k.outcome }, `could not stop ${server.name}: ${r.detail}`);
  return r;
}
