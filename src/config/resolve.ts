/**
 * The common last step for both formats: typed, layered input (with the
 * file:line of every value) -> ClusterConfig. Applies defaults, resolves
 * secrets through an injected reader, and checks what only makes sense for
 * the whole cluster (unique names, duplicate ip:port, ...).
 */
import { Secret } from '../domain/secret.js';
import type { TopologyOptions } from '../domain/topology.js';
import type { SecretSpec } from './keys.js';
import type { Loc, Problem } from './problems.js';
import { formatLoc } from './problems.js';
import type { HooksConfig } from './hooks.js';
import type { ClusterConfig, ConfigFormat, HttpSettings, ScheduleSettings, SecretSource, ServerConfig, SshHostSettings } from './types.js';
import { evaluateSshConfig, parseSshConfigFile, parseSshOptions, resolveHost, type ReadResult, type SshConfigFile } from './ssh-options.js';

export interface At<T> {
  value: T;
  loc: Loc;
}
export type Layer<T> = { [K in keyof T]?: At<T[K]> | undefined };

export interface LocalValues {
  hostname: string;
  ip: string;
  ssh_host: string;
  candidate_master: boolean;
  no_master: boolean;
  ignore_fail: boolean;
  skip_init_ssh_check: boolean;
  node_label: string;
  promotion_rule: 'prefer' | 'neutral' | 'prefer_not' | 'must_not';
  datacenter: string;
  region: string;
  backup: boolean;
  allow_promotion: boolean;
}

export interface ServerValues {
  port: number;
  user: string;
  password: SecretSpec;
  repl_user: string;
  repl_password: SecretSpec;
  ssh_port: number;
  ssh_user: string;
  skip_reset_slave: boolean;
  master_binlog_dir: string[];
  remote_workdir: string;
  master_pid_file: string;
  client_bindir: string;
  client_libdir: string;
  use_gtid_auto_pos: boolean;
  disable_log_bin: boolean;
  handle_raw_binlog: boolean;
}

/** Cluster options as parsed values (every key present): derived from ClusterConfig, never restated. */
export type ClusterValues = {
  [K in
    | 'ping_interval' | 'ping_type' | 'ping_failures' | 'ping_timeout' | 'ping_retry_interval' | 'connect_timeout' | 'query_timeout'
    | 'seconds_behind_master' | 'check_repl_delay' | 'check_repl_filter' | 'latest_priority' | 'multi_tier_slave' | 'last_failover_minute'
    | 'manager_workdir' | 'manager_log' | 'secondary_check_script' | 'master_ip_failover_script' | 'master_ip_online_change_script'
    | 'shutdown_script' | 'report_script' | 'auto_rejoin' | 'hook_password_args' | 'second_route' | 'second_route_timeout' | 'secondary_hosts'
    | 'ping_stall_failures' | 'fence_hung_master' | 'promotion_location']-?: NonNullable<ClusterConfig[K]>;
};

export interface SshValues {
  known_hosts: string;
  identity_file: string;
  host_key_fingerprints: Record<string, string>;
  connect_timeout: number;
  insecure_skip_host_key_check: boolean;
  /** MHA ssh_options (YAML ssh.options). */
  options: string;
}

export interface ServerInput {
  name: string;
  loc: Loc;
  values: Layer<LocalValues & ServerValues>;
}

export interface ClusterInput {
  name: string;
  loc: Loc;
  format: ConfigFormat;
  cluster: Layer<ClusterValues>;
  ssh: Layer<SshValues>;
  servers: ServerInput[];
  /** Calendar jobs (YAML only), already merged over `defaults`. */
  schedules?: ScheduleSettings | undefined;
  /** Hooks (YAML only), already validated. */
  hooks?: HooksConfig | undefined;
  /** YAML `drill:` of the cluster ('allowed' lets `mhats drill` inject faults into it). */
  drill?: 'allowed' | 'forbidden' | undefined;
}

export type SecretFileResult = { ok: true; content: string; mode: number } | { ok: false; reason: string };

export interface ResolveContext {
  /** MHA: getpwuid($>); the default ssh_user. */
  osUser: string;
  env: NodeJS.ProcessEnv;
  /** Absolute path of a {file:} secret given relative to the file that names it. */
  resolvePath(p: string, from: Loc): string;
  readSecretFile(path: string): SecretFileResult;
  /** Reads the ssh_config named by ssh_options -F (absent: -F cannot be read here). */
  readTextFile?: ((path: string) => ReadResult) | undefined;
  /** Home directory for ~ and %d in ssh_options (default /root). */
  homeDir?: string | undefined;
}

