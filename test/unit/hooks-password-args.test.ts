/** hook_password_args (auto | always | never) and --ssh_options for MHA scripts. */
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runHookPhase, describePhase, describeRecord } from '../../src/adapters/hooks/runner.js';
import { resetPasswordArgsState, scriptFiles } from '../../src/adapters/hooks/password-args.js';
import type { HookEvent } from '../../src/adapters/hooks/context.js';
import type { ScriptRun, ScriptResult } from '../../src/adapters/hooks/run-script.js';
import type { MhaScriptHook } from '../../src/config/hooks.js';
import type { ClusterConfig, ServerConfig } from '../../src/config/types.js';
import { ipFailoverStopArgs, ipFailoverStartArgs, onlineChangeArgs, shutdownArgs } from '../../src/adapters/hooks/mha-args.js';
import { Secret } from '../../src/domain/secret.js';
import { tempDir } from '../helpers/tmp.js';

function srv(name: string, pw: string): ServerConfig {
  return {
    name, hostname: `${name}.example`, ip: `10.0.0.${name.slice(2)}`, port: 3306, user: 'mhats', password: new Secret(pw), passwordSource: { kind: 'none' },
    ssh_host: `${name}.example`, ssh_port: 22, ssh_user: 'root', candidate_master: false, no_master: false, ignore_fail: false, skip_init_ssh_check: false,
    skip_reset_slave: false, master_binlog_dir: ['/var/lib/mysql'], remote_workdir: '/var/tmp', use_gtid_auto_pos: true, disable_log_bin: false, handle_raw_binlog: true,
  };
}

const dir = tempDir('mhats-pwargs-');
const GETOPTS = join(dir, 'master_ip_failover');
writeFileSync(GETOPTS, "#!/usr/bin/env perl\nGetOptions('command=s' => \\$command, 'new_master_password=s' => \\$new_master_password);\n");
const PLAIN = join(dir, 'plain_failover');
writeFileSync(PLAIN, '#!/bin/sh\nexit 0\n');
const ONLINE = join(dir, 'online_change');
writeFileSync(ONLINE, '#!/bin/sh\n# reads --orig_master_password only\n');
for (const f of [GETOPTS, PLAIN, ONLINE]) chmodSync(f, 0o755);

function hook(command: string, script: MhaScriptHook['script'] = 'master_ip_failover'): MhaScriptHook {
  return { type: 'mha-script', name: `${script}_script`, script, command, phases: ['stop', 'start', 'online_change_stop', 'online_change_start'], timeout: 5, on_failure: 'mha' };
}

async function argsOf(h: MhaScriptHook, policy: ClusterConfig['hook_password_args'], phase: HookEvent['phase'] = 'start', options?: string[]): Promise<{ run: ScriptRun; argv: string[]; warnings: string[] | undefined }> {
  const cluster = { name: 'app1', hook_password_args: policy, ssh: { host_key_fingerprints: {}, insecure_skip_host_key_check: false, connect_timeout: 5, options } } as unknown as ClusterConfig;
  const ev: HookEvent = { kind: phase.startsWith('online') ? 'switchover' : 'failover', phase, cluster, id: 'f1', origMaster: srv('db1', 'origpw'), newMaster: phase === 'stop' ? undefined : srv('db2', 'newpw'), origSshReachable: true };
  let run: ScriptRun | undefined;
  const fake = (r: ScriptRun): Promise<ScriptResult> => {
    run = r;
    return Promise.resolve({ exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1 });
  };
  const out = await runHookPhase([h], ev, cluster.ssh, { runScript: fake });
  const rec = out.records[0]!;
  return { run: run!, argv: rec.argv ?? [], warnings: rec.warnings };
}

beforeEach(() => resetPasswordArgsState());

