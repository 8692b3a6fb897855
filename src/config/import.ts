/**
 * `mhats config import-mha`: a resolved MHA configuration -> the native YAML.
 * Keys equal to the YAML defaults are left out; a server option shared by
 * every server goes to the cluster level. Pure: config in, text out.
 */
import { Document, isMap } from 'yaml';
import { CLUSTER_KEYS, SERVER_KEYS } from './keys.js';
import { SERVER_DEFAULTS, STATE_DIR_DEFAULT, SSH_CONNECT_TIMEOUT_DEFAULT, clusterDefaults, defaultPingTimeout, DETECTION_DEFAULTS } from './resolve.js';
import type { ClusterConfig, LoadedConfig, SecretSource, ServerConfig } from './types.js';
import type { Secret } from '../domain/secret.js';

export interface ImportResult {
  text: string;
  warnings: string[];
  /** True when a password is written inline: write the file with mode 0600. */
  hasInlineSecrets: boolean;
}

type Plain = string | number | boolean | string[] | Record<string, string>;

function secretValue(secret: Secret | undefined, source: SecretSource | undefined): Plain | undefined {
  if (!source) return undefined;
  switch (source.kind) {
    case 'none':
      return undefined;
    case 'inline':
      return secret?.reveal() ?? '';
    case 'env':
      return { env: source.name };
    case 'file':
      return { file: source.path };
  }
}

/** The YAML value of a server option, or undefined when it equals the default. */
function serverOption(s: ServerConfig, key: keyof typeof SERVER_KEYS): Plain | undefined {
  switch (key) {
    case 'password':
      return secretValue(s.password, s.passwordSource);
    case 'repl_password':
      return secretValue(s.repl_password, s.repl_passwordSource ?? (s.repl_password ? { kind: 'inline', file: '?' } : undefined));
    case 'repl_user':
    case 'master_pid_file':
    case 'client_bindir':
    case 'client_libdir':
      return s[key];
    case 'ssh_user':
      return s.ssh_user; // the default depends on who runs mhats: always explicit
    case 'master_binlog_dir':
      return JSON.stringify(s.master_binlog_dir) === JSON.stringify(SERVER_DEFAULTS.master_binlog_dir) ? undefined : s.master_binlog_dir;
    case 'port':
    case 'user':
    case 'ssh_port':
    case 'skip_reset_slave':
    case 'remote_workdir':
    case 'use_gtid_auto_pos':
    case 'disable_log_bin':
    case 'handle_raw_binlog':
      return s[key] === SERVER_DEFAULTS[key] ? undefined : s[key];
  }
}

