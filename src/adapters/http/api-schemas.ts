/**
 * The HTTP API v1's schemas (JSON Schema, built with TypeBox). The same
 * objects validate the requests (fastify's ajv), type the handlers, and make
 * the OpenAPI 3.1 document (@fastify/swagger): one source for all three.
 * Field names are snake_case throughout; times are ISO 8601 strings (UTC).
 */
import { Type, type Static, type TSchema } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Time = Type.String({ description: 'ISO 8601 time, UTC', examples: ['2026-11-30T15:40:00.000Z'] });
const ServerName = Type.String({ minLength: 1, maxLength: 255, description: 'a server of the cluster: its config name, hostname or ip' });

// ---------------------------------------------------------------- errors

export const FieldError = Type.Object({
  in: Type.Union([Type.Literal('body'), Type.Literal('params'), Type.Literal('querystring'), Type.Literal('headers')]),
  field: Type.String({ description: 'the field, as a JSON pointer without the leading slash ("" = the whole part)' }),
  message: Type.String(),
});

export const RejoinReport = Type.Object({
  cluster: Type.String(),
  server: Type.String(),
  outcome: Type.Union([Type.Literal('rejoined'), Type.Literal('already'), Type.Literal('would_rejoin'), Type.Literal('diverged'), Type.Literal('refused'), Type.Literal('failed')]),
  reason: Type.String(),
  master: Nullable(Type.String({ description: 'the current master it replicates from (or would)' })),
  failover: Nullable(Type.String({ description: 'the failover that made it an old master' })),
  how: Nullable(Type.Union([Type.Literal('gtid'), Type.Literal('position')])),
  start_at: Nullable(Type.String({ description: 'binlog positions: where it starts replicating (file:pos)' })),
  divergent: Nullable(
    Type.Object(
      {
        count: Type.Integer(),
        gtids: Type.Array(Type.String()),
        range: Nullable(Type.Object({ from: Type.String(), to: Type.String() })),
        transactions: Type.Array(Type.Object({ file: Type.String(), start: Type.Integer(), end: Type.Integer(), gtid: Nullable(Type.String()) })),
      },
      { description: 'diverged: exactly the transactions the cluster does not have' },
    ),
  ),
  extract_file: Nullable(Type.String({ description: 'diverged: the file they were extracted to, for review' })),
  extract_error: Nullable(Type.String()),
  reseed: Type.Array(Type.String(), { description: 'diverged: how to reseed the server' }),
  steps: Type.Array(Type.String(), { description: 'what was done, in order' }),
});
export type RejoinReport = Static<typeof RejoinReport>;

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'what went wrong, for a person' }),
    hint: Type.Optional(Type.String({ description: 'what to do about it' })),
    fields: Type.Optional(Type.Array(FieldError, { description: '422: every invalid field' })),
    checks: Type.Optional(Type.Array(Type.Object({ id: Type.String(), title: Type.String(), ok: Type.Boolean(), detail: Type.String() }), { description: '409 from a switchover: the pre-checks, each with its result' })),
    job: Type.Optional(Type.String({ description: '409: the job already running on this cluster' })),
    rejoin: Type.Optional(RejoinReport),
  }
);
export type ErrorBody = Static<typeof ErrorBody>;

// ---------------------------------------------------------------- parameters

export const ClusterParams = Type.Object({ cluster: Type.String({ minLength: 1, maxLength: 128, description: 'the cluster name' }) });
export const JobParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
export const JournalQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'newest entries first; at most this many' })) });

// ---------------------------------------------------------------- reads

export const MonitorState = Type.Union(
  [Type.Literal('starting'), Type.Literal('broken'), Type.Literal('watching'), Type.Literal('suspect'), Type.Literal('failing_over'), Type.Literal('blocked'), Type.Literal('stopped')],
  { description: "the monitor loop's state" },
);

export const Activity = Nullable(Type.Object({ what: Type.String({ description: 'the operator action running now, e.g. "switchover db1 → db2 (job …)"' }), since: Time }));

export const AutomaticFailover = Type.Object({
  allowed: Type.Boolean({ description: 'would the manager fail the master over by itself now (the repeated-failover guard)' }),
  reason: Type.Optional(Type.String()),
  blocking: Type.Optional(Type.String({ description: 'the failover id that blocks; acknowledge it to allow' })),
});

