/**
 * The safety holes of the failover, each on real mariadbd (one sandbox: db1
 * master, db2 and db3 replicas, db4 a replica without a binlog; reset
 * between cases):
 *  - a mysqld restarted writable during the failover is fenced before the new
 *    master takes writes, and one that took writes is caught up from first (the
 *    write it acknowledged is kept; one writable master);
 *  - report hooks never get the new master's password;
 *  - a failure after promotion is partial, and the old master stays fenced
 *    when it returns while the monitor watches the new master;
 *  - a relay log ending inside a transaction, and a replica without a binlog,
 *    are brought level without lock waits or transactions applied twice;
 *  - Phase 2: every STOP SLAVE IO_THREAD is waited for; a survivor that stops
 *    answering is left out (the failover goes on), one that answers with its
 *    IO thread running aborts it after the fence and the stop hooks;
 *  - a stale journal on a rebuilt cluster: adopted, not fenced, servers named.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { runFailover, type FailoverReport } from '../../src/engine/failover.js';
import { ClusterMonitor } from '../../src/engine/monitor.js';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';
import type { Journal } from '../../src/adapters/journal/journal.js';
import { createLogger } from '../../src/adapters/logging.js';
import { sshReachableFor } from '../../src/app/manager.js';
import { cutSavedBinlog } from '../../src/domain/binlog-cut.js';
import { failedServers, guard, summarize } from '../../src/domain/guard.js';
import type { ScriptResult } from '../../src/adapters/hooks/run-script.js';
import { replicaStatus, detectFlavor, rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { resetSandbox, writable } from '../helpers/reset.js';

const SCHEMA = 'CREATE DATABASE t; CREATE TABLE t.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB; CREATE TABLE t.big (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB';
const ok: ScriptResult = { exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1 };

/**
 * A TCP proxy that forwards, refuses (nothing listens), or forwards after a
 * delay. close() stops listening AND destroys every connection through it: a
 * net.Server's close() alone waits for each open connection to end, and after
 * a failover the replicas' replication connections to a new master reached
 * through it never end (this made the file hang).
 */
class Proxy {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  delayMs = 0;
  constructor(readonly host: string, readonly port: number, readonly to: { host: string; port: number }) {}
  async listen(): Promise<void> {
    this.#server = net.createServer((c) => {
      this.#sockets.add(c);
      c.on('close', () => this.#sockets.delete(c));
      c.pause();
      setTimeout(() => {
        if (c.destroyed) return;
        const u = net.connect(this.to.port, this.to.host);
        this.#sockets.add(u);
        u.on('close', () => this.#sockets.delete(u));
        u.on('error', () => c.destroy());
        c.on('error', () => u.destroy());
        c.on('close', () => u.destroy());
        u.on('close', () => c.destroy());
        c.pipe(u);
        u.pipe(c);
        c.resume();
      }, this.delayMs);
    });
    await new Promise<void>((res, rej) => {
      this.#server!.once('error', rej);
      this.#server!.listen(this.port, this.host, () => res());
    });
  }
  /** Connections open through it right now (client side and server side). */
  get open(): number {
    return this.#sockets.size;
  }
  /** Stops listening (new connections are refused); with `cut`, also destroys the open ones. */
  async close(cut = true): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    const closed = new Promise<void>((res) => s.close(() => res()));
    if (!cut) return;
    for (const x of this.#sockets) x.destroy();
    await closed;
  }
}