function clusterOption(c: ClusterConfig, key: keyof typeof CLUSTER_KEYS): Plain | undefined {
  const d = clusterDefaults('yaml');
  switch (key) {
    case 'ping_timeout':
      return c.ping_timeout === defaultPingTimeout(c.ping_interval) ? undefined : c.ping_timeout;
    case 'ping_retry_interval':
      return c.ping_retry_interval === Math.min(c.ping_interval, 0.2) ? undefined : c.ping_retry_interval;
    case 'log_level':
    case 'auto_rejoin':
      return undefined;
    case 'second_route':
    case 'second_route_timeout':
    case 'ping_stall_failures':
    case 'fence_hung_master':
      return c[key] === undefined || c[key] === DETECTION_DEFAULTS[key] ? undefined : c[key];
    case 'secondary_hosts':
      return c.secondary_hosts === undefined || c.secondary_hosts.length === 0 ? undefined : c.secondary_hosts.map((h) => `${h.user ? `${h.user}@` : ''}${h.host.includes(':') ? `[${h.host}]` : h.host}${h.port ? `:${h.port}` : ''}`);
    case 'hook_password_args':
      return c.hook_password_args === undefined || c.hook_password_args === 'auto' ? undefined : c.hook_password_args;
    case 'manager_log':
    case 'secondary_check_script':
    case 'master_ip_failover_script':
    case 'master_ip_online_change_script':
    case 'shutdown_script':
    case 'report_script':
      return c[key];
    case 'ping_interval':
    case 'ping_type':
    case 'ping_failures':
    case 'connect_timeout':
    case 'query_timeout':
    case 'seconds_behind_master':
    case 'check_repl_delay':
    case 'check_repl_filter':
    case 'latest_priority':
    case 'multi_tier_slave':
    case 'last_failover_minute':
    case 'manager_workdir':
      return c[key] === d[key] ? undefined : c[key];
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function mhaToYaml(cfg: LoadedConfig, opts: { source: string; clusterName?: string | undefined }): ImportResult {
  const warnings: string[] = [];
  let inline = false;
  const clusters: Record<string, Record<string, unknown>> = {};
  for (const c of cfg.clusters) {
    const name = opts.clusterName ?? c.name;
    const out: Record<string, unknown> = {};
    const perServer: Record<string, unknown>[] = c.servers.map((s) => {
      const o: Record<string, unknown> = {};
      if (s.name !== s.hostname) o.name = s.name;
      o.hostname = s.hostname;
      if (s.ip !== s.hostname) o.ip = s.ip;
      if (s.ssh_host !== s.hostname) o.ssh_host = s.ssh_host;
      for (const k of ['candidate_master', 'no_master', 'ignore_fail', 'skip_init_ssh_check'] as const) if (s[k]) o[k] = true;
      if (s.node_label !== undefined) o.node_label = s.node_label;
      return o;
    });
    for (const key of Object.keys(SERVER_KEYS) as (keyof typeof SERVER_KEYS)[]) {
      const vals = c.servers.map((s) => serverOption(s, key));
      if (vals.every((v) => same(v, vals[0]))) {
        if (vals[0] !== undefined) out[key] = vals[0];
      } else {
        vals.forEach((v, i) => {
          const o = perServer[i];
          if (v !== undefined && o) o[key] = v;
        });
      }
    }
    for (const key of Object.keys(CLUSTER_KEYS) as (keyof typeof CLUSTER_KEYS)[]) {
      const v = clusterOption(c, key);
      if (v !== undefined) out[key] = v;
    }
    const ssh: Record<string, unknown> = {};
    if (c.ssh.known_hosts !== undefined) ssh.known_hosts = c.ssh.known_hosts;
    if (c.ssh.identity_file !== undefined) ssh.identity_file = c.ssh.identity_file;
    if (Object.keys(c.ssh.host_key_fingerprints).length > 0) ssh.host_key_fingerprints = c.ssh.host_key_fingerprints;
    if (c.ssh.connect_timeout !== SSH_CONNECT_TIMEOUT_DEFAULT) ssh.connect_timeout = c.ssh.connect_timeout;
    if (c.ssh.insecure_skip_host_key_check) ssh.insecure_skip_host_key_check = true;
    if (c.ssh.options && c.ssh.options.length > 0) ssh.options = c.ssh.options.join(' ');
    if (Object.keys(ssh).length > 0) out.ssh = ssh;
    out.servers = perServer;
    clusters[name] = out;

    const inlineKeys = new Set<string>();
    for (const s of c.servers) {
      if (s.passwordSource.kind === 'inline') inlineKeys.add('password');
      if (s.repl_passwordSource?.kind === 'inline' || (s.repl_password && !s.repl_passwordSource)) inlineKeys.add('repl_password');
    }
    for (const k of inlineKeys) {
      inline = true;
      warnings.push(`${name}: ${k} is written inline; better keep it in a file: ${k}: { file: /etc/mhats/${name}.${k.replace('_', '-')} } (chmod 600)`);
    }
  }

  const root: Record<string, unknown> = {};
  if (cfg.state_dir !== STATE_DIR_DEFAULT) root.state_dir = cfg.state_dir;
  root.clusters = clusters;
  const doc = new Document(root);
  doc.commentBefore = ` Converted from ${opts.source} by mhats config import-mha.\n Keys equal to their defaults are left out; see docs/config.md.`;
  for (const name of Object.keys(clusters)) {
    const cl = clusters[name];
    const flow = (path: (string | number)[]): void => {
      const node = doc.getIn(path, true);
      if (isMap(node)) node.flow = true;
    };
    for (const k of ['password', 'repl_password']) flow(['clusters', name, k]);
    flow(['clusters', name, 'ssh', 'host_key_fingerprints']);
    const servers = (cl?.servers ?? []) as unknown[];
    servers.forEach((_, i) => {
      for (const k of ['password', 'repl_password']) flow(['clusters', name, 'servers', i, k]);
    });
  }
  return { text: doc.toString({ lineWidth: 0 }), warnings, hasInlineSecrets: inline };
}
