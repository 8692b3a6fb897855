/**
 * Reads one server's replication state over SQL, with a deadline on the
 * connect and on every statement. Returns data (ServerProbe); never throws
 * for a server problem — an unreachable or hung server is an observation.
 */
import type { GtidState, ServerObservation, ServerProbe } from '../../domain/types.js';
import { DbError, openSession, withSession, type DbSession, type DbTarget, type DbTimeouts } from './connection.js';
import type { SessionKeeper } from './keeper.js';
import { defaultChannelRow, dialectFor, parseVersion, variableRows, VERSION_QUERY, type Dialect } from './dialect.js';

export interface InspectOptions extends DbTimeouts {
  /** Clock, injected so callers (and tests) decide what "now" is. */
  now: () => number;
  signal?: AbortSignal | undefined;
}

/** The inspection's statements in the order of a batch ('witness': MariaDB's SHOW ALL SLAVES STATUS, for the heartbeat period; last, so that MySQL's batch simply has one fewer). */
const BATCH_ORDER = ['variablesQuery', 'showReplicaStatus', 'showBinlogStatus', 'semiSyncVariablesQuery', 'semiSyncStatusQuery', 'replicationUsersQuery', 'replicationTimingQuery', 'witness'] as const;
/** Memo key: this connection's batch failed once (a privilege missing for one statement): one statement at a time from now on. */
const NO_BATCH = 'inspect:no-batch';

/** Reads everything check-repl, status and failover need from an open session. */
export async function observe(s: DbSession, name: string, now: () => number): Promise<{ obs: ServerObservation; dialect: Dialect }> {
  // The version cannot change while the connection lives (a kept connection reads it once).
  let version = s.memo.get(VERSION_QUERY) as ServerObservation['version'] | undefined;
  if (version === undefined) {
    const [vrow] = await s.query<{ version: string; version_comment: string | null }>(VERSION_QUERY);
    if (vrow === undefined) throw new DbError(s.target, 'protocol', 'SELECT VERSION() returned no row');
    version = parseVersion(String(vrow.version), vrow.version_comment ?? undefined);
    s.memo.set(VERSION_QUERY, version);
  }
  const d = dialectFor(version);
  // On a connection that takes several statements at once, every statement below goes in one round
  // trip (the optional ones too; what does not apply is ignored). A batch that fails on a live
  // connection (a privilege missing for one statement) falls back to one statement at a time, as
  // every later inspection on this connection does.
  const stmts = BATCH_ORDER.map((k) => (k === 'witness' ? (d.flavor === 'mariadb' ? d.witnessQueries()[0]! : '') : d[k]())).filter((q) => q !== '');
  let batch: Record<string, unknown>[][] | undefined;
  if (s.multi && s.memo.get(NO_BATCH) !== true) {
    try {
      batch = await s.queryBatch(stmts);
    } catch (err) {
      if (!s.alive || (err instanceof DbError && err.kind === 'timeout')) throw err;
      s.memo.set(NO_BATCH, true);
    }
  }
  const q = async (k: (typeof BATCH_ORDER)[number], stmt: string): Promise<Record<string, unknown>[]> => (batch !== undefined ? batch[BATCH_ORDER.indexOf(k)]! : await s.query(stmt));
  const [vars] = await q('variablesQuery', d.variablesQuery());
  if (vars === undefined) throw new DbError(s.target, 'protocol', 'variables query returned no row');
  const v = d.parseVariables(vars);
  const replicaRow = defaultChannelRow(await q('showReplicaStatus', d.showReplicaStatus()));
  const replica = replicaRow === undefined ? undefined : d.parseReplicaStatus(replicaRow);
  // MariaDB has no gtid_mode: GTID replication is in use when the replica uses it (Using_Gtid).
  const gtid = replica?.gtidAutoPosition ? { ...v.gtid, enabled: true } : v.gtid;
  let binlog: ServerObservation['binlog'];
  if (v.logBin) {
    const [b] = await q('showBinlogStatus', d.showBinlogStatus());
    if (b !== undefined) {
      const p = d.parseBinlogStatus(b);
      binlog = { file: p.file, pos: p.pos, doDb: p.doDb, ignoreDb: p.ignoreDb };
    }
  }
  const semiVars = variableRows(await q('semiSyncVariablesQuery', d.semiSyncVariablesQuery()));
  const semiStatus = variableRows(await q('semiSyncStatusQuery', d.semiSyncStatusQuery()));
  let replicationUsers: string[] | undefined;
  try {
    const users = (await q('replicationUsersQuery', d.replicationUsersQuery())) as Array<{ user: unknown; host: unknown }>;
    replicationUsers = users.map((u) => `${String(u.user as string)}@${String(u.host as string)}`);
  } catch (err) {
    // No privilege on mysql.user: the check says it cannot verify. A dead connection is a real failure.
    if (!(err instanceof DbError) || err.kind === 'timeout' || !s.alive) throw err;
  }
  let replicationTiming: ServerObservation['replicationTiming'];
  if (replica !== undefined) {
    // Optional: a failure here (no privilege, performance_schema off) never fails the inspection.
    try {
      const [t] = await q('replicationTimingQuery', d.replicationTimingQuery());
      const num = (v: unknown): number | undefined => (v === null || v === undefined || v === '' ? undefined : Number.isFinite(Number(v)) ? Number(v) : undefined);
      let heartbeatPeriod = num(t?.heartbeat_period);
      if (d.flavor === 'mariadb') heartbeatPeriod = d.parseWitness([await q('witness', d.witnessQueries()[0]!)]).heartbeatPeriod;
      replicationTiming = { netTimeout: num(t?.net_timeout), heartbeatPeriod };
    } catch (err) {
      if (!s.alive || (err instanceof DbError && err.kind === 'timeout')) throw err;
    }
  }
  const obs: ServerObservation = {
    name,
    host: s.target.host,
    port: s.target.port,
    serverId: v.serverId,
    serverUuid: v.serverUuid,
    version,
    readOnly: v.readOnly,
    superReadOnly: v.superReadOnly,
    logBin: v.logBin,
    logSlaveUpdates: v.logSlaveUpdates,
    binlogFormat: v.binlogFormat,
    binlog,
    gtid,
    replica,
    semiSync: d.parseSemiSync(semiVars, semiStatus),
    relayLogPurge: v.relayLogPurge,
    observedAt: now(),
    reportHost: v.reportHost,
    replicationUsers,
    replicationTiming,
  };
  return { obs, dialect: d };
}

