/**
 * The small I/O operations on replicas that a failover is made of. Each does
 * one thing, with deadlines, under the caller's AbortSignal; none decides
 * anything (the plan and its fallbacks do: src/domain/failover/).
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { compareCoords, formatCoord } from '../../domain/binlog-coord.js';
import { gtidContains } from '../../domain/gtid.js';
import { advanceSlavePos, holdings, mariadbMaxPosition } from '../../domain/failover/positions.js';
import type { BinlogCoord, ReplicaStatus } from '../../domain/types.js';
import type { IoStopFailure } from '../../domain/failover/returned.js';
import { Admin, FailoverFailed, checkSignal, replicaStatusOf, sleep, waitRelayApplied, withAdmin } from './admin.js';

export interface OpCtx {
  cluster: ClusterConfig;
  signal?: AbortSignal | undefined;
}

const using = <T>(s: ServerConfig, ctx: OpCtx, fn: (a: Admin) => Promise<T>): Promise<T> => withAdmin(s, ctx.cluster, fn, ctx.signal);

/** What a server holds now (holdings(): every GTID position it keeps), '' without GTIDs. */
export async function gtidHoldings(a: Admin): Promise<string> {
  const [v] = await a.q(a.d.variablesQuery());
  return v === undefined ? '' : holdings(a.d.flavor, a.d.parseVariables(v).gtid);
}

async function status(a: Admin): Promise<ReplicaStatus> {
  const rs = await replicaStatusOf(a, a.s.timeouts.queryTimeoutMs);
  if (rs === undefined) throw new FailoverFailed(`${a.server.name} is not a replica`);
  return rs;
}

function replicationError(rs: ReplicaStatus): string | undefined {
  if (rs.lastSqlErrno) return `SQL thread error ${rs.lastSqlErrno}: ${rs.lastSqlError}`;
  if (rs.lastIoErrno && rs.ioRunning !== 'Yes') return `IO thread error ${rs.lastIoErrno}: ${rs.lastIoError}`;
  return undefined;
}

// ---------------------------------------------------------------- Phase 2

/**
 * STOP SLAVE IO_THREAD on every survivor, in parallel; waits for EVERY one
 * (a late stop must never land after a rollback). `sent` is called before a
 * stop is sent, so the rollback knows whom to restart. Never rejects: each
 * one that failed is probed again (does it answer SQL, is its IO thread
 * running?) and returned, for afterIoStop() (src/domain/failover/returned.ts)
 * to decide.
 */
export async function stopIoThreads(servers: readonly ServerConfig[], ctx: OpCtx, sent: (s: ServerConfig) => void): Promise<IoStopFailure[]> {
  const results = await Promise.allSettled(
    servers.map((s) =>
      using(s, ctx, async (a) => {
        sent(s);
        await a.q(a.d.stopReplica('io'));
        for (let i = 0; ; i++) {
          if ((await status(a)).ioRunning === 'No') return;
          if (i > 200) throw new FailoverFailed(`${s.name}: IO thread still running 10 s after STOP`);
          await sleep(50, ctx.signal);
        }
      }),
    ),
  );
  checkSignal(ctx.signal);
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ s: servers[i]!, reason: (r.reason as Error).message }] : []));
  return Promise.all(
    failed.map(async ({ s, reason }) => {
      const probe = await Admin.open(s, ctx.cluster, { connectTimeoutMs: Math.min(2000, ctx.cluster.connect_timeout * 1000), signal: ctx.signal })
        .then(async (a) => {
          try {
            const rs = await replicaStatusOf(a, 2000);
            a.close();
            return { answers: true, ioRunning: rs?.ioRunning ?? 'No' };
          } catch {
            a.destroy();
            return { answers: true, ioRunning: undefined };
          }
        })
        .catch(() => ({ answers: false, ioRunning: undefined }));
      return { server: s.name, reason, ignoreFail: s.ignore_fail, ...probe };
    }),
  );
}