export const MaintenanceEntry = Type.Object({
  id: Type.String(),
  scope: Type.Union([Type.Literal('global'), Type.Literal('cluster'), Type.Literal('server')], { description: 'global: no automatic failover anywhere; cluster: no automatic failover of the cluster; server: never promoted, its absence blocks nothing' }),
  cluster: Nullable(Type.String()),
  server: Nullable(Type.String()),
  owner: Type.String({ description: 'who started it: USER@HOST, or api:ADDRESS (operator NAME)' }),
  reason: Type.String(),
  started_at: Time,
  expires_at: Time,
  stopped_at: Nullable(Time),
  stopped_by: Nullable(Type.String()),
  active: Type.Boolean(),
  remaining_seconds: Type.Integer(),
});
export type MaintenanceEntry = Static<typeof MaintenanceEntry>;

export const ServerView = Type.Object(
  {
    name: Type.String(),
    host: Type.String(),
    port: Type.Integer(),
    role: Type.Union([Type.Literal('master'), Type.Literal('replica'), Type.Literal('failed'), Type.Literal('unreachable'), Type.Literal('unknown')], {
      description: 'failed: the old master of a failover, out of the cluster until it rejoins as a replica',
    }),
    fenced: Type.Boolean({ description: 'kept read_only by the manager whenever it answers (an old master that has not rejoined)' }),
    candidate_master: Type.Boolean(),
    no_master: Type.Boolean(),
    source: Nullable(Type.String({ description: 'the server it replicates from (config name, or host:port when not in the config)' })),
    read_only: Nullable(Type.Boolean()),
    version: Nullable(Type.String()),
    io_thread: Nullable(Type.String({ description: 'Slave_IO_Running: Yes, No or Connecting' })),
    sql_thread: Nullable(Type.Boolean({ description: 'Slave_SQL_Running' })),
    lag_seconds: Nullable(Type.Number({ description: 'Seconds_Behind_Master (null: unknown)' })),
    gtid: Nullable(Type.String({ description: 'executed GTID set (master) or the replica\'s GTID position' })),
    binlog: Nullable(Type.String({ description: 'master: current binlog file:position; replica: the master position read' })),
    errors: Type.Array(Type.String(), { description: 'connection errors, Last_IO_Error, Last_SQL_Error' }),
    maintenance: Nullable(MaintenanceEntry),
  }
);
export type ServerView = Static<typeof ServerView>;

export const ClusterMaintenance = Type.Object({
  held: Type.Boolean({ description: 'a global or cluster maintenance is in force: the cluster is watched but never failed over automatically' }),
  held_dead_master: Type.Boolean({ description: 'the master is dead and not failed over because of maintenance' }),
  entries: Type.Array(MaintenanceEntry, { description: 'the global, cluster and server entries in force' }),
});

export const Topology = Type.Object(
  {
    cluster: Type.String(),
    state: MonitorState,
    master: Nullable(Type.String()),
    healthy: Nullable(Type.Boolean({ description: 'null before the first inspection' })),
    mode: Nullable(Type.String({ description: 'gtid, position or mixed' })),
    inspected_at: Nullable(Time),
    in_failover: Type.Boolean(),
    activity: Activity,
    servers: Type.Array(ServerView),
    errors: Type.Array(Type.String()),
    warnings: Type.Array(Type.String()),
    maintenance: ClusterMaintenance,
  }
);
export type Topology = Static<typeof Topology>;

export const Named = Type.Object({ name: Type.String(), reason: Type.String() });

