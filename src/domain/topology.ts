/**
 * Topology analysis: turns what was observed on each server into the
 * replication tree and a list of findings, each naming the host, the problem
 * and what to do. This is what `check-repl` reports and what the manager uses
 * to decide whether a cluster is healthy enough to watch. Pure: data in,
 * data out.
 */
import { errantGtids } from './gtid.js';
import { semiSyncFindings } from './semisync.js';
import type { ProbeFailure, ServerObservation, ServerProbe } from './types.js';
import { placeOf, ruleExclusion, traitsOf, type LocationPolicy, type PromotionConfig } from './promotion.js';

/** The parts of a server's config that analysis needs. */
/** A configured server as the pure code sees it (promotion settings optional: hand-built specs). */
export interface ServerSpec extends PromotionConfig {
  name: string;
  hostname: string;
  ip: string;
  port: number;
  candidate_master: boolean;
  no_master: boolean;
  ignore_fail: boolean;
}

export interface TopologyOptions {
  secondsBehindMaster: number;
  checkReplFilter: boolean;
  multiTierSlave: boolean;
  /** The replication user mhats will use when repointing (config repl_user). */
  replUser?: string | undefined;
  /** The manager's ping_interval, seconds: the replicas' view should be at least as quick (default 1). */
  pingInterval?: number | undefined;
  /** Is the built-in second route on? (default true) */
  secondRoute?: boolean | undefined;
  /** The cluster's promotion_location (default nearest): same_region rules out replicas in other regions. */
  promotionLocation?: LocationPolicy | undefined;
  /** Servers in maintenance now: never candidates (a failover leaves them out). */
  inMaintenance?: readonly string[] | undefined;
}

export type Severity = 'error' | 'warning' | 'info';

export type FindingCode =
  | 'unreachable'
  | 'no_master'
  | 'multiple_masters'
  | 'master_read_only'
  | 'master_unreachable'
  | 'writable_replica'
  | 'super_read_only_off'
  | 'not_replicating'
  | 'wrong_source'
  | 'unknown_source'
  | 'io_thread'
  | 'sql_thread'
  | 'lag'
  | 'duplicate_server_id'
  | 'log_bin_off'
  | 'log_slave_updates_off'
  | 'binlog_filter_mismatch'
  | 'replicate_filter_mismatch'
  | 'gtid_mode_mismatch'
  | 'errant_gtid'
  | 'semi_sync'
  | 'repl_user'
  | 'no_candidate'
  | 'single_candidate'
  | 'version'
  | 'relay_log_purge'
  | 'replication_timing'
  | 'hook_script';

export interface Finding {
  severity: Severity;
  code: FindingCode;
  /** Server name, or undefined for a cluster-wide finding. */
  server?: string | undefined;
  message: string;
  hint?: string | undefined;
}

export type ReplicationMode = 'gtid' | 'position' | 'mixed' | 'unknown';

export interface ReplicaNode {
  name: string;
  obs: ServerObservation;
  /** Name of the configured server it replicates from, when known. */
  source?: string | undefined;
}

export interface TopologyAnalysis {
  /** Name of the master; set even when the master is down but the replicas agree on it. */
  master?: string | undefined;
  masterObs?: ServerObservation | undefined;
  replicas: ReplicaNode[];
  unreachable: ProbeFailure[];
  mode: ReplicationMode;
  findings: Finding[];
  /** No finding of severity error. */
  healthy: boolean;
}

/** Which configured server does a replica's Master_Host:Master_Port name? */
export function resolveSource(specs: ServerSpec[], observed: Map<string, ServerObservation>, host: string, port: number): ServerSpec | undefined {
  const h = host.toLowerCase();
  return specs.find((s) => {
    if (s.port !== port) return false;
    if (s.hostname.toLowerCase() === h || s.ip.toLowerCase() === h) return true;
    const o = observed.get(s.name);
    return o?.reportHost !== undefined && o.reportHost.toLowerCase() === h;
  });
}

function addr(s: { host: string; port: number }): string {
  return `${s.host}:${s.port}`;
}