/** The rollback of stopIoThreads: restarts them, each on its own (no shared signal), and waits for all. */
export async function startIoThreads(servers: readonly ServerConfig[], cluster: ClusterConfig): Promise<string[]> {
  const r = await Promise.allSettled(servers.map((s) => using(s, { cluster }, async (a) => void (await a.q(a.d.startReplica('io'))))));
  return r.flatMap((x, i) => (x.status === 'rejected' ? [`${servers[i]!.name}: ${(x.reason as Error).message}`] : []));
}

// ---------------------------------------------------------------- Phase 3.1

export interface Applied {
  read: BinlogCoord;
  exec: BinlogCoord;
  /** The relay log ends inside a transaction. */
  partial: boolean;
  gtid: string;
  /** Not done within the deadline: left applying, recovered after promotion. */
  stillApplying: boolean;
}

/** Lets a survivor's SQL thread apply what it received, up to `ms`; a slow one is reported, not failed. */
export async function applyRelayLog(s: ServerConfig, ctx: OpCtx, ms: number): Promise<Applied> {
  return using(s, ctx, async (a) => {
    const rs0 = await status(a);
    if (!rs0.sqlRunning) await a.q(a.d.startReplica('sql'));
    try {
      const r = await waitRelayApplied(a, ms);
      return { ...r, gtid: await gtidHoldings(a), stillApplying: false };
    } catch (err) {
      checkSignal(ctx.signal);
      if (!(err instanceof FailoverFailed) || !/did not apply its relay log/.test(err.message)) throw err;
      const rs = await status(a);
      return { read: rs.read, exec: rs.exec, partial: false, gtid: await gtidHoldings(a), stillApplying: true };
    }
  });
}

/**
 * A delayed or slow survivor applies its own relay log after the promotion:
 * a delay is lifted without losing the relay logs (the dead master cannot
 * send them again), then the SQL thread runs until everything complete it
 * received is applied. Naming the relay-log position resets
 * Exec_Master_Log_Pos to the read position at once (and turns MariaDB's
 * Using_Gtid off), so the end is judged by what it holds against what it
 * received (GTID), else by its SQL thread having read all its relay log.
 */
export async function applyOwnRelayLog(s: ServerConfig, ctx: OpCtx, liftDelay: boolean, ms: number): Promise<Applied> {
  return using(s, ctx, async (a) => {
    const rs = await status(a);
    const received = rs.gtidAutoPosition ? rs.retrievedGtidSet : '';
    if (liftDelay && rs.sqlDelay > 0) {
      await a.q(a.d.stopReplica());
      const now = await status(a);
      await a.q(a.d.liftDelayKeepingRelayLog(now.relayLogFile, now.relayLogPos));
    }
    if (!(await status(a)).sqlRunning) await a.q(a.d.startReplica('sql'));
    const end = performance.now() + ms;
    let prev = '';
    let still = 0;
    for (;;) {
      const r = await status(a);
      if (!r.sqlRunning) throw new FailoverFailed(`${s.name}'s SQL thread stopped${r.lastSqlErrno ? `: error ${r.lastSqlErrno}: ${r.lastSqlError}` : ''}`);
      const have = await gtidHoldings(a);
      if (received !== '' && gtidContains(a.d.flavor, have, received)) return { read: r.read, exec: r.exec, partial: false, gtid: have, stillApplying: false };
      const at = `${r.relayLogFile}:${r.relayLogPos}`;
      still = at === prev ? still + 1 : 0;
      prev = at;
      if (still >= 3 && /read all relay log/i.test(r.sqlThreadState ?? '')) return { read: r.read, exec: r.exec, partial: false, gtid: have, stillApplying: false };
      if (performance.now() > end) throw new FailoverFailed(`${s.name} did not apply its own relay log within ${ms} ms (at ${at}${received ? `; holds ${have}, received ${received}` : ''})`);
      await sleep(100, ctx.signal);
    }
  });
}

// ---------------------------------------------------------------- bringing a server level

/**
 * Stops the SQL thread (an open transaction at the end of its relay log would
 * hold the row locks a diff needs), and returns where it stands.
 */
