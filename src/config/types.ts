/**
 * The resolved configuration: what every command and the daemon work from,
 * whichever file format it came from (native YAML or MHA's app1.cnf).
 * Option names follow MHA's where MHA has one.
 */
import type { Secret } from '../domain/secret.js';
import type { HooksConfig } from './hooks.js';
import type { HostSpec } from './keys.js';
import type { SshHostSettings } from './ssh-options.js';

export type { SshHostSettings } from './ssh-options.js';

export type PingType = 'CONNECT' | 'SELECT' | 'INSERT';

/** Where a password came from; recorded so `config check` can say it. */
export type SecretSource =
  | { kind: 'inline'; file: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'none' };

export interface ServerConfig {
  /** Block name (MHA `[server1]`) or the YAML `name`; unique within the cluster. */
  name: string;
  /** MHA `hostname`: identity, SSH target, and what CHANGE MASTER uses. */
  hostname: string;
  /** MHA `ip`: what SQL connections use. Defaults to hostname. */
  ip: string;
  port: number;
  user: string;
  password: Secret;
  passwordSource: SecretSource;
  repl_user?: string | undefined;
  repl_password?: Secret | undefined;
  /** Where repl_password came from (set by the loader; optional so hand-built configs need not). */
  repl_passwordSource?: SecretSource | undefined;
  ssh_host: string;
  ssh_port: number;
  ssh_user: string;
  candidate_master: boolean;
  no_master: boolean;
  ignore_fail: boolean;
  skip_init_ssh_check: boolean;
  skip_reset_slave: boolean;
  /** Directories searched for the master's binlogs. */
  master_binlog_dir: string[];
  remote_workdir: string;
  master_pid_file?: string | undefined;
  client_bindir?: string | undefined;
  client_libdir?: string | undefined;
  node_label?: string | undefined;
  use_gtid_auto_pos: boolean;
  disable_log_bin: boolean;
  handle_raw_binlog: boolean;
}

export interface SshSettings {
  /** OpenSSH known_hosts file used to verify host keys (hashed entries supported). */
  known_hosts?: string | undefined;
  /** Pinned host key fingerprints, "SHA256:base64" per ssh host (or host:port). */
  host_key_fingerprints: Record<string, string>;
  /** Private key the manager logs in with. */
  identity_file?: string | undefined;
  /** Only for a lab: skip host key verification. Never the default. */
  insecure_skip_host_key_check: boolean;
  connect_timeout: number; // seconds (MHA ssh_connection_timeout)
  /**
   * MHA ssh_options as words (quotes removed, as MHA does): passed as they are
   * to OpenSSH (rsync, the hosts and vip hooks) and to MHA scripts (--ssh_options).
   */
  options?: string[] | undefined;
  /** Per server name: what ssh_options (and its -F ssh_config, Host-matched) mean for mhats' own connections. Set only with ssh_options. */
  hosts?: Record<string, SshHostSettings> | undefined;
}

export interface ClusterConfig {
  name: string;
  servers: ServerConfig[];
  /** Seconds between health checks (MHA ping_interval; fractions allowed). */
  ping_interval: number;
  ping_type: PingType;
  /** Failed checks in a row that make a suspicion (MHA: 4, fixed). */
  ping_failures: number;
  /** Seconds between checks once one has failed (default 0.2; MHA files: ping_interval). */
  ping_retry_interval: number;
  /** Hard deadline of one health check, seconds. */
  ping_timeout: number;
  /** Deadline of a connection attempt during inspection, seconds. */
  connect_timeout: number;
  /** Deadline of one SQL statement during inspection, seconds. */
  query_timeout: number;
  /** check-repl: the most replication lag tolerated, seconds (MHA --seconds_behind_master). */
  seconds_behind_master: number;
  check_repl_delay: boolean;
  check_repl_filter: boolean;
  latest_priority: boolean;
  multi_tier_slave: boolean;
  last_failover_minute: number;
  /** The manager rejoins an old master by itself when it comes back contained (mhats rejoin); off by default. Optional so hand-built configs need not set it. */
  auto_rejoin?: boolean | undefined;
  manager_workdir: string;
  manager_log?: string | undefined;
  secondary_check_script?: string | undefined;
  master_ip_failover_script?: string | undefined;
  master_ip_online_change_script?: string | undefined;
  shutdown_script?: string | undefined;
  report_script?: string | undefined;
  /**
   * The built-in second route (default true): before failing over, probe the master's MySQL port
   * over SSH from the replicas' hosts and secondary_hosts (MHA's masterha_secondary_check, natively).
   */
  second_route?: boolean | undefined;
  /** Deadline of one second-route probe, seconds (default 1). */
  second_route_timeout?: number | undefined;
  /** More hosts to probe the master from, over SSH (default none). */
  secondary_hosts?: HostSpec[] | undefined;
  /**
   * Health-check statements in a row that time out on a connection the master accepted (a storage
   * or lock hang; ping_type INSERT or SELECT) before it is failed over, even while its replicas are
   * connected (default 4, as MHA's 4 failed checks).
   */
  ping_stall_failures?: number | undefined;
  /** A hung old master (SSH answers, SQL does not): kill its mysqld over SSH (default) or leave it. */
  fence_hung_master?: 'kill' | 'none' | undefined;
  /**
   * MHA passes --new_master_password / --orig_master_password to its scripts on the
   * command line. auto (default): only to a script whose text mentions the option;
   * always; never (the scripts read MHATS_NEW_MASTER_PASSWORD / MHATS_ORIG_MASTER_PASSWORD).
   * Optional so hand-built configs need not set it.
   */
  hook_password_args?: 'auto' | 'always' | 'never' | undefined;
  ssh: SshSettings;
  /** Calendar jobs of the manager (YAML `schedules:`; none from an MHA file). Optional so hand-built configs need not set it. */
  schedules?: ScheduleSettings | undefined;
  /** Failover/switchover hooks (YAML `hooks:`); MHA's script keys above keep working on their own. */
  hooks?: HooksConfig | undefined;
  /**
   * `mhats drill` may inject faults into this cluster only when 'allowed'
   * (YAML `drill: allowed`; a staging cluster). Sandboxes are always allowed.
   */
  drill?: 'allowed' | 'forbidden' | undefined;
  /** The file the cluster was read from (MHA report_script --conf). */
  source_file?: string | undefined;
}

