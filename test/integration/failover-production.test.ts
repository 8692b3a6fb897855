/**
 * Failover with production settings, under continuous writes (one sandbox,
 * reset between cases): MIXED, slave_net_timeout=60, log_slave_updates=OFF on
 * the replicas, relay_log_purge=ON on db3, no binlog on db4, MASTER_DELAY=3600
 * on db5. Replicas stopped receiving at different points, then kill -9 of the
 * master with its host up. Every failover must end with exactly one writable
 * master, every acknowledged write on every survivor (checksums equal), the
 * delayed replica never waited for, and the same choice as `mhats failover
 * --dry-run` made just before. Without the dead master's host, the loss is
 * reported exactly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { runFailover, type FailoverDeps, type FailoverReport } from '../../src/engine/failover.js';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';
import { createLogger } from '../../src/adapters/logging.js';
import { inspectServer } from '../../src/adapters/mysql/inspect.js';
import { sshReachableFor } from '../../src/app/manager.js';
import { target } from '../../src/engine/ops/admin.js';
import { cutSavedBinlog } from '../../src/domain/binlog-cut.js';
import type { FailoverPlan } from '../../src/domain/failover/plan.js';
import type { ServerObservation } from '../../src/domain/types.js';
import { replicaStatus, detectFlavor, rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { ids, resetSandbox, writable } from '../helpers/reset.js';
import { Writer } from '../helpers/writer.js';
import { cliArgs } from '../helpers/cli.js';

const run = promisify(execFile);
const SCHEMA = 'CREATE DATABASE t; CREATE TABLE t.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(200)) ENGINE=InnoDB';

describe('failover with production settings, under continuous writes', () => {
  let sb: SandboxInfo;
  let password: string;
  const lines: string[] = [];

  before(async () => {
    sb = await withSandbox(undefined, { name: 'failover-prod', baseAddress: '127.0.30.11', sshPort: 2301, profile: 'production' });
    password = (await import('node:fs')).readFileSync(sb.adminPasswordFile, 'utf8').trim();
  });
  after(() => {
    if (process.exitCode) process.stderr.write(lines.slice(-80).join(''));
  });

  const s = (n: string): SandboxServer => sb.servers.find((x) => x.name === n)!;
  const writerTo = (srv: SandboxServer): Writer => {
    const w = new Writer();
    w.start({ host: srv.address, port: srv.port, user: sb.adminUser, password }, 't.t');
    return w;
  };
  async function setup(gtid: boolean, servers: Record<string, Record<string, unknown>> = {}): Promise<{ cluster: ClusterConfig; conf: string; journal: FileJournal }> {
    const state = await resetSandbox(sb, { gtid, schema: SCHEMA, ready: 'SHOW TABLES IN t' });
    const conf = writeManagerConfig(sb, { servers });
    const cluster = (await loadConfig({ conf })).clusters[0]!;
    return { cluster, conf, journal: new FileJournal(state, cluster.name) };
  }
  async function dryRun(conf: string): Promise<FailoverPlan> {
    const r = await run(process.execPath, [...cliArgs(), 'failover', '--dry-run', '--json', '--conf', conf], { env: { ...process.env, NO_COLOR: '1' } });
    return JSON.parse(r.stdout) as FailoverPlan;
  }
  async function observe(cluster: ClusterConfig, name: string): Promise<ServerObservation> {
    const p = await inspectServer(target(cluster.servers.find((x) => x.name === name)!), { connectTimeoutMs: 2000, queryTimeoutMs: 3000, now: Date.now });
    assert.ok(p.ok);
    return p.obs;
  }
  async function failover(cluster: ClusterConfig, journal: FileJournal, lastMasterObs: ServerObservation, sshReachable?: boolean, runHook?: FailoverDeps['runHook']): Promise<FailoverReport> {
    return runFailover(
      { cluster, deadMaster: 'db1', trigger: 'manual', reason: 'production test', lastMasterObs, ...(sshReachable !== undefined ? { sshReachable } : {}) },
      { journal, log: createLogger({ format: 'json', write: (l) => void lines.push(l) }), now: Date.now, sshReachable: sshReachableFor(cluster), cutBinlog: cutSavedBinlog, ...(runHook ? { runHook } : {}) },
    );
  }
  /** Every acknowledged id on every survivor; then, the delay lifted, equal checksums everywhere. */
  async function verifyAll(r: FailoverReport, acked: number[], nm: string): Promise<void> {
    assert.deepEqual(await writable(sb), [nm], 'exactly one writable master');
    for (const n of ['db2', 'db3', 'db4', 'db5']) {
      const have = await ids(s(n));
      const missing = acked.filter((id) => !have.has(id));
      assert.deepEqual(missing.slice(0, 10), [], `${n} lacks ${missing.length} acknowledged write(s)\n${lines.slice(-60).join('')}`);
    }
    // Writes go on at the new master; the replicas follow it.
    const w = writerTo(s(nm));
    await w.waitFor(50);
    await w.stop();
    const st5 = await replicaStatus(await detectFlavor(), s('db5'));
    assert.equal(st5.get('SQL_Delay'), '3600', 'db5 keeps its delay');
    await rootSql(s('db5'), 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE');
    const sum = await checksum(s(nm), 't.t');
    for (const n of ['db2', 'db3', 'db4', 'db5'].filter((x) => x !== nm)) await until(`${n} has the new master's rows`, async () => (await checksum(s(n), 't.t')) === sum, 30_000);
    assert.equal(r.outcome, 'success', r.reason);
  }

  test('binlog positions: lagging replicas (one without a binlog) get the relay-log diff; the delayed one catches up after; the dead master\'s tail is saved', async () => {
    const { cluster, conf, journal } = await setup(false);
    const w = writerTo(s('db1'));
    await w.waitFor(100);
    await rootSql(s('db3'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(250);
    await rootSql(s('db4'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(350);
    const dry = await dryRun(conf);
    assert.equal(dry.ok, true, JSON.stringify(dry.refusal));
    const last = await observe(cluster, 'db1');
    await stopServer(s('db1'), 'SIGKILL');
    await w.stopped();
    const r = await failover(cluster, journal, last);
    assert.equal(r.outcome, 'success', `${r.reason}\n${lines.slice(-60).join('')}`);
    assert.equal(r.newMaster, dry.newMaster?.name, 'the dry run chose the same new master');
    assert.equal(r.newMaster, 'db2');
    assert.deepEqual(r.deferred, ['db5'], 'the delayed replica is recovered after the new master is writable');
    assert.deepEqual([...r.recovered].sort(), ['db3', 'db4']);
    const plan = r.plan!;
    assert.deepEqual(plan.replicas.find((x) => x.name === 'db3')?.steps.map((x) => x.kind), ['relay_diff', 'repoint_position']);
    assert.deepEqual(plan.replicas.find((x) => x.name === 'db4')?.steps.map((x) => x.kind), ['relay_diff', 'repoint_position']);
    // The plan is one record before anything changed; the demotion before the promotion.
    const types = journal.read().map((x) => x.type);
    assert.ok(types.indexOf('plan') < types.indexOf('demoted') && types.indexOf('demoted') < types.indexOf('promoted'), types.join(','));
    assert.ok(journal.read().some((x) => x.type === 'step' && x.server === 'db4' && x.step === 'relay_diff' && x.ok));
    await verifyAll(r, w.acked, 'db2');
  });

  test('GTID: the candidate_master received less; it is brought level from the relay logs before it takes writes', async () => {
    // db2 is the only candidate_master (the sandbox's config marks every server).
    const { cluster, conf, journal } = await setup(true, { db2: { candidate_master: true }, db3: { candidate_master: false }, db4: { candidate_master: false }, db5: { candidate_master: false } });
    const w = writerTo(s('db1'));
    await w.waitFor(100);
    await rootSql(s('db2'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(200);
    await rootSql(s('db4'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(300);
    // The delayed replica received less than db3 too: recovered after the failover, it takes what it lacks from db3's
    // relay logs, which db3's own repoint in Phase 4 discards (relay_log_purge=ON): they are read before that.
    await rootSql(s('db5'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(400);
    const dry = await dryRun(conf);
    const last = await observe(cluster, 'db1');
    await stopServer(s('db1'), 'SIGKILL');
    await w.stopped();
    const r = await failover(cluster, journal, last);
    assert.equal(r.outcome, 'success', `${r.reason}\n${lines.slice(-60).join('')}`);
    assert.equal(r.newMaster, 'db2');
    assert.ok(journal.read().some((x) => x.type === 'step' && x.server === 'db5' && x.step === 'relay_diff' && x.ok), lines.slice(-40).join(''));
    assert.equal(r.newMaster, dry.newMaster?.name, 'the dry run chose the same new master');
    // log_slave_updates=OFF: no survivor's binlog holds the events, so not a GTID catch-up.
    assert.equal(r.plan?.newMaster?.steps[0]?.kind, 'relay_diff');
    await verifyAll(r, w.acked, 'db2');
  });

  test('the candidate_master cannot be brought level (no relay logs reachable, no binlog with the history): the next complete candidate is promoted, the candidate named as not recovered', async () => {
    // SSH goes nowhere (nothing listens on 2319): no relay-log diff, no salvage.
    const { cluster, journal } = await setup(true, { db2: { candidate_master: true, ssh_port: 2319 }, db3: { candidate_master: false, ssh_port: 2319 }, db4: { candidate_master: false, ssh_port: 2319 }, db5: { candidate_master: false, ssh_port: 2319 }, db1: { ssh_port: 2319 } });
    const w = writerTo(s('db1'));
    await w.waitFor(50);
    await rootSql(s('db2'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(75);
    // db4 (no binlog) stops receiving too: nothing can bring it level (no relay logs reachable, db3's binlog lacks the replicated history).
    await rootSql(s('db4'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(100);
    await w.stop();
    await until('db3 has every row', async () => (await ids(s('db3'))).size === w.acked.length);
    const db4Had = (await ids(s('db4'))).size;
    const last = await observe(cluster, 'db1');
    await stopServer(s('db1'), 'SIGKILL');
    const r = await failover(cluster, journal, last);
    assert.equal(r.newMaster, 'db3', `${r.reason}\n${lines.slice(-60).join('')}`);
    assert.equal(r.outcome, 'partial', r.reason);
    assert.match(r.notRecovered.find((n) => n.name === 'db2')?.reason ?? '', /catch-up as the new master candidate failed/);
    // A replica that cannot be brought level is named, never repointed as if it were (it would silently lack rows).
    assert.ok(r.notRecovered.some((n) => n.name === 'db4'), `db4 named as not recovered: ${JSON.stringify(r.notRecovered)}`);
    assert.ok(!r.recovered.includes('db4'));
    const st4 = await replicaStatus(await detectFlavor(), s('db4'));
    assert.ok(!(st4.get('Master_Host') === s('db3').address && st4.get('Slave_IO_Running') === 'Yes'), 'db4 does not replicate from db3 with a gap');
    assert.ok(db4Had < w.acked.length, 'db4 really lacked rows');
    assert.ok(journal.read().filter((x) => x.type === 'plan').length >= 2, 'the revised plan is journaled');
    assert.deepEqual(await writable(sb), ['db3']);
    const have = await ids(s('db3'));
    assert.deepEqual(w.acked.filter((id) => !have.has(id)), [], 'the new master lacks nothing a survivor had');
    assert.equal(await rootSql(s('db2'), 'SELECT @@global.read_only').then((x) => x.trim()), '1', 'the incomplete candidate is never promoted');
  });

  test('the dead master\'s host is gone: the loss is reported exactly, everything else recovered', async () => {
    const { cluster, journal } = await setup(true);
    const w = writerTo(s('db1'));
    await w.waitFor(50);
    await w.stop();
    await until('every replica received every acknowledged row', async () => (await Promise.all(['db2', 'db3', 'db4'].map(async (n) => (await ids(s(n))).size === w.acked.length))).every(Boolean));
    for (const n of ['db2', 'db3', 'db4', 'db5']) await rootSql(s(n), 'STOP SLAVE IO_THREAD');
    // Acknowledged by the master alone.
    const w2 = writerTo(s('db1'));
    await w2.waitFor(20);
    await w2.stop();
    const before = w.acked.length;
    w.acked.push(...w2.acked);
    const onlyOnMaster = w.acked.slice(before);
    const last = await observe(cluster, 'db1');
    await stopServer(s('db1'), 'SIGKILL');
    const r = await failover(cluster, journal, last, false);
    assert.equal(r.outcome, 'success', r.reason);
    assert.match(r.lost ?? '', new RegExp(`^${onlyOnMaster.length} transaction\\(s\\): 0-1-\\d+\\.\\.0-1-\\d+`), r.lost);
    // Lost with asynchronous replication: the report itself says semi-sync (AFTER_SYNC) would have prevented it, and how to enable it.
    assert.match(r.semiSyncAdvice ?? '', /lost transactions with asynchronous replication: .*AFTER_SYNC would have prevented it.*To enable it: on every server .*rpl_semi_sync_master_wait_point=AFTER_SYNC/, r.semiSyncAdvice);
    assert.deepEqual(await writable(sb), [r.newMaster!]);
    const have = await ids(s(r.newMaster!));
    assert.deepEqual(onlyOnMaster.filter((id) => have.has(id)), [], 'the lost ones are the ones only the dead master had');
    assert.deepEqual(w.acked.slice(0, before).filter((id) => !have.has(id)), []);
  });

  test('the old master restarts writable mid-failover and acknowledges a write; log_slave_updates=OFF: the new master AND every replica are brought level from it; the delayed one is left out, named', async () => {
    const { cluster, journal } = await setup(false);
    const w = writerTo(s('db1'));
    await w.waitFor(100);
    await rootSql(s('db3'), 'STOP SLAVE IO_THREAD');
    await w.waitFor(200);
    const last = await observe(cluster, 'db1');
    await stopServer(s('db1'), 'SIGKILL');
    await w.stopped();
    const c: ClusterConfig = { ...cluster, master_ip_failover_script: '/bin/true' };
    const r = await failover(c, journal, last, undefined, async (o) => {
      if (o.args.includes('--command=start')) {
        // systemd brings it back, writable, and an application writes to it (acknowledged).
        sb.servers[0] = await startServer(s('db1'));
        await rootSql(s('db1'), "SET GLOBAL read_only=OFF; INSERT INTO t.t VALUES (1000000, 'after the restart')");
      }
      return { exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1 };
    });
    assert.equal(r.newMaster, 'db2', `${r.reason}\n${lines.slice(-60).join('')}`);
    // db5 (MASTER_DELAY=3600) cannot get the write from db2 (log_slave_updates=OFF): left out, not repointed as if level.
    assert.equal(r.outcome, 'partial', r.reason);
    assert.deepEqual(r.notRecovered.map((n) => n.name), ['db5'], JSON.stringify(r.notRecovered));
    assert.match(r.notRecovered[0]!.reason, /cannot get the writes db1 took after its restart .* log_slave_updates=OFF/);
    assert.deepEqual([...r.recovered].sort(), ['db3', 'db4']);
    assert.deepEqual(await writable(sb), ['db2'], 'exactly one writable master');
    assert.equal((await rootSql(s('db1'), 'SELECT @@global.read_only')).trim(), '1', 'the old master is fenced');
    const fromOld = journal.read().filter((x) => x.type === 'step' && x.step === 'catch_up_from_old_master' && x.ok).map((x) => (x as { server: string }).server);
    assert.deepEqual(fromOld.sort(), ['db2', 'db3', 'db4']);
    for (const n of ['db2', 'db3', 'db4']) {
      const have = await ids(s(n));
      assert.ok(have.has(1000000), `${n} has the write db1 acknowledged after its restart`);
      assert.deepEqual(w.acked.filter((id) => !have.has(id)).slice(0, 10), [], `${n} lacks acknowledged writes`);
    }
    // They replicate from db2 from there on, nothing twice.
    const w2 = writerTo(s('db2'));
    await w2.waitFor(30);
    await w2.stop();
    const sum = await checksum(s('db2'), 't.t');
    for (const n of ['db3', 'db4']) await until(`${n} follows db2`, async () => (await checksum(s(n), 't.t')) === sum, 30_000);
  });
});
