/**
 * Hung masters on loopback, with production-like replication timing
 * (slave_net_timeout=60, heartbeats every 30 s) and ping_type=INSERT:
 *  - the master's mariadbd SIGSTOPped while clients wait on it: the second
 *    route sees no greeting, the manager fails over without waiting for
 *    slave_net_timeout, and fencing kills the hung mariadbd over SSH; after
 *    SIGCONT nothing it held can commit (it is gone);
 *  - then the new master's writes hang (a held global lock blocks the INSERT
 *    ping) while its replica stays connected: failed over after
 *    ping_stall_failures statement timeouts, fenced over SQL (read_only
 *    verified, the lock holder's session killed), not killed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { rootSql, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess, type LogLine } from '../helpers/manager.js';
import { SEMI_SYNC } from '../helpers/semisync.js';

const BASE = '127.0.44';

function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(st);
  } catch {
    return false;
  }
}

describe('hung masters (loopback, slave_net_timeout=60, ping_type=INSERT)', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let mgr: ManagerProcess;
  let password: string;

  const waitAfter = (from: number, re: RegExp, timeoutMs: number): Promise<LogLine> => mgr.waitFor(re, timeoutMs, from);

  before(async () => {
    sb = await withSandbox(undefined, { name: 'detection-hang', baseAddress: `${BASE}.11`, replicas: 2, sshPort: 2323, extraServerOptions: ['slave_net_timeout=60', ...SEMI_SYNC] });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    for (const r of [db2, db3]) await rootSql(r, 'STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=30; START SLAVE;');
    await rootSql(db1, 'CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB');
    const conf = writeManagerConfig(sb, {
      cluster: { ping_type: 'INSERT', ping_interval: 1, ping_timeout: 1, ping_failures: 3, connect_timeout: 1, query_timeout: 3, last_failover_minute: 0 },
      // db2 is promoted first, then db3.
      servers: { db2: { candidate_master: true } },
    });
    mgr = new ManagerProcess(conf, ['--http', 'off'], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/);
    await mgr.waitFor(/^SSH shell ready on db1/, 60_000);
  });

  after(async () => {
    await mgr?.stop();
  });

  test('SIGSTOP of the master: failed over without slave_net_timeout, the hung mariadbd killed over SSH, nothing commits after SIGCONT', async () => {
    const from = mgr.lines.length;
    // Clients connected before the hang; their writes wait in the hung server's sockets.
    const clients = await Promise.all([1, 2, 3].map(() => mysql.createConnection({ host: db1.address, port: 3306, user: sb.adminUser, password })));
    const pid = db1.pid;
    process.kill(pid, 'SIGSTOP');
    const waiting = clients.map((c, i) => c.query(`INSERT INTO mhats_test.t (val) VALUES ('waiting-${i}')`).then(() => 'acked', () => 'failed'));
    try {
      const dead = await waitAfter(from, /^MASTER db1 IS DEAD/, 30_000);
      assert.equal(dead.basis, 'unreachable', JSON.stringify(dead));
      assert.ok((dead.routes as Array<{ kind: string }>).every((r) => r.kind === 'no_greeting' || r.kind === 'error'), JSON.stringify(dead.routes));
      assert.ok((dead.routes as Array<{ kind: string }>).some((r) => r.kind === 'no_greeting'), JSON.stringify(dead.routes));
      const fence = await waitAfter(from, /^fence db1: /, 30_000);
      assert.match(fence.msg, /killed with SIGKILL/, fence.msg);
      await waitAfter(from, /^now watching the new master db2/, 60_000);
      assert.equal(alive(pid), false, 'the hung mariadbd is gone');
      // Resuming it changes nothing: it is dead, and none of the waiting writes was acknowledged.
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
      assert.deepEqual(await Promise.all(waiting), ['failed', 'failed', 'failed']);
      const onNew = (await rootSql(db2, "SELECT COUNT(*) FROM mhats_test.t WHERE val LIKE 'waiting-%'")).trim();
      assert.equal(onNew, '0');
      assert.equal((await rootSql(db2, 'SELECT @@read_only')).trim(), '0');
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
      for (const c of clients) c.destroy();
    }
  });

  test("the new master's writes hang (a held global lock blocks the INSERT ping), its replica connected: failed over, fenced over SQL", async () => {
    const from = mgr.lines.length;
    await waitAfter(0, /^SSH shell ready on db2/, 60_000);
    const holder = await mysql.createConnection({ host: db2.address, port: 3306, user: sb.adminUser, password });
    const holderId = holder.threadId;
    await holder.query('FLUSH TABLES WITH READ LOCK');
    try {
      const dead = await waitAfter(from, /^MASTER db2 IS DEAD/, 40_000);
      assert.equal(dead.verdict, 'StorageHang', JSON.stringify(dead));
      assert.equal(dead.basis, 'stalled');
      const fence = await waitAfter(from, /^fence db2: /, 30_000);
      assert.match(fence.msg, /read_only verified ON/, fence.msg);
      assert.doesNotMatch(fence.msg, /SIGKILL/);
      await waitAfter(from, /^now watching the new master db3/, 60_000);
      assert.equal((await rootSql(db2, 'SELECT @@read_only')).trim(), '1');
      const still = (await rootSql(db2, `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ${holderId}`)).trim();
      assert.equal(still, '0', 'the session holding the lock was killed');
      assert.equal((await rootSql(db3, 'SELECT @@read_only')).trim(), '0');
    } finally {
      holder.destroy();
    }
  });
});