test('auto: a GetOptions-style script that reads --new_master_password gets it, once warned; argv shown with xxx', async () => {
  const a = await argsOf(hook(GETOPTS), 'auto');
  assert.equal(a.run.args.at(-1), '--new_master_password=newpw');
  assert.equal(a.argv.at(-1), '--new_master_password=xxx');
  assert.ok(!a.argv.join(' ').includes('newpw'));
  assert.match(a.warnings?.[0] ?? '', /--new_master_password on its command line .*process list.*MHATS_NEW_MASTER_PASSWORD.*hook_password_args: never/);
  assert.equal(a.run.env?.MHATS_NEW_MASTER_PASSWORD, 'newpw');
  // Once per script.
  const b = await argsOf(hook(GETOPTS), 'auto');
  assert.equal(b.run.args.at(-1), '--new_master_password=newpw');
  assert.equal(b.warnings, undefined);
});

test('auto: a script that never mentions it gets no password; never: nobody; always: everybody', async () => {
  assert.ok(!(await argsOf(hook(PLAIN), 'auto')).run.args.some((x) => x.includes('password')));
  assert.ok(!(await argsOf(hook(GETOPTS), 'never')).run.args.some((x) => x.includes('password')));
  assert.equal((await argsOf(hook(PLAIN), 'always')).run.args.at(-1), '--new_master_password=newpw');
  // `perl /path/script --vip=...`: the script file is found among the words.
  assert.equal((await argsOf(hook(`perl ${GETOPTS} --vip=10.0.0.100/24`), 'auto')).run.args.at(-1), '--new_master_password=newpw');
  // stop never carries a password (MHA passes none).
  assert.ok(!(await argsOf(hook(GETOPTS), 'always', 'stop')).run.args.some((x) => x.includes('password')));
});

test('online change: --orig_master_password and --new_master_password, each only where mentioned under auto', async () => {
  const a = await argsOf(hook(ONLINE, 'master_ip_online_change'), 'auto', 'online_change_stop');
  assert.deepEqual(a.run.args.filter((x) => x.includes('password')), ['--orig_master_password=origpw']);
  const b = await argsOf(hook(ONLINE, 'master_ip_online_change'), 'always', 'online_change_start');
  assert.deepEqual(b.run.args.slice(-2), ['--orig_master_password=origpw', '--new_master_password=newpw']);
  assert.deepEqual(b.argv.slice(-2), ['--orig_master_password=xxx', '--new_master_password=xxx']);
  assert.match(describeRecord({ name: 'x', type: 'mha-script', phase: 'start', policy: 'mha', verdict: 'ok', ok: true, timedOut: false, durationMs: 1, detail: 'exit 0', warnings: ['w1'] }), /\(warning: w1\)$/);
});

test('--dry-run shows the password arguments as xxx', () => {
  const cluster = { name: 'app1', hook_password_args: 'auto', ssh: { host_key_fingerprints: {}, insecure_skip_host_key_check: false, connect_timeout: 5 } } as unknown as ClusterConfig;
  const lines = describePhase([hook(GETOPTS)], { kind: 'failover', phase: 'start', cluster, id: 'f', origMaster: srv('db1', 'a'), newMaster: srv('db2', 'newpw') }, cluster.ssh);
  assert.match(lines.join('\n'), /"--new_master_password=xxx"/);
  assert.ok(!lines.join('\n').includes('newpw'));
});

test('--ssh_options after the first server only, as MHA', async () => {
  const so = ['-F', '/etc/mha/ssh_config'];
  const d = srv('db1', 'x');
  const n = srv('db2', 'y');
  assert.equal(ipFailoverStopArgs(d, true, so).at(-1), '--ssh_options=-F /etc/mha/ssh_config');
  assert.equal(shutdownArgs(d, false, so).at(-1), '--ssh_options=-F /etc/mha/ssh_config');
  assert.equal(ipFailoverStartArgs(d, n, so).filter((x) => x.startsWith('--ssh_options')).length, 1);
  assert.equal(onlineChangeArgs('stop', d, n, false, so).filter((x) => x.startsWith('--ssh_options')).length, 1);
  assert.ok(!ipFailoverStopArgs(d, true).some((x) => x.startsWith('--ssh_options')));
  const a = await argsOf(hook(PLAIN), 'never', 'stop', so);
  assert.ok(a.run.args.includes('--ssh_options=-F /etc/mha/ssh_config'));
  assert.deepEqual(scriptFiles(`perl ${GETOPTS} --x=1`), [GETOPTS]);
});