// ---------------------------------------------------------------- defaults

export const SERVER_DEFAULTS = {
  port: 3306,
  user: 'root',
  ssh_port: 22,
  skip_reset_slave: false,
  master_binlog_dir: ['/var/lib/mysql', '/var/log/mysql'],
  remote_workdir: '/var/tmp',
  use_gtid_auto_pos: true,
  disable_log_bin: false,
  handle_raw_binlog: true,
  candidate_master: false,
  no_master: false,
  ignore_fail: false,
  skip_init_ssh_check: false,
} as const;

/** The cluster options that have a default (per format). */
export type ClusterDefaults = Pick<
  ClusterConfig,
  | 'ping_interval' | 'ping_type' | 'ping_failures' | 'connect_timeout' | 'query_timeout' | 'seconds_behind_master'
  | 'check_repl_delay' | 'check_repl_filter' | 'latest_priority' | 'multi_tier_slave' | 'last_failover_minute' | 'manager_workdir'
>;

/**
 * The native format has faster detection defaults; an MHA file means what
 * it means to MHA (ping_interval 3, ping_type SELECT, 4 failed checks).
 */
export function clusterDefaults(format: ConfigFormat): ClusterDefaults {
  const common = {
    connect_timeout: 2,
    query_timeout: 5,
    seconds_behind_master: 30,
    check_repl_delay: true,
    check_repl_filter: true,
    latest_priority: true,
    multi_tier_slave: false,
    last_failover_minute: 480,
    manager_workdir: '/var/tmp',
  };
  return format === 'mha'
    ? { ping_interval: 3, ping_type: 'SELECT', ping_failures: 4, ...common }
    : { ping_interval: 1, ping_type: 'CONNECT', ping_failures: 3, ...common };
}

/** One health check may take at most this long by default: the interval, capped at 2 s. */
export function defaultPingTimeout(pingInterval: number): number {
  return Math.min(pingInterval, 2);
}

/** Failure detection and fencing defaults (both formats). */
export const DETECTION_DEFAULTS = { second_route: true, second_route_timeout: 1, ping_stall_failures: 4, fence_hung_master: 'kill' } as const;

/** The detection settings of a cluster with the defaults filled in (hand-built configs may lack them). */
export function detectionSettings(c: ClusterConfig): { second_route: boolean; second_route_timeout: number; secondary_hosts: NonNullable<ClusterConfig['secondary_hosts']>; ping_stall_failures: number; fence_hung_master: 'kill' | 'none' } {
  return {
    second_route: c.second_route ?? DETECTION_DEFAULTS.second_route,
    second_route_timeout: c.second_route_timeout ?? DETECTION_DEFAULTS.second_route_timeout,
    secondary_hosts: c.secondary_hosts ?? [],
    ping_stall_failures: c.ping_stall_failures ?? DETECTION_DEFAULTS.ping_stall_failures,
    fence_hung_master: c.fence_hung_master ?? DETECTION_DEFAULTS.fence_hung_master,
  };
}

/**
 * The topology analysis options of a cluster (check-repl, status, the monitor, switchover,
 * rejoin, drills): lag limit, filters, multi-tier, the replication user, detection and the
 * promotion_location (so check-repl judges promotability as a failover would).
 */
export function topologyOptions(c: ClusterConfig): TopologyOptions {
  return {
    secondsBehindMaster: c.seconds_behind_master,
    checkReplFilter: c.check_repl_filter,
    multiTierSlave: c.multi_tier_slave,
    replUser: c.servers.find((s) => s.repl_user !== undefined)?.repl_user,
    pingInterval: c.ping_interval,
    secondRoute: detectionSettings(c).second_route,
    promotionLocation: c.promotion_location ?? 'nearest',
  };
}

export const SSH_CONNECT_TIMEOUT_DEFAULT = 5;
export const STATE_DIR_DEFAULT = '/var/lib/mhats';
/** The manager's status/metrics endpoint: loopback only unless configured otherwise. */
export const HTTP_DEFAULT: HttpSettings = { host: '127.0.0.1', port: 9187 };

/** A DNS name, an IPv4 address, or an IPv6 address (with an optional %zone). */
export const HOST_RE = /^[A-Za-z0-9_.-]+$|^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

// ---------------------------------------------------------------- resolution

export interface ResolveResult {
  cluster: ClusterConfig | undefined;
  problems: Problem[];
  warnings: string[];
}