/** Does a MySQL account host pattern (with % and _ wildcards) match an address? */
export function hostPatternMatches(pattern: string, host: string): boolean {
  if (pattern === '%' || pattern === '') return true;
  let re = '^';
  for (const ch of pattern) {
    if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 'i').test(host);
}

export function analyzeTopology(specs: ServerSpec[], probes: ServerProbe[], opts: TopologyOptions): TopologyAnalysis {
  const findings: Finding[] = [];
  const add = (f: Finding): void => {
    findings.push(f);
  };
  const observed = new Map<string, ServerObservation>();
  const unreachable: ProbeFailure[] = [];
  const specByName = new Map(specs.map((s) => [s.name, s]));
  for (const p of probes) {
    if (p.ok) observed.set(p.obs.name, p.obs);
    else unreachable.push(p.failure);
  }

  // --- The master: the one reachable server that replicates from nobody. ---
  const nonReplicas = [...observed.values()].filter((o) => o.replica === undefined || o.replica.sourceHost === '');
  let master: string | undefined;
  if (nonReplicas.length === 1) {
    master = nonReplicas[0]!.name;
  } else if (nonReplicas.length > 1) {
    const writable = nonReplicas.filter((o) => !o.readOnly);
    add({
      severity: 'error',
      code: 'multiple_masters',
      message: `more than one server replicates from nobody: ${nonReplicas.map((o) => o.name).join(', ')}${writable.length > 1 ? ` (writable: ${writable.map((o) => o.name).join(', ')} — two writable masters!)` : ''}`,
      hint: 'point every replica at the one master (CHANGE MASTER TO ...), and set read_only=ON on all the others',
    });
    if (writable.length === 1) master = writable[0]!.name;
  } else {
    // Every reachable server is a replica: either the master is down, or a master-master pair.
    const votes = new Map<string, number>();
    for (const o of observed.values()) {
      const r = o.replica!;
      const src = resolveSource(specs, observed, r.sourceHost, r.sourcePort);
      const key = src?.name ?? `?${r.sourceHost}:${r.sourcePort}`;
      votes.set(key, (votes.get(key) ?? 0) + 1);
    }
    const writable = [...observed.values()].filter((o) => !o.readOnly);
    if (writable.length === 1 && observed.size > 0) {
      // Active/passive master-master: the writable one is the master (as MHA).
      master = writable[0]!.name;
    } else if (votes.size === 1) {
      const only = [...votes.keys()][0]!;
      if (!only.startsWith('?')) master = only;
    }
    if (master !== undefined && !observed.has(master)) {
      const f = unreachable.find((u) => u.name === master);
      add({
        severity: 'error',
        code: 'master_unreachable',
        server: master,
        message: `the master ${master} cannot be reached${f ? `: ${f.message}` : ''}; its replicas still point at it`,
        hint: 'if it is really dead, run `mhats failover`; if not, check the route from this host',
      });
    } else if (master === undefined && observed.size > 0) {
      add({
        severity: 'error',
        code: 'no_master',
        message: `no master found: every reachable server is a replica, and they disagree on their source (${[...votes.keys()].map((k) => k.replace(/^\?/, '')).join(', ')})`,
        hint: 'make sure exactly one server is the writable master and the others replicate from it',
      });
    }
  }

  const masterObs = master === undefined ? undefined : observed.get(master);

  // --- Unreachable servers. ---
  for (const u of unreachable) {
    const spec = specByName.get(u.name);
    if (u.name === master) continue; // reported above
    add({
      severity: spec?.ignore_fail ? 'warning' : 'error',
      code: 'unreachable',
      server: u.name,
      message: `cannot connect to ${addr(u)}: ${u.message}`,
      hint:
        u.kind === 'auth'
          ? 'the server is up but refuses the manager: check user/password and grants for the manager host'
          : u.kind === 'timeout'
            ? 'the server accepts nothing within the deadline: it may be hung (SIGSTOP, disk, overload) or the route is dropped'
            : spec?.ignore_fail
              ? 'ignore_fail is set for this server: failover would go on without it'
              : 'start the server, or set ignore_fail=1 for it if it may be down',
    });
  }

  // --- Master checks. ---
  if (masterObs !== undefined && masterObs.readOnly) {
    // In a master-master pair the writable one is chosen; here the only candidate is read-only.
    add({ severity: 'error', code: 'master_read_only', server: masterObs.name, message: 'the master is read_only: applications cannot write', hint: 'SET GLOBAL read_only=OFF on the master (and super_read_only=OFF)' });
  }

  // --- Replicas. ---
  const replicas: ReplicaNode[] = [];
  for (const o of observed.values()) {
    if (o.name === master) {
      // In master-master the master also replicates; that is fine.
      continue;
    }
    const r = o.replica;
    if (r === undefined || r.sourceHost === '') {
      if (master !== undefined && nonReplicas.length <= 1) {
        add({ severity: 'error', code: 'not_replicating', server: o.name, message: 'not configured as a replica', hint: `CHANGE MASTER TO the master ${master}, then START SLAVE` });
      }
      replicas.push({ name: o.name, obs: o });
      continue;
    }
    const src = resolveSource(specs, observed, r.sourceHost, r.sourcePort);
    replicas.push({ name: o.name, obs: o, source: src?.name });
    if (src === undefined) {
      add({
        severity: 'error',
        code: 'unknown_source',
        server: o.name,
        message: `replicates from ${r.sourceHost}:${r.sourcePort}, which is not in the config`,
        hint: master ? `repoint it at ${master}, or add that server to the config` : 'add that server to the config',
      });
    } else if (master !== undefined && src.name !== master) {
      add({
        severity: opts.multiTierSlave ? 'info' : 'error',
        code: 'wrong_source',
        server: o.name,
        message: `replicates from ${src.name} (${r.sourceHost}:${r.sourcePort}), not from the master ${master}`,
        hint: opts.multiTierSlave ? 'multi_tier_slave is set: this replica is not recovered by failover' : `repoint it: CHANGE MASTER TO MASTER_HOST='${specByName.get(master)?.hostname ?? master}' ...`,
      });
    }
    if (r.ioRunning !== 'Yes') {
      add({
        severity: 'error',
        code: 'io_thread',
        server: o.name,
        message: `IO thread is ${r.ioRunning === 'No' ? 'stopped' : 'connecting'}${r.lastIoErrno ? `: error ${r.lastIoErrno}: ${r.lastIoError}` : ''}`,
        hint: r.lastIoErrno ? 'fix the cause above (credentials, network, purged binlogs), then START SLAVE IO_THREAD' : 'START SLAVE IO_THREAD',
      });
    }
    if (!r.sqlRunning) {
      add({
        severity: 'error',
        code: 'sql_thread',
        server: o.name,
        message: `SQL thread is stopped${r.lastSqlErrno ? `: error ${r.lastSqlErrno}: ${r.lastSqlError}` : ''}`,
        hint: r.lastSqlErrno ? 'fix the data problem above (do not skip it blindly), then START SLAVE SQL_THREAD' : 'START SLAVE SQL_THREAD',
      });
    }
    // A delayed replica (MASTER_DELAY) is behind by design: only lag beyond its delay counts.
    if (r.ioRunning === 'Yes' && r.sqlRunning && r.secondsBehind !== null && r.secondsBehind > opts.secondsBehindMaster + r.sqlDelay) {
      add({ severity: 'error', code: 'lag', server: o.name, message: `${r.secondsBehind} s behind its master (limit ${opts.secondsBehindMaster} s${r.sqlDelay ? ` over its MASTER_DELAY of ${r.sqlDelay} s` : ''})`, hint: 'wait for it to catch up, or raise seconds_behind_master' });
    }
    if (!o.readOnly) {
      add({
        severity: 'error',
        code: 'writable_replica',
        server: o.name,
        message: 'replica is writable (read_only=OFF): writes to it would diverge from the master',
        hint: `SET GLOBAL read_only=ON${o.superReadOnly === null ? '' : ', then super_read_only=ON'} on ${o.name}`,
      });
    } else if (o.superReadOnly === false) {
      add({ severity: 'warning', code: 'super_read_only_off', server: o.name, message: 'super_read_only is OFF: users with SUPER can still write', hint: 'SET GLOBAL super_read_only=ON' });
    }
  }
  // --- Duplicate server_id. ---
  const byId = new Map<number, string[]>();
  for (const o of observed.values()) byId.set(o.serverId, [...(byId.get(o.serverId) ?? []), o.name]);
  for (const [id, names] of byId) {
    if (names.length > 1) {
      for (const n of names) {
        add({ severity: 'error', code: 'duplicate_server_id', server: n, message: `server_id ${id} is also used by ${names.filter((x) => x !== n).join(', ')}`, hint: 'give every server a unique server_id in its my.cnf and restart it' });
      }
    }
  }

  // --- Promotability: the promotion rules and location policy, log_bin, log_slave_updates, versions. ---
  const replicaObs = replicas.map((r) => r.obs);
  const minMajor = Math.min(...[...observed.values()].map((o) => o.version.major * 100 + o.version.minor));
  const policy = opts.promotionLocation ?? 'nearest';
  const masterSpec = master !== undefined ? specByName.get(master) : undefined;
  const masterLabels = masterSpec !== undefined ? { datacenter: masterSpec.datacenter, region: masterSpec.region } : undefined;
  const promotable: string[] = [];
  const notPromotable: NotPromotable[] = [];
  for (const o of replicaObs) {
    const spec = specByName.get(o.name);
    // Promotion rules, exactly as a failover applies them (candidateInputs): must_not / no_master,
    // backup or delayed without allow_promotion, another region under promotion_location same_region.
    const traits = spec ? traitsOf(spec) : undefined;
    const ruled = traits ? ruleExclusion(traits, { delaySeconds: o.replica?.sqlDelay ?? 0, place: placeOf(masterLabels, spec!), policy, master: masterLabels }) : undefined;
    if (ruled) {
      notPromotable.push({ name: o.name, code: ruled.code, reason: ruled.reason });
      continue;
    }
    if (opts.inMaintenance?.includes(o.name)) {
      notPromotable.push({ name: o.name, code: 'in_maintenance', reason: 'in maintenance: never a candidate until its maintenance ends' });
      continue;
    }
    if (!o.logBin) {
      add({
        severity: spec?.candidate_master ? 'error' : 'warning',
        code: 'log_bin_off',
        server: o.name,
        message: `log_bin is OFF: ${spec?.candidate_master ? 'this candidate_master ' : ''}cannot be promoted`,
        hint: 'enable log_bin in its my.cnf (restart needed), or set no_master=1 for it',
      });
      notPromotable.push({ name: o.name, code: 'log_bin_off', reason: 'log_bin is OFF' });
      continue;
    }
    if (!o.logSlaveUpdates) {
      add({
        severity: 'warning',
        code: 'log_slave_updates_off',
        server: o.name,
        message: 'log_slave_updates is OFF: if promoted, the other replicas cannot be brought to its position from its binlog',
        hint: 'enable log_slave_updates (log_replica_updates) in its my.cnf',
      });
    }
    if (o.version.major * 100 + o.version.minor > minMajor) {
      add({ severity: 'warning', code: 'version', server: o.name, message: `newer version (${o.version.raw}) than others: it will not be chosen as new master (replication from newer to older is unsupported)` });
      notPromotable.push({ name: o.name, code: 'version', reason: `newer version (${o.version.raw}) than others` });
      continue;
    }
    promotable.push(o.name);
  }
  if (master !== undefined && replicaObs.length > 0) {
    const why = notPromotable.map((n) => `${n.name} (${n.reason})`).join('; ');
    const hint = promotionHint(notPromotable, { policy, masterRegion: masterLabels?.region });
    if (promotable.length === 0) {
      add({ severity: 'error', code: 'no_candidate', message: `no replica can be promoted if the master dies: ${why}`, hint });
    } else if (promotable.length === 1 && notPromotable.length > 0) {
      add({ severity: 'warning', code: 'single_candidate', server: promotable[0], message: `${promotable[0]} is the only replica that can be promoted if the master dies (if it is lost too, no failover is possible): ${why}`, hint });
    }
  }
  if (masterObs !== undefined) {
    for (const o of replicaObs) {
      if (o.version.flavor !== masterObs.version.flavor) {
        add({ severity: 'warning', code: 'version', server: o.name, message: `${o.version.flavor} replica of a ${masterObs.version.flavor} master: mixed flavours are not supported by failover` });
      } else if (o.version.major * 100 + o.version.minor < masterObs.version.major * 100 + masterObs.version.minor) {
        add({ severity: 'warning', code: 'version', server: o.name, message: `older version (${o.version.raw}) than the master (${masterObs.version.raw}): replication from newer to older is unsupported` });
      }
    }
  }

  // --- Filters. ---
  if (opts.checkReplFilter) {
    const withBinlog = [...observed.values()].filter((o) => o.binlog !== undefined);
    const ref = masterObs?.binlog ?? withBinlog[0]?.binlog;
    const refName = masterObs?.binlog ? masterObs.name : withBinlog[0]?.name;
    for (const o of withBinlog) {
      if (ref && o.binlog && (o.binlog.doDb !== ref.doDb || o.binlog.ignoreDb !== ref.ignoreDb) && o.name !== refName) {
        add({ severity: 'error', code: 'binlog_filter_mismatch', server: o.name, message: `binlog filters differ from ${refName}: do_db="${o.binlog.doDb}" ignore_db="${o.binlog.ignoreDb}" vs do_db="${ref.doDb}" ignore_db="${ref.ignoreDb}"`, hint: 'use the same binlog-do-db/binlog-ignore-db everywhere' });
      }
    }
    const withReplica = replicaObs.filter((o) => o.replica !== undefined);
    const first = withReplica[0];
    for (const o of withReplica.slice(1)) {
      const a = JSON.stringify(first!.replica!.filters);
      const b = JSON.stringify(o.replica!.filters);
      if (a !== b) {
        add({ severity: 'error', code: 'replicate_filter_mismatch', server: o.name, message: `replication filters differ from ${first!.name}`, hint: 'use the same replicate-* filters on every replica' });
      }
    }
  }

  // --- GTID mode. ---
  const mode = replicationMode(replicaObs, masterObs);
  if (mode === 'mixed') {
    const using = replicaObs.filter((o) => o.replica?.gtidAutoPosition).map((o) => o.name);
    const notUsing = replicaObs.filter((o) => o.replica && !o.replica.gtidAutoPosition).map((o) => o.name);
    add({
      severity: 'error',
      code: 'gtid_mode_mismatch',
      message: `GTID mode is not consistent: ${using.join(', ') || 'none'} replicate by GTID, ${notUsing.join(', ') || 'none'} by binlog position`,
      hint: 'use one mode everywhere (MariaDB: CHANGE MASTER TO MASTER_USE_GTID=slave_pos on all, or =no on all)',
    });
  }
  if (masterObs?.version.flavor === 'mysql') {
    const modes = new Set([...observed.values()].map((o) => o.gtid.enabled));
    if (modes.size > 1) {
      add({ severity: 'error', code: 'gtid_mode_mismatch', message: `gtid_mode differs between servers: ON on ${[...observed.values()].filter((o) => o.gtid.enabled).map((o) => o.name).join(', ')}`, hint: 'set gtid_mode the same on every server' });
    }
  }

  // --- Errant GTIDs. ---
  if (masterObs !== undefined) {
    for (const o of replicaObs) {
      if (o.version.flavor !== masterObs.version.flavor) continue;
      let errant = '';
      try {
        errant = errantGtids(masterObs.version.flavor, o.gtid, masterObs.gtid);
      } catch (err) {
        add({ severity: 'warning', code: 'errant_gtid', server: o.name, message: `cannot compare GTID sets: ${(err as Error).message}` });
        continue;
      }
      if (errant !== '') {
        add({
          severity: 'error',
          code: 'errant_gtid',
          server: o.name,
          message: `errant GTID transactions (on this replica, not on the master): ${errant}`,
          hint: 'these were written directly on the replica; inspect them, then either apply them on the master or remove them (MySQL: inject empty transactions on the master)',
        });
      }
    }
  }

  // --- Semi-sync. ---
  if (masterObs !== undefined && masterObs.semiSync.sourceEnabled) {
    const acking = replicaObs.filter((o) => o.semiSync.replicaEnabled).map((o) => o.name);
    if (acking.length === 0) {
      add({ severity: 'warning', code: 'semi_sync', server: masterObs.name, message: 'semi-sync is enabled on the master but on no replica: every commit waits for the timeout, then falls back to async', hint: 'enable rpl_semi_sync_slave_enabled on the replicas' });
    } else if (!masterObs.semiSync.sourceActive) {
      add({ severity: 'warning', code: 'semi_sync', server: masterObs.name, message: 'semi-sync is enabled but not active (fell back to async): acknowledged writes may exist only on the master' });
    } else {
      add({ severity: 'info', code: 'semi_sync', server: masterObs.name, message: `semi-sync active, acked by ${acking.join(', ')} (${masterObs.semiSync.sourceClients} clients)` });
    }
  }
  for (const f of semiSyncFindings(masterObs, replicaObs)) add(f);

  // --- Replication user usable from the other hosts. ---
  if (master !== undefined) {
    const replUser = opts.replUser ?? replicaObs.find((o) => o.replica?.sourceUser)?.replica?.sourceUser;
    if (replUser !== undefined && replUser !== '') {
      for (const o of replicaObs) {
        const spec = specByName.get(o.name);
        if (spec?.no_master || !o.logBin) continue;
        if (o.replicationUsers === undefined) {
          add({ severity: 'warning', code: 'repl_user', server: o.name, message: `cannot verify that "${replUser}" can replicate from it (the manager user cannot read mysql.user)` });
          continue;
        }
        const patterns = o.replicationUsers.filter((u) => u.slice(0, u.lastIndexOf('@')) === replUser).map((u) => u.slice(u.lastIndexOf('@') + 1));
        const others = specs.filter((s) => s.name !== o.name);
        const missing = others.filter((s) => !patterns.some((p) => hostPatternMatches(p, s.ip) || hostPatternMatches(p, s.hostname)));
        if (patterns.length === 0) {
          add({ severity: 'error', code: 'repl_user', server: o.name, message: `replication user "${replUser}" does not exist here with REPLICATION SLAVE: if promoted, no replica could connect to it`, hint: `CREATE USER '${replUser}'@'<replica hosts>' ...; GRANT REPLICATION SLAVE ON *.* TO it (on the master, so it replicates everywhere)` });
        } else if (missing.length > 0) {
          add({ severity: 'error', code: 'repl_user', server: o.name, message: `replication user "${replUser}" is not allowed from ${missing.map((m) => m.name).join(', ')} (host patterns: ${patterns.join(', ')})`, hint: 'widen the account host pattern so every server can connect' });
        }
      }
    }
  }

  // --- relay_log_purge: MHA needs relay logs for differential recovery without GTID. ---
  if (mode === 'position') {
    for (const o of replicaObs) {
      if (o.relayLogPurge) add({ severity: 'info', code: 'relay_log_purge', server: o.name, message: 'relay_log_purge=ON: relay logs needed for differential recovery may already be gone', hint: 'set relay_log_purge=0 and purge with a schedule instead' });
    }
  }

  // --- How soon the replicas notice a silent master (their view is the failure detector's witness). ---
  for (const o of replicaObs) {
    const f = replicationTimingFinding(o, opts);
    if (f) add(f);
  }

  const healthy = !findings.some((f) => f.severity === 'error');
  return { master, masterObs, replicas, unreachable, mode, findings, healthy };
}