export const Plan = Type.Object(
  {
    cluster: Type.String(),
    master: Nullable(Type.String({ description: 'the master this plan is for ("if it died now")' })),
    would_promote: Nullable(Type.String({ description: 'null: no replica could be promoted (see because)' })),
    because: Type.String({ description: 'why that server, or why none' }),
    rule: Nullable(Type.String({ description: 'the selection rule that decided: forced, latest_candidate, candidate, latest, any or prefer_not' })),
    ranking: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.String(),
          rule: Type.String({ description: 'promotion_rule: prefer, neutral or prefer_not' }),
          place: Type.String({ description: "relative to the master: same_datacenter, same_region, other_region or unknown" }),
          latest: Type.Boolean(),
          why: Type.String({ description: 'the first: why it is chosen; the others: what put the first above it' }),
        }),
        { description: 'the eligible replicas, best first (promotion rules, location, latest binlog events, config order)' },
      ),
    ),
    latest: Type.Array(Type.String(), { description: 'the replicas with the most recent data' }),
    rejected: Type.Array(Named, { description: 'replicas that could not be promoted, each with its reason' }),
    excluded: Type.Array(Named, { description: 'servers not considered at all (failed old masters, unreachable, replicating from elsewhere)' }),
    automatic_failover: AutomaticFailover,
    based_on_inspection_at: Nullable(Time),
    source: Type.String({ description: 'what computed the plan: "monitor" (the last inspection)' }),
    expected_loss: Nullable(Type.String({ description: 'what would be lost if it died now, for a person (null: not known yet)' })),
    salvage: Nullable(Type.Object({ planned: Type.Boolean(), reason: Type.String() }, { description: "saving the dead master's binlog tail over SSH" })),
    servers: Type.Array(
      Type.Object({
        name: Type.String(),
        role: Type.Union([Type.Literal('new_master'), Type.Literal('replica')]),
        standing: Type.String({ description: 'against the most advanced survivor (new master) or the new master (replica): ahead, equal, behind' }),
        holds: Type.String({ description: 'what it holds: GTID position, else binlog coordinates of the master' }),
        delay: Type.Integer({ description: 'SQL_Delay, seconds (0: not delayed)' }),
        deferred: Type.Boolean({ description: 'recovered after the new master is writable, never waited for' }),
        steps: Type.Array(Type.String(), { description: 'what the failover would do to it, in order' }),
      }),
      { description: 'each survivor and what the failover would do to it ([] when no plan)' },
    ),
    notes: Type.Array(Type.String(), { description: 'sentences worth reading (log_slave_updates, relay_log_purge, ...)' }),
  }
);
export type Plan = Static<typeof Plan>;

export const PhaseBar = Type.Object({ name: Type.String(), started_at: Time, duration_ms: Type.Number(), ok: Type.Boolean(), detail: Type.Optional(Type.String()) });
export const HookOutcome = Type.Object({ at: Time, name: Type.String(), phase: Type.String(), verdict: Type.String(), exit_code: Type.Optional(Nullable(Type.Integer())), timed_out: Type.Optional(Type.Boolean()) });

export const FailoverEntry = Type.Object({
  kind: Type.Literal('failover'),
  id: Type.String(),
  trigger: Type.Union([Type.Literal('auto'), Type.Literal('manual')]),
  dead_master: Type.String(),
  new_master: Nullable(Type.String()),
  started_at: Time,
  ended_at: Nullable(Time),
  duration_ms: Nullable(Type.Number()),
  outcome: Type.String({ description: 'success, partial, failed, refused; running (now), unfinished (its manager stopped during it)' }),
  reason: Nullable(Type.String({ description: 'how it ended' })),
  why: Type.String({ description: 'why it started' }),
  lost: Nullable(Type.String({ description: 'transactions lost, as far as known' })),
  acked: Type.Boolean(),
  acked_by: Nullable(Type.String()),
  rejoined: Type.Boolean({ description: 'the old master is a member again: back as a healthy replica, or adopted as the master of the cluster rebuilt around it' }),
  phases: Type.Array(PhaseBar),
  steps: Type.Array(Type.Object({ server: Type.String(), name: Type.String(), started_at: Time, duration_ms: Type.Number(), ok: Type.Boolean(), detail: Type.Optional(Type.String()) }), { description: 'each step of the plan on each server, as it ended' }),
  promoted_at: Nullable(Type.String({ description: 'when the new master accepted writes (ISO 8601, UTC)' })),
  planned: Nullable(Type.Object({ new_master: Nullable(Type.String()), expected_loss: Type.String(), revision: Type.Integer() }, { description: 'its plan (the last revision): the new master and the expected loss' })),
  hooks: Type.Array(HookOutcome),
  events: Type.Array(Type.Object({ at: Time, message: Type.String() })),
});
export const SwitchoverEntry = Type.Object({
  kind: Type.Literal('switchover'),
  id: Type.String(),
  by: Type.String({ description: 'who asked: USER@cli, or api:ADDRESS' }),
  from: Type.String(),
  to: Type.String(),
  started_at: Time,
  ended_at: Nullable(Time),
  duration_ms: Nullable(Type.Number()),
  outcome: Type.String({ description: 'success, partial, rolled_back, failed, refused; running; unfinished' }),
  reason: Nullable(Type.String()),
  write_blocked_ms: Nullable(Type.Number({ description: 'how long writes were blocked' })),
  steps: Type.Array(PhaseBar),
});
export const AckEntry = Type.Object({ kind: Type.Literal('ack'), id: Type.String({ description: 'the failover acknowledged' }), at: Time, by: Type.String() });
export const WriteEntry = Type.Object({
  kind: Type.Literal('write'),
  id: Type.String(),
  at: Time,
  by: Type.String({ description: 'the caller: api:ADDRESS, and the operator it named (X-Mhats-Operator)' }),
  action: Type.String(),
  status: Type.Integer({ description: 'the HTTP status answered' }),
  outcome: Type.String(),
  detail: Nullable(Type.String()),
  job: Nullable(Type.String()),
});
export const MaintenanceHistoryEntry = Type.Object({ kind: Type.Literal('maintenance'), ...MaintenanceEntry.properties });
export const JournalEntry = Type.Union([FailoverEntry, SwitchoverEntry, AckEntry, WriteEntry, MaintenanceHistoryEntry]);
export type JournalEntry = Static<typeof JournalEntry>;