export async function stopSqlThread(s: ServerConfig, ctx: OpCtx): Promise<{ exec: BinlogCoord; gtid: string }> {
  return using(s, ctx, async (a) => {
    await a.q(a.d.stopReplica('sql'));
    const rs = await status(a);
    return { exec: rs.exec, gtid: await gtidHoldings(a) };
  });
}

/**
 * After a client applied binlog events to a MariaDB server (a diff, the saved
 * binlog), its gtid_slave_pos is advanced past them: replicating by GTID must
 * never send them again, and a server without a binlog keeps no other record.
 * Then verifies it holds them. MySQL records them in gtid_executed itself.
 */
export async function recordApplied(s: ServerConfig, ctx: OpCtx, gtids: readonly string[]): Promise<void> {
  if (gtids.length === 0) return;
  await using(s, ctx, async (a) => {
    if (a.d.flavor === 'mariadb') {
      const [v] = await a.q(a.d.variablesQuery());
      const g = a.d.parseVariables(v!).gtid;
      const next = advanceSlavePos(g.slavePos ?? '', gtids);
      if (next !== mariadbMaxPosition([g.slavePos])) {
        const rs = await replicaStatusOf(a, a.s.timeouts.queryTimeoutMs);
        if (rs && (rs.ioRunning !== 'No' || rs.sqlRunning)) await a.q(a.d.stopReplica());
        await a.q(a.d.setGtidSlavePos(next));
      }
    }
    const have = await gtidHoldings(a);
    if (!gtidContains(a.d.flavor, have, gtids.join(','))) throw new FailoverFailed(`${s.name} does not hold the transactions just applied (it holds ${have || 'nothing'}; applied up to ${gtids.at(-1) ?? '?'})`);
  });
}

/**
 * Catches `s` up from `source` by GTID: replicate from it until `s` holds
 * everything `source` holds, watching the IO thread's errors; then stop.
 * The wait is on what `s` holds (gtid_slave_pos and the rest, MariaDB), never
 * on gtid_binlog_pos alone (empty with log_slave_updates=OFF).
 */
export async function gtidCatchUp(s: ServerConfig, source: ServerConfig, ctx: OpCtx, replUser: string, ms: number): Promise<string> {
  const upTo = await using(source, ctx, (a) => gtidHoldings(a));
  if (upTo === '') throw new FailoverFailed(`${source.name} has no GTID position to catch up to`);
  return using(s, ctx, async (a) => {
    await a.q(a.d.stopReplica());
    await a.q(a.d.changeSource({ host: source.hostname, port: source.port, user: replUser, password: ctx.cluster.servers.find((x) => x.repl_password)?.repl_password, gtid: 'auto' }));
    await a.q(a.d.startReplica());
    const end = performance.now() + ms;
    for (;;) {
      const have = await gtidHoldings(a);
      if (gtidContains(a.d.flavor, have, upTo)) break;
      const err = replicationError(await status(a));
      if (err !== undefined) throw new FailoverFailed(`catching up from ${source.name}: ${err}`);
      if (performance.now() > end) throw new FailoverFailed(`did not catch up with ${source.name} (${upTo}) within ${ms} ms (at ${have || 'nothing'})`);
      await sleep(100, ctx.signal);
    }
    await a.q(a.d.stopReplica());
    return upTo;
  });
}

export interface RepointTo {
  master: ServerConfig;
  replUser: string;
  /** By GTID, or at this coordinate in the new master's binlog. */
  how: { gtid: true } | { gtid: false; coord: BinlogCoord };
  delay?: number | undefined;
}

/** CHANGE MASTER to the new master, START SLAVE. */
export async function repoint(s: ServerConfig, ctx: OpCtx, to: RepointTo): Promise<void> {
  await using(s, ctx, async (a) => {
    await a.q(a.d.stopReplica());
    await a.q(
      a.d.changeSource({
        host: to.master.hostname,
        port: to.master.port,
        user: to.replUser,
        password: s.repl_password,
        ...(to.how.gtid ? { gtid: 'auto' as const } : { gtid: false as const, coord: to.how.coord }),
        ...(to.delay !== undefined ? { delay: to.delay } : {}),
      }),
    );
    await a.q(a.d.startReplica());
  });
}

