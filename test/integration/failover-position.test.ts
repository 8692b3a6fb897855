/**
 * The manager daemon against a real sandbox replicating by binlog position:
 *  1. route cut: only the manager's route to the master is cut (a TCP proxy
 *     the test controls) while the replicas keep replicating: no failover;
 *  2. crash: kill -9 of the master under continuous writes: a new master is
 *     elected (candidate_master/no_master respected), writable, the other
 *     replica replicates from it, no acknowledged write is lost, checksums equal;
 *  3. after the failover the manager still runs and reports the new topology;
 *  4. guard: a second failover inside last_failover_minute is refused.
 * Semi-sync (AFTER_SYNC) makes "the replicas had received everything" hold
 * for every acknowledged write.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFlavor, replicaStatus, rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum as tableChecksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Writer } from '../helpers/writer.js';
import { SEMI_SYNC } from '../helpers/semisync.js';
import { cliArgs } from '../helpers/cli.js';



async function ids(s: SandboxServer): Promise<Set<number>> {
  const out = await rootSql(s, 'SELECT id FROM mhats_test.t');
  return new Set(out.split('\n').filter(Boolean).map(Number));
}

const checksum = (s: SandboxServer): Promise<string> => tableChecksum(s, 'mhats_test.t');

describe('manager: failover by binlog position', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let conf: string;
  let mgr: ManagerProcess;
  let proxy: TcpProxy;
  let password: string;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'failover-pos', baseAddress: '127.0.2.11', replicas: 2, sshPort: 2241, extraServerOptions: SEMI_SYNC });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    await rootSql(db1, 'CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB');
    // The manager reaches db1 through a proxy (the "route"); the replicas connect to db1 directly.
    proxy = new TcpProxy('127.0.2.100', 3306, db1.address, 3306);
    await proxy.listen();
    // MHA-style hooks that record the arguments they get (the configured value is a prefix with its own argument).
    const hook = join(sb.dir, 'hook.sh');
    writeFileSync(hook, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${join(sb.dir, 'hook-calls.log')}\nexit 0\n`);
    chmodSync(hook, 0o755);
    conf = writeManagerConfig(sb, {
      cluster: { master_ip_failover_script: `${hook} ipfail`, report_script: `${hook} report` },
      servers: {
        db1: { ip: '127.0.2.100' },
        // Rules: db2 must never be promoted; db3 is the candidate.
        db2: { no_master: true, candidate_master: false },
        db3: { candidate_master: true },
      },
    });
    mgr = new ManagerProcess(conf, [], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/);
  });

  after(async () => {
    await mgr?.stop();
    await proxy?.close();
  });

  test('route cut between manager and master only: no failover', async () => {
    proxy.cut();
    try {
      await mgr.waitFor(/only the manager's route is broken; not failing over/, 20_000);
      // Keep it cut a while longer: still no failover.
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(mgr.has(/Phase 1: Configuration Check Phase started/), false, mgr.tail());
      assert.equal((await rootSql(db1, 'SELECT @@read_only')).trim(), '0');
    } finally {
      proxy.restore();
    }
    await mgr.waitFor(/db1 answers health checks again/, 10_000);
  });

  test('kill -9 of the master under writes: db3 elected, db2 repointed, nothing acknowledged lost', async () => {
    const w = new Writer();
    w.start({ host: db1.address, port: 3306, user: sb.adminUser, password });
    await w.waitFor(200);
    await stopServer(db1, 'SIGKILL');
    await w.stopped();
    assert.ok(w.acked.length >= 200);
    await mgr.waitFor(/^now watching the new master db3/, 60_000);
    assert.ok(mgr.has(/not choosing db2: no_master is set/), 'no_master rejection must be logged');
    // The new master is writable.
    assert.equal((await rootSql(db3, 'SELECT @@read_only')).trim(), '0');
    await rootSql(db3, "INSERT INTO mhats_test.t (val) VALUES ('after')");
    // db2 replicates from db3 without error and catches up.
    await until('db2 caught up with db3', async () => (await checksum(db2)) === (await checksum(db3)));
    const st = await replicaStatus(await detectFlavor(), db2);
    assert.equal(st.get('Master_Host'), db3.address);
    assert.equal(st.get('Slave_IO_Running'), 'Yes');
    assert.equal(st.get('Slave_SQL_Running'), 'Yes');
    assert.equal(st.get('Last_SQL_Errno'), '0');
    assert.equal(st.get('Using_Gtid'), 'No');
    // The MHA hooks got MHA's arguments, and no password on their command line.
    const calls = readFileSync(join(sb.dir, 'hook-calls.log'), 'utf8').trim().split('\n');
    assert.ok(calls.includes(`ipfail --orig_master_host=${db1.address} --orig_master_ip=127.0.2.100 --orig_master_port=3306 --command=stopssh --ssh_user=root --orig_master_ssh_port=2241`), calls.join('\n'));
    assert.ok(calls.some((l) => l.startsWith(`ipfail --command=start --ssh_user=root --orig_master_host=${db1.address} --orig_master_ip=127.0.2.100 --orig_master_port=3306 --new_master_host=${db3.address} --new_master_ip=${db3.address} --new_master_port=3306 --new_master_user=mhats`)), calls.join('\n'));
    assert.ok(calls.some((l) => l.startsWith(`report --orig_master_host=${db1.address} --new_master_host=${db3.address} --new_slave_hosts=${db2.address} --conf=${conf} --subject=sandbox: MySQL Master failover db1 to db3 succeeded --body=`)), calls.join('\n'));
    assert.ok(!calls.some((l) => /password/i.test(l) || l.includes(password)), 'no password in hook arguments');
    // Every acknowledged write survived, everywhere.
    for (const s of [db2, db3]) {
      const have = await ids(s);
      const lost = w.acked.filter((id) => !have.has(id));
      assert.deepEqual(lost, [], `${s.name} lost acknowledged writes`);
    }
  });

  test('after the failover the manager still runs and reports the new topology', () => {
    assert.equal(mgr.exited, undefined, 'the manager must not exit after a failover');
    const r = spawnSync(process.execPath, [...cliArgs(), 'status', '--conf', conf, '--json'], { encoding: 'utf8', timeout: 60_000 });
    // Exit 4 (unhealthy, as check-repl below): the only replica left (db2, no_master) could not be promoted.
    assert.equal(r.status, 4, r.stderr);
    const [m] = JSON.parse(r.stdout) as Array<{ master: string; lastFailover: { outcome: string; newMaster: string; oldMaster: string } }>;
    assert.equal(m!.master, 'db3');
    assert.equal(m!.lastFailover.outcome, 'success');
    assert.equal(m!.lastFailover.oldMaster, 'db1');
    // check-repl sees the new topology, leaves the failed old master out, and says that the only
    // replica left (db2, no_master) could not be promoted if db3 died too.
    const cr = spawnSync(process.execPath, [...cliArgs(), 'check-repl', '--conf', conf], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(cr.status, 4, cr.stdout + cr.stderr);
    assert.match(cr.stdout, /master db3/);
    assert.match(cr.stdout, /ERROR sandbox: no replica can be promoted/);
    assert.match(cr.stdout, /db1 is the old master of a failover: left out/);
  });

  test('a second failover inside last_failover_minute is refused with a clear message', async () => {
    await stopServer(db3, 'SIGKILL');
    const l = await mgr.waitFor(/^automatic failover refused: the last failover .* inside last_failover_minute=480/, 30_000);
    assert.match(l.msg, /mhats ack sandbox/);
    assert.equal((await rootSql(db2, 'SELECT @@read_only')).trim(), '1', 'db2 must not have been promoted');
    assert.equal(mgr.exited, undefined);
    const stopped = await mgr.stop();
    assert.equal(stopped.code, 0, `manager should exit 0 on SIGTERM: ${JSON.stringify(stopped)}\n${mgr.tail()}`);
  });
});
