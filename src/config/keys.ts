/**
 * The catalogue of configuration keys, shared by the YAML schema, the MHA
 * (app1.cnf) reader, `config import-mha` and the docs. Pure: no I/O.
 *
 * Scopes:
 *  - local:   per server only (MHA "Local": hostname, ip, candidate_master, ...)
 *  - server:  per server, inheritable from the cluster level and `defaults`
 *             (MHA "Local/App/Global")
 *  - cluster: one value per cluster (MHA "App/Global")
 */

export type ValueKind =
  | 'string'
  | 'bool'
  | 'port'
  | 'posint' // integer >= 1
  | 'nonnegint' // integer >= 0
  | 'posnum' // number > 0 (fractions allowed)
  | 'secret'
  | 'dirlist'
  | 'ping_type'
  | 'log_level'
  | 'hostlist' // SSH destinations "[user@]host[:port]": a string (comma list allowed) or a list
  | 'fence_mode' // kill | none
  | 'password_args';

export type Scope = 'local' | 'server' | 'cluster';

export interface KeyInfo {
  kind: ValueKind;
  scope: Scope;
}

export const LOCAL_KEYS = {
  hostname: { kind: 'string', scope: 'local' },
  ip: { kind: 'string', scope: 'local' },
  ssh_host: { kind: 'string', scope: 'local' },
  candidate_master: { kind: 'bool', scope: 'local' },
  no_master: { kind: 'bool', scope: 'local' },
  ignore_fail: { kind: 'bool', scope: 'local' },
  skip_init_ssh_check: { kind: 'bool', scope: 'local' },
  node_label: { kind: 'string', scope: 'local' },
} as const satisfies Record<string, KeyInfo>;

export const SERVER_KEYS = {
  port: { kind: 'port', scope: 'server' },
  user: { kind: 'string', scope: 'server' },
  password: { kind: 'secret', scope: 'server' },
  repl_user: { kind: 'string', scope: 'server' },
  repl_password: { kind: 'secret', scope: 'server' },
  ssh_port: { kind: 'port', scope: 'server' },
  ssh_user: { kind: 'string', scope: 'server' },
  skip_reset_slave: { kind: 'bool', scope: 'server' },
  master_binlog_dir: { kind: 'dirlist', scope: 'server' },
  remote_workdir: { kind: 'string', scope: 'server' },
  master_pid_file: { kind: 'string', scope: 'server' },
  client_bindir: { kind: 'string', scope: 'server' },
  client_libdir: { kind: 'string', scope: 'server' },
  use_gtid_auto_pos: { kind: 'bool', scope: 'server' },
  disable_log_bin: { kind: 'bool', scope: 'server' },
  handle_raw_binlog: { kind: 'bool', scope: 'server' },
} as const satisfies Record<string, KeyInfo>;

export const CLUSTER_KEYS = {
  ping_interval: { kind: 'posnum', scope: 'cluster' },
  ping_type: { kind: 'ping_type', scope: 'cluster' },
  ping_failures: { kind: 'posint', scope: 'cluster' },
  ping_timeout: { kind: 'posnum', scope: 'cluster' },
  ping_retry_interval: { kind: 'posnum', scope: 'cluster' },
  connect_timeout: { kind: 'posnum', scope: 'cluster' },
  query_timeout: { kind: 'posnum', scope: 'cluster' },
  seconds_behind_master: { kind: 'nonnegint', scope: 'cluster' },
  check_repl_delay: { kind: 'bool', scope: 'cluster' },
  check_repl_filter: { kind: 'bool', scope: 'cluster' },
  latest_priority: { kind: 'bool', scope: 'cluster' },
  multi_tier_slave: { kind: 'bool', scope: 'cluster' },
  last_failover_minute: { kind: 'nonnegint', scope: 'cluster' },
  manager_workdir: { kind: 'string', scope: 'cluster' },
  manager_log: { kind: 'string', scope: 'cluster' },
  secondary_check_script: { kind: 'string', scope: 'cluster' },
  master_ip_failover_script: { kind: 'string', scope: 'cluster' },
  master_ip_online_change_script: { kind: 'string', scope: 'cluster' },
  shutdown_script: { kind: 'string', scope: 'cluster' },
  report_script: { kind: 'string', scope: 'cluster' },
  log_level: { kind: 'log_level', scope: 'cluster' },
  second_route: { kind: 'bool', scope: 'cluster' },
  second_route_timeout: { kind: 'posnum', scope: 'cluster' },
  secondary_hosts: { kind: 'hostlist', scope: 'cluster' },
  ping_stall_failures: { kind: 'posint', scope: 'cluster' },
  fence_hung_master: { kind: 'fence_mode', scope: 'cluster' },
  auto_rejoin: { kind: 'bool', scope: 'cluster' },
  hook_password_args: { kind: 'password_args', scope: 'cluster' },
} as const satisfies Record<string, KeyInfo>;

