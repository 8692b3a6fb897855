/**
 * The manager daemon against a real sandbox replicating by GTID
 * (MASTER_USE_GTID=slave_pos), four servers:
 *  1. crash: kill -9 of the master under continuous writes;
 *  2. `mhats ack` re-allows automatic failover;
 *  3. hung master: SIGSTOP under writes is detected within the deadlines and
 *     failed over; when resumed, the old master is fenced (read_only) and is
 *     not a second writable master.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { detectFlavor, replicaStatus, rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum as tableChecksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';
import { Writer } from '../helpers/writer.js';
import { SEMI_SYNC } from '../helpers/semisync.js';
import { cliArgs } from '../helpers/cli.js';


async function ids(s: SandboxServer): Promise<Set<number>> {
  const out = await rootSql(s, 'SELECT id FROM mhats_test.t');
  return new Set(out.split('\n').filter(Boolean).map(Number));
}

const checksum = (s: SandboxServer): Promise<string> => tableChecksum(s, 'mhats_test.t');

async function assertReplicatesFrom(replica: SandboxServer, master: SandboxServer): Promise<void> {
  const st = await replicaStatus(await detectFlavor(), replica);
  assert.equal(st.get('Master_Host'), master.address, `${replica.name} should replicate from ${master.name}`);
  assert.equal(st.get('Slave_IO_Running'), 'Yes', `${replica.name} IO thread`);
  assert.equal(st.get('Slave_SQL_Running'), 'Yes', `${replica.name} SQL thread`);
  assert.equal(st.get('Last_SQL_Errno'), '0');
  assert.equal(st.get('Using_Gtid'), 'Slave_Pos');
}

/** Each of `others` catches up with the new master and replicates from it; none of them, nor the new master, lacks an acknowledged write. */
async function assertFollowWithEverything(others: SandboxServer[], nm: SandboxServer, acked: number[]): Promise<void> {
  for (const o of others) {
    await until(`${o.name} caught up`, async () => (await checksum(o)) === (await checksum(nm)));
    await assertReplicatesFrom(o, nm);
  }
  for (const s of [nm, ...others]) {
    const have = await ids(s);
    assert.deepEqual(acked.filter((id) => !have.has(id)), [], `${s.name} lost acknowledged writes`);
  }
}

function newMasterOf(mgr: ManagerProcess, after: number): string {
  const l = mgr.lines.slice(after).find((x) => /^now watching the new master /.test(x.msg));
  return /new master (\S+);/.exec(l?.msg ?? '')?.[1] ?? '';
}