/** A replica's IO thread notices a dead or hung master only after slave_net_timeout; between heartbeats its Yes proves nothing. */
export const SLOW_NET_TIMEOUT_S = 30;

/**
 * Warns when slave_net_timeout (replica_net_timeout) and the heartbeat period make a replica's view of
 * its master slow, and says what to set: heartbeats at least every ping_interval (≥1 s), and a net
 * timeout of a few heartbeats.
 */
export function replicationTimingFinding(o: ServerObservation, opts: Pick<TopologyOptions, 'pingInterval' | 'secondRoute'>): Finding | undefined {
  const t = o.replicationTiming;
  if (o.replica === undefined || t === undefined) return undefined;
  const target = Math.max(1, Math.ceil(opts.pingInterval ?? 1));
  const goodNet = Math.max(10, target * 4);
  const hb = t.heartbeatPeriod;
  const net = t.netTimeout;
  const slowHb = hb !== undefined && (hb === 0 || hb > 2 * target);
  const slowNet = net !== undefined && net > SLOW_NET_TIMEOUT_S;
  if (!slowHb && !slowNet) return undefined;
  const my = o.version.flavor === 'mysql';
  const newSyntax = my && (o.version.major > 8 || (o.version.major === 8 && (o.version.minor > 0 || o.version.patch >= 23)));
  const netVar = my && (o.version.major > 8 || (o.version.major === 8 && (o.version.minor > 0 || o.version.patch >= 26))) ? 'replica_net_timeout' : 'slave_net_timeout';
  const stop = my && (o.version.major > 8 || (o.version.major === 8 && (o.version.minor > 0 || o.version.patch >= 22))) ? 'REPLICA' : 'SLAVE';
  const change = newSyntax ? `CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD=${target}` : `CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=${target}`;
  const parts = [
    ...(slowHb ? [hb === 0 ? 'no heartbeats (period 0)' : `heartbeats every ${hb} s`] : []),
    ...(net !== undefined ? [`${netVar}=${net} s`] : []),
  ];
  const consequence = `for up to ${net ?? '?'} s after the master dies or hangs this replica's IO thread still says Yes, and ${slowHb ? 'on an idle master nothing proves that Yes fresh' : 'only a heartbeat proves it fresh'}`;
  const effect = opts.secondRoute === false ? 'with second_route off, mhats waits for it before failing over' : "mhats does not wait for it (the second route decides), but a replica's view is the quickest proof of life";
  return {
    severity: 'warning',
    code: 'replication_timing',
    server: o.name,
    message: `the replica's view of its master is slow (${parts.join(', ')}): ${consequence}; ${effect}`,
    hint: `on ${o.name}: SET GLOBAL ${netVar}=${goodNet} (and ${netVar}=${goodNet} under [mysqld] in my.cnf); STOP ${stop}; ${change}; START ${stop}`,
  };
}