/** Cluster keys of the YAML format only (an MHA file cannot set them). */
export const YAML_ONLY_CLUSTER_KEYS: ReadonlySet<string> = new Set(['last_failover_minute', 'auto_rejoin']);

/** Keys of the YAML `ssh:` object. */
export const SSH_KEYS = {
  known_hosts: { kind: 'string', scope: 'cluster' },
  identity_file: { kind: 'string', scope: 'cluster' },
  host_key_fingerprints: { kind: 'string', scope: 'cluster' }, // a map; checked separately
  connect_timeout: { kind: 'posnum', scope: 'cluster' },
  insecure_skip_host_key_check: { kind: 'bool', scope: 'cluster' },
  options: { kind: 'string', scope: 'cluster' },
} as const satisfies Record<string, KeyInfo>;

export type LocalKey = keyof typeof LOCAL_KEYS;
export type ServerKey = keyof typeof SERVER_KEYS;
export type ClusterKey = keyof typeof CLUSTER_KEYS;
export type SshKey = keyof typeof SSH_KEYS;

export const PING_TYPES = ['CONNECT', 'SELECT', 'INSERT'] as const;
export const PASSWORD_ARGS = ['auto', 'always', 'never'] as const;
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

/** The 42 names of MHA 0.58's @PARAM_ARRAY (Config.pm:33-34). */
export const MHA_PARAMS = [
  'hostname', 'ip', 'port', 'ssh_host', 'ssh_ip', 'ssh_port', 'ssh_connection_timeout', 'ssh_options', 'node_label',
  'candidate_master', 'no_master', 'ignore_fail', 'skip_init_ssh_check', 'skip_reset_slave', 'user', 'password',
  'repl_user', 'repl_password', 'disable_log_bin', 'master_pid_file', 'handle_raw_binlog', 'ssh_user', 'remote_workdir',
  'master_binlog_dir', 'log_level', 'manager_workdir', 'manager_log', 'check_repl_delay', 'check_repl_filter',
  'latest_priority', 'multi_tier_slave', 'ping_interval', 'ping_type', 'secondary_check_script',
  'master_ip_failover_script', 'master_ip_online_change_script', 'shutdown_script', 'report_script',
  'init_conf_load_script', 'client_bindir', 'client_libdir', 'use_gtid_auto_pos',
] as const;

/** mhats extensions accepted in an MHA file (MHA itself would reject them). */
export const MHA_EXTENSIONS = [
  'ping_failures', 'ping_timeout', 'ping_retry_interval', 'connect_timeout', 'query_timeout', 'seconds_behind_master',
  'ssh_known_hosts', 'ssh_identity_file', 'ssh_host_key_fingerprint', 'ssh_insecure_skip_host_key_check',
  'password_file', 'password_env', 'repl_password_file', 'repl_password_env', 'hook_password_args',
  'second_route', 'second_route_timeout', 'secondary_hosts', 'ping_stall_failures', 'fence_hung_master',
] as const;

export type CnfKey = (typeof MHA_PARAMS)[number] | (typeof MHA_EXTENSIONS)[number];
export const CNF_KEYS: ReadonlySet<string> = new Set<string>([...MHA_PARAMS, ...MHA_EXTENSIONS]);

/** MHA keys that are not inherited from [server default] (Config.pm parse_server). */
export const CNF_LOCAL_KEYS: ReadonlySet<string> = new Set([
  'hostname', 'ip', 'ssh_host', 'ssh_ip', 'ssh_options', 'node_label', 'candidate_master', 'no_master', 'ignore_fail',
  'skip_init_ssh_check', 'ssh_host_key_fingerprint',
]);

