/**
 * An MHA user switches without editing anything: an app1.cnf whose SSH
 * settings are MHA's ssh_options (-F ssh_config, or -i KEY -o
 * UserKnownHostsFile=...) and no mhats-specific key, a GetOptions-style
 * master_ip_failover script that connects with --new_master_password, and
 * MHA's commands (masterha_check_ssh, _check_repl, _check_status,
 * _master_switch --master_state=alive, _manager, _stop) with MHA's exit codes.
 * A crash failover calls --command=stopssh and salvages the dead master's
 * binlog: no acknowledged write is lost, including the ones no replica had.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum, until } from '../helpers/cluster.js';
import { recordPid } from '../helpers/manager.js';
import { cliArgs } from '../helpers/cli.js';

let sb: SandboxInfo;
let env: NodeJS.ProcessEnv;
let cnf: string;
let cnfIo: string;
let hookLog: string;
let managerLog: string;
let manager: ChildProcess | undefined;

function mha(name: string, args: string[]): { code: number | null; out: string; err: string } {
  const entry = name === 'mhats' ? 'bin' : `mha-bin/${name}`;
  const r = spawnSync(process.execPath, [...cliArgs(entry), ...args], { env, encoding: 'utf8', timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The sandbox server behind an app1.cnf block name (server1 is db1, ...). */
const byBlock = (block: string): SandboxServer => sb.servers[Number(block.replace('server', '')) - 1]!;

const GETOPT_SCRIPT = (log: string): string => `#!/usr/bin/env perl
# A master_ip_failover script in the style of MHA's sample: GetOptions, then it connects with the password MHA passes.
use strict;
use warnings;
use Getopt::Long;
my ($command, $ssh_user, $orig_master_host, $orig_master_ip, $orig_master_port, $new_master_host, $new_master_ip, $new_master_port, $new_master_user, $new_master_password, $ssh_options, $orig_master_ssh_port, $new_master_ssh_port);
GetOptions(
  'command=s' => \\$command, 'ssh_user=s' => \\$ssh_user, 'ssh_options=s' => \\$ssh_options,
  'orig_master_host=s' => \\$orig_master_host, 'orig_master_ip=s' => \\$orig_master_ip, 'orig_master_port=i' => \\$orig_master_port, 'orig_master_ssh_port=i' => \\$orig_master_ssh_port,
  'new_master_host=s' => \\$new_master_host, 'new_master_ip=s' => \\$new_master_ip, 'new_master_port=i' => \\$new_master_port, 'new_master_ssh_port=i' => \\$new_master_ssh_port,
  'new_master_user=s' => \\$new_master_user, 'new_master_password=s' => \\$new_master_password,
);
open(my $fh, '>>', '${log}') or die;
print $fh "command=$command orig=$orig_master_host ssh_options=" . ($ssh_options // '') . "\\n";
if ($command eq 'start') {
  $ENV{MYSQL_PWD} = $new_master_password // '';
  my $id = \`mariadb -h $new_master_ip -P $new_master_port -u $new_master_user -N -e 'SELECT \\@\\@server_id' 2>&1\`;
  chomp $id;
  print $fh "connected as $new_master_user to $new_master_host: server_id=$id rc=$?\\n";
  close $fh;
  exit($? == 0 ? 0 : 1);
}
close $fh;
exit 0;
`;

