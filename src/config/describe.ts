/**
 * What `mhats config check` prints: the resolved clusters, with where each
 * secret comes from and never its value. Pure.
 */
import type { ClusterConfig, LoadedConfig, SecretSource, ServerConfig } from './types.js';
import { detectionSettings } from './resolve.js';

export function describeSource(s: SecretSource | undefined): string {
  if (!s) return 'none';
  switch (s.kind) {
    case 'none':
      return 'none';
    case 'inline':
      return `inline in ${s.file}`;
    case 'env':
      return `env ${s.name}`;
    case 'file':
      return `file ${s.path}`;
  }
}

function roles(s: ServerConfig): string {
  const r: string[] = [];
  if (s.candidate_master) r.push('candidate_master');
  if (s.no_master) r.push('no_master');
  if (s.ignore_fail) r.push('ignore_fail');
  if (s.skip_init_ssh_check) r.push('skip_init_ssh_check');
  return r.length > 0 ? r.join(',') : '-';
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

function describeCluster(c: ClusterConfig): string[] {
  const lines: string[] = [];
  lines.push(`cluster ${c.name}: ${c.servers.length} server${c.servers.length === 1 ? '' : 's'}`);
  lines.push(`  ping: ${c.ping_type} every ${c.ping_interval}s, timeout ${c.ping_timeout}s, down after ${c.ping_failures} failures`);
  lines.push(`  timeouts: connect ${c.connect_timeout}s, query ${c.query_timeout}s; max lag ${c.seconds_behind_master}s`);
  const det = detectionSettings(c);
  const from = det.secondary_hosts.map((h) => `${h.user ? `${h.user}@` : ''}${h.host}${h.port ? `:${h.port}` : ''}`);
  lines.push(
    `  detection: second route ${det.second_route ? `over SSH from the replicas' hosts${from.length ? ` and ${from.join(', ')}` : ''}, ${det.second_route_timeout}s per probe` : 'off'}; storage hang after ${det.ping_stall_failures} statement timeouts; hung old master: ${det.fence_hung_master === 'kill' ? 'killed over SSH' : 'left running'}`,
  );
  lines.push(
    `  failover: check_repl_delay=${c.check_repl_delay} check_repl_filter=${c.check_repl_filter} latest_priority=${c.latest_priority} multi_tier_slave=${c.multi_tier_slave} last_failover_minute=${c.last_failover_minute}`,
  );
  lines.push(`  manager_workdir: ${c.manager_workdir}${c.manager_log ? `, manager_log: ${c.manager_log}` : ''}`);
  const hooks = (
    ['secondary_check_script', 'master_ip_failover_script', 'master_ip_online_change_script', 'shutdown_script', 'report_script'] as const
  ).filter((k) => c[k] !== undefined);
  for (const k of hooks) lines.push(`  ${k}: ${c[k] ?? ''}`);
  const ssh = c.ssh;
  const hk = ssh.insecure_skip_host_key_check
    ? 'host keys NOT verified (insecure_skip_host_key_check)'
    : `known_hosts ${ssh.known_hosts ?? '(default ~/.ssh/known_hosts)'}${Object.keys(ssh.host_key_fingerprints).length > 0 ? `, ${Object.keys(ssh.host_key_fingerprints).length} pinned fingerprint(s)` : ''}`;
  lines.push(`  ssh: ${hk}; identity ${ssh.identity_file ?? '(default)'}; connect_timeout ${ssh.connect_timeout}s`);
  if (ssh.options && ssh.options.length > 0) {
    lines.push(`  ssh_options: ${ssh.options.join(' ')}`);
    for (const s of c.servers) {
      const h = ssh.hosts?.[s.name];
      if (!h) continue;
      const trust = h.strict_host_key_checking === 'no' ? 'host key NOT verified' : `known_hosts ${h.known_hosts.join(' ') || '(none)'}${h.strict_host_key_checking === 'accept-new' ? ' (unknown keys accepted)' : ''}`;
      lines.push(`    ${s.name}: ${h.user}@${h.host}:${h.port}; keys ${h.identity_files.join(' ') || '(agent/default)'}${h.identities_only ? ' only' : ''}; ${trust}; connect_timeout ${h.connect_timeout}s`);
    }
  }
  const sc = c.schedules ?? {};
  const jobs = [
    sc.relay_log_purge !== undefined ? `relay_log_purge "${sc.relay_log_purge}"` : undefined,
    sc.check_repl !== undefined ? `check_repl "${sc.check_repl}"` : undefined,
    sc.journal_retention !== undefined ? `journal_retention "${sc.journal_retention.cron}" keep ${sc.journal_retention.keep_days} days` : undefined,
  ].filter((x): x is string => x !== undefined);
  if (jobs.length > 0) lines.push(`  schedules: ${jobs.join('; ')}`);
  lines.push('  servers:');
  const rows = [['name', 'mysql', 'roles', 'ssh', 'user', 'password', 'repl_user', 'repl_password']];
  for (const s of c.servers) {
    rows.push([
      s.name,
      `${s.hostname === s.ip ? s.hostname : `${s.hostname}(${s.ip})`}:${s.port}`,
      roles(s),
      `${s.ssh_user}@${s.ssh_host}:${s.ssh_port}`,
      s.user,
      describeSource(s.passwordSource),
      s.repl_user ?? '(from SHOW SLAVE STATUS)',
      describeSource(s.repl_passwordSource ?? (s.repl_password ? undefined : { kind: 'none' })),
    ]);
  }
  lines.push(...table(rows).map((l) => `    ${l}`));
  return lines;
}

export function describeConfig(cfg: LoadedConfig): string {
  const lines = [
    `config: ${cfg.files.join(' + ')} (${cfg.format === 'mha' ? 'MHA format' : 'YAML'})`,
    `state_dir: ${cfg.state_dir}`,
    `http: ${cfg.http ? `${cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host}:${cfg.http.port}` : 'off'}`,
    `http write API: ${cfg.http_token ? `on (bearer token from ${cfg.http_token.file})` : 'off (no http.token_file)'}`,
  ];
  for (const c of cfg.clusters) lines.push('', ...describeCluster(c));
  return `${lines.join('\n')}\n`;
}

/** The JSON form: every field, secrets replaced by their source. */
export function configToJson(cfg: LoadedConfig): unknown {
  return {
    ok: true,
    format: cfg.format,
    files: cfg.files,
    state_dir: cfg.state_dir,
    http: cfg.http ?? null,
    http_token_file: cfg.http_token?.file ?? null,
    warnings: cfg.warnings,
    clusters: cfg.clusters.map((c) => ({
      ...c,
      servers: c.servers.map((s) => {
        const { password: _p, repl_password: _r, passwordSource, repl_passwordSource, ...rest } = s;
        return { ...rest, password: { source: passwordSource }, repl_password: { source: repl_passwordSource ?? { kind: 'none' } } };
      }),
    })),
  };
}