export function isLocalKey(k: string): k is LocalKey {
  return Object.hasOwn(LOCAL_KEYS, k);
}
export function isServerKey(k: string): k is ServerKey {
  return Object.hasOwn(SERVER_KEYS, k);
}
export function isClusterKey(k: string): k is ClusterKey {
  return Object.hasOwn(CLUSTER_KEYS, k);
}

// ---------------------------------------------------------------- values

export type CheckResult<T> = { ok: true; value: T; warning?: string } | { ok: false; expected: string };

export type SecretSpec = { kind: 'inline'; value: string } | { kind: 'env'; name: string } | { kind: 'file'; path: string };

/** Typed value of each kind. */
export interface KindType {
  string: string;
  bool: boolean;
  port: number;
  posint: number;
  nonnegint: number;
  posnum: number;
  secret: SecretSpec;
  dirlist: string[];
  ping_type: 'CONNECT' | 'SELECT' | 'INSERT';
  log_level: string;
  hostlist: HostSpec[];
  fence_mode: 'kill' | 'none';
  password_args: 'auto' | 'always' | 'never';
}

/** An SSH destination of the second route (secondary_hosts). */
export interface HostSpec {
  host: string;
  port?: number | undefined;
  user?: string | undefined;
}

/** "[user@]host[:port]" (IPv6 in brackets: [::1]:22). */
export function parseHostSpec(s: string): HostSpec | undefined {
  const m = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@:\s[\]]+)(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m) return undefined;
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host, ...(port !== undefined ? { port } : {}), ...(m[1] !== undefined ? { user: m[1] } : {}) };
}

/** Bounds of every duration in seconds (ping_interval, ping_timeout, connect_timeout, ...). */
export const MIN_SECONDS = 0.01;
export const MAX_SECONDS = 3600;

const NUM_RE = /^[+]?(\d+(\.\d*)?|\.\d+)$/;
const INT_RE = /^[+]?\d+$/;

function toNumber(v: unknown, intOnly: boolean): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string') {
    const s = v.trim();
    if (!(intOnly ? INT_RE : NUM_RE).test(s)) return undefined;
    return Number(s);
  }
  return undefined;
}

/**
 * Check one value. `mode` says where it came from: YAML gives native types,
 * an MHA file always gives strings (MHA's booleans are Perl truthiness).
 */