/**
 * Connects, observes and disconnects one server; with a keeper, on the connection it keeps for the
 * server (opened when needed, destroyed on any failure). Never throws for a server problem.
 */
export async function inspectServer(target: DbTarget, opts: InspectOptions, keeper?: SessionKeeper): Promise<ServerProbe> {
  const started = opts.now();
  let s: DbSession | undefined;
  try {
    if (keeper !== undefined) {
      const { obs } = await keeper.use(target, opts, (k) => observe(k, target.name, opts.now), opts.signal);
      return { ok: true, obs };
    }
    s = await openSession(target, opts, opts.signal);
    const { obs } = await observe(s, target.name, opts.now);
    s.close();
    return { ok: true, obs };
  } catch (err) {
    s?.destroy();
    const e = err instanceof DbError ? err : new DbError(target, 'other', err instanceof Error ? err.message : String(err));
    return {
      ok: false,
      failure: {
        name: target.name,
        host: target.host,
        port: target.port,
        kind: e.kind,
        message: e.message.replace(`${target.name} (${target.host}:${target.port}): `, ''),
        errno: e.errno,
        elapsedMs: opts.now() - started,
      },
    };
  }
}

/**
 * Reads one server's GTID state again (the errant-GTID confirmation: the master after its replicas).
 * Undefined when it cannot be read; never throws for a server problem.
 */
export async function readGtidState(target: DbTarget, version: ServerObservation['version'], opts: InspectOptions, keeper?: SessionKeeper): Promise<GtidState | undefined> {
  const d = dialectFor(version);
  const read = async (s: DbSession): Promise<GtidState | undefined> => {
    const [v] = await s.query(d.variablesQuery());
    return v === undefined ? undefined : d.parseVariables(v).gtid;
  };
  try {
    if (keeper !== undefined) return await keeper.use(target, opts, read, opts.signal);
    return await withSession(target, opts, read, opts.signal);
  } catch {
    return undefined;
  }
}

/** Inspects every server in parallel; one slow server never delays the answer beyond its own deadline. */
export async function inspectAll(targets: DbTarget[], opts: InspectOptions, keeper?: SessionKeeper): Promise<ServerProbe[]> {
  return Promise.all(targets.map((t) => inspectServer(t, opts, keeper)));
}
