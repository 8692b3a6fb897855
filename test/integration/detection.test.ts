/**
 * Failure detection under gray failures, on loopback, with production-like
 * replication timing (slave_net_timeout=60, MASTER_HEARTBEAT_PERIOD=30: a
 * replica's "IO Yes" proves nothing for up to a minute):
 *  - the second route (probes over the manager's SSH sessions) tells a live,
 *    a hung and a dead mysqld apart;
 *  - only the manager's route to the master cut, replicas idle: no failover
 *    (the second route reaches the greeting);
 *  - max_connections exhausted while the manager's route blips and the
 *    replicas reconnect (and get 1040): no failover;
 *  - a replica's IO thread stopped by hand, then kill -9 of the master: the
 *    refused connection is confirmed at once, and the decision does not rely
 *    on the stopped replica.
 * The network-namespace cases (master cut off from everything) are in
 * detection-netns.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import mysql from 'mysql2/promise';
import { replicaStatus, detectFlavor, rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { SshPool } from '../../src/adapters/ssh/session.js';
import { probeRoutes } from '../../src/adapters/ssh/route-probe.js';
import { createHealthChecker } from '../../src/adapters/mysql/health.js';
import { Secret } from '../../src/domain/secret.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess, type LogLine } from '../helpers/manager.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Writer } from '../helpers/writer.js';
import { SEMI_SYNC } from '../helpers/semisync.js';
import { loadConfig } from '../../src/config/load.js';
import { MasterMonitorLock } from '../../src/adapters/leader/advisory-lock.js';
import type { Logger } from '../../src/ports/logger.js';
import { cliArgs } from '../helpers/cli.js';

const BASE = '127.0.42';
const SSH_PORT = 2321;

/** Production replication timing: what MariaDB and MySQL ship with. */
const PRODUCTION_TIMING = ['slave_net_timeout=60'];

async function ioState(s: SandboxServer): Promise<{ io: string; errno: string }> {
  const st = await replicaStatus(await detectFlavor(), s);
  return { io: st.get('Slave_IO_Running') ?? '?', errno: st.get('Last_IO_Errno') ?? '?' };
}