export function checkValue(kind: ValueKind, v: unknown, mode: 'yaml' | 'cnf'): CheckResult<KindType[ValueKind]> {
  switch (kind) {
    case 'string':
      if (typeof v === 'string') return { ok: true, value: v };
      if (mode === 'yaml' && typeof v === 'number') return { ok: true, value: String(v) };
      return { ok: false, expected: 'a string' };
    case 'bool': {
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (v === 0 || v === 1) return { ok: true, value: v === 1 };
      if (typeof v === 'string' && mode === 'cnf') {
        const s = v.trim().toLowerCase();
        if (s === '' || s === '0') return { ok: true, value: false };
        if (s === '1' || s === 'true' || s === 'yes' || s === 'on') return { ok: true, value: true };
        if (s === 'false' || s === 'no' || s === 'off') {
          return { ok: true, value: false, warning: `"${v}" is read as false by mhats, but MHA reads any value other than 0 or empty as true; write 0 or 1` };
        }
      }
      return { ok: false, expected: mode === 'cnf' ? '0 or 1' : 'true or false (or 1/0)' };
    }
    case 'port': {
      const n = toNumber(v, true);
      if (n !== undefined && Number.isInteger(n) && n >= 1 && n <= 65535) return { ok: true, value: n };
      return { ok: false, expected: 'a port number (1-65535)' };
    }
    case 'posint': {
      const n = toNumber(v, true);
      if (n !== undefined && Number.isInteger(n) && n >= 1) return { ok: true, value: n };
      return { ok: false, expected: 'an integer >= 1' };
    }
    case 'nonnegint': {
      const n = toNumber(v, true);
      if (n !== undefined && Number.isInteger(n) && n >= 0) return { ok: true, value: n };
      return { ok: false, expected: 'an integer >= 0' };
    }
    case 'posnum': {
      // Every posnum key is a timer: a timer that fires every millisecond, or one past
      // setTimeout's 24.8 days (which fires at once), is a mistake, not a setting.
      const n = toNumber(v, false);
      if (n !== undefined && n >= MIN_SECONDS && n <= MAX_SECONDS) return { ok: true, value: n };
      if (n !== undefined && n > 0) return { ok: false, expected: `a number of seconds between ${MIN_SECONDS} and ${MAX_SECONDS}` };
      return { ok: false, expected: 'a number of seconds > 0' };
    }
    case 'ping_type': {
      if (typeof v === 'string') {
        const u = v.trim().toUpperCase();
        if ((PING_TYPES as readonly string[]).includes(u)) return { ok: true, value: u as KindType['ping_type'] };
      }
      return { ok: false, expected: `one of ${PING_TYPES.join(', ')}` };
    }
    case 'log_level': {
      if (typeof v === 'string') {
        const l = v.trim().toLowerCase();
        if ((LOG_LEVELS as readonly string[]).includes(l)) return { ok: true, value: l };
      }
      return { ok: false, expected: `one of ${LOG_LEVELS.join(', ')}` };
    }
    case 'hostlist': {
      const parts: string[] = [];
      if (typeof v === 'string') parts.push(...v.split(','));
      else if (Array.isArray(v) && mode === 'yaml' && v.every((x) => typeof x === 'string')) for (const x of v) parts.push(...x.split(','));
      else return { ok: false, expected: 'a host, a comma-separated list of hosts, or a list ("[user@]host[:port]")' };
      const hosts: HostSpec[] = [];
      for (const p of parts.map((x) => x.trim()).filter((x) => x.length > 0)) {
        const h = parseHostSpec(p);
        if (h === undefined) return { ok: false, expected: `hosts as "[user@]host[:port]" (got ${JSON.stringify(p)})` };
        hosts.push(h);
      }
      return { ok: true, value: hosts };
    }
    case 'fence_mode': {
      if (typeof v === 'string') {
        const l = v.trim().toLowerCase();
        if (l === 'kill' || l === 'none') return { ok: true, value: l };
      }
      return { ok: false, expected: 'kill or none' };
    }
    case 'password_args': {
      if (typeof v === 'string') {
        const l = v.trim().toLowerCase();
        if ((PASSWORD_ARGS as readonly string[]).includes(l)) return { ok: true, value: l as KindType['password_args'] };
      }
      return { ok: false, expected: `one of ${PASSWORD_ARGS.join(', ')}` };
    }
    case 'dirlist': {
      const parts: string[] = [];
      if (typeof v === 'string') parts.push(...v.split(','));
      else if (Array.isArray(v) && mode === 'yaml' && v.every((x) => typeof x === 'string')) {
        for (const x of v) parts.push(...x.split(','));
      } else return { ok: false, expected: 'a directory, a comma-separated list of directories, or a list' };
      const dirs = parts.map((p) => p.trim()).filter((p) => p.length > 0);
      if (dirs.length === 0) return { ok: false, expected: 'at least one directory' };
      return { ok: true, value: dirs };
    }
    case 'secret': {
      if (typeof v === 'string') return { ok: true, value: { kind: 'inline', value: v } };
      if (mode === 'yaml' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        if (keys.length === 1 && typeof o.env === 'string' && o.env.length > 0) return { ok: true, value: { kind: 'env', name: o.env } };
        if (keys.length === 1 && typeof o.file === 'string' && o.file.length > 0) return { ok: true, value: { kind: 'file', path: o.file } };
      }
      return { ok: false, expected: 'a string (quote it if it looks like a number), { env: NAME } or { file: PATH }' };
    }
  }
}

/** A value as shown in an error message ("got ..."); never used for secrets. */
export function showValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  return 'a map';
}

// ---------------------------------------------------------------- suggestions

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min((prev[j] ?? 0) + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = tmp;
    }
  }
  return prev[b.length] ?? 0;
}

/** The closest known key, if it is close enough to be a likely typo. */
export function suggestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const k = key.toLowerCase().replace(/-/g, '_');
  for (const cand of known) {
    const d = k === cand ? 0 : levenshtein(k, cand);
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(best.length / 4));
  return bestD <= limit ? best : undefined;
}

export function didYouMean(key: string, known: Iterable<string>): string {
  const s = suggestKey(key, known);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}
