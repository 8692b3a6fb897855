/**
 * Replicas stopped at different points, then the master is killed:
 *   db4 stops receiving after 10 rows, db2 (the candidate) after 20, db3 (the
 *   most advanced, no_master) after 30; the master alone has 40.
 * After the failover every survivor has all 40 acknowledged rows and the
 * checksums match. In binlog-position mode db2 is brought up from db3's relay
 * logs before promotion, db4 likewise before it is repointed, and the last 10
 * come from the dead master's binlog over SSH. In GTID mode the same end state
 * comes from GTID catch-up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { detectFlavor, replicaStatus, rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum as tableChecksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';


const count = async (s: SandboxServer): Promise<number> => Number((await rootSql(s, 'SELECT COUNT(*) FROM diff.t')).trim());
const checksum = (s: SandboxServer): Promise<string> => tableChecksum(s, 'diff.t');

for (const gtid of [false, true]) {
  describe(`replicas stopped at different points (${gtid ? 'GTID' : 'binlog positions'})`, () => {
    let sb: SandboxInfo;
    let mgr: ManagerProcess;

    before(async () => {
      sb = await withSandbox(undefined, { name: `diff-${gtid ? 'gtid' : 'pos'}`, baseAddress: gtid ? '127.0.19.11' : '127.0.18.11', replicas: 3, gtid, sshPort: gtid ? 2289 : 2288 });
      await rootSql(sb.servers[0]!, 'CREATE DATABASE diff; CREATE TABLE diff.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB');
      // db3 will be the most advanced but may never be master: db2 must be brought up to it.
      const conf = writeManagerConfig(sb, { servers: { db3: { no_master: true, candidate_master: false } } });
      mgr = new ManagerProcess(conf, [], sb.dir);
      await mgr.waitFor(/^watching sandbox: master db1/);
    });

    after(async () => {
      await mgr?.stop();
    });

    test('every survivor ends with every acknowledged row, checksums equal', async () => {
      const [db1, db2, db3, db4] = sb.servers as [SandboxServer, SandboxServer, SandboxServer, SandboxServer];
      const write = async (from: number, to: number): Promise<void> => {
        for (let i = from; i <= to; i++) await rootSql(db1, `INSERT INTO diff.t VALUES (${i}, REPEAT('d', ${i * 3}))`);
      };
      const caughtUp = async (s: SandboxServer, n: number): Promise<void> => until(`${s.name} has ${n} rows`, async () => (await count(s)) === n);
      await write(1, 10);
      for (const s of [db2, db3, db4]) await caughtUp(s, 10);
      await rootSql(db4, 'STOP SLAVE IO_THREAD');
      await write(11, 20);
      for (const s of [db2, db3]) await caughtUp(s, 20);
      await rootSql(db2, 'STOP SLAVE IO_THREAD');
      await write(21, 30);
      await caughtUp(db3, 30);
      await rootSql(db3, 'STOP SLAVE IO_THREAD');
      await write(31, 40);
      const sum = await checksum(db1);
      await stopServer(db1, 'SIGKILL');
      const done = await mgr.waitFor(/^now watching the new master/, 90_000);
      assert.match(done.msg, /new master db2;/, mgr.tail(60));
      for (const s of [db2, db3, db4]) {
        await until(`${s.name} has everything`, async () => (await checksum(s)) === sum, 30_000).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}\n${mgr.tail(80)}`);
        });
        assert.equal(await count(s), 40);
      }
      for (const s of [db3, db4]) {
        const st = await replicaStatus(await detectFlavor(), s);
        assert.equal(st.get('Master_Host'), db2.address);
        assert.equal(st.get('Slave_IO_Running'), 'Yes');
        assert.equal(st.get('Slave_SQL_Running'), 'Yes');
        assert.equal(st.get('Using_Gtid'), gtid ? 'Slave_Pos' : 'No');
      }
      if (!gtid) {
        assert.ok(mgr.has(/^db2: applied 10 transaction\(s\) it lacked from db3's relay logs/), mgr.tail(80));
        assert.ok(mgr.has(/^db4: applied 20 transaction\(s\) it lacked from db3's relay logs/), mgr.tail(80));
      }
      assert.ok(mgr.has(/^saved 10 transaction\(s\) from db1's binlog/), mgr.tail(80));
    });
  });
}

describe('an errant GTID on a replica stops the failover with a clear report', () => {
  let sb: SandboxInfo;
  let mgr: ManagerProcess;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'diff-errant', baseAddress: '127.0.20.11', replicas: 2, gtid: true, sshPort: 2287 });
    await rootSql(sb.servers[0]!, 'CREATE DATABASE diff; CREATE TABLE diff.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB');
    const conf = writeManagerConfig(sb);
    mgr = new ManagerProcess(conf, [], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/);
  });

  after(async () => {
    await mgr?.stop();
  });

  test('refused in Phase 1, naming the replica and the GTID; nothing promoted', async () => {
    const [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    await until('db2 has the table', async () => (await rootSql(db2, 'SHOW TABLES IN diff')).includes('t'));
    // A write made directly on a replica (root bypasses read_only): an errant transaction 0-2-N.
    await rootSql(db2, "INSERT INTO diff.t VALUES (999, 'written on the replica')");
    await stopServer(db1, 'SIGKILL');
    const l = await mgr.waitFor(/^failover of db1 refused: errant GTID transactions: db2: 0-2-\d+\. Inspect them/, 30_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${mgr.lines.filter((x) => /refused|Phase 1/.test(x.msg) && !/connection refused/.test(x.msg)).map((x) => x.msg).join('\n')}`);
    });
    assert.match(l.msg, /Inspect them and repair by hand/);
    for (const s of [db2, db3]) assert.equal((await rootSql(s, 'SELECT @@read_only')).trim(), '1', `${s.name} must not be promoted`);
  });
});