describe('failure detection (loopback, slave_net_timeout=60)', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let mgr: ManagerProcess;
  let proxy: TcpProxy;
  let password: string;
  let pool: SshPool;
  let conf: string;

  const waitAfter = (from: number, re: RegExp, timeoutMs: number): Promise<LogLine> => mgr.waitFor(re, timeoutMs, from);

  before(async () => {
    sb = await withSandbox(undefined, { name: 'detection', baseAddress: `${BASE}.11`, replicas: 2, sshPort: SSH_PORT, extraServerOptions: [...PRODUCTION_TIMING, ...SEMI_SYNC] });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    // The heartbeat period a replica gets by default: slave_net_timeout / 2.
    for (const r of [db2, db3]) await rootSql(r, 'STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=30; START SLAVE;');
    await rootSql(db1, "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB; CREATE USER app@'127.%' IDENTIFIED BY 'app'; GRANT SELECT ON *.* TO app@'127.%';");
    // The manager reaches db1 through a proxy (its route); the replicas and the SSH hosts reach db1 directly.
    proxy = new TcpProxy(`${BASE}.100`, 3306, db1.address, 3306);
    await proxy.listen();
    pool = new SshPool();
    conf = writeManagerConfig(sb, {
      cluster: { ping_interval: 1, ping_timeout: 1, ping_failures: 3, connect_timeout: 1, query_timeout: 3, second_route_timeout: 1 },
      servers: { db1: { ip: `${BASE}.100` } },
    });
    mgr = new ManagerProcess(conf, ['--http', 'off'], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/);
    // The manager's remote shells on the replicas' hosts (the second route) are ready.
    await mgr.waitFor(/^SSH shell ready on db2/, 60_000);
    await mgr.waitFor(/^SSH shell ready on db3/, 60_000);
  });

  after(async () => {
    pool?.close();
    await mgr?.stop();
    await proxy?.close();
  });

  const sshFrom = (s: SandboxServer) => ({
    via: s.name,
    target: { label: s.name, host: s.address, port: SSH_PORT, user: 'root' },
    options: { identityFile: sb.ssh!.identityFile, knownHostsFile: sb.ssh!.knownHostsFile, fingerprints: {}, insecureSkipHostKeyCheck: false, connectTimeoutMs: 3000 },
  });

  test('the second route tells a live, a hung and a dead mysqld apart (the greeting, not a TCP accept)', async () => {
    for (const s of [db2, db3]) pool.warm(sshFrom(s).target, sshFrom(s).options);
    await until('remote shells ready', () => Promise.resolve(pool.hasShell(sshFrom(db2).target) && pool.hasShell(sshFrom(db3).target)), 60_000);
    const probe = () => probeRoutes(pool, [sshFrom(db2), sshFrom(db3)], { host: db1.address, port: 3306 }, { timeoutMs: 800 });
    const live = await probe();
    assert.deepEqual(live.map((r) => r.kind), ['greeting', 'greeting'], JSON.stringify(live));
    assert.ok(live.every((r) => r.says === 'alive'));
    process.kill(db1.pid, 'SIGSTOP');
    try {
      const hung = await probe();
      assert.deepEqual(hung.map((r) => r.kind), ['no_greeting', 'no_greeting'], JSON.stringify(hung));
      assert.ok(hung.every((r) => r.says === 'dead'));
    } finally {
      process.kill(db1.pid, 'SIGCONT');
    }
    const closed = await probeRoutes(pool, [sshFrom(db2)], { host: db1.address, port: 3399 }, { timeoutMs: 800 });
    assert.equal(closed[0]!.kind, 'refused', JSON.stringify(closed));
  });

  test('a statement that hangs on an accepted connection is a stall, not a connect failure', async () => {
    const c = createHealthChecker('INSERT', { name: 'db1', host: db1.address, port: 3306, user: sb.adminUser, password: new Secret(password) }, { timeoutMs: 700, now: () => performance.now() });
    const holder = await mysql.createConnection({ host: db1.address, port: 3306, user: sb.adminUser, password });
    try {
      assert.equal((await c.check()).ok, true);
      await holder.query('FLUSH TABLES WITH READ LOCK');
      const r = await c.check();
      assert.equal(r.ok, false);
      assert.equal(r.kind, 'timeout');
      assert.equal(r.stage, 'statement');
    } finally {
      await holder.query('UNLOCK TABLES').catch(() => undefined);
      holder.destroy();
      c.close();
    }
  });

  test("only the manager's route cut, replicas idle (nothing fresh): no failover, the second route reaches the server", async () => {
    const from = mgr.lines.length;
    proxy.cut();
    let line: LogLine;
    try {
      line = await mgr.waitFor(/only the manager's route is broken; not failing over/, 20_000);
      // The replicas' IO threads still say Yes, but with a 30 s heartbeat nothing proves it fresh: the routes decide.
      const routes = line.routes as Array<{ via: string; kind: string }>;
      assert.ok(routes.some((r) => r.kind === 'greeting'), JSON.stringify(line));
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(mgr.lines.slice(from).some((l) => /Phase 1: Configuration Check Phase started|IS DEAD/.test(l.msg)), false, mgr.tail());
      assert.equal((await rootSql(db1, 'SELECT @@read_only')).trim(), '0');
    } finally {
      proxy.restore();
    }
    await mgr.waitFor(/db1 answers health checks again/, 10_000);
  });

  test('max_connections exhausted while the route blips and the replicas reconnect (1040): no failover', async () => {
    const from = mgr.lines.length;
    // The replicas disconnect (their dump threads free two slots), the applications take every slot left.
    for (const r of [db2, db3]) await rootSql(r, 'STOP SLAVE IO_THREAD');
    await until('the dump threads ended', async () => (await rootSql(db1, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")).trim() === '0', 10_000);
    await rootSql(db1, 'SET GLOBAL max_connections = 10');
    const conns: mysql.Connection[] = [];
    // The applications take every slot, and any slot that frees up (our own root connections come and go).
    let squatting = true;
    let full = false;
    const squatter = (async () => {
      while (squatting) {
        try {
          conns.push(await mysql.createConnection({ host: db1.address, port: 3306, user: 'app', password: 'app', connectTimeout: 2000 }));
        } catch (err) {
          if ((err as { errno?: number }).errno !== 1040) throw err;
          full = true;
          await new Promise((r) => setTimeout(r, 30));
        }
      }
    })();
    try {
      await until('max_connections reached', () => Promise.resolve(full), 10_000);
      proxy.cut();
      try {
        // The cut frees the manager's slots (its connections went through the proxy): the applications take them first.
        await until('the applications hold every slot', async () => {
          full = false;
          await new Promise((r) => setTimeout(r, 150));
          const others = (await rootSql(db1, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER NOT IN ('app', 'root', 'system user', 'event_scheduler')")).trim();
          return full && others === '0';
        }, 10_000);
        // The replicas reconnect, and the master turns them away with 1040.
        for (const r of [db2, db3]) await rootSql(r, 'START SLAVE IO_THREAD');
        let seen = '';
        await until('the replicas get 1040', async () => {
          const [a, b] = [await ioState(db2), await ioState(db3)];
          seen = `db2 ${JSON.stringify(a)} db3 ${JSON.stringify(b)}; on db1: ${(await rootSql(db1, 'SELECT USER, COMMAND, COUNT(*) FROM information_schema.PROCESSLIST GROUP BY USER, COMMAND')).replace(/\n/g, '; ')}`;
          return a.errno === '1040' && b.errno === '1040';
        }, 10_000).catch((err: unknown) => Promise.reject(new Error(`${(err as Error).message}: ${seen}`)));
        const line = await mgr.waitFor(/1040.*not failing over/, 20_000);
        assert.ok(line.verdict === 'AliveError', JSON.stringify(line));
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(mgr.lines.slice(from).some((l) => /Phase 1: Configuration Check Phase started|IS DEAD/.test(l.msg)), false, mgr.tail());
      } finally {
        proxy.restore();
      }
    } finally {
      squatting = false;
      await squatter;
      for (const c of conns) c.destroy();
      await rootSql(db1, 'SET GLOBAL max_connections = 200');
    }
    await until('the replicas reconnect', async () => (await ioState(db2)).io === 'Yes' && (await ioState(db3)).io === 'Yes', 20_000);
    await mgr.waitFor(/db1 answers health checks again/, 10_000);
  });

  test("MHA's monitor lock: this manager's own session cut off while holding it is killed and the lock taken back; another holder stops blocking once the master refuses", async () => {
    // The lock is taken on db2 through a proxy the test controls (the manager's own lock is on db1, untouched).
    const lockProxy = new TcpProxy(`${BASE}.101`, 3306, db2.address, 3306);
    await lockProxy.listen();
    const loaded = (await loadConfig({ conf })).clusters[0]!;
    const cluster = { ...loaded, servers: loaded.servers.map((s) => (s.name === 'db2' ? { ...s, ip: `${BASE}.101` } : s)) };
    const logged: string[] = [];
    const log: Logger = { debug: () => undefined, info: (_o, m) => logged.push(`info ${m ?? ''}`), warn: (_o, m) => logged.push(`warn ${m ?? ''}`), error: (_o, m) => logged.push(`error ${m ?? ''}`), child: () => log };
    const holder = async (): Promise<number | null> => {
      const v = (await rootSql(db2, "SELECT IFNULL(IS_USED_LOCK('MHA_Master_High_Availability_Monitor'), 0)")).trim();
      return v === '0' ? null : Number(v);
    };
    const foreign = await mysql.createConnection({ host: db2.address, port: 3306, user: sb.adminUser, password, connectTimeout: 2000 });
    try {
      const lock = new MasterMonitorLock({ cluster, master: () => 'db2', log });
      await lock.check();
      const first = await holder();
      assert.ok(first !== null && lock.heldOn === 'db2', logged.join('\n'));
      // The route drops: the session's next statement times out and this side destroys it, but db2 keeps it, lock and all.
      lockProxy.hold();
      await assert.rejects(lock.check(), /did not answer/);
      lockProxy.restore();
      assert.equal(await holder(), first, 'db2 still sees the cut-off session holding the lock');
      // The route is back: the holder is this manager's own cut-off session (same connection id and client address), not a second manager.
      await lock.check();
      assert.equal(lock.blocked, false, logged.join('\n'));
      assert.ok(logged.some((l) => new RegExp(`^info MHA's monitor lock on db2 was still held by this manager's own earlier session \\(connection ${first} from [0-9.]+:\\d+\\), which the network had cut off: killed it and took the lock back`).test(l)), logged.join('\n'));
      assert.equal(logged.some((l) => /A SECOND MANAGER/.test(l)), false, logged.join('\n'));
      const now = await holder();
      assert.ok(now !== null && now !== first && lock.heldOn === 'db2', `held by ${String(now)}`);
      await lock.stop();
      lockProxy.release();
      // Another session holds it: a second manager, reported, and automatic failover disabled.
      const [[got]] = (await foreign.query("SELECT GET_LOCK('MHA_Master_High_Availability_Monitor', 0) AS v")) as unknown as [[{ v: number }]];
      assert.equal(got?.v, 1);
      const other = new MasterMonitorLock({ cluster, master: () => 'db2', log });
      await other.check();
      assert.equal(other.blocked, true);
      assert.match(other.blockedReason() ?? '', /MHA's monitor lock on db2 is held by connection \d+/);
      // A dropped route (a timeout) proves nothing about the lock: still blocked.
      lockProxy.cut();
      await other.check().catch(() => undefined);
      await other.check();
      assert.equal(other.blocked, true, logged.join('\n'));
      // db2 refuses connections (as a dead mysqld does): the lock died with it, and blocks nothing any more.
      await lockProxy.close();
      await other.check();
      assert.equal(other.blocked, false, logged.join('\n'));
      assert.ok(logged.some((l) => /^warn MHA's monitor lock on db2 cannot be checked \(.*connection refused.*\): the holder seen \d+ s ago \(connection \d+\) no longer disables automatic failover/.test(l)), logged.join('\n'));
      await other.stop();
    } finally {
      foreign.destroy();
      await lockProxy.close().catch(() => undefined);
    }
  });

  test("a replica's IO thread stopped by hand, then kill -9 of the master: confirmed at once, without that replica; a CLI failover meanwhile is refused", async () => {
    // The manager now connects to db1 directly (a proxy cannot pass a refused connection on): SIGHUP reload.
    // Its stop hook waits while a flag file exists (20 s at the most), so that a CLI failover runs into the manager's.
    const hook = join(sb.dir, 'slow-stop.sh');
    const held = join(sb.dir, 'hold-stop');
    writeFileSync(held, '');
    writeFileSync(hook, `#!/bin/sh\ncase "$*" in *--command=stop*) i=0; while [ -f ${held} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done;; esac\nexit 0\n`);
    chmodSync(hook, 0o755);
    const from = mgr.lines.length;
    writeManagerConfig(sb, { cluster: { ping_interval: 1, ping_timeout: 1, ping_failures: 3, connect_timeout: 1, query_timeout: 3, second_route_timeout: 1, master_ip_failover_script: hook } });
    // The CLI as if on another host: its own state directory (no shared journal), only MHA's failover lock in common.
    const cli = join(sb.dir, 'cli.yaml');
    const doc = parse(readFileSync(writeManagerConfig(sb, { file: 'cli.yaml' }), 'utf8')) as { state_dir: string };
    doc.state_dir = join(sb.dir, 'cli-state');
    writeFileSync(cli, stringify(doc), { mode: 0o600 });
    mgr.child.kill('SIGHUP');
    await waitAfter(from, /^watching sandbox: master db1/, 20_000);
    await rootSql(db3, 'STOP SLAVE IO_THREAD');
    const w = new Writer();
    w.start({ host: db1.address, port: 3306, user: sb.adminUser, password });
    await w.waitFor(100);
    await stopServer(db1, 'SIGKILL');
    await w.stopped();
    const dead = await waitAfter(from, /^MASTER db1 IS DEAD/, 30_000);
    // Certain evidence: refused, confirmed by the witnesses or the second route, refused again.
    assert.equal(dead.basis, 'refused', JSON.stringify(dead));
    assert.ok(!(dead.relied as string[]).includes('db3'), JSON.stringify(dead));
    const db3w = (dead.witnesses as Array<{ name: string; class: string }>).find((x) => x.name === 'db3');
    assert.equal(db3w?.class, 'stopped', JSON.stringify(dead));
    // While the manager's failover runs (its stop hook waits), a failover by hand is refused, changing nothing.
    await waitAfter(from, /^Phase 2: Dead Master Shutdown Phase started/, 20_000);
    try {
      const r = spawnSync(process.execPath, [...cliArgs(), 'failover', '--conf', cli, '--dead-master', 'db1', '--yes', '--force'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /REFUSED: MHA's failover lock \(MHA_Master_High_Availability_Failover\) is held on db[23] \(held by connection \d+.*another failover/s, r.stdout + r.stderr);
      assert.match(r.stderr, /--force: failing over db1 WITHOUT checking that it is dead/);
    } finally {
      rmSync(held, { force: true }); // the manager's failover goes on
    }
    await waitAfter(from, /^now watching the new master db2/, 60_000);
    const have = new Set((await rootSql(db2, 'SELECT id FROM mhats_test.t')).split('\n').filter(Boolean).map(Number));
    assert.deepEqual(w.acked.filter((id) => !have.has(id)), [], 'acknowledged writes lost');
  });
});
