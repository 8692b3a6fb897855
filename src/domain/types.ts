/**
 * What mhats observes about servers. Pure data: adapters fill these in,
 * pure modules (topology analysis, candidate choice, plans) read them.
 */

export type Flavor = 'mysql' | 'mariadb';

export interface ServerVersion {
  flavor: Flavor;
  major: number;
  minor: number;
  patch: number;
  /** SELECT VERSION() as the server said it. */
  raw: string;
}

/** A binlog coordinate: file name and byte position. */
export interface BinlogCoord {
  file: string;
  pos: number;
}

export type IoThreadState = 'Yes' | 'No' | 'Connecting';

/** One row of SHOW SLAVE/REPLICA STATUS, normalised across flavours. */
export interface ReplicaStatus {
  sourceHost: string;
  sourcePort: number;
  sourceUser: string;
  ioRunning: IoThreadState;
  sqlRunning: boolean;
  /** Master_Log_File / Read_Master_Log_Pos: how far the IO thread has read. */
  read: BinlogCoord;
  /** Relay_Master_Log_File / Exec_Master_Log_Pos: how far the SQL thread has applied. */
  exec: BinlogCoord;
  relayLogFile: string;
  relayLogPos: number;
  secondsBehind: number | null;
  lastIoErrno: number;
  lastIoError: string;
  lastSqlErrno: number;
  lastSqlError: string;
  /** MySQL Auto_Position=1, or MariaDB Using_Gtid != No. */
  gtidAutoPosition: boolean;
  /** MariaDB Using_Gtid: No, Slave_Pos, Current_Pos. */
  mariadbUsingGtid?: string | undefined;
  /** MySQL Retrieved_Gtid_Set / Executed_Gtid_Set; MariaDB Gtid_IO_Pos. */
  retrievedGtidSet: string;
  executedGtidSet: string;
  sqlDelay: number;
  /** Slave_SQL_Running_State: e.g. "Slave has read all relay log; waiting for more updates". */
  sqlThreadState?: string | undefined;
  filters: ReplicationFilters;
}

export interface ReplicationFilters {
  replicateDoDb: string;
  replicateIgnoreDb: string;
  replicateDoTable: string;
  replicateIgnoreTable: string;
  replicateWildDoTable: string;
  replicateWildIgnoreTable: string;
}

export interface GtidState {
  /** MySQL: @@gtid_mode = ON. MariaDB: the server has a non-empty gtid_binlog_pos or replicas use GTID. */
  enabled: boolean;
  /** MySQL @@gtid_executed, or MariaDB @@gtid_current_pos. */
  executed: string;
  /** MariaDB only: @@gtid_binlog_pos and @@gtid_slave_pos. */
  binlogPos?: string | undefined;
  slavePos?: string | undefined;
  /** MariaDB only: @@gtid_binlog_state (last seq per domain AND server_id; what errant detection needs). */
  binlogState?: string | undefined;
  strictMode?: boolean | undefined;
  /** MariaDB @@gtid_domain_id. */
  domainId?: number | undefined;
}

export interface SemiSyncState {
  /** rpl_semi_sync_master_enabled / rpl_semi_sync_source_enabled */
  sourceEnabled: boolean;
  /** rpl_semi_sync_slave_enabled / rpl_semi_sync_replica_enabled */
  replicaEnabled: boolean;
  /** Rpl_semi_sync_master_status: ON while the source waits for acks. */
  sourceActive: boolean;
  /** Rpl_semi_sync_master_clients */
  sourceClients: number;
  /** rpl_semi_sync_master_wait_no_slave / rpl_semi_sync_source_wait_no_replica (absent: not reported). */
  waitNoReplica?: boolean | undefined;
  /** rpl_semi_sync_master_wait_point: AFTER_SYNC (lossless) or AFTER_COMMIT. */
  waitPoint?: string | undefined;
  /** rpl_semi_sync_master_timeout, ms. */
  timeoutMs?: number | undefined;
}

export interface ServerObservation {
  /** Config name of the server. */
  name: string;
  host: string;
  port: number;
  serverId: number;
  serverUuid?: string | undefined;
  version: ServerVersion;
  readOnly: boolean;
  /** null where the server has no super_read_only (MariaDB, MySQL < 5.7.8). */
  superReadOnly: boolean | null;
  logBin: boolean;
  logSlaveUpdates: boolean;
  binlogFormat: string;
  /** SHOW MASTER STATUS / SHOW BINARY LOG STATUS; absent when log_bin is off. */
  binlog?: (BinlogCoord & { doDb: string; ignoreDb: string }) | undefined;
  gtid: GtidState;
  /** Absent when the server is not a replica. Multi-source is not supported: the default channel only. */
  replica?: ReplicaStatus | undefined;
  semiSync: SemiSyncState;
  relayLogPurge: boolean;
  /** Observed at (ms since epoch), passed in by the adapter. */
  observedAt: number;
  /** Report_Host / @@report_host, for matching replicas to their source. */
  reportHost?: string | undefined;
  /** Users on this server that hold REPLICATION SLAVE (user@host), for the repl user check. */
  replicationUsers?: string[] | undefined;
  /**
   * How soon this replica notices a silent source (replicas only, when readable): slave_net_timeout
   * (replica_net_timeout) and the heartbeat period of its connection, seconds.
   */
  replicationTiming?: { netTimeout?: number | undefined; heartbeatPeriod?: number | undefined } | undefined;
}

/** Why a server could not be observed. */
export type ProbeFailureKind =
  | 'refused' // nothing listens: a dead mysqld or a closed port
  | 'timeout' // deadline passed: a hung server, a dropped route
  | 'auth' // access denied: alive, but the credentials are wrong
  | 'too_many_connections' // alive, but full
  | 'read_only' // alive, but refuses writes (INSERT health check on a read_only server)
  | 'unresolvable' // name does not resolve
  | 'unreachable' // host/network unreachable
  | 'protocol' // spoke but not MySQL, or a query failed
  | 'other';

export interface ProbeFailure {
  name: string;
  host: string;
  port: number;
  kind: ProbeFailureKind;
  message: string;
  /** MySQL error number when the server sent one. */
  errno?: number | undefined;
  /** How long the attempt took, ms. */
  elapsedMs: number;
}

export type ServerProbe = { ok: true; obs: ServerObservation } | { ok: false; failure: ProbeFailure };