export const Journal = Type.Object({ cluster: Type.String(), journal: Type.String({ description: 'where the journal lives: a file, or etcd:PREFIX' }), entries: Type.Array(JournalEntry) });
export type Journal = Static<typeof Journal>;

export const ClusterSummary = Type.Object(
  {
    name: Type.String(),
    state: MonitorState,
    master: Nullable(Type.String()),
    healthy: Nullable(Type.Boolean()),
    in_failover: Type.Boolean(),
    activity: Activity,
    servers: Type.Integer({ description: 'how many servers the cluster has' }),
    automatic_failover: AutomaticFailover,
    in_maintenance: Type.Boolean({ description: 'a global or cluster maintenance holds automatic failover' }),
    links: Type.Object({ topology: Type.String(), plan: Type.String(), journal: Type.String() }),
  }
);
export type ClusterSummary = Static<typeof ClusterSummary>;
export const ClusterList = Type.Object({ clusters: Type.Array(ClusterSummary) });

export const ManagerHealth = Type.Object(
  {
    version: Type.String(),
    pid: Type.Integer(),
    started_at: Time,
    uptime_seconds: Type.Integer(),
    ready: Type.Boolean(),
    stopping: Type.Boolean(),
    role: Type.Union([Type.Literal('leader'), Type.Literal('follower')], { description: 'only the leader fails over and accepts writes' }),
    ha: Type.Object({
      mode: Type.Union([Type.Literal('etcd'), Type.Literal('single'), Type.Literal('external')]),
      instance: Nullable(Type.String()),
      leader: Nullable(Type.String({ description: 'the leader instance (etcd)' })),
    }),
    writes: Type.Object({
      enabled: Type.Boolean(),
      reason: Nullable(Type.String({ description: 'why writes are off' })),
    }),
    clusters: Type.Integer(),
  }
);
export type ManagerHealth = Static<typeof ManagerHealth>;

export const JobStep = Type.Object({ name: Type.String(), duration_ms: Type.Number(), ok: Type.Boolean(), detail: Type.Optional(Type.String()) });
export const Job = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('switchover'), Type.Literal('failover')]),
    cluster: Type.String(),
    state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done')]),
    by: Type.String(),
    created_at: Time,
    started_at: Nullable(Time),
    ended_at: Nullable(Time),
    outcome: Nullable(Type.String({ description: 'when done: success, partial, rolled_back, failed, refused, error' })),
    ok: Nullable(Type.Boolean({ description: 'when done: did the master move as asked' })),
    reason: Nullable(Type.String()),
    old_master: Nullable(Type.String()),
    new_master: Nullable(Type.String()),
    journal_id: Nullable(Type.String({ description: 'the switchover or failover id in the journal' })),
    steps: Type.Array(JobStep, { description: 'switchover steps / failover phases, as they end' }),
    notes: Type.Array(Type.String()),
    write_blocked_ms: Nullable(Type.Number()),
    lost: Nullable(Type.String()),
    links: Type.Object({ self: Type.String() }),
  }
);
export type Job = Static<typeof Job>;
export const JobList = Type.Object({ jobs: Type.Array(Job) });

export const ClusterOverview = Type.Object({ summary: ClusterSummary, topology: Topology, plan: Plan, history: Type.Array(JournalEntry) });
export const Overview = Type.Object(
  {
    generated_at: Time,
    manager: ManagerHealth,
    clusters: Type.Array(ClusterOverview),
    jobs: Type.Array(Job),
  }
);
export type Overview = Static<typeof Overview>;

// ---------------------------------------------------------------- writes

