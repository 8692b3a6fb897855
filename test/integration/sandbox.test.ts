/**
 * The sandbox against real servers: mariadbd processes replicating (binlog
 * position and GTID), an sshd with verified host keys, and a `down` that
 * stops only what it started and leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import {
  readSandbox,
  replicaStatus,
  detectFlavor,
  rootSql,
  sandboxDown,
  sandboxUp,
  sshClientArgs,
  startServer,
  stopServer,
  type SandboxInfo,
  type SandboxServer,
} from '../../src/sandbox/index.js';
import { TEST_ROOT, withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

function sandboxPids(info: SandboxInfo): number[] {
  return [...info.servers.map((s) => s.pid), ...(info.ssh ? [info.ssh.pid] : [])];
}

async function checkTopology(info: SandboxInfo, gtid: boolean): Promise<void> {
  const flavor = await detectFlavor();
  const [master, ...replicas] = info.servers;
  assert.ok(master);
  assert.equal(master.role, 'master');
  assert.equal(replicas.length, 2);
  assert.equal((await rootSql(master, 'SELECT @@read_only')).trim(), '0', 'master is writable');
  for (const r of replicas) {
    assert.equal(r.role, 'replica');
    assert.equal((await rootSql(r, 'SELECT @@read_only')).trim(), '1', `${r.name} is read_only`);
    const st = await replicaStatus(flavor, r);
    assert.equal(st.get('Slave_IO_Running'), 'Yes', `${r.name} IO thread`);
    assert.equal(st.get('Slave_SQL_Running'), 'Yes', `${r.name} SQL thread`);
    assert.equal(st.get('Master_Host'), master.address);
    assert.equal(st.get('Using_Gtid'), gtid ? 'Slave_Pos' : 'No');
    assert.equal(st.get('Last_IO_Error'), '');
    assert.equal(st.get('Last_SQL_Error'), '');
  }

  await rootSql(master, 'CREATE DATABASE IF NOT EXISTS t; CREATE TABLE t.x (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t.x VALUES (1, "hello");');
  for (const r of replicas) {
    await until(`${r.name} has the row`, async () => (await rootSql(r, 'SELECT v FROM t.x WHERE id=1').catch(() => '')).trim() === 'hello', 20_000, 100);
  }
  // No errant transactions: every server logged exactly the master's GTIDs.
  const masterPos = (await rootSql(master, 'SELECT @@gtid_binlog_pos')).trim();
  assert.match(masterPos, /^0-1-\d+$/);
  for (const r of replicas) {
    await until(`${r.name} binlog GTIDs equal the master's`, async () => (await rootSql(r, 'SELECT @@gtid_binlog_pos')).trim() === masterPos, 20_000, 100);
  }
}

async function checkSsh(info: SandboxInfo): Promise<void> {
  assert.ok(info.ssh);
  const ssh = info.ssh;
  for (const s of info.servers) {
    const r = await execa('ssh', [...sshClientArgs(ssh, s.address), 'echo', 'ok'], { timeout: 15_000, stdin: 'ignore' });
    assert.equal(r.stdout.trim(), 'ok');
  }
  // Host keys are really verified: with an empty known_hosts the login is refused.
  const empty = join(info.dir, 'work', 'empty_known_hosts');
  writeFileSync(empty, '');
  const r = await execa('ssh', [...sshClientArgs({ ...ssh, knownHostsFile: empty }, info.servers[0]!.address), 'true'], { timeout: 15_000, reject: false, stdin: 'ignore' });
  assert.notEqual(r.exitCode, 0);
  assert.match(r.stderr, /Host key verification failed|No .* host key is known/i);
}

function checkFiles(info: SandboxInfo): void {
  const mode = (p: string): number => statSync(p).mode & 0o777;
  assert.equal(mode(info.adminPasswordFile), 0o600);
  assert.equal(mode(info.replPasswordFile), 0o600);
  assert.equal(mode(info.mhaConfigFile), 0o600);
  const adminPw = readFileSync(info.adminPasswordFile, 'utf8').trim();
  const replPw = readFileSync(info.replPasswordFile, 'utf8').trim();
  assert.ok(adminPw.length >= 16 && replPw.length >= 16);

  const y = parse(readFileSync(info.configFile, 'utf8'));
  const c = y.clusters[info.clusterName];
  assert.equal(y.state_dir, join(info.dir, 'state'));
  assert.equal(c.user, 'mhats');
  assert.deepEqual(c.password, { file: info.adminPasswordFile });
  assert.deepEqual(c.repl_password, { file: info.replPasswordFile });
  assert.equal(c.ssh_port, info.ssh?.port);
  assert.equal(c.ssh.known_hosts, info.ssh?.knownHostsFile);
  assert.deepEqual(
    c.servers.map((s: { name: string; hostname: string; port: number; master_binlog_dir: string }) => [s.name, s.hostname, s.port, s.master_binlog_dir]),
    info.servers.map((s) => [s.name, s.address, s.port, s.datadir]),
  );

  const cnf = readFileSync(info.mhaConfigFile, 'utf8');
  assert.match(cnf, /^\[server default\]$/m);
  assert.ok(cnf.includes(`password=${adminPw}\n`));
  assert.ok(cnf.includes(`repl_password=${replPw}\n`));
  for (const [i, s] of info.servers.entries()) assert.ok(cnf.includes(`[server${i + 1}]\nhostname=${s.address}\nport=${s.port}\n`));

  // Passwords never appear on a process command line.
  for (const pid of sandboxPids(info)) {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(adminPw) && !cmdline.includes(replPw), `PID ${pid} shows a password`);
  }
}

async function downAndCheck(info: SandboxInfo): Promise<void> {
  const pids = sandboxPids(info);
  await sandboxDown(info.dir);
  for (const pid of pids) assert.ok(!alive(pid), `PID ${pid} still running after down`);
  assert.ok(!existsSync(info.dir), `${info.dir} still exists after down`);
  await sandboxDown(info.dir); // idempotent
}

test('sandbox up (binlog file/position): replicating, ssh verified, files; down leaves nothing', { timeout: 120_000 }, async (t) => {
  const info = await withSandbox(t, { name: 'sandbox-pos', baseAddress: '127.0.20.11', sshPort: 2251 });
  assert.equal(info.gtid, false);
  assert.deepEqual(info.servers.map((s) => s.address), ['127.0.20.11', '127.0.20.12', '127.0.20.13']);
  assert.deepEqual(await readSandbox(info.dir), info);
  await checkTopology(info, false);
  await checkSsh(info);
  checkFiles(info);

  // A killed replica comes back with startServer and resumes replication.
  const db3 = info.servers[2]!;
  await stopServer(db3, 'SIGKILL');
  assert.ok(!alive(db3.pid));
  const again: SandboxServer = await startServer(db3);
  assert.notEqual(again.pid, db3.pid);
  assert.equal((await readSandbox(info.dir))?.servers[2]?.pid, again.pid);
  await rootSql(info.servers[0]!, 'INSERT INTO t.x VALUES (2, "again")');
  await until('db3 catches up after restart', async () => (await rootSql(again, 'SELECT v FROM t.x WHERE id=2').catch(() => '')).trim() === 'again', 20_000, 100);

  await downAndCheck((await readSandbox(info.dir))!);
});

test('sandbox up --gtid: MASTER_USE_GTID=slave_pos, no errant GTIDs', { timeout: 120_000 }, async (t) => {
  const info = await withSandbox(t, { name: 'sandbox-gtid', baseAddress: '127.0.21.11', sshPort: 2252, gtid: true });
  assert.equal(info.gtid, true);
  await checkTopology(info, true);
  await checkSsh(info);
  await downAndCheck(info);
});

test('down refuses to kill a PID that is no longer ours', { timeout: 60_000 }, async (t) => {
  const info = await withSandbox(t, { name: 'sandbox-foreign', baseAddress: '127.0.22.11', replicas: 0, ssh: false });
  const db1 = info.servers[0]!;
  await stopServer(db1, 'SIGTERM');
  assert.ok(!alive(db1.pid));

  const sleeper = execa('sleep', ['300'], { reject: false });
  t.after(() => {
    sleeper.kill('SIGKILL');
  });
  const sleepPid = sleeper.pid!;
  const file = join(info.dir, 'sandbox.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  json.servers[0].pid = sleepPid; // as if the PID had been reused by another program
  writeFileSync(file, JSON.stringify(json));

  writeFileSync(join(info.dir, 'added-by-a-test.txt'), 'x'); // down removes the whole directory
  const lines: string[] = [];
  await sandboxDown(info.dir, { log: (l) => lines.push(l) });
  assert.ok(alive(sleepPid), 'the foreign process must survive down');
  assert.match(lines.join('\n'), new RegExp(`not stopping PID ${sleepPid}`));
  assert.ok(!existsSync(info.dir));
});

test('down on a missing sandbox succeeds; a failed up tears down what it started', { timeout: 60_000 }, async () => {
  await sandboxDown(join(TEST_ROOT, `never-was-${process.pid}`));

  const dir = join(TEST_ROOT, `sandbox-broken-${process.pid}`);
  await assert.rejects(
    sandboxUp({ dir, baseAddress: '127.0.23.11', replicas: 1, sshPort: 2253, extraServerOptions: ['no_such_option_at_all=1'] }),
    (err: Error) => {
      assert.match(err.message, /db\d \(127\.0\.23\.1\d:3306\)/);
      assert.match(err.message, /no_such_option_at_all/); // the error log's tail is in the message
      return true;
    },
  );
  assert.ok(!existsSync(dir), 'a failed up removes its directory');

  // `down` removes the whole directory, so `up` refuses one that is not empty.
  const busy = join(TEST_ROOT, `sandbox-busy-${process.pid}`);
  mkdirSync(busy, { recursive: true });
  writeFileSync(join(busy, 'precious.txt'), 'keep me');
  try {
    await assert.rejects(sandboxUp({ dir: busy, baseAddress: '127.0.23.11', replicas: 0, ssh: false }), /is not empty/);
    assert.equal(readFileSync(join(busy, 'precious.txt'), 'utf8'), 'keep me');
  } finally {
    rmSync(busy, { recursive: true, force: true });
  }
});