/** A delayed replica, brought level, gets its MASTER_DELAY back (its relay logs kept). */
export async function restoreDelay(s: ServerConfig, ctx: OpCtx, delay: number): Promise<void> {
  await using(s, ctx, async (a) => {
    await a.q(a.d.stopReplica());
    const rs = await status(a);
    await a.q(a.d.setDelayKeepingRelayLog(delay, rs.relayLogFile, rs.relayLogPos));
    await a.q(a.d.startReplica());
  });
}

export interface Target {
  /** The new master's GTID position/set at promotion ('' without GTIDs). */
  gtid: string;
  /** Its binlog position at promotion. */
  coord: BinlogCoord | undefined;
}

/**
 * Verifies that a repointed replica holds everything the new master had at
 * promotion: by GTID where there are GTIDs, by coordinates in the new
 * master's binlog otherwise. A delayed replica (received=true) is verified
 * by what it received; it applies later. Stops at a replication error.
 */
export async function verifyHolds(s: ServerConfig, ctx: OpCtx, t: Target, received: boolean, ms: number): Promise<string> {
  return using(s, ctx, async (a) => {
    const end = performance.now() + ms;
    for (;;) {
      const rs = await status(a);
      const err = replicationError(rs);
      if (err !== undefined) throw new FailoverFailed(err);
      // What a delayed replica replicating by position received is known by coordinates only (Gtid_IO_Pos is not kept then).
      const byGtid = t.gtid !== '' && !(received && !rs.gtidAutoPosition && t.coord !== undefined);
      if (byGtid) {
        const have = await gtidHoldings(a);
        const got = received ? (a.d.flavor === 'mariadb' ? mariadbMaxPosition([have, rs.retrievedGtidSet]) : `${have}${have && rs.retrievedGtidSet ? ',' : ''}${rs.retrievedGtidSet}`) : have;
        if (gtidContains(a.d.flavor, got, t.gtid) && rs.ioRunning === 'Yes') return received ? `received up to ${t.gtid}` : `holds ${t.gtid}`;
        if (performance.now() > end) throw new FailoverFailed(`does not hold ${t.gtid} within ${ms} ms (it ${received ? 'received' : 'holds'} ${got || 'nothing'}; IO thread ${rs.ioRunning})`);
      } else if (t.coord !== undefined) {
        const at = received ? rs.read : rs.exec;
        if (compareCoords(at, t.coord) >= 0 && rs.ioRunning === 'Yes') return `${received ? 'received' : 'applied'} up to ${formatCoord(at)}`;
        if (performance.now() > end) throw new FailoverFailed(`did not ${received ? 'receive' : 'apply'} up to ${formatCoord(t.coord)} within ${ms} ms (at ${formatCoord(at)}; IO thread ${rs.ioRunning})`);
      } else throw new FailoverFailed('nothing to verify against: the new master has neither GTIDs nor a binlog position');
      await sleep(100, ctx.signal);
    }
  });
}

/**
 * MariaDB in binlog positions: catch up from the new master by GTID, then
 * back to positions at the same point of its binlog.
 */
export async function gtidThenPositions(s: ServerConfig, ctx: OpCtx, to: Omit<RepointTo, 'how'>, t: Target, ms: number): Promise<void> {
  await repoint(s, ctx, { ...to, how: { gtid: true } });
  await verifyHolds(s, ctx, t, false, ms);
  await using(s, ctx, async (a) => {
    await a.q(a.d.stopReplica());
    const rs = await status(a);
    await a.q(a.d.changeSource({ host: to.master.hostname, port: to.master.port, user: to.replUser, gtid: false, coord: rs.exec, ...(to.delay ? { delay: to.delay } : {}) }));
    await a.q(a.d.startReplica());
  });
}