function get<T>(a: At<T> | undefined, dflt: T): T {
  return a === undefined ? dflt : a.value;
}
function opt<T>(a: At<T> | undefined): T | undefined {
  return a?.value;
}

export function resolveCluster(input: ClusterInput, ctx: ResolveContext): ResolveResult {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const fileCache = new Map<string, SecretFileResult>();

  const resolveSecret = (key: string, at: At<SecretSpec> | undefined): { secret: Secret | undefined; source: SecretSource } => {
    if (at === undefined) return { secret: undefined, source: { kind: 'none' } };
    const spec = at.value;
    switch (spec.kind) {
      case 'inline':
        return { secret: new Secret(spec.value), source: { kind: 'inline', file: at.loc.file } };
      case 'env': {
        const v = ctx.env[spec.name];
        if (v === undefined) {
          problems.push({ ...at.loc, message: `${key}: environment variable ${spec.name} is not set` });
          return { secret: new Secret(''), source: { kind: 'env', name: spec.name } };
        }
        return { secret: new Secret(v), source: { kind: 'env', name: spec.name } };
      }
      case 'file': {
        const path = ctx.resolvePath(spec.path, at.loc);
        let r = fileCache.get(path);
        if (r === undefined) {
          r = ctx.readSecretFile(path);
          fileCache.set(path, r);
          if (r.ok && (r.mode & 0o077) !== 0) warnings.push(permissionWarning(path, r.mode, 'password file'));
        }
        if (!r.ok) {
          problems.push({ ...at.loc, message: `${key}: cannot read password file ${path}: ${r.reason}` });
          return { secret: new Secret(''), source: { kind: 'file', path } };
        }
        return { secret: new Secret(r.content.replace(/[\r\n]+$/, '')), source: { kind: 'file', path } };
      }
    }
  };

  const d = clusterDefaults(input.format);
  const c = input.cluster;
  const ping_interval = get(c.ping_interval, d.ping_interval);
  const ping_timeout = get(c.ping_timeout, defaultPingTimeout(ping_interval));
  if (c.ping_timeout !== undefined && ping_timeout > ping_interval) {
    warnings.push(`${formatLoc(c.ping_timeout.loc)}: ping_timeout (${ping_timeout}s) is longer than ping_interval (${ping_interval}s): health checks may overlap`);
  }

  const servers: ServerConfig[] = [];
  for (const s of input.servers) {
    const v = s.values;
    const hostname = get(v.hostname, '');
    if (hostname === '') {
      problems.push({ ...s.loc, message: `server ${s.name} has no hostname` });
      continue;
    }
    const pw = resolveSecret('password', v.password);
    const rpw = resolveSecret('repl_password', v.repl_password);
    const server: ServerConfig = {
      name: s.name,
      hostname,
      ip: get(v.ip, hostname),
      port: get(v.port, SERVER_DEFAULTS.port),
      user: get(v.user, SERVER_DEFAULTS.user),
      password: pw.secret ?? new Secret(''),
      passwordSource: pw.source,
      repl_user: opt(v.repl_user),
      repl_password: rpw.secret,
      repl_passwordSource: rpw.source,
      ssh_host: get(v.ssh_host, hostname),
      ssh_port: get(v.ssh_port, SERVER_DEFAULTS.ssh_port),
      ssh_user: get(v.ssh_user, ctx.osUser),
      candidate_master: get(v.candidate_master, false),
      no_master: get(v.no_master, false),
      ignore_fail: get(v.ignore_fail, false),
      skip_init_ssh_check: get(v.skip_init_ssh_check, false),
      skip_reset_slave: get(v.skip_reset_slave, SERVER_DEFAULTS.skip_reset_slave),
      master_binlog_dir: get(v.master_binlog_dir, [...SERVER_DEFAULTS.master_binlog_dir]),
      remote_workdir: get(v.remote_workdir, SERVER_DEFAULTS.remote_workdir),
      master_pid_file: opt(v.master_pid_file),
      client_bindir: opt(v.client_bindir),
      client_libdir: opt(v.client_libdir),
      node_label: opt(v.node_label),
      use_gtid_auto_pos: get(v.use_gtid_auto_pos, SERVER_DEFAULTS.use_gtid_auto_pos),
      disable_log_bin: get(v.disable_log_bin, SERVER_DEFAULTS.disable_log_bin),
      handle_raw_binlog: get(v.handle_raw_binlog, SERVER_DEFAULTS.handle_raw_binlog),
    };
    // Promotion rules: MHA's flags keep their meaning (candidate_master → prefer, no_master → must_not).
    const implied = server.no_master ? 'must_not' : server.candidate_master ? 'prefer' : undefined;
    const explicit = v.promotion_rule;
    if (explicit !== undefined && implied !== undefined && explicit.value !== implied) {
      problems.push({ ...explicit.loc, message: `server ${s.name}: promotion_rule ${explicit.value} contradicts ${server.no_master ? 'no_master' : 'candidate_master'} (which means ${implied}); keep one of them` });
    }
    server.promotion_rule = explicit?.value ?? implied ?? 'neutral';
    server.promotion_rule_from = explicit !== undefined ? 'promotion_rule' : server.no_master ? 'no_master' : server.candidate_master ? 'candidate_master' : 'default';
    if (v.datacenter !== undefined) server.datacenter = v.datacenter.value;
    if (v.region !== undefined) server.region = v.region.value;
    server.backup = get(v.backup, false);
    server.allow_promotion = get(v.allow_promotion, false);
    // A host name ends up in SQL (CHANGE MASTER), in ssh and rsync command lines and in hook
    // arguments: only what a host name or an address can hold.
    for (const [key, value, at] of [['hostname', server.hostname, v.hostname], ['ip', server.ip, v.ip], ['ssh_host', server.ssh_host, v.ssh_host]] as const) {
      if ((key === 'hostname' || at !== undefined) && !HOST_RE.test(value)) problems.push({ ...(at?.loc ?? s.loc), message: `${key} ${JSON.stringify(value)} of server ${s.name} is not a host name or an address (letters, digits, ".", "-", "_", ":" only)` });
    }
    if (server.candidate_master && server.no_master) {
      warnings.push(`${formatLoc(s.loc)}: server ${s.name} has both candidate_master and no_master; no_master wins (as in MHA)`);
    }
    servers.push(server);
  }

  if (input.servers.length === 0) problems.push({ ...input.loc, message: `cluster ${input.name} has no servers` });

  // Unique names, and no two servers on the same ip:port (MHA: fatal).
  const byName = new Map<string, ServerInput>();
  for (const s of input.servers) {
    const prev = byName.get(s.name);
    if (prev) problems.push({ ...s.loc, message: `duplicate server name "${s.name}" (also at ${formatLoc(prev.loc)})` });
    else byName.set(s.name, s);
  }
  for (let i = 0; i < servers.length; i++) {
    for (let j = i + 1; j < servers.length; j++) {
      const a = servers[i];
      const b = servers[j];
      if (!a || !b || a.ip !== b.ip || a.port !== b.port) continue;
      const locB = input.servers.find((x) => x.name === b.name)?.loc ?? input.loc;
      problems.push({ ...locB, message: `servers ${a.name} (hostname ${a.hostname}) and ${b.name} (hostname ${b.hostname}) have the same ip:port ${a.ip}:${a.port}` });
    }
  }

  const sh = input.ssh;
  const cluster: ClusterConfig = {
    name: input.name,
    servers,
    ping_interval,
    ping_type: get(c.ping_type, d.ping_type),
    ping_failures: get(c.ping_failures, d.ping_failures),
    ping_timeout,
    // After a failed check, re-check sooner: MHA files keep MHA's pace (every ping_interval).
    ping_retry_interval: get(c.ping_retry_interval, input.format === 'mha' ? ping_interval : Math.min(ping_interval, 0.2)),
    connect_timeout: get(c.connect_timeout, d.connect_timeout),
    query_timeout: get(c.query_timeout, d.query_timeout),
    seconds_behind_master: get(c.seconds_behind_master, d.seconds_behind_master),
    check_repl_delay: get(c.check_repl_delay, d.check_repl_delay),
    check_repl_filter: get(c.check_repl_filter, d.check_repl_filter),
    latest_priority: get(c.latest_priority, d.latest_priority),
    multi_tier_slave: get(c.multi_tier_slave, d.multi_tier_slave),
    last_failover_minute: get(c.last_failover_minute, d.last_failover_minute),
    auto_rejoin: get(c.auto_rejoin, false),
    promotion_location: get(c.promotion_location, 'nearest'),
    manager_workdir: get(c.manager_workdir, d.manager_workdir),
    manager_log: opt(c.manager_log),
    secondary_check_script: opt(c.secondary_check_script),
    master_ip_failover_script: opt(c.master_ip_failover_script),
    master_ip_online_change_script: opt(c.master_ip_online_change_script),
    shutdown_script: opt(c.shutdown_script),
    report_script: opt(c.report_script),
    second_route: get(c.second_route, DETECTION_DEFAULTS.second_route),
    second_route_timeout: get(c.second_route_timeout, DETECTION_DEFAULTS.second_route_timeout),
    secondary_hosts: get(c.secondary_hosts, []),
    ping_stall_failures: get(c.ping_stall_failures, DETECTION_DEFAULTS.ping_stall_failures),
    fence_hung_master: get(c.fence_hung_master, DETECTION_DEFAULTS.fence_hung_master),
    hook_password_args: get(c.hook_password_args, 'auto'),
    ssh: {
      known_hosts: opt(sh.known_hosts),
      identity_file: opt(sh.identity_file),
      host_key_fingerprints: { ...(opt(sh.host_key_fingerprints) ?? {}) },
      insecure_skip_host_key_check: get(sh.insecure_skip_host_key_check, false),
      connect_timeout: get(sh.connect_timeout, SSH_CONNECT_TIMEOUT_DEFAULT),
      ...resolveSshOptions(input, servers, ctx, problems),
    },
    schedules: { ...input.schedules },
    ...(input.hooks ? { hooks: input.hooks } : {}),
    ...(input.drill ? { drill: input.drill } : {}),
  };
  // Where it came from is not part of its value: not enumerable (equality, JSON); MHA's report_script gets it as --conf.
  Object.defineProperty(cluster, 'source_file', { value: input.loc.file, enumerable: false, writable: true, configurable: true });
  if (cluster.ssh.insecure_skip_host_key_check) {
    warnings.push(`cluster ${input.name}: ssh host key verification is OFF (insecure_skip_host_key_check); use this only in a lab`);
  }
  return { cluster: problems.length === 0 ? cluster : undefined, problems, warnings };
}