/**
 * Calendar jobs (node-cron expressions, 5 fields or 6 with seconds first).
 * These never detect anything: failure detection is the monitor loop's.
 */
export interface ScheduleSettings {
  /** Purge applied relay logs on replicas running with relay_log_purge=0 (MHA purge_relay_logs from cron). */
  relay_log_purge?: string | undefined;
  /** A check-repl report to the log and the metrics. */
  check_repl?: string | undefined;
  /** Drop finished failovers older than keep_days from the journal (never ones that still block or fence). */
  journal_retention?: { cron: string; keep_days: number } | undefined;
}

/** Where the status/metrics HTTP endpoint listens. */
export interface HttpSettings {
  host: string;
  /** 0 = any free port (the manager logs the one it got). */
  port: number;
}

export type ConfigFormat = 'yaml' | 'mha';

export interface LoadedConfig {
  format: ConfigFormat;
  /** Files read, in order (for MHA: global then app file). */
  files: string[];
  clusters: ClusterConfig[];
  /** Where the manager keeps its journal and state. */
  state_dir: string;
  /** Non-fatal findings (world-readable password file, ...). */
  warnings: string[];
  /** The manager's HTTP endpoint; undefined = disabled (`http: { listen: off }`). Default 127.0.0.1:9187. */
  http?: HttpSettings | undefined;
  /** Manager HA (YAML `etcd:`): undefined = a single manager (local lock plus MHA's monitor lock on the master). */
  etcd?: EtcdSettings | undefined;
  /** The write API's bearer token (YAML `http.token_file`, or `mhats manager --http-token-file`); undefined = writes off. */
  http_token?: HttpToken | undefined;
  /** Service discovery (YAML `publish:`): the master of each cluster written to etcd and/or Consul KV. */
  publish?: PublishSettings | undefined;
}

/** The bearer token of the HTTP write API, read from its file at load (and at every reload). */
export interface HttpToken {
  /** Absolute path of the token file. */
  file: string;
  token: Secret;
}

/**
 * Publishing the master for service discovery, in orchestrator's key layout:
 * PREFIX/mysql/master/CLUSTER = host:port, and .../hostname, .../port, .../ipv4.
 */
export interface PublishSettings {
  /** Prepended to mysql/master/CLUSTER ('' = orchestrator's keys exactly). */
  prefix: string;
  /** Seconds between reconciliations (the keys are rewritten when they differ). */
  interval: number;
  /** Deadline of one KV request, seconds. */
  timeout: number;
  /** etcd v3 (JSON gateway) endpoints; undefined = not published to etcd. */
  etcd?: { endpoints: string[] } | undefined;
  /** Consul KV over its HTTP API; undefined = not published to Consul. */
  consul?: { address: string; token?: Secret | undefined; datacenter?: string | undefined } | undefined;
}

/** Manager HA on etcd: leader election on a lease, and the failover journal in etcd. */
export interface EtcdSettings {
  /** Client URLs of the etcd members (http://HOST:PORT), tried in turn. */
  endpoints: string[];
  /** Key prefix: PREFIX/leader and PREFIX/journal/CLUSTER/… (default /mhats). */
  prefix: string;
  /** Lease TTL, seconds (default 10): a dead leader is replaced within about this long. */
  lease_ttl: number;
  /** This manager's name in the leader key; undefined = HOSTNAME-PID. */
  instance?: string | undefined;
  /** Deadline of one etcd request, seconds (default 2). */
  request_timeout: number;
  /**
   * Spread the clusters over the managers (default false: one leader fails over every cluster).
   * Each cluster has its own owner key PREFIX/clusters/NAME/owner on its owner's lease.
   */
  sharding: boolean;
}