describe('MHA users switch without editing anything', () => {
  let db: SandboxServer[];

  before(async () => {
    sb = await withSandbox(undefined, { name: 'mha-compat', baseAddress: '127.0.60.11', replicas: 2, sshPort: 2360 });
    db = sb.servers;
    await rootSql(db[0]!, 'CREATE DATABASE compat; CREATE TABLE compat.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB; INSERT INTO compat.t VALUES (0, "before")');
    for (const s of db.slice(1)) await until(`${s.name} has the table`, async () => (await checksum(s, 'compat.t')) === (await checksum(db[0]!, 'compat.t')));
    const ssh = sb.ssh!;
    const sshConfig = join(sb.dir, 'ssh_config');
    writeFileSync(sshConfig, `# MHA's ssh_config\nHost 127.0.60.*\n  IdentityFile ${ssh.identityFile}\n  UserKnownHostsFile ${ssh.knownHostsFile}\n  Port ${ssh.port}\n  IdentitiesOnly yes\n  LogLevel ERROR\n`);
    hookLog = join(sb.dir, 'hook.log');
    managerLog = join(sb.dir, 'manager.log');
    const script = join(sb.dir, 'master_ip_failover');
    writeFileSync(script, GETOPT_SCRIPT(hookLog));
    chmodSync(script, 0o755);
    // The sandbox's app1.cnf without its mhats-specific lines and without ssh_port: ssh_options says it all.
    const base = readFileSync(sb.mhaConfigFile, 'utf8')
      .split('\n')
      .filter((l) => !/^(ssh_known_hosts|ssh_identity_file|ssh_port)=/.test(l));
    const withKeys = (keys: string[]): string => [base[0], ...keys, ...base.slice(1)].join('\n');
    cnf = join(sb.dir, 'app1.cnf');
    // ssh_connection_timeout (MHA's key): SSH logins on a loaded 2-core test box can take seconds.
    writeFileSync(cnf, withKeys([`ssh_options="-F ${sshConfig}"`, 'ssh_connection_timeout=15', `master_ip_failover_script=${script}`, `manager_log=${managerLog}`]), { mode: 0o600 });
    cnfIo = join(sb.dir, 'app2.cnf');
    writeFileSync(cnfIo, withKeys([`ssh_port=${ssh.port}`, 'ssh_connection_timeout=15', `ssh_options=-i ${ssh.identityFile} -o UserKnownHostsFile=${ssh.knownHostsFile} -o IdentitiesOnly=yes`]), { mode: 0o600 });
    env = { ...process.env, NO_COLOR: '1', MHATS_STATE_DIR: join(sb.dir, 'mha-state'), MHATS_HTTP_LISTEN: '127.0.60.1:0' };
  });

  after(async () => {
    if (manager && manager.exitCode === null && manager.signalCode === null) {
      manager.kill('SIGKILL');
      await new Promise((r) => manager!.once('exit', r));
    }
  });

  test('check-ssh passes with ssh_options=-F ssh_config, and with -i KEY -o UserKnownHostsFile=..., host keys verified', () => {
    // (Without --mesh: MHA's host-to-host mesh doubles every login, too slow for the default suite on a loaded box.)
    for (const f of [cnf, cnfIo]) {
      const r = mha('mhats', ['check-ssh', '--conf', f]);
      assert.equal(r.code, 0, `${f}\n${r.out}${r.err}`);
      assert.match(r.out, /SSH check passed: 3\/3 hosts OK/);
      assert.equal(r.out.match(/\(known_hosts\)/g)?.length, 3, r.out);
      assert.doesNotMatch(r.out, /warning/);
    }
  });

  test('masterha_check_repl: OK and exit 0; masterha_check_status with no manager: 2 NOT_RUNNING', () => {
    const r = mha('masterha_check_repl', ['--conf', cnf]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /MySQL Replication Health is OK\.\n$/);
    // As MHA's check_scripts: the failover script answered --command=status against the master.
    assert.match(readFileSync(hookLog, 'utf8'), new RegExp(`^command=status orig=${db[0]!.address.replace(/\./g, '\\.')} ssh_options=-F `, 'm'));
    const s = mha('masterha_check_status', ['--conf', cnf]);
    assert.equal(s.code, 2, s.out + s.err);
    assert.equal(s.out, 'app1 is stopped(2:NOT_RUNNING).\n');
  });

  test('masterha_master_switch --master_state=alive --interactive=0: switched, exit 0', async () => {
    const r = mha('masterha_master_switch', ['--master_state=alive', `--conf=${cnf}`, `--new_master_host=${db[1]!.address}`, '--orig_master_is_new_slave', '--interactive=0']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /SUCCESS/);
    assert.equal((await rootSql(db[1]!, 'SELECT @@read_only')).trim(), '0');
    assert.equal((await rootSql(db[0]!, 'SELECT @@read_only')).trim(), '1');
  });

  test('masterha_manager: logs to manager_log; check_status 0; a crash failover calls stopssh, the script connects with --new_master_password, nothing acknowledged is lost; masterha_stop', async () => {
    const [db1, db2, db3] = db as [SandboxServer, SandboxServer, SandboxServer];
    manager = spawn(process.execPath, [...cliArgs('mha-bin/masterha_manager'), `--conf=${cnf}`, '--interactive=0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    recordPid(sb.dir, manager.pid!, 'mha-bin/masterha_manager.ts');
    let out = '';
    manager.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    manager.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const log = (): string => (existsSync(managerLog) ? readFileSync(managerLog, 'utf8') : '');
    await until('the manager watches db2 (logged to manager_log)', () => Promise.resolve(/watching app1: master server2/.test(log())), 30_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${log().slice(-3000)}\n${out}`);
    });
    const st = mha('masterha_check_status', [`--conf=${cnf}`]);
    assert.equal(st.code, 0, st.out + st.err);
    assert.equal(st.out, `app1 (pid:${manager.pid}) is running(0:PING_OK), master:${db2.address}\n`);

    // Writes acknowledged by db2 that no replica receives; then its mariadbd dies, its host stays up.
    for (const s of [db1, db3]) await rootSql(s, 'STOP SLAVE IO_THREAD');
    for (let i = 1; i <= 30; i++) await rootSql(db2, `INSERT INTO compat.t VALUES (${i}, 'only on db2')`);
    const want = await checksum(db2, 'compat.t');
    await stopServer(db2, 'SIGKILL');
    await until('the failover finished', () => Promise.resolve(/now watching the new master/.test(log())), 60_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${log().slice(-4000)}`);
    });
    const hooks = readFileSync(hookLog, 'utf8');
    assert.match(hooks, /^command=stopssh orig=127\.0\.60\.12 ssh_options=-F /m, hooks);
    const nm = /new master (server\d)/.exec(log().split('\n').filter((l) => /now watching the new master/.test(l)).at(-1) ?? '')?.[1];
    assert.ok(nm, log().slice(-2000));
    const newMaster = byBlock(nm);
    assert.match(hooks, new RegExp(`^connected as ${sb.adminUser} to ${newMaster.address.replace(/\./g, '\\.')}: server_id=${newMaster.serverId} rc=0$`, 'm'), hooks);
    assert.match(log(), /--new_master_password on its command line/);
    // MHA's check_scripts at the start: the script answered --command=status against the master it adopted.
    assert.match(log(), /master_ip_failover_script --command=status \(.*master_ip_failover\): OK/);
    assert.ok(!log().includes(readFileSync(sb.adminPasswordFile, 'utf8').trim()), 'the password never reaches the log');
    assert.match(log(), /saved 30 transaction\(s\) from server2's binlog/);
    assert.equal(await checksum(newMaster, 'compat.t'), want, 'the new master has every acknowledged write');
    assert.equal((await rootSql(newMaster, 'SELECT COUNT(*) FROM compat.t')).trim(), '31');

    const stop = mha('masterha_stop', [`--conf=${cnf}`, '--abort_timeout=30']);
    assert.equal(stop.code, 0, stop.out + stop.err);
    assert.equal(stop.out, 'Stopped app1 successfully.\n');
    const after = mha('masterha_check_status', [`--conf=${cnf}`]);
    assert.equal(after.code, 2, after.out);
  });
});
