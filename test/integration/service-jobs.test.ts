/**
 * Scheduled jobs of the manager (node-cron, calendar only) against a real sandbox
 * (db1 master, db2 replica with relay_log_purge=0 and small relay logs):
 *  - relay_log_purge every second removes applied relay logs only: the files before the
 *    SQL thread's current one disappear; unapplied ones stay; replication keeps working
 *    and nothing is lost; relay_log_purge is 0 again afterwards; MHA's advisory lock held
 *    elsewhere makes it skip;
 *  - check_repl reports to the log and the metrics;
 *  - journal_retention drops an old settled failover.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { detectFlavor, replicaStatus, rootSql, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { openSession, type DbSession } from '../../src/adapters/mysql/connection.js';
import { Secret } from '../../src/domain/secret.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';
import { httpGet, parsePrometheusText, sumOf } from '../helpers/service.js';

type Doc = { state_dir: string; http?: unknown; clusters: Record<string, Record<string, unknown>> };

function relayLogs(s: SandboxServer): number[] {
  return readdirSync(s.datadir)
    .map((f) => /^relay-bin\.(\d+)$/.exec(f)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

async function slaveStatus(s: SandboxServer): Promise<Map<string, string>> {
  return replicaStatus(await detectFlavor(), s);
}

async function sqlThreadFile(s: SandboxServer): Promise<number> {
  const f = (await slaveStatus(s)).get('Relay_Log_File') ?? '';
  const m = /^relay-bin\.(\d+)$/.exec(f);
  assert.ok(m, f);
  return Number(m[1]);
}

async function write(master: SandboxServer, rows: number): Promise<void> {
  // ~1 KB per row, 4 KB relay logs: many relay log files.
  const values = Array.from({ length: rows }, () => "(REPEAT('x', 1000))").join(',');
  for (let i = 0; i < 5; i++) await rootSql(master, `INSERT INTO jobs.t (v) VALUES ${values}`);
}

const checksum = async (s: SandboxServer): Promise<string> => (await rootSql(s, 'CHECKSUM TABLE jobs.t')).trim().split('\t')[1] ?? '';
const rowCount = async (s: SandboxServer): Promise<number> => Number((await rootSql(s, 'SELECT COUNT(*) FROM jobs.t')).trim());

describe('manager: scheduled jobs', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let mgr: ManagerProcess;
  let url: string;
  let journal: string;
  let locker: DbSession | undefined;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'service-jobs', baseAddress: '127.0.14.21', replicas: 1, ssh: false, extraServerOptions: ['max_relay_log_size=4096'] });
    [db1, db2] = sb.servers as [SandboxServer, SandboxServer];
    await rootSql(db1, 'CREATE DATABASE jobs; CREATE TABLE jobs.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)');
    await write(db1, 20);
    await until('db2 caught up', async () => (await checksum(db2)) === (await checksum(db1)));
    assert.equal((await rootSql(db2, 'SELECT @@global.relay_log_purge')).trim(), '0');
    assert.ok(relayLogs(db2).length >= 10, `relay logs accumulate with relay_log_purge=0: ${relayLogs(db2).join(',')}`);

    const doc = parse(readFileSync(sb.configFile, 'utf8')) as Doc;
    doc.state_dir = join(sb.dir, 'state');
    doc.http = { listen: '127.0.14.2:0' };
    Object.assign(doc.clusters[sb.clusterName]!, {
      ping_interval: 0.5,
      schedules: { relay_log_purge: '*/1 * * * * *', check_repl: '*/2 * * * * *', journal_retention: { cron: '*/1 * * * * *', keep_days: 1 } },
    });
    // An old, refused failover in the journal: journal retention drops it.
    journal = join(doc.state_dir, sb.clusterName, 'failovers.jsonl');
    mkdirSync(join(doc.state_dir, sb.clusterName), { recursive: true });
    const old = Date.now() - 10 * 86_400_000;
    writeFileSync(journal, [
      { type: 'begin', id: 'old-refused', cluster: sb.clusterName, at: old, deadMaster: 'db1', trigger: 'auto', reason: 'test' },
      { type: 'end', id: 'old-refused', at: old + 1000, outcome: 'refused', oldMaster: 'db1', durationMs: 1000, reason: 'test' },
    ].map((r) => `${JSON.stringify(r)}\n`).join(''));
    const conf = join(sb.dir, 'service.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    mgr = new ManagerProcess(conf, [], sb.dir);
    url = String((await mgr.waitFor(/^HTTP endpoint on /, 30_000)).url);
    await mgr.waitFor(/^watching sandbox: master db1/, 30_000);
  });

  after(async () => {
    locker?.destroy();
    await mgr?.stop();
  });

  test('relay_log_purge removes the applied relay logs, and only those; replication goes on, nothing lost', async () => {
    const before = relayLogs(db2);
    await mgr.waitFor(/^relay_log_purge on db2: relay logs the SQL thread had finished are purged/, 20_000);
    const current = await sqlThreadFile(db2);
    const left = relayLogs(db2);
    // The server keeps the relay log its last applied transaction group ended in (current - 1
    // right after the rotation); everything before it is gone.
    assert.ok(left.every((n) => n >= current - 1), `relay logs before the SQL thread's position (${current}) are gone: ${left.join(',')}`);
    assert.ok(before.some((n) => n < current - 1), `there were applied relay logs to purge: ${before.join(',')}`);
    assert.ok(left.length <= 3, `${before.length} -> ${left.length}`);
    assert.equal((await rootSql(db2, 'SELECT @@global.relay_log_purge')).trim(), '0', 'relay_log_purge is back to 0');
    // Replication works and nothing was lost.
    await write(db1, 5);
    await until('db2 caught up after the purge', async () => (await checksum(db2)) === (await checksum(db1)));
    assert.equal(await rowCount(db2), await rowCount(db1));
    const st = await slaveStatus(db2);
    assert.equal(st.get('Slave_IO_Running'), 'Yes');
    assert.equal(st.get('Slave_SQL_Running'), 'Yes');
    assert.equal(st.get('Last_SQL_Errno'), '0');
  });

  test('unapplied relay logs stay: on a delayed replica, nothing the SQL thread has not applied is removed', async () => {
    await rootSql(db2, 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 3600; START SLAVE');
    try {
      const current = await sqlThreadFile(db2);
      await write(db1, 10);
      await until('db2 received everything', async () => (await slaveStatus(db2)).get('Read_Master_Log_Pos') === /\t(\d+)/.exec(await rootSql(db1, 'SHOW MASTER STATUS'))?.[1]);
      const unapplied = relayLogs(db2).filter((n) => n >= current);
      assert.ok(unapplied.length >= 5, unapplied.join(','));
      const runs = (): number => mgr.lines.filter((l) => /^relay_log_purge on db2: relay log rotated, but the SQL thread is still in/.test(l.msg)).length;
      const n = runs();
      await until('two purge runs on the delayed replica', () => Promise.resolve(runs() >= n + 2), 20_000);
      const left = relayLogs(db2);
      for (const f of unapplied) assert.ok(left.includes(f), `unapplied relay-bin.${f} must stay (left: ${left.join(',')})`);
      assert.notEqual(await checksum(db2), await checksum(db1), 'still delayed');
      // A purge run (every second) sets relay_log_purge=1 for its FLUSH RELAY LOGS: read it between runs.
      await until('relay_log_purge back to 0 between purge runs', async () => (await rootSql(db2, 'SELECT @@global.relay_log_purge')).trim() === '0', 5000);
    } finally {
      await rootSql(db2, 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE');
    }
    await until('db2 applied everything', async () => (await checksum(db2)) === (await checksum(db1)));
    assert.equal(await rowCount(db2), await rowCount(db1));
    const st = await slaveStatus(db2);
    assert.equal(st.get('Slave_SQL_Running'), 'Yes');
    assert.equal(st.get('Last_SQL_Errno'), '0');
  });

  test("MHA's failover advisory lock held elsewhere: the purge skips that replica", async () => {
    const pw = new Secret(readFileSync(sb.adminPasswordFile, 'utf8').trim());
    locker = await openSession({ name: 'db2', host: db2.address, port: db2.port, user: sb.adminUser, password: pw }, { connectTimeoutMs: 2000, queryTimeoutMs: 5000 });
    // The purge job takes the same lock for each run (every second): wait for the running one to release it.
    const [row] = await locker.query<{ v: unknown }>("SELECT GET_LOCK('MHA_Master_High_Availability_Failover', 4) AS v");
    assert.equal(String(row?.v), '1');
    try {
      await mgr.waitFor(/^relay_log_purge on db2: skipped, MHA's failover advisory lock is held/, 20_000);
    } finally {
      locker.destroy();
      locker = undefined;
    }
    assert.equal((await rootSql(db2, 'SELECT @@global.relay_log_purge')).trim(), '0');
  });

  test('check_repl reports to the log and the metrics; journal_retention drops the old failover', async () => {
    // A run that starts now: while db2 was delayed (the test before) it was the only replica and could not
    // be promoted, so the runs of that time found an error (no_candidate); the metrics hold the last run's.
    const l = await mgr.waitFor(/^check-repl sandbox: healthy/, 20_000, mgr.lines.length);
    assert.equal(l.job, 'check_repl');
    await mgr.waitFor(/^journal_retention: dropped 1 failover\(s\) older than 1 days/, 20_000);
    assert.equal(readFileSync(journal, 'utf8'), '');
    const m = parsePrometheusText((await httpGet(`${url}/metrics`)).body);
    assert.ok(sumOf(m, 'mhats_job_runs_total', { cluster: 'sandbox', job: 'relay_log_purge', result: 'ok' }) >= 2);
    assert.ok(sumOf(m, 'mhats_job_runs_total', { job: 'check_repl', result: 'ok' }) >= 1);
    assert.ok(sumOf(m, 'mhats_relay_log_purges_total', { server: 'db2' }) >= 1);
    assert.equal(sumOf(m, 'mhats_check_repl_findings', { cluster: 'sandbox', severity: 'error' }), 0);
    assert.equal(sumOf(m, 'mhats_topology_healthy', { cluster: 'sandbox' }), 1);
  });
});
