import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkScriptStatus, scriptStatusChecks, scriptStatusFinding, type ScriptStatusCheck } from '../../src/app/script-status.js';
import { checkReplExitCode } from '../../src/cli/commands/check-repl.js';
import type { ClusterConfig, ServerConfig } from '../../src/config/types.js';
import type { ScriptResult, ScriptRun } from '../../src/adapters/hooks/run-script.js';
import type { ClusterReport } from '../../src/render/check-repl.js';
import { Secret } from '../../src/domain/secret.js';

function srv(name: string, over: Partial<ServerConfig> = {}): ServerConfig {
  return {
    name, hostname: `${name}.example`, ip: `10.0.0.${name.slice(2)}`, port: 3306, user: 'mhats', password: new Secret('s3cret'), passwordSource: { kind: 'none' },
    ssh_host: `${name}.example`, ssh_port: 22, ssh_user: 'root', candidate_master: false, no_master: false, ignore_fail: false, skip_init_ssh_check: false,
    skip_reset_slave: false, master_binlog_dir: ['/var/lib/mysql'], remote_workdir: '/var/tmp', use_gtid_auto_pos: true, disable_log_bin: false, handle_raw_binlog: true, ...over,
  };
}
const result = (over: Partial<ScriptResult>): ScriptResult => ({ exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 12, ...over });
const cluster = (over: Partial<ClusterConfig>): ClusterConfig => ({ name: 'c1', ssh: {}, servers: [srv('db1')], ...over }) as unknown as ClusterConfig;

test("MHA's check_scripts arguments: master_ip_failover_script then shutdown_script, --command=status, no password", () => {
  const m = srv('db1', { ssh_port: 2222, ssh_host: 'db1-mgmt' });
  const checks = scriptStatusChecks({ master_ip_failover_script: '/etc/mha/master_ip_failover --vip=10.0.0.100', shutdown_script: '/etc/mha/power_manager', ssh: { options: ['-o', 'ConnectTimeout=5'] } } as ClusterConfig, m);
  assert.deepEqual(checks.map((c) => c.key), ['master_ip_failover_script', 'shutdown_script']);
  assert.deepEqual(checks[0]!.args, ['--command=status', '--ssh_user=root', '--orig_master_host=db1.example', '--orig_master_ip=10.0.0.1', '--orig_master_port=3306', '--orig_master_ssh_host=db1-mgmt', '--orig_master_ssh_ip=db1-mgmt', '--orig_master_ssh_port=2222', '--ssh_options=-o ConnectTimeout=5']);
  assert.deepEqual(checks[1]!.args, ['--command=status', '--ssh_user=root', '--host=db1.example', '--ip=10.0.0.1', '--ssh_host=db1-mgmt', '--ssh_ip=db1-mgmt', '--ssh_port=2222', '--ssh_options=-o ConnectTimeout=5']);
  assert.equal(checks[0]!.command, '/etc/mha/master_ip_failover --vip=10.0.0.100');
  for (const c of checks) assert.ok(!c.args.join(' ').includes('s3cret'));
  // Nothing configured (or blank): nothing to check.
  assert.deepEqual(scriptStatusChecks({ master_ip_failover_script: '  ', ssh: {} } as ClusterConfig, m), []);
});

test('a status check: exit 0 is OK (info); anything else is an ERROR naming the script, the code, its output and what to do', () => {
  const c: ScriptStatusCheck = { key: 'shutdown_script', command: '/etc/mha/power_manager', args: [] };
  const ok = scriptStatusFinding('db1', c, result({}));
  assert.equal(ok.severity, 'info');
  assert.match(ok.message, /shutdown_script --command=status \(\/etc\/mha\/power_manager\): OK/);

  const bad = scriptStatusFinding('db1', c, result({ exitCode: 2, stderr: "Can't locate MHA/DBHelper.pm in @INC (you may need to install the MHA::DBHelper module)" }));
  assert.equal(bad.severity, 'error');
  assert.equal(bad.code, 'hook_script');
  assert.equal(bad.server, 'db1');
  assert.match(bad.message, /exited 2: Can't locate MHA\/DBHelper\.pm/);
  assert.match(bad.hint ?? '', /mha4mysql-node/);

  const missing = scriptStatusFinding('db1', c, result({ exitCode: 127, stderr: 'sh: 1: /etc/mha/power_manager: not found' }));
  assert.match(missing.hint ?? '', /path and its execute bit/);

  const hung = scriptStatusFinding('db1', c, result({ exitCode: null, timedOut: true }));
  assert.equal(hung.severity, 'error');
  assert.match(hung.message, /did not finish within 30 s/);

  const killed = scriptStatusFinding('db1', c, result({ exitCode: null, signal: 'SIGSEGV' }));
  assert.match(killed.message, /killed by SIGSEGV/);

  // A long output is cut to its last lines.
  const long = scriptStatusFinding('db1', c, result({ exitCode: 1, stdout: `${'x'.repeat(2000)}\nlast line` }));
  assert.ok(long.message.length < 500, long.message);
  assert.match(long.message, /last line$/);
});

test('checkScriptStatus runs each configured script once, in order, with a deadline', async () => {
  const runs: ScriptRun[] = [];
  const found = await checkScriptStatus(cluster({ master_ip_failover_script: '/a', shutdown_script: '/b' }), srv('db1'), (r) => {
    runs.push(r);
    return Promise.resolve(result({ exitCode: r.command === '/b' ? 1 : 0 }));
  });
  assert.deepEqual(runs.map((r) => r.command), ['/a', '/b']);
  assert.ok(runs.every((r) => r.timeoutMs > 0 && r.timeoutMs <= 30_000));
  assert.deepEqual(found.map((f) => f.severity), ['info', 'error']);
});

test('check-repl exit code: 1 when only a script status check failed; topology and unreachable errors keep 4 and 5', () => {
  const rep = (codes: string[]): ClusterReport => ({ analysis: { findings: codes.map((code) => ({ severity: 'error', code, message: '' })) } }) as unknown as ClusterReport;
  assert.equal(checkReplExitCode([rep([])]), 0);
  assert.equal(checkReplExitCode([rep(['hook_script'])]), 1);
  assert.equal(checkReplExitCode([rep(['hook_script', 'sql_thread'])]), 4);
  assert.equal(checkReplExitCode([rep(['hook_script', 'unreachable'])]), 5);
});
