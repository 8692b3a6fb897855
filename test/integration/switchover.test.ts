/**
 * `mhats switchover` against real mariadbd sandboxes, under continuous writes
 * from a writer that follows whichever server is writable (as an application
 * behind a VIP or proxy would):
 *  - binlog positions: db1 → db2 with --orig-master-is-new-slave; the writer
 *    uses the manager account, which has ALL PRIVILEGES and so READ ONLY ADMIN
 *    on MariaDB 10.11 (read_only alone would not stop it: the kill does);
 *    MHA-style online-change hook with MHA's arguments, passwords only in env;
 *  - refusals: a long-running write, a broken replica: nothing changed, reason printed;
 *  - rollback: the candidate cannot catch up in time (its SQL thread is
 *    blocked by a table lock) → the old master is writable again, topology as before;
 *  - GTID: db1 → db2 and back, by GTID, with an application account.
 * Every time: no acknowledged write lost, CHECKSUM TABLE equal everywhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { detectFlavor, replicaStatus, rootSql, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';
import { FollowingWriter, type WriterTarget } from '../helpers/writer.js';
import { cliArgs } from '../helpers/cli.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  report: { outcome: string; exitCode: number; reason: string; writeBlockedMs?: number; killedConnections?: number; newMaster?: string; repointed: string[]; notRepointed: unknown[]; checks: Array<{ id: string; ok: boolean; detail: string }>; rollback?: { complete: boolean; actions: string[] } };
}

/** Runs the CLI without blocking the event loop (the writer keeps writing meanwhile). */
async function switchover(conf: string, ...args: string[]): Promise<Run> {
  const r = await execa(process.execPath, [...cliArgs(), 'switchover', '--conf', conf, '--json', ...args], { reject: false, timeout: 90_000, env: { NO_COLOR: '1' }, stdin: 'ignore' });
  const stdout = String(r.stdout);
  let report: Run['report'];
  try {
    report = JSON.parse(stdout) as Run['report'];
  } catch {
    throw new Error(`no JSON report (exit ${r.exitCode}):\n${stdout}\n${String(r.stderr)}`);
  }
  return { code: r.exitCode ?? -1, stdout, stderr: String(r.stderr), report };
}

async function ids(s: SandboxServer): Promise<Set<number>> {
  const out = await rootSql(s, 'SELECT id FROM mhats_test.t');
  return new Set(out.split('\n').filter(Boolean).map(Number));
}

async function checksum(s: SandboxServer): Promise<string> {
  return (await rootSql(s, 'CHECKSUM TABLE mhats_test.t')).trim().split('\t')[1] ?? '';
}

async function readOnly(s: SandboxServer): Promise<string> {
  return (await rootSql(s, 'SELECT @@global.read_only')).trim();
}

async function assertReplicatesFrom(replica: SandboxServer, master: SandboxServer, usingGtid: string): Promise<void> {
  const st = await replicaStatus(await detectFlavor(), replica);
  assert.equal(st.get('Master_Host'), master.address, `${replica.name} should replicate from ${master.name}`);
  assert.equal(st.get('Slave_IO_Running'), 'Yes', `${replica.name} IO thread`);
  assert.equal(st.get('Slave_SQL_Running'), 'Yes', `${replica.name} SQL thread`);
  assert.equal(st.get('Last_SQL_Errno'), '0');
  assert.equal(st.get('Using_Gtid'), usingGtid);
}

/** The end state every switchover must reach: all acked writes everywhere, same checksum everywhere. */
async function assertConverged(master: SandboxServer, others: SandboxServer[], w: FollowingWriter): Promise<void> {
  for (const o of others) await until(`${o.name} caught up with ${master.name}`, async () => (await checksum(o)) === (await checksum(master)), 30_000, 100);
  const sums = await Promise.all([master, ...others].map(checksum));
  assert.equal(new Set(sums).size, 1, `checksums differ: ${sums.join(' ')}`);
  for (const s of [master, ...others]) {
    const have = await ids(s);
    assert.deepEqual(w.acked.filter((id) => !have.has(id)), [], `${s.name} lost acknowledged writes`);
  }
}

function writeConf(sb: SandboxInfo, extra: Record<string, unknown>): string {
  const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; clusters: Record<string, Record<string, unknown>> };
  doc.state_dir = join(sb.dir, 'state');
  Object.assign(doc.clusters[sb.clusterName]!, { connect_timeout: 2, query_timeout: 5 }, extra);
  const conf = join(sb.dir, 'switchover.yaml');
  writeFileSync(conf, stringify(doc), { mode: 0o600 });
  return conf;
}