describe('failover safety on real servers', () => {
  let sb: SandboxInfo;
  const lines: string[] = [];
  const log = createLogger({ format: 'json', write: (l) => void lines.push(l) });
  const tail = (): string => lines.slice(-60).join('');

  before(async () => {
    sb = await withSandbox(undefined, { name: 'failover-safety', baseAddress: '127.0.31.11', sshPort: 2302, replicas: 3, servers: { db4: { logBin: false } } });
  });

  const s = (n: string): SandboxServer => sb.servers.find((x) => x.name === n)!;
  const ro = async (n: string): Promise<string> => (await rootSql(s(n), 'SELECT @@global.read_only')).trim();
  async function setup(gtid = false, cluster: Record<string, unknown> = {}): Promise<{ cluster: ClusterConfig; journal: FileJournal }> {
    const state = await resetSandbox(sb, { gtid, schema: SCHEMA, ready: 'SHOW TABLES IN t' });
    const conf = writeManagerConfig(sb, { cluster });
    const c = (await loadConfig({ conf })).clusters[0]!;
    return { cluster: c, journal: new FileJournal(state, c.name) };
  }
  const insert = async (from: number, to: number): Promise<void> => {
    for (let i = from; i <= to; i++) await rootSql(s('db1'), `INSERT INTO t.t VALUES (${i}, 'r${i}')`);
  };
  function failover(cluster: ClusterConfig, journal: Journal, extra: { runHook?: (o: { args: string[]; env?: Record<string, string> | undefined }) => Promise<ScriptResult>; stillLeader?: () => Promise<boolean> } = {}): Promise<FailoverReport> {
    return runFailover({ cluster, deadMaster: 'db1', trigger: 'manual', reason: 'safety test' }, { journal, log, now: Date.now, sshReachable: sshReachableFor(cluster), cutBinlog: cutSavedBinlog, ...extra });
  }

  test('a mysqld restarted writable during the failover is fenced before the new master takes writes; report hooks get no password', async () => {
    const { cluster, journal } = await setup(false, { master_ip_failover_script: '/bin/true', report_script: '/bin/true' });
    await insert(1, 20);
    await until('db2 has 20 rows', async () => (await rootSql(s('db2'), 'SELECT COUNT(*) FROM t.t')).trim() === '20');
    await stopServer(s('db1'), 'SIGKILL');
    const envs: Array<{ args: string[]; env: Record<string, string> }> = [];
    const r = await failover(cluster, journal, {
      runHook: async (o) => {
        envs.push({ args: o.args, env: o.env ?? {} });
        // systemd brings the crashed mysqld back, writable, just before the promotion.
        if (o.args.includes('--command=start')) sb.servers[0] = await startServer(s('db1'));
        return ok;
      },
    });
    assert.equal(r.outcome, 'success', `${r.reason}\n${tail()}`);
    assert.equal(await ro('db1'), '1', 'the restarted old master is fenced');
    assert.deepEqual(await writable(sb), ['db2'], 'exactly one writable master');
    const recs = journal.read();
    const refence = recs.findIndex((x) => x.type === 'step' && x.step === 'refence');
    assert.ok(refence >= 0 && refence < recs.findIndex((x) => x.type === 'promoted'), 'fenced again before the promotion');
    const report = envs.find((e) => e.args.some((a) => a.startsWith('--subject=')));
    assert.ok(report, 'report_script ran');
    assert.equal(report.env.MHATS_NEW_MASTER_PASSWORD, undefined, 'a report hook never gets the password');
    assert.equal(envs.find((e) => e.args.includes('--command=start'))?.env.MHATS_NEW_MASTER_PASSWORD, readFileSync(sb.adminPasswordFile, 'utf8').trim());
  });

  test('a restarted old master that acknowledged a write: fenced, the new master caught up from it, then promoted; the write is kept, one writable master', async () => {
    const { cluster, journal } = await setup(false);
    await insert(1, 10);
    await until('db2 has 10 rows', async () => (await rootSql(s('db2'), 'SELECT COUNT(*) FROM t.t')).trim() === '10');
    await stopServer(s('db1'), 'SIGKILL');
    const { cluster: c2 } = { cluster: { ...cluster, master_ip_failover_script: '/bin/true' } as ClusterConfig };
    const r = await failover(c2, journal, {
      runHook: async (o) => {
        if (o.args.includes('--command=start')) {
          // systemd brings it back writable, and an application writes to it (acknowledged).
          sb.servers[0] = await startServer(s('db1'));
          await rootSql(s('db1'), "INSERT INTO t.t VALUES (999, 'after the restart')");
        }
        return ok;
      },
    });
    assert.equal(r.outcome, 'success', `${r.reason}\n${tail()}`);
    assert.equal(r.newMaster, 'db2');
    assert.equal((await rootSql(s('db2'), 'SELECT v FROM t.t WHERE id = 999')).trim(), 'after the restart', 'the write db1 acknowledged after its restart is on the new master');
    assert.deepEqual(await writable(sb), ['db2'], 'exactly one writable master');
    assert.equal(await ro('db1'), '1', 'the old master stays fenced');
    const recs = journal.read();
    const caught = recs.findIndex((x) => x.type === 'step' && x.step === 'catch_up_from_old_master' && x.ok);
    assert.ok(caught >= 0 && caught < recs.findIndex((x) => x.type === 'promoted'), 'the catch-up is journaled, before the promotion');
    await until('db3 has the write too', async () => (await rootSql(s('db3'), 'SELECT COUNT(*) FROM t.t WHERE id = 999')).trim() === '1');
    assert.equal(await checksum(s('db3'), 't.t'), await checksum(s('db2'), 't.t'), 'the replicas follow the new master');
  });

  test('a failure after promotion is partial; the old master stays fenced when it returns, the monitor watches the new master', async () => {
    const { cluster, journal } = await setup(false);
    await insert(1, 10);
    await until('db3 has 10 rows', async () => (await rootSql(s('db3'), 'SELECT COUNT(*) FROM t.t')).trim() === '10');
    // The manager loses its lease right after the promotion.
    const m = new ClusterMonitor(cluster, { journal, log, now: Date.now, mono: () => performance.now(), sshReachable: sshReachableFor(cluster), stillLeader: () => Promise.resolve(!journal.read().some((x) => x.type === 'promoted')) });
    // Its inspections keep sessions open (SessionKeeper): closed at the end, or the test file never exits.
    try {
      await m.tick();
      assert.equal(m.master, 'db1', tail());
      await stopServer(s('db1'), 'SIGKILL');
      const r = await m.failover({ trigger: 'manual', reason: 'safety test' });
      assert.equal(r.outcome, 'partial', r.reason);
      assert.equal(r.exitCode, 10);
      assert.match(r.reason, /lost leadership before Phase 4/);
      assert.deepEqual(failedServers(summarize(journal.read())), ['db1']);
      assert.equal(m.master, 'db2', 'the monitor watches the new master');
      // systemd restarts the old one, writable.
      sb.servers[0] = await startServer(s('db1'));
      assert.equal(await ro('db1'), '0');
      await m.tick();
      assert.equal(await ro('db1'), '1', `the old master is fenced when it returns\n${tail()}`);
      assert.deepEqual(await writable(sb), ['db2']);
    } finally {
      m.closeConnections();
    }
  });

  test('a relay log ending inside a transaction, and a replica without a binlog: brought level, nothing skipped, nothing twice', async () => {
    const { cluster, journal } = await setup(false);
    await insert(1, 10);
    await until('db4 has 10 rows', async () => (await rootSql(s('db4'), 'SELECT COUNT(*) FROM t.t')).trim() === '10');
    await rootSql(s('db4'), 'STOP SLAVE IO_THREAD');
    await insert(11, 20);
    await until('db3 has 20 rows', async () => (await rootSql(s('db3'), 'SELECT COUNT(*) FROM t.t')).trim() === '20');
    // db3 cannot receive the second event of the next transaction: its relay log ends inside it, its SQL thread holds the first row.
    await rootSql(s('db3'), 'STOP SLAVE IO_THREAD; SET GLOBAL slave_max_allowed_packet=1048576; START SLAVE IO_THREAD');
    await rootSql(s('db1'), "BEGIN; INSERT INTO t.big VALUES (1, 'small'); INSERT INTO t.big VALUES (2, REPEAT('x', 2*1024*1024)); COMMIT");
    const flavor = await detectFlavor();
    await until('db3 stopped inside the transaction', async () => (await replicaStatus(flavor, s('db3'))).get('Slave_IO_Running') === 'No');
    await insert(21, 30);
    await until('db2 has 30 rows', async () => (await rootSql(s('db2'), 'SELECT COUNT(*) FROM t.t')).trim() === '30');
    const sumT = await checksum(s('db1'), 't.t');
    const sumBig = await checksum(s('db1'), 't.big');
    await stopServer(s('db1'), 'SIGKILL');
    const r = await failover(cluster, journal);
    assert.equal(r.outcome, 'success', `${r.reason}\n${tail()}`);
    assert.equal(r.newMaster, 'db2');
    for (const n of ['db2', 'db3', 'db4']) {
      assert.equal(await checksum(s(n), 't.t'), sumT, `${n}: t.t`);
      assert.equal(await checksum(s(n), 't.big'), sumBig, `${n}: t.big`);
    }
    // Replicating from db2 without errors: nothing was applied twice.
    await rootSql(s('db2'), "INSERT INTO t.t VALUES (100, 'after')");
    for (const n of ['db3', 'db4']) {
      await until(`${n} replicates from db2`, async () => (await rootSql(s(n), 'SELECT COUNT(*) FROM t.t WHERE id = 100')).trim() === '1', 15_000);
      const st = await replicaStatus(flavor, s(n));
      assert.equal(st.get('Slave_SQL_Running'), 'Yes', `${n}: ${st.get('Last_SQL_Error')}`);
    }
  });

  test("Phase 2: a survivor that stops answering while its IO thread is stopped is left out; every stop is waited for; the failover goes on with the others", { timeout: 240_000 }, async () => {
    const { cluster } = await setup(false);
    await insert(1, 5);
    await until('db4 has 5 rows', async () => (await rootSql(s('db4'), 'SELECT COUNT(*) FROM t.t')).trim() === '5');
    // db2 and db3 reached through proxies: after Phase 1, db2 stops answering (refused, its connections cut)
    // and db3 answers late (within the connect timeout). db1 is alive and writable: a manual failover.
    const p2 = new Proxy('127.0.31.50', 3306, { host: s('db2').address, port: 3306 });
    const p3 = new Proxy('127.0.31.51', 3306, { host: s('db3').address, port: 3306 });
    await p2.listen();
    await p3.listen();
    try {
      const via = (name: string, ip: string): ClusterConfig['servers'][number] => ({ ...cluster.servers.find((x) => x.name === name)!, ip, hostname: ip });
      const c: ClusterConfig = { ...cluster, servers: cluster.servers.map((x) => (x.name === 'db2' ? via('db2', '127.0.31.50') : x.name === 'db3' ? via('db3', '127.0.31.51') : x)) };
      const inner = new FileJournal(`${sb.dir}/state`, c.name);
      const journal: Journal = {
        path: inner.path,
        read: () => inner.read(),
        append: (rec) => {
          inner.append(rec);
          if (rec.type === 'plan' && p3.delayMs === 0) {
            void p2.close();
            p3.delayMs = 500;
          }
        },
      };
      const t0 = Date.now();
      const r = await failover(c, journal);
      const took = Date.now() - t0;
      assert.ok(took < 120_000, `the failover ended by its deadlines (${took} ms)`);
      assert.equal(r.outcome, 'partial', `${r.reason}\n${tail()}`);
      assert.equal(r.newMaster, 'db3', 'the next complete candidate');
      const db2 = r.notRecovered.find((n) => n.name === 'db2');
      assert.match(db2?.reason ?? '', /stopped answering during the failover/, 'db2 is named as not recovered, with the reason');
      assert.deepEqual(r.recovered, ['db4']);
      // Every STOP SLAVE IO_THREAD was waited for: db3's (late) one landed before its promotion, none after.
      assert.deepEqual(await writable(sb), ['db3'], 'exactly one writable master: db3; db1 fenced');
      assert.equal(await ro('db1'), '1');
      assert.equal((await rootSql(s('db3'), 'SHOW SLAVE STATUS')).trim(), '', 'db3 is the master: no replication left on it');
      await rootSql(s('db3'), "INSERT INTO t.t VALUES (100, 'after')");
      await until('db4 replicates from db3', async () => (await rootSql(s('db4'), 'SELECT COUNT(*) FROM t.t WHERE id = 100')).trim() === '1', 15_000);
      assert.equal(await checksum(s('db4'), 't.t'), await checksum(s('db3'), 't.t'));
      const st = await replicaStatus(await detectFlavor(), s('db4'));
      assert.equal(st.get('Slave_IO_Running'), 'Yes', 'db4 is not left with its IO thread stopped');
      // db4 replicates from db3 through the proxy: this connection never ends by itself (why close() must cut it).
      assert.ok(p3.open > 0, 'the replication connection db4 → db3 goes through the proxy');
    } finally {
      await p2.close();
      await p3.close();
    }
  });

  test('Phase 2: a survivor that answers but whose IO thread cannot be stopped aborts the failover after the fence and the stop hooks (MHA); the others\' IO threads are restarted', { timeout: 240_000 }, async () => {
    const { cluster } = await setup(false, { master_ip_failover_script: '/bin/true' });
    await insert(1, 5);
    await until('db3 has 5 rows', async () => (await rootSql(s('db3'), 'SELECT COUNT(*) FROM t.t')).trim() === '5');
    // The manager's user on db3 may watch replication but not stop it (a mis-granted replica).
    const password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    await rootSql(s('db3'), `SET SESSION sql_log_bin=0; DROP USER IF EXISTS 'weak'@'%'; CREATE USER 'weak'@'%' IDENTIFIED BY '${password}'; GRANT SELECT, PROCESS, RELOAD, SLAVE MONITOR, BINLOG MONITOR, REPLICATION CLIENT ON *.* TO 'weak'@'%'`);
    try {
      const c: ClusterConfig = { ...cluster, servers: cluster.servers.map((x) => (x.name === 'db3' ? { ...x, user: 'weak' } : x)) };
      const { journal } = { journal: new FileJournal(`${sb.dir}/state`, c.name) };
      await stopServer(s('db1'), 'SIGKILL');
      const calls: string[] = [];
      const r = await failover(c, journal, {
        runHook: (o) => {
          calls.push(o.args.join(' '));
          return Promise.resolve(ok);
        },
      });
      assert.equal(r.outcome, 'failed', `${r.reason}\n${tail()}`);
      assert.match(r.reason, /could not stop the IO threads: db3: .*Access denied.*\(IO thread (Yes|Connecting)\)/);
      assert.ok(calls.some((x) => /--command=stop/.test(x)), `the stop hook ran before the abort: ${calls.join('\n')}`);
      assert.ok(!calls.some((x) => /--command=start/.test(x)), 'no start hook');
      assert.ok(!journal.read().some((x) => x.type === 'promoted'), 'nothing promoted');
      assert.deepEqual(await writable(sb), [], 'no writable master: db1 is down, nobody promoted');
      const flavor = await detectFlavor();
      for (const n of ['db2', 'db3', 'db4']) {
        const st = await replicaStatus(flavor, s(n));
        assert.notEqual(st.get('Slave_IO_Running'), 'No', `${n} must not be left with its IO thread stopped`);
      }
    } finally {
      await rootSql(s('db3'), "SET SESSION sql_log_bin=0; DROP USER IF EXISTS 'weak'@'%'");
    }
  });

  test('a stale journal on a cluster rebuilt around its failed server: adopted, not fenced; servers named correctly', async () => {
    const { cluster, journal } = await setup(false);
    // An earlier failover db1 → db2, two days ago; the operator has since rebuilt the cluster around db1.
    const at = Date.now() - 2 * 86_400_000;
    journal.append({ type: 'begin', id: 'old-1', cluster: cluster.name, at, deadMaster: 'db1', trigger: 'auto', reason: 'dead' });
    journal.append({ type: 'end', id: 'old-1', at: at + 5000, outcome: 'success', newMaster: 'db2', oldMaster: 'db1', durationMs: 5000, reason: 'ok' });
    assert.deepEqual(failedServers(summarize(journal.read())), ['db1']);
    const m = new ClusterMonitor(cluster, { journal, log, now: Date.now, mono: () => performance.now(), sshReachable: sshReachableFor(cluster) });
    try {
      await m.tick();
      await m.tick();
      assert.equal(await ro('db1'), '0', `db1 must not be fenced\n${tail()}`);
      assert.equal(m.master, 'db1', tail());
      assert.equal(m.state, 'watching');
      assert.deepEqual(failedServers(summarize(journal.read())), []);
      assert.ok(journal.read().some((x) => x.type === 'adopted' && x.server === 'db1'));
      assert.ok(lines.some((l) => /adopting the cluster as it is/.test(l)), 'a clear log line');
      assert.ok(!lines.some((l) => /which is not in the config/.test(l)), 'db1 is named as db1');
      assert.equal(guard(summarize(journal.read()), Date.now(), cluster.last_failover_minute, 'auto', cluster.name).allowed, true, 'the guard window is long past');
    } finally {
      m.closeConnections();
    }
  });
});
