/**
 * Zero-loss recovery: writes acknowledged by the master but never replicated
 * (every replica's IO thread stopped) survive a kill -9 of the master's
 * mariadbd, because its host is still up: the manager reads the dead master's
 * binlog over SSH and applies the missing transactions to the new master
 * before it takes writes. Binlog-position and GTID modes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { detectFlavor, replicaStatus, rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum as tableChecksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';
import { spawnSync } from 'node:child_process';

/** PIDs of the sshd processes serving established connections on address:port (ss -p). */
function sshSessionPids(address: string, port: number): number[] {
  const r = spawnSync('ss', ['-Htnp', 'state', 'established', 'src', `${address}:${port}`], { encoding: 'utf8', timeout: 10_000 });
  const pids = [...(r.stdout ?? '').matchAll(/\("sshd",pid=(\d+),/g)].map((m) => Number(m[1]));
  return [...new Set(pids)];
}


const checksum = (s: SandboxServer): Promise<string> => tableChecksum(s, 'salvage.t');

for (const gtid of [false, true]) {
  describe(`salvage of the dead master's binlog (${gtid ? 'GTID' : 'binlog positions'})`, () => {
    let sb: SandboxInfo;
    let mgr: ManagerProcess;
    let db1: SandboxServer;
    let others: SandboxServer[];

    before(async () => {
      sb = await withSandbox(undefined, { name: `salvage-${gtid ? 'gtid' : 'pos'}`, baseAddress: gtid ? '127.0.16.11' : '127.0.15.11', replicas: 2, gtid, sshPort: gtid ? 2296 : 2295 });
      [db1, ...others] = sb.servers as [SandboxServer, ...SandboxServer[]];
      await rootSql(db1, 'CREATE DATABASE salvage; CREATE TABLE salvage.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB; INSERT INTO salvage.t VALUES (0, "before")');
      for (const o of others) await until(`${o.name} has the table`, async () => (await checksum(o)) === (await checksum(db1)));
      const conf = writeManagerConfig(sb);
      mgr = new ManagerProcess(conf, [], sb.dir);
      await mgr.waitFor(/^watching sandbox: master db1/);
    });

    after(async () => {
      await mgr?.stop();
    });

    test('acknowledged writes that no replica received are saved over SSH and reach every survivor', async () => {
      for (const o of others) await rootSql(o, 'STOP SLAVE IO_THREAD');
      // 50 acknowledged transactions (plus a multi-statement one) that never leave the master.
      const n = 50;
      for (let i = 1; i <= n; i++) {
        await rootSql(db1, `INSERT INTO salvage.t VALUES (${i}, REPEAT('x', ${i}))`);
        // A binlog rotation in the middle: the saved tail spans two files.
        if (i === 25) await rootSql(db1, 'FLUSH BINARY LOGS');
      }
      await rootSql(db1, "BEGIN; UPDATE salvage.t SET v = 'updated' WHERE id <= 10; DELETE FROM salvage.t WHERE id = 50; COMMIT");
      const masterSum = await checksum(db1);
      await stopServer(db1, 'SIGKILL');
      const done = await mgr.waitFor(/^now watching the new master/, 60_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message.split('\n')[0]}\n${mgr.lines.filter((x) => !/health check of|IS DEAD/.test(x.msg)).map((x) => x.msg).join('\n')}`);
      });
      assert.ok(mgr.has(/^saved 51 transaction\(s\) from db1's binlog/), mgr.tail(60));
      assert.ok(mgr.has(/^applied 51 saved transaction\(s\) to db\d/), mgr.tail(60));
      const nm = sb.servers.find((s) => done.msg.includes(`new master ${s.name};`))!;
      assert.equal(await checksum(nm), masterSum, 'the new master has exactly what the dead master had');
      for (const o of others.filter((x) => x !== nm)) {
        await until(`${o.name} caught up`, async () => (await checksum(o)) === masterSum);
        const st = await replicaStatus(await detectFlavor(), o);
        assert.equal(st.get('Master_Host'), nm.address);
        assert.equal(st.get('Slave_SQL_Running'), 'Yes');
        assert.equal(st.get('Last_SQL_Errno'), '0');
      }
      assert.equal((await rootSql(nm, 'SELECT COUNT(*) FROM salvage.t')).trim(), String(n));
      // Nothing left behind on the manager: the saved file lived in a private temp dir.
      assert.ok(!mgr.has(/LOST/), mgr.tail(60));
    });
  });
}

describe('dead master whose host is unreachable: the lost-transaction report is exact', () => {
  let sb: SandboxInfo;
  let mgr: ManagerProcess;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'salvage-unreachable', baseAddress: '127.0.17.11', replicas: 2, sshPort: 2297 });
    await rootSql(sb.servers[0]!, 'CREATE DATABASE salvage; CREATE TABLE salvage.t (id INT PRIMARY KEY) ENGINE=InnoDB');
    const conf = writeManagerConfig(sb);
    mgr = new ManagerProcess(conf, [], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/);
  });

  after(async () => {
    await mgr?.stop();
  });

  test('failover completes from the replicas; the report names exactly the transactions that did not survive', async () => {
    const [db1, ...others] = sb.servers as [SandboxServer, ...SandboxServer[]];
    for (const o of others) await until(`${o.name} has the table`, async () => (await rootSql(o, 'SHOW TABLES IN salvage')).includes('t'));
    for (const o of others) await rootSql(o, 'STOP SLAVE IO_THREAD');
    const before = (await rootSql(db1, 'SELECT @@gtid_binlog_pos')).trim();
    for (let i = 1; i <= 20; i++) await rootSql(db1, `INSERT INTO salvage.t VALUES (${i})`);
    const afterPos = (await rootSql(db1, 'SELECT @@gtid_binlog_pos')).trim();
    const [, sid, seq0] = /^0-(\d+)-(\d+)$/.exec(before)!;
    assert.equal(afterPos, `0-${sid}-${Number(seq0) + 20}`);
    // Let a health check record the master's position, then the host goes away: no SSH, then no mysqld.
    await new Promise((r) => setTimeout(r, 1000));
    // Killing the sshd daemon alone leaves the sessions the manager keeps to db1 working (their sshd
    // processes outlive it, and the salvage reads over them): kill those too, found by their socket on
    // db1's address and our sandbox's SSH port (our sshd's processes, by PID).
    process.kill(sb.ssh!.pid, 'SIGKILL');
    for (const pid of sshSessionPids(db1.address, sb.ssh!.port)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await stopServer(db1, 'SIGKILL');
    await mgr.waitFor(/^now watching the new master/, 60_000);
    const lost = await mgr.waitFor(/^LOST TRANSACTIONS: /, 1000);
    assert.match(lost.msg, new RegExp(`^LOST TRANSACTIONS: 20 transaction\\(s\\): 0-${sid}-${Number(seq0) + 1}\\.\\.0-${sid}-${Number(seq0) + 20} \\(as of its last successful health check`));
    assert.ok(mgr.has(/host is unreachable over SSH|could not save db1's binlog/), mgr.tail(40));
  });
});
