/**
 * Configuration for unit tests: files written to a temporary directory, the ConfigError a load must
 * fail with, and resolved server and cluster configurations built in code.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors/errors.js';
import type { ClusterConfig, ServerConfig, SshSettings } from '../../src/config/types.js';
import { Secret } from '../../src/domain/secret.js';
import { tempDir } from './tmp.js';

/** A new temporary directory /tmp/PREFIXxxxxxx holding `files` (name -> text), each mode 0600 unless `modes` says otherwise. */
export function configDir(prefix: string, files: Record<string, string>, modes: Record<string, number> = {}): string {
  const dir = tempDir(prefix);
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), modes[name] ?? 0o600);
  }
  return dir;
}

/** The ConfigError `loading` rejects with; the test fails if it resolves or rejects with anything else. */
export async function configError(loading: Promise<unknown>): Promise<ConfigError> {
  try {
    await loading;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

/** A resolved server (MySQL on port 3306, SSH as root on port 22), with `over` applied. */
export function serverConfig(name: string, host: string, over: Partial<ServerConfig> = {}): ServerConfig {
  return {
    name,
    hostname: host,
    ip: host,
    port: 3306,
    user: 'mhats',
    password: new Secret('x'),
    passwordSource: { kind: 'none' },
    ssh_host: host,
    ssh_port: 22,
    ssh_user: 'root',
    candidate_master: true,
    no_master: false,
    ignore_fail: false,
    skip_init_ssh_check: false,
    skip_reset_slave: false,
    master_binlog_dir: ['/var/lib/mysql'],
    remote_workdir: '/var/tmp',
    use_gtid_auto_pos: true,
    disable_log_bin: false,
    handle_raw_binlog: true,
    ...over,
  };
}

/** A resolved cluster app1 with MHA's detection defaults, with `over` applied. */
export function clusterConfig(servers: ServerConfig[], ssh: SshSettings, over: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name: 'app1',
    servers,
    ping_interval: 3,
    ping_type: 'SELECT',
    ping_failures: 4,
    ping_timeout: 5,
    ping_retry_interval: 1,
    connect_timeout: 4,
    query_timeout: 10,
    seconds_behind_master: 30,
    check_repl_delay: true,
    check_repl_filter: true,
    latest_priority: true,
    multi_tier_slave: false,
    last_failover_minute: 480,
    manager_workdir: '/var/tmp',
    ssh,
    ...over,
  };
}
