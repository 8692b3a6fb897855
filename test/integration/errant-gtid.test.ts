/**
 * Errant GTIDs under a high write rate, on real mariadbd (GTID replication,
 * replicas caught up). The servers of a cluster are read in parallel, a few
 * milliseconds apart, so a replica read after the master can look ahead of
 * it. An inspection (the monitor's, and check-repl's) must never take those
 * transactions for errant ones; a transaction really written on a replica
 * still is one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { loadConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { analyzeCluster, dbTargets, inspectCluster, probeCluster } from '../../src/app/cluster.js';
import { inspectServer, readGtidState } from '../../src/adapters/mysql/inspect.js';
import { errantToConfirm, withMasterGtid } from '../../src/domain/errant-confirm.js';
import { ClusterMonitor } from '../../src/engine/monitor.js';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';
import type { ServerProbe } from '../../src/domain/types.js';
import { rootSql, type SandboxInfo } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until, writeManagerConfig } from '../helpers/cluster.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => silent };

describe('errant GTIDs at a high write rate (real mariadbd, GTID replication)', () => {
  let sb: SandboxInfo;
  let cluster: ClusterConfig;
  let stop = false;
  let written = 0;
  let writers: Promise<void>[] = [];

  before(async () => {
    sb = await withSandbox(undefined, { name: 'errant-gtid', baseAddress: '127.0.82.11', replicas: 2, sshPort: 2400, gtid: true, ssh: false });
    const conf = writeManagerConfig(sb);
    cluster = (await loadConfig({ conf })).clusters[0]!;
    const m = dbTargets(cluster)[0]!;
    await rootSql(sb.servers[0]!, 'CREATE DATABASE IF NOT EXISTS errt; CREATE TABLE IF NOT EXISTS errt.t (id bigint AUTO_INCREMENT PRIMARY KEY, v int) ENGINE=InnoDB');
    // Many small autocommit transactions from 16 connections (an application at full speed).
    writers = Array.from({ length: 16 }, async () => {
      const c = await mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password.reveal(), connectTimeout: 3000 });
      try {
        while (!stop) {
          await c.query({ sql: 'INSERT INTO errt.t (v) VALUES (1)', timeout: 5000 });
          written++;
        }
      } finally {
        c.destroy();
      }
    });
    await until('writes flowing', () => Promise.resolve(written > 500));
  });

  after(async () => {
    stop = true;
    await Promise.allSettled(writers);
  });

  test('replicas read after the master look ahead of it; the master read again after them does not', async () => {
    // Skewed on purpose: the master first; the replicas once they have applied more than that snapshot holds.
    const [m, ...rest] = dbTargets(cluster);
    const opts = { connectTimeoutMs: 3000, queryTimeoutMs: 3000, now: Date.now };
    const pm = await inspectServer(m!, opts);
    assert.ok(pm.ok);
    const seq = Number(/-(\d+)$/.exec(pm.obs.gtid.binlogPos ?? '')?.[1]);
    await until('the replicas past the master snapshot', async () => {
      const ps = await Promise.all(rest.map((t) => inspectServer(t, opts)));
      return ps.every((p) => p.ok && Number(/-(\d+)$/.exec(p.obs.gtid.slavePos ?? '')?.[1]) > seq);
    });
    const pr = await Promise.all(rest.map((t) => inspectServer(t, opts)));
    const raw = analyzeCluster(cluster, [pm, ...pr]).analysis;
    assert.deepEqual(
      raw.findings.filter((f) => f.code === 'errant_gtid').map((f) => f.server),
      ['db2', 'db3'],
      'without the confirmation the skewed read shows errant GTIDs on both replicas',
    );
    // What the monitor and check-repl do: the master again, after the replicas.
    assert.equal(errantToConfirm(raw), 'db1');
    const later = await readGtidState(m!, pm.obs.version, opts);
    assert.ok(later);
    const confirmed = analyzeCluster(cluster, withMasterGtid([pm, ...pr], 'db1', later)).analysis;
    assert.deepEqual(confirmed.findings.filter((f) => f.code === 'errant_gtid'), []);
    assert.equal(confirmed.healthy, true, JSON.stringify(confirmed.findings));
  });

  test('check-repl and the monitor never report errant GTIDs for transactions the master wrote meanwhile', async () => {
    const t0 = Date.now();
    const w0 = written;
    let rawErrant = 0;
    let inspections = 0;
    const monitor = new ClusterMonitor(cluster, { journal: new FileJournal(`${sb.dir}/state`, cluster.name), log: silent, now: Date.now, mono: () => performance.now(), sshReachable: () => Promise.resolve(true) });
    while (Date.now() - t0 < 8000) {
      const probes: ServerProbe[] = await probeCluster(cluster);
      if (analyzeCluster(cluster, probes).analysis.findings.some((f) => f.code === 'errant_gtid')) rawErrant++;
      const r = await inspectCluster(cluster);
      assert.deepEqual(r.analysis.findings.filter((f) => f.code === 'errant_gtid'), [], 'check-repl: no errant GTID');
      const a = await monitor.inspect();
      assert.deepEqual(a.findings.filter((f) => f.code === 'errant_gtid'), [], 'monitor: no errant GTID');
      assert.equal(a.healthy, true, JSON.stringify(a.findings));
      inspections++;
    }
    const rate = Math.round(((written - w0) * 1000) / (Date.now() - t0));
    monitor.closeConnections();
    console.log(`# ${inspections} inspections at ${rate} writes/s; unconfirmed parallel reads showed errant GTIDs ${rawErrant} times`);
    assert.ok(rate > 200, `write rate ${rate}/s is too low for this test to mean anything`);
  });

  test('a transaction written directly on a replica is still reported as errant', async () => {
    const db3 = sb.servers[2]!;
    await rootSql(db3, 'CREATE DATABASE IF NOT EXISTS errt_local; CREATE TABLE IF NOT EXISTS errt_local.x (id int PRIMARY KEY); INSERT INTO errt_local.x VALUES (1)');
    const r = await inspectCluster(cluster);
    const errant = r.analysis.findings.filter((f) => f.code === 'errant_gtid' && f.severity === 'error');
    assert.deepEqual(errant.map((f) => f.server), ['db3'], JSON.stringify(r.analysis.findings));
    assert.match(errant[0]!.message, new RegExp(`0-${db3.serverId}-`));
  });
});