export function replicationMode(replicas: ServerObservation[], master: ServerObservation | undefined): ReplicationMode {
  const r = replicas.filter((o) => o.replica !== undefined && o.replica.sourceHost !== '');
  if (r.length === 0) return master?.gtid.enabled ? 'gtid' : 'unknown';
  const gtid = r.filter((o) => o.replica!.gtidAutoPosition).length;
  if (gtid === r.length) return 'gtid';
  if (gtid === 0) return 'position';
  return 'mixed';
}

/** A replica that a failover would not promote, and why (an exclusion code of the promotion rules, or log_bin_off / version). */
interface NotPromotable {
  name: string;
  code: string;
  reason: string;
}

/** What to change so that more replicas can be promoted: one clause per kind of exclusion, naming the servers. */
export function promotionHint(excluded: ReadonlyArray<{ name: string; code: string }>, o: { policy: LocationPolicy; masterRegion?: string | undefined }): string {
  const by = (codes: string[]): string => excluded.filter((e) => codes.includes(e.code)).map((e) => e.name).join(', ');
  const parts: string[] = [];
  const ruled = by(['must_not']);
  if (ruled) parts.push(`set promotion_rule neutral or prefer (and clear no_master) on one of ${ruled}`);
  const kept = by(['backup', 'delayed']);
  if (kept) parts.push(`set allow_promotion: true on one of ${kept} (a delayed replica is promoted only after applying its whole delay)`);
  const far = by(['other_region']);
  if (far) parts.push(`add a promotable replica in region ${o.masterRegion ?? '?'}, or set the cluster's promotion_location to nearest (${far} would then be promoted across regions)`);
  const unlabelled = by(['unknown_region']);
  if (unlabelled) parts.push(`give ${unlabelled} a region label (promotion_location ${o.policy} skips servers whose region is unknown)`);
  const binlog = by(['log_bin_off']);
  if (binlog) parts.push(`enable log_bin on ${binlog}`);
  const maint = by(['in_maintenance']);
  if (maint) parts.push(`end the maintenance of ${maint} when it is done (mhats maintenance stop)`);
  const newer = by(['version']);
  if (newer) parts.push(`upgrade the other servers to the version of ${newer}`);
  return parts.length > 0 ? parts.join('; or ') : 'add a replica that may be promoted';
}