describe('manager: failover by GTID', () => {
  let sb: SandboxInfo;
  let byName: Map<string, SandboxServer>;
  let conf: string;
  let mgr: ManagerProcess;
  let password: string;
  let current = 'db1';

  before(async () => {
    sb = await withSandbox(undefined, { name: 'failover-gtid', baseAddress: '127.0.5.11', replicas: 3, gtid: true, sshPort: 2251, extraServerOptions: SEMI_SYNC });
    byName = new Map(sb.servers.map((s) => [s.name, s]));
    password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    await rootSql(
      sb.servers[0]!,
      "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB; CREATE USER 'app'@'127.%' IDENTIFIED BY 'app-pw'; GRANT SELECT, INSERT ON mhats_test.* TO 'app'@'127.%'",
    );
    conf = writeManagerConfig(sb);
    mgr = new ManagerProcess(conf, [], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/);
  });

  after(async () => {
    await mgr?.stop();
  });

  test('kill -9 of the master under writes: new master, the others follow by GTID, nothing acknowledged lost', async () => {
    const db1 = byName.get('db1')!;
    const w = new Writer();
    w.start({ host: db1.address, port: 3306, user: sb.adminUser, password });
    await w.waitFor(200);
    const mark = mgr.lines.length;
    await stopServer(db1, 'SIGKILL');
    await w.stopped();
    await mgr.waitFor(/^now watching the new master/, 60_000);
    const nm = byName.get(newMasterOf(mgr, mark))!;
    assert.ok(nm && nm.name !== 'db1', `new master: ${nm?.name}`);
    assert.equal((await rootSql(nm, 'SELECT @@read_only')).trim(), '0');
    await assertFollowWithEverything(sb.servers.filter((s) => s.name !== 'db1' && s.name !== nm.name), nm, w.acked);
  });

  test('mhats ack re-allows automatic failover', () => {
    const r = spawnSync(process.execPath, [...cliArgs(), 'ack', 'sandbox', '--conf', conf], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /acknowledged sandbox-.* \(db1 → db\d, success\)/);
  });

  test('a hung (SIGSTOPped) master is failed over (its mysqld killed by the fence), and fenced read_only when it comes back', async () => {
    const oldName = /master (\S+)$/.exec(mgr.lines.filter((l) => /^now watching the new master/.test(l.msg)).at(-1)!.msg.replace(/;.*/, ''))![1]!;
    const old = byName.get(oldName)!;
    const w = new Writer();
    w.start({ host: old.address, port: 3306, user: 'app', password: 'app-pw' });
    await w.waitFor(100);
    const mark = mgr.lines.length;
    await stopServer(old, 'SIGSTOP');
    let resumed = false;
    try {
      // Wait until the failover we caused (not the earlier one) is done.
      await until('the second failover', () => Promise.resolve(newMasterOf(mgr, mark) !== ''), 60_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${mgr.tail(60)}`);
      });
      const nm = byName.get(newMasterOf(mgr, mark))!;
      current = nm.name;
      assert.notEqual(nm.name, old.name);
      assert.equal((await rootSql(nm, 'SELECT @@read_only')).trim(), '0');
      // fence_hung_master=kill (the default): the hung mysqld was SIGKILLed over SSH
      // before the new master took writes, so it can never resume writable.
      const pidAlive = (): boolean => {
        try {
          return readFileSync(`/proc/${old.pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
        } catch {
          return false;
        }
      };
      assert.equal(pidAlive(), false, `${old.name}'s hung mysqld (pid ${old.pid}) must have been killed by the fence`);
      resumed = true;
      await w.stopped(20_000).catch(() => undefined);
      // It comes back (as systemd would restart it), writable: the manager must fence it.
      const back = await startServer(old);
      byName.set(back.name, back);
      sb.servers[sb.servers.findIndex((x) => x.name === back.name)] = back;
      await until(`${back.name} fenced read_only`, async () => (await rootSql(back, 'SELECT @@read_only').catch(() => '')).trim() === '1', 30_000);
      // An application write to the old master now fails.
      const c = await mysql.createConnection({ host: back.address, port: 3306, user: 'app', password: 'app-pw', connectTimeout: 2000 });
      try {
        await assert.rejects(c.query({ sql: "INSERT INTO mhats_test.t (val) VALUES ('split-brain')", timeout: 3000 }), /read-only|read_only/i);
      } finally {
        c.destroy();
      }
      // Exactly one writable server among all four.
      const writable = [];
      for (const s of sb.servers) {
        const ro = await rootSql(s, 'SELECT @@read_only').catch(() => 'down');
        if (ro.trim() === '0') writable.push(s.name);
      }
      assert.deepEqual(writable, [nm.name]);
      // The surviving replica follows the new master, with every acknowledged write.
      await assertFollowWithEverything(sb.servers.filter((s) => s.name !== 'db1' && s.name !== old.name && s.name !== nm.name), nm, w.acked);
    } finally {
      if (!resumed) await stopServer(old, 'SIGCONT');
    }
  });

  test('a manager restarted in the middle of a failover reports it and never starts a second one blindly', async () => {
    await mgr.stop();
    // What a manager killed during Phase 2 leaves behind: a begin record and no end.
    appendFileSync(join(sb.dir, 'state', 'sandbox', 'failovers.jsonl'), `${JSON.stringify({ type: 'begin', id: 'sandbox-interrupted', cluster: 'sandbox', at: Date.now(), deadMaster: current, trigger: 'auto', reason: 'test' })}\n`);
    mgr = new ManagerProcess(conf, [], sb.dir);
    await mgr.waitFor(/an unfinished failover was found in the journal \(sandbox-interrupted/);
    await mgr.waitFor(new RegExp(`^watching sandbox: master ${current}`));
    const master = byName.get(current)!;
    await stopServer(master, 'SIGKILL');
    const l = await mgr.waitFor(/^automatic failover refused: failover sandbox-interrupted .* never finished/, 30_000);
    assert.match(l.msg, /mhats ack sandbox/);
    for (const r of sb.servers.filter((s) => s.name !== current)) {
      const ro = await rootSql(r, 'SELECT @@read_only').catch(() => 'down');
      assert.notEqual(ro.trim(), '0', `${r.name} must not have been promoted`);
    }
  });
});
