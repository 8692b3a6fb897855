/**
 * The old master restarted WRITABLE (no read_only in its my.cnf, as MariaDB's defaults are; systemd's
 * Restart= after the kill) while its failover is still running is fenced by the failover itself about
 * 100 ms after it answers (src/engine/failover-return.ts), not when the failover has ended.
 * Real mariadbd (a loopback sandbox, db1 master, db2 and db3 replicas, GTID), runFailover as the
 * manager and `mhats failover` run it, with slow hooks so that the window lasts seconds:
 *
 * 1. after the promotion: a report_script that takes HOOK_MS (Phase 5). Before, db1 stayed writable
 *    beside the new master until the failover ended (and with no manager running, for good).
 * 2. before the promotion: a master_ip_failover_script whose start takes HOOK_MS (it runs before the
 *    new master is writable). The re-check right before the promotion (settleReturnedOldMaster) runs
 *    after the watch's fence and must still promote: the watch never runs beside it.
 *
 * The hook starts db1 again and samples it itself (a fresh connection every ~20 ms, SELECT
 * @@global.read_only): its first answer, and the first answer that is read-only. Pass: read-only
 * within BOUND_MS of its first answer (the hook lasts HOOK_MS; the measured time is printed), that
 * answer well inside the hook's run, the fence journaled during the failover, the failover a success,
 * and one writable master at the end (the new one, untouched).
 */
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { target } from '../../src/engine/ops/admin.js';
import { runFailover } from '../../src/engine/failover.js';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';
import { createLogger } from '../../src/adapters/logging.js';
import { sshReachableFor } from '../../src/app/manager.js';
import { cutSavedBinlog } from '../../src/domain/binlog-cut.js';
import type { ScriptResult, ScriptRun } from '../../src/adapters/hooks/run-script.js';
import { rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { sampleUntilReadOnly, type Seen } from '../helpers/read-only.js';
import { until, writeManagerConfig } from '../helpers/cluster.js';
import { resetSandbox, writable } from '../helpers/reset.js';

const SCHEMA = 'CREATE DATABASE t; CREATE TABLE t.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB';
/** How long the slow hook runs. */
const HOOK_MS = 4000;
/** db1 read-only at most this long after its first answer (the watch's pace is 100 ms). */
const BOUND_MS = 1000;

describe('the old master restarted writable while its failover runs', () => {
  let sb: SandboxInfo;
  const lines: string[] = [];
  const log = createLogger({ format: 'json', write: (l) => void lines.push(l) });
  const tail = (): string => lines.slice(-60).map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');
  const s = (n: string): SandboxServer => sb.servers.find((x) => x.name === n)!;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'return-during-failover', baseAddress: '127.0.110.11', sshPort: 2710, replicas: 2, gtid: true });
  });

  /**
   * One failover of the killed db1 with `hook` configured as `key`; when the hook runs with `when`
   * among its arguments (or, for the report_script, at all), it starts db1 again and samples it
   * for HOOK_MS, then exits 0. Every other call of the hook exits 0 at once.
   */
  async function failoverWithRestart(t: TestContext, key: 'report_script' | 'master_ip_failover_script', when: RegExp | undefined): Promise<void> {
    const state = await resetSandbox(sb, { gtid: true, schema: SCHEMA, ready: 'SHOW TABLES IN t' });
    const conf = writeManagerConfig(sb, { cluster: { [key]: '/usr/local/bin/slow_hook' } });
    const cluster = (await loadConfig({ conf })).clusters[0]!;
    const journal = new FileJournal(state, cluster.name);
    const t1 = target(cluster.servers.find((x) => x.name === 'db1')!);
    for (let i = 1; i <= 5; i++) await rootSql(s('db1'), `INSERT INTO t.t VALUES (${i}, 'r${i}')`);
    for (const r of ['db2', 'db3']) await until(`${r} has 5 rows`, async () => (await rootSql(s(r), 'SELECT COUNT(*) FROM t.t')).trim() === '5');
    assert.equal((await rootSql(s('db1'), 'SELECT @@global.read_only')).trim(), '0', 'db1 (the master) is writable: its my.cnf has no read_only');
    await stopServer(s('db1'), 'SIGKILL');

    let hook: { startedAt: number; endedAt: number; seen: Seen } | undefined;
    const runHook = async (o: ScriptRun): Promise<ScriptResult> => {
      const done: ScriptResult = { exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1 };
      if (o.command !== '/usr/local/bin/slow_hook' || (when !== undefined && !when.test(o.args.join(' '))) || hook !== undefined) return done;
      const startedAt = Date.now();
      // Sampled from before the start: its first answer is seen within ~20 ms.
      const sampling = sampleUntilReadOnly(t1, startedAt + HOOK_MS);
      sb.servers[0] = await startServer(s('db1'));
      const seen = await sampling;
      await new Promise((r) => setTimeout(r, startedAt + HOOK_MS - Date.now()));
      hook = { startedAt, endedAt: Date.now(), seen };
      return { ...done, durationMs: hook.endedAt - startedAt };
    };
    const r = await runFailover({ cluster, deadMaster: 'db1', trigger: 'manual', reason: 'restart during the failover' }, { journal, log, now: Date.now, sshReachable: sshReachableFor(cluster), cutBinlog: cutSavedBinlog, runHook });
    assert.equal(r.outcome, 'success', `${r.reason}\n${tail()}`);
    assert.ok(hook !== undefined, `the slow hook ran\n${tail()}`);
    const { seen } = hook;
    assert.ok(seen.firstAnswerAt !== undefined, `db1 never answered after its start\n${tail()}`);
    const afterStart = seen.firstAnswerAt - hook.startedAt;
    const latency = seen.readOnlyAt !== undefined ? seen.readOnlyAt - seen.firstAnswerAt : undefined;
    const recs = journal.read();
    const fenceRec = recs.find((x) => x.type === 'event' && /^fence db1, back and writable during the failover/.test(x.message));
    const reported = fenceRec?.type === 'event' ? (fenceRec.detail as { afterAnswerMs?: number } | undefined)?.afterAnswerMs : undefined;
    t.diagnostic(`${key}: hook ${hook.endedAt - hook.startedAt} ms; db1 first answered ${afterStart} ms into it (writable seen: ${seen.sawWritable}); read_only ${latency ?? 'NEVER'} ms after its first answer (sampler); the failover's fence reports ${reported ?? '?'} ms after the watch's answer`);
    assert.ok(afterStart + BOUND_MS < HOOK_MS, `db1 answered ${afterStart} ms into the ${HOOK_MS} ms hook: too late for the test to tell`);
    assert.ok(latency !== undefined, `db1 was still writable when the ${HOOK_MS} ms hook ended, ${HOOK_MS - afterStart} ms after it answered (bound ${BOUND_MS} ms)\n${tail()}`);
    assert.ok(latency <= BOUND_MS, `db1 read_only only ${latency} ms after it answered (bound ${BOUND_MS} ms)\n${tail()}`);
    assert.ok(fenceRec !== undefined, `the fence is journaled during the failover\n${tail()}`);
    const end = recs.findIndex((x) => x.type === 'end');
    assert.ok(recs.indexOf(fenceRec) < end, 'journaled before the end of the failover');
    assert.equal((await rootSql(s('db1'), 'SELECT @@global.read_only')).trim(), '1', 'db1 stays read_only');
    assert.deepEqual(await writable(sb), [r.newMaster!], 'one writable master: the new one');
    await rootSql(s(r.newMaster!), "INSERT INTO t.t VALUES (100, 'on the new master')");
  }

  test('restarted during a slow report_script (after the promotion): fenced within the bound, beside the writable new master', { timeout: 120_000 }, async (t) => {
    await failoverWithRestart(t, 'report_script', undefined);
  });

  test('restarted during a slow master_ip_failover_script start (before the promotion): fenced within the bound, then promoted', { timeout: 120_000 }, async (t) => {
    await failoverWithRestart(t, 'master_ip_failover_script', /^--command=start /);
  });
});
