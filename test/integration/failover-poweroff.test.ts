/**
 * A shutdown_script that always powers off (MHA's contract: exit 0 = the host is off) and an old
 * master that was restarted before the failover fenced it: it answers SQL, and it acknowledged a
 * write no replica received. The SQL fence verifies it (read_only ON, sessions killed), so it can no
 * longer commit: its power-off is deferred (src/domain/failover/shutdown.ts) until the new master
 * holds what it acknowledged (the salvage reads its binlog while its host is up; the re-check before
 * promotion finds nothing more), and runs right before the new master is made writable. Before this,
 * the script powered it off in Phase 2 and the write was lost.
 * And the usual case stays as it was: a master that does not answer SQL is powered off in Phase 2.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { runFailover, type FailoverReport } from '../../src/engine/failover.js';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';
import { createLogger } from '../../src/adapters/logging.js';
import { sshReachableFor } from '../../src/app/manager.js';
import { cutSavedBinlog } from '../../src/domain/binlog-cut.js';
import type { ScriptResult, ScriptRun } from '../../src/adapters/hooks/run-script.js';
import { rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until, writeManagerConfig } from '../helpers/cluster.js';
import { resetSandbox, writable } from '../helpers/reset.js';

const SCHEMA = 'CREATE DATABASE t; CREATE TABLE t.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB';

describe('shutdown_script (power-off) and a restarted old master', () => {
  let sb: SandboxInfo;
  const lines: string[] = [];
  const log = createLogger({ format: 'json', write: (l) => void lines.push(l) });
  const tail = (): string => lines.slice(-80).map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');
  const s = (n: string): SandboxServer => sb.servers.find((x) => x.name === n)!;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'failover-poweroff', baseAddress: '127.0.162.11', sshPort: 2623, replicas: 2, gtid: true });
  });

  async function setup(): Promise<{ cluster: ClusterConfig; journal: FileJournal }> {
    const state = await resetSandbox(sb, { gtid: true, schema: SCHEMA, ready: 'SHOW TABLES IN t' });
    const conf = writeManagerConfig(sb, { cluster: { shutdown_script: '/usr/local/bin/power_off_db_host' } });
    const c = (await loadConfig({ conf })).clusters[0]!;
    return { cluster: c, journal: new FileJournal(state, c.name) };
  }

  /** The "power-off": the old master's mariadbd SIGKILLed, exit 0 (MHA: powered off, SSH gone). */
  function powerOff(calls: Array<{ args: string[]; at: number }>): (o: ScriptRun) => Promise<ScriptResult> {
    return async (o) => {
      assert.equal(o.command, '/usr/local/bin/power_off_db_host', `only the shutdown_script runs: ${o.command}`);
      calls.push({ args: o.args, at: Date.now() });
      await stopServer(s('db1'), 'SIGKILL').catch(() => undefined);
      return { exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1 };
    };
  }

  const run = (cluster: ClusterConfig, journal: FileJournal, calls: Array<{ args: string[]; at: number }>): Promise<FailoverReport> =>
    runFailover({ cluster, deadMaster: 'db1', trigger: 'manual', reason: 'power-off test' }, { journal, log, now: Date.now, sshReachable: sshReachableFor(cluster), cutBinlog: cutSavedBinlog, runHook: powerOff(calls) });

  test('restarted, fenced over SQL, holding an acknowledged write: powered off only once the new master has the write, before it takes writes', { timeout: 180_000 }, async () => {
    const { cluster, journal } = await setup();
    for (let i = 1; i <= 10; i++) await rootSql(s('db1'), `INSERT INTO t.t VALUES (${i}, 'r${i}')`);
    for (const r of ['db2', 'db3']) await until(`${r} has 10 rows`, async () => (await rootSql(s(r), 'SELECT COUNT(*) FROM t.t')).trim() === '10');
    // The replicas receive nothing more (as after Phase 2's IO stop); the master crashes and systemd brings it back,
    // writable, and an application's write is acknowledged.
    for (const r of ['db2', 'db3']) await rootSql(s(r), 'STOP SLAVE IO_THREAD');
    await stopServer(s('db1'), 'SIGKILL');
    sb.servers[0] = await startServer(s('db1'));
    await rootSql(s('db1'), "INSERT INTO t.t VALUES (999, 'acknowledged after the restart')");
    const calls: Array<{ args: string[]; at: number }> = [];
    const r = await run(cluster, journal, calls);
    assert.equal(r.outcome, 'success', `${r.reason}\n${tail()}`);
    const nm = s(r.newMaster!);
    assert.equal((await rootSql(nm, 'SELECT v FROM t.t WHERE id = 999')).trim(), 'acknowledged after the restart', `the write is on the new master\n${tail()}`);
    assert.equal(calls.length, 1, 'the shutdown_script ran once');
    assert.match(calls[0]!.args.join(' '), /^--command=stopssh /, 'its host was reachable when it ran');
    await assert.rejects(rootSql(s('db1'), 'SELECT 1'), 'the old master is off');
    assert.deepEqual(await writable(sb), [nm.name], 'one writable master');
    // The order: fenced over SQL, the deferral said, the write saved and applied, then the power-off, then the promotion.
    const recs = journal.read();
    const idx = (p: (x: (typeof recs)[number]) => boolean): number => recs.findIndex(p);
    const msg = (x: (typeof recs)[number]): string => ('message' in x && typeof x.message === 'string' ? x.message : '');
    const fenced = idx((x) => /^fence db1: fenced over SQL/.test(msg(x)));
    const deferred = idx((x) => /^db1 answers SQL and is fenced .*its shutdown_script runs once the new master holds everything it acknowledged/.test(msg(x)));
    const applied = idx((x) => /^applied 1 saved transaction\(s\) to /.test(msg(x)));
    const script = idx((x) => /^hook shutdown_script \(mha-script, stop, /.test(msg(x)));
    const promoted = idx((x) => x.type === 'promoted');
    const order = { fenced, deferred, applied, script, promoted };
    assert.ok(fenced >= 0 && deferred > fenced && applied > deferred && script > applied && promoted > script, `order ${JSON.stringify(order)}\n${tail()}`);
  });

  test('a master that does not answer SQL is powered off in Phase 2, as before (nothing deferred)', { timeout: 180_000 }, async () => {
    const { cluster, journal } = await setup();
    for (let i = 1; i <= 5; i++) await rootSql(s('db1'), `INSERT INTO t.t VALUES (${i}, 'r${i}')`);
    for (const r of ['db2', 'db3']) await until(`${r} has 5 rows`, async () => (await rootSql(s(r), 'SELECT COUNT(*) FROM t.t')).trim() === '5');
    await stopServer(s('db1'), 'SIGKILL');
    const calls: Array<{ args: string[]; at: number }> = [];
    const t0 = Date.now();
    const r = await run(cluster, journal, calls);
    assert.equal(r.outcome, 'success', `${r.reason}\n${tail()}`);
    assert.equal(calls.length, 1);
    const recs = journal.read();
    const shutdownPhaseEnd = recs.findIndex((x) => x.type === 'phase' && 'phase' in x && x.phase === 'Phase 2: Dead Master Shutdown Phase');
    const scriptAt = recs.findIndex((x) => 'message' in x && typeof x.message === 'string' && /^hook shutdown_script \(mha-script, stop, /.test(x.message));
    assert.ok(scriptAt >= 0 && scriptAt < shutdownPhaseEnd, `the script ran in Phase 2 (${scriptAt} < ${shutdownPhaseEnd})\n${tail()}`);
    assert.ok(!recs.some((x) => 'message' in x && typeof x.message === 'string' && /answers SQL and is fenced/.test(x.message)), 'nothing deferred');
    assert.ok(calls[0]!.at - t0 < 5000, `powered off ${calls[0]!.at - t0} ms after the start`);
  });
});