/** ssh_options: the words for OpenSSH, and each server's settings for mhats' own connections. */
function resolveSshOptions(input: ClusterInput, servers: ServerConfig[], ctx: ResolveContext, problems: Problem[]): { options?: string[]; hosts?: Record<string, SshHostSettings>; connect_timeout?: number } {
  const at = input.ssh.options;
  if (at === undefined || at.value.replace(/['"]/g, '').trim() === '') return {};
  const parsed = parseSshOptions(at.value, at.loc);
  problems.push(...parsed.problems);
  let file: SshConfigFile | undefined;
  const home = ctx.homeDir ?? '/root';
  if (parsed.configFile !== undefined) {
    const path = parsed.configFile.startsWith('~/') ? `${home}/${parsed.configFile.slice(2)}` : parsed.configFile;
    const r = ctx.readTextFile ? ctx.readTextFile(path) : { ok: false as const, reason: 'files cannot be read here' };
    if (!r.ok) problems.push({ ...at.loc, message: `ssh_options -F ${parsed.configFile}: cannot read it: ${r.reason}` });
    else {
      const pf = parseSshConfigFile(path, r.text);
      problems.push(...pf.problems);
      file = pf.file;
    }
  }
  const hosts: Record<string, SshHostSettings> = {};
  const byName = new Map(input.servers.map((s) => [s.name, s]));
  const sh = input.ssh;
  for (const s of servers) {
    const v = byName.get(s.name)?.values;
    const explicit = {
      port: v?.ssh_port?.value,
      user: v?.ssh_user?.value,
      known_hosts: sh.known_hosts?.value,
      identity_file: sh.identity_file?.value,
      insecure_skip_host_key_check: sh.insecure_skip_host_key_check?.value,
      connect_timeout: sh.connect_timeout?.value,
    };
    const fileParams = file ? evaluateSshConfig(file, s.ssh_host, explicit.user ?? parsed.cli.user?.value ?? ctx.osUser, ctx.osUser) : undefined;
    if (fileParams) problems.push(...fileParams.problems);
    const r = resolveHost({ sshHost: s.ssh_host, explicit, osUser: ctx.osUser, home, cli: parsed.cli, file: fileParams?.params, loc: at.loc, defaultConnectTimeout: sh.connect_timeout?.value ?? SSH_CONNECT_TIMEOUT_DEFAULT });
    problems.push(...r.problems);
    hosts[s.name] = r.settings;
  }
  return { options: parsed.words, hosts, connect_timeout: sh.connect_timeout?.value ?? parsed.cli.connectTimeout?.value ?? SSH_CONNECT_TIMEOUT_DEFAULT };
}

export function permissionWarning(path: string, mode: number, what: string): string {
  const m = (mode & 0o777).toString(8).padStart(4, '0');
  return `${path}: ${what} holds a password but is readable by group/others (mode ${m}); run: chmod 600 ${path}`;
}