export const SwitchoverBody = Type.Object(
  {
    new_master: Type.Optional(ServerName),
    orig_master_is_new_slave: Type.Optional(Type.Boolean({ default: false, description: 'make the old master a replica of the new one (else it stays read_only, replicating from nobody)' })),
    dry_run: Type.Optional(Type.Boolean({ default: false, description: 'run the pre-checks and return the plan; change nothing' })),
    running_updates_limit: Type.Optional(Type.Number({ minimum: 0, maximum: 3600, default: 1, description: 'seconds: refuse when a write statement on the master has run this long' })),
    max_lag: Type.Optional(Type.Number({ minimum: 0, maximum: 86400, default: 1, description: 'seconds: refuse when a replica lags more' })),
    timeout: Type.Optional(Type.Number({ minimum: 1, maximum: 600, default: 5, description: 'seconds: the longest writes stay blocked waiting for the new master; then roll back' })),
  },
  { additionalProperties: false },
);
export type SwitchoverBody = Static<typeof SwitchoverBody>;

export const PreCheck = Type.Object({ id: Type.String(), title: Type.String(), ok: Type.Boolean(), detail: Type.String() });
export const SwitchoverPlan = Type.Object({
  master: Type.String(),
  new_master: Type.String(),
  why: Type.String({ description: 'why this new master' }),
  replicas: Type.Array(Type.String(), { description: 'repointed to the new master' }),
  mode: Type.Union([Type.Literal('gtid'), Type.Literal('position')]),
  flavor: Type.String(),
  rejected: Type.Array(Named),
  steps: Type.Array(Type.String(), { description: 'what will happen, in order' }),
  notes: Type.Array(Type.String()),
});
export type SwitchoverPlanBody = Static<typeof SwitchoverPlan>;
export const SwitchoverDryRun = Type.Object({ dry_run: Type.Literal(true), checks: Type.Array(PreCheck), plan: SwitchoverPlan });
export const JobAccepted = Type.Object({ job: Job, checks: Type.Optional(Type.Array(PreCheck)), plan: Type.Optional(SwitchoverPlan) });

export const FailoverBody = Type.Object(
  {
    dead_master: Type.Optional(ServerName),
    new_master: Type.Optional(ServerName),
    confirm: Type.Literal(true, { description: 'required, true: confirms the manual failover (what the CLI asks for, or takes as --yes)' }),
  },
  { additionalProperties: false },
);
export type FailoverBody = Static<typeof FailoverBody>;

export const AckBody = Type.Object({ failover_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'acknowledge only this failover (default: every open one)' })) }, { additionalProperties: false });
export type AckBody = Static<typeof AckBody>;
export const AckResult = Type.Object({
  cluster: Type.String(),
  acknowledged: Type.Array(Type.Object({ id: Type.String(), dead_master: Type.String(), new_master: Nullable(Type.String()), outcome: Type.String() })),
  automatic_failover: AutomaticFailover,
});
export type AckResult = Static<typeof AckResult>;

export const MaintenanceStartBody = Type.Object(
  {
    cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'the cluster; with server: only that server' })),
    server: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'a server of the cluster: never promoted, its absence blocks nothing' })),
    global: Type.Optional(Type.Boolean({ description: 'no automatic failover of any cluster (not with cluster/server)' })),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'why; shown to whoever is on call' }),
    for: Type.String({ minLength: 1, maxLength: 32, description: 'how long: 30m, 2h, 1h30m, 1d (at most 7d); it ends by itself', examples: ['2h'] }),
  },
  { additionalProperties: false },
);
export type MaintenanceStartBody = Static<typeof MaintenanceStartBody>;
export const MaintenanceStopBody = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'the entry to end; or name its scope' })),
    cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    server: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    global: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MaintenanceStopBody = Static<typeof MaintenanceStopBody>;
export const MaintenanceQuery = Type.Object({ cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), ended_within_hours: Type.Optional(Type.Number({ minimum: 0, maximum: 720, default: 24 })) });
export const MaintenanceList = Type.Object({ active: Type.Array(MaintenanceEntry), ended: Type.Array(MaintenanceEntry, { description: 'stopped or expired within ended_within_hours, newest first' }) });
export type MaintenanceList = Static<typeof MaintenanceList>;
export const MaintenanceStarted = Type.Object({ entry: MaintenanceEntry, effect: Type.String() });
export const MaintenanceStopped = Type.Object({ stopped: Type.Array(MaintenanceEntry) });

export const RejoinBody = Type.Object(
  {
    server: ServerName,
    dry_run: Type.Optional(Type.Boolean({ default: false, description: 'decide and report; change nothing (not even read_only)' })),
  },
  { additionalProperties: false },
);
export type RejoinBody = Static<typeof RejoinBody>;
export const RejoinResult = Type.Object({ rejoin: RejoinReport });