describe('switchover by binlog position', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let conf: string;
  let admin: WriterTarget[];
  let password: string;
  let hookLog: string;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'switchover-pos', baseAddress: '127.0.10.11', replicas: 2, sshPort: 2281 });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    await rootSql(db1, 'CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB');
    // An MHA-style online-change hook: records its arguments, and whether the passwords came in the environment.
    hookLog = join(sb.dir, 'hook-calls.log');
    const hook = join(sb.dir, 'online-change.sh');
    writeFileSync(hook, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${hookLog}\n[ -n "$MHATS_ORIG_MASTER_PASSWORD" ] && [ -n "$MHATS_NEW_MASTER_PASSWORD" ] && echo env-passwords-ok >> ${hookLog}\nexit 0\n`);
    chmodSync(hook, 0o755);
    conf = writeConf(sb, { master_ip_online_change_script: `${hook} vip` });
    admin = sb.servers.map((s) => ({ host: s.address, port: 3306, user: sb.adminUser, password }));
  });

  test('db1 → db2 under writes (ALL-privileges writer): new master takes writes, old master replicates from it, nothing lost', async () => {
    const w = new FollowingWriter(admin);
    w.start();
    try {
      await w.waitFor(300);
      const r = await switchover(conf, '--yes', '--orig-master-is-new-slave', '--new-master', db2.address);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.report.outcome, 'success');
      assert.equal(r.report.newMaster, 'db2');
      assert.deepEqual([...r.report.repointed].sort(), ['db1', 'db3']);
      assert.ok((r.report.killedConnections ?? 0) >= 1, 'the writer\'s session must have been killed (READ ONLY ADMIN writes through read_only)');
      assert.ok(r.report.writeBlockedMs !== undefined && r.report.writeBlockedMs < 3000, `write-blocked ${r.report.writeBlockedMs} ms`);
      assert.match(r.stderr, /ok +\d+ ms {2}db1: read_only = ON \(writes blocked\)/);
      assert.match(r.stderr, /writes were blocked for \d+ ms \(db1 read_only → db2 writable\)/);
      assert.match(r.stderr, /write-blocked time: \d+ ms/);
      // The writer found the new master and goes on writing there.
      await w.waitForOn(db2.address, 100);
    } finally {
      await w.stop();
    }
    assert.equal(await readOnly(db2), '0');
    assert.equal(await readOnly(db1), '1');
    await assertReplicatesFrom(db1, db2, 'No');
    await assertReplicatesFrom(db3, db2, 'No');
    await assertConverged(db2, [db1, db3], w);
    // MHA's arguments, in MHA's order; no password on any command line.
    const calls = readFileSync(hookLog, 'utf8').trim().split('\n');
    const common = `--orig_master_host=${db1.address} --orig_master_ip=${db1.address} --orig_master_port=3306 --orig_master_user=${sb.adminUser} --new_master_host=${db2.address} --new_master_ip=${db2.address} --new_master_port=3306 --new_master_user=${sb.adminUser} --orig_master_ssh_user=root --new_master_ssh_user=root --orig_master_ssh_port=2281 --new_master_ssh_port=2281 --orig_master_is_new_slave`;
    assert.deepEqual(calls, [`vip --command=stop ${common}`, 'env-passwords-ok', `vip --command=start ${common}`, 'env-passwords-ok']);
    assert.ok(!calls.some((l) => l.includes(password)));
  });

  test('refused: a write statement running longer than running_updates_limit; nothing changed', async () => {
    const c = await mysql.createConnection({ host: db2.address, port: 3306, user: sb.adminUser, password });
    const long = c.query('INSERT INTO mhats_test.t (val) SELECT SLEEP(60)').catch(() => undefined);
    try {
      await new Promise((r) => setTimeout(r, 1300));
      const r = await switchover(conf, '--yes');
      assert.equal(r.code, 1);
      assert.equal(r.report.outcome, 'refused');
      const chk = r.report.checks.find((x) => x.id === 'long_writes')!;
      assert.equal(chk.ok, false);
      assert.match(chk.detail, /INSERT INTO mhats_test\.t \(val\) SELECT SLEEP\(60\)/);
      assert.match(r.stderr, /FAIL {2}no write running ≥ 1 s on the master: connection \d+/);
      assert.match(r.stderr, /REFUSED: nothing was changed/);
    } finally {
      await rootSql(db2, `KILL ${c.threadId}`).catch(() => undefined);
      await long;
      c.destroy();
    }
    assert.equal(await readOnly(db2), '0');
    await assertReplicatesFrom(db1, db2, 'No');
    await assertReplicatesFrom(db3, db2, 'No');
  });

  test('refused: a broken replica (SQL thread stopped); nothing changed', async () => {
    await rootSql(db3, 'STOP SLAVE SQL_THREAD');
    try {
      const r = await switchover(conf, '--yes');
      assert.equal(r.code, 1);
      assert.equal(r.report.outcome, 'refused');
      assert.match(r.report.checks.find((x) => x.id === 'replicas')!.detail, /db3: SQL thread is stopped/);
      assert.match(r.stderr, /FAIL {2}every replica healthy and replicating from the master: db3: SQL thread is stopped/);
      assert.equal(await readOnly(db2), '0');
      assert.equal(await readOnly(db1), '1');
      assert.equal(await readOnly(db3), '1');
    } finally {
      await rootSql(db3, 'START SLAVE SQL_THREAD');
    }
    await assertReplicatesFrom(db1, db2, 'No');
  });

  test('rollback: the candidate cannot catch up in time → old master writable again, topology unchanged, nothing lost', async () => {
    const w = new FollowingWriter(admin);
    w.start();
    // db1's SQL thread is blocked on a table lock: it cannot apply db2's writes.
    const locker = await mysql.createConnection({ host: db1.address, port: 3306, user: sb.adminUser, password });
    try {
      await w.waitFor(100);
      await locker.query('LOCK TABLES mhats_test.t READ');
      await new Promise((r) => setTimeout(r, 300));
      const r = await switchover(conf, '--yes', '--new-master', 'db1', '--timeout', '1', '--max-lag', '600');
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.report.outcome, 'rolled_back');
      assert.match(r.report.reason, /db1 did not apply up to .* within 1 s/);
      assert.equal(r.report.rollback?.complete, true);
      assert.match(r.stderr, /ROLLED BACK \(exit 1\)/);
      assert.match(r.stderr, /rollback: db2: read_only OFF, writable again/);
      assert.equal(await readOnly(db2), '0');
      assert.equal(await readOnly(db1), '1');
      await locker.query('UNLOCK TABLES');
      // The writer was disconnected by the kill and comes back to db2.
      await w.waitForOn(db2.address, 50);
    } finally {
      await locker.query('UNLOCK TABLES').catch(() => undefined);
      locker.destroy();
      await w.stop();
    }
    await assertReplicatesFrom(db1, db2, 'No');
    await assertReplicatesFrom(db3, db2, 'No');
    await assertConverged(db2, [db1, db3], w);
  });
});

describe('switchover by GTID', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let conf: string;
  let app: WriterTarget[];

  before(async () => {
    sb = await withSandbox(undefined, { name: 'switchover-gtid', baseAddress: '127.0.11.11', replicas: 2, gtid: true, sshPort: 2282 });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    await rootSql(
      db1,
      "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB; CREATE USER 'app'@'127.%' IDENTIFIED BY 'app-pw'; GRANT SELECT, INSERT ON mhats_test.* TO 'app'@'127.%'",
    );
    conf = writeConf(sb, {});
    app = sb.servers.map((s) => ({ host: s.address, port: 3306, user: 'app', password: 'app-pw' }));
  });

  after(() => undefined);

  test('db1 → db2 → db1 under writes: each new master takes writes, the others follow by GTID, nothing lost', async () => {
    const w = new FollowingWriter(app);
    w.start();
    try {
      await w.waitFor(300);
      const r1 = await switchover(conf, '--yes', '--orig-master-is-new-slave');
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal(r1.report.newMaster, 'db2');
      await w.waitForOn(db2.address, 200);
      await assertReplicatesFrom(db1, db2, 'Slave_Pos');
      await assertReplicatesFrom(db3, db2, 'Slave_Pos');

      const r2 = await switchover(conf, '--yes', '--orig-master-is-new-slave', '--new-master', 'db1');
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(r2.report.newMaster, 'db1');
      assert.ok(r2.report.writeBlockedMs !== undefined && r2.report.writeBlockedMs < 3000);
      await w.waitForOn(db1.address, 100);
    } finally {
      await w.stop();
    }
    assert.equal(await readOnly(db1), '0');
    assert.equal(await readOnly(db2), '1');
    await assertReplicatesFrom(db2, db1, 'Slave_Pos');
    await assertReplicatesFrom(db3, db1, 'Slave_Pos');
    await assertConverged(db1, [db2, db3], w);
  });

  test('--dry-run prints the checks and the plan and changes nothing', async () => {
    const r = await switchover(conf, '--dry-run');
    assert.equal(r.code, 0);
    assert.match(r.stderr, /Plan: db1 → db2 \(GTID, MariaDB\)/);
    assert.match(r.stderr, /--dry-run: nothing was changed/);
    assert.equal(await readOnly(db1), '0');
  });

  test('without a terminal and without --yes: refused, nothing changed', async () => {
    const r = await execa(process.execPath, [...cliArgs(), 'switchover', '--conf', conf], { reject: false, timeout: 60_000, stdin: 'ignore' });
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /pass --yes/);
    assert.equal(await readOnly(db1), '0');
  });
});
