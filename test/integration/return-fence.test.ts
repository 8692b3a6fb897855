/**
 * A failed old master restarted WITHOUT read_only in its my.cnf (as MariaDB's and MySQL's defaults
 * are, and systemd's Restart= does after the failover's kill) is fenced by the manager right after it
 * accepts connections (src/engine/return-watch.ts wakes the monitor), not a ping_interval later.
 * Real mariadbd (a loopback sandbox, db1 master, db2 and db3 replicas), one manager process with a
 * long ping_interval (20 s) so that the regular tick alone would usually be too late for the bound.
 *
 * The test samples db1 itself (a fresh connection every ~20 ms, SELECT @@global.read_only) from the
 * moment it is started again: the first answer, whether it was seen writable, and the first answer
 * that is read-only. Pass: the manager logs the fence of the WRITABLE db1, db1 is read_only, and it
 * was read-only within 3 s of its first answer (a generous bound; the measured time is printed).
 * Then db1 is killed and started again: the watch, whose kept session closed with the mysqld, fences
 * the second return too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { target } from '../../src/engine/ops/admin.js';
import { rootSql, startServer, stopServer, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { sampleUntilReadOnly } from '../helpers/read-only.js';
import { ManagerProcess } from '../helpers/manager.js';
import { writeManagerConfig } from '../helpers/cluster.js';

const BOUND_MS = 3000;

describe('a failed old master restarted writable is fenced at once', () => {
  test('restart without read_only in my.cnf: fenced right after it answers, twice', async (t) => {
    const sb = await withSandbox(t, { name: 'return-fence', replicas: 2, baseAddress: '127.0.190.11', sshPort: 2681 });
    let db1: SandboxServer = sb.servers[0]!;
    const conf = writeManagerConfig(sb, { cluster: { ping_interval: 20, ping_timeout: 1, last_failover_minute: 0 } });
    const cfg = (await loadConfig({ conf })).clusters[0]!;
    const t1 = target(cfg.servers.find((s) => s.name === 'db1')!);
    const m = new ManagerProcess(conf, ['--http', 'off'], sb.dir);
    // Stopped in the test itself, before the sandbox's teardown removes the directory it writes its journal in.
    try {
      await m.waitFor(/^ready: every cluster inspected/, 30_000);
      assert.doesNotMatch(await rootSql(db1, 'SELECT @@global.read_only'), /1/, 'the sandbox master is writable');

      await stopServer(db1, 'SIGKILL');
      await m.waitFor(/^now watching the new master db[23]/, 60_000);

      for (const round of [1, 2]) {
        const from = m.lines.length;
        const startedAt = Date.now();
        // Sampled from before the start: its first answer is seen within ~20 ms.
        const sampling = sampleUntilReadOnly(t1, Date.now() + 30_000);
        db1 = await startServer(db1);
        const seen = await sampling;
        const fence = await m.waitFor(/^the failed old master db1 is back and WRITABLE( while [^:]*)?: fencing it/, 10_000, from);
        const fenced = await m.waitFor(/^fenced db1: /, 10_000, from);
        assert.ok(seen.firstAnswerAt !== undefined, `round ${round}: db1 never answered after its start`);
        assert.ok(seen.readOnlyAt !== undefined, `round ${round}: db1 never became read_only`);
        assert.equal((await rootSql(db1, 'SELECT @@global.read_only')).trim(), '1', `round ${round}: db1 is read_only`);
        const afterAnswer = seen.readOnlyAt - seen.firstAnswerAt;
        const logAt = typeof fence.time === 'number' ? fence.time : undefined;
        const fencedAt = typeof fenced.time === 'number' ? fenced.time : undefined;
        // The manager's log times: its decision to fence, and the fence done, against the sampler's first answer.
        t.diagnostic(`round ${round}: start→first answer ${seen.firstAnswerAt - startedAt} ms; read_only ${afterAnswer} ms after the first answer (writable seen: ${seen.sawWritable}); manager decided ${logAt !== undefined ? logAt - seen.firstAnswerAt : '?'} ms and fenced ${fencedAt !== undefined ? fencedAt - seen.firstAnswerAt : '?'} ms after the first answer`);
        assert.ok(afterAnswer <= BOUND_MS, `round ${round}: read_only only ${afterAnswer} ms after db1 answered (bound ${BOUND_MS} ms; ping_interval is 20 s)`);
        if (fencedAt !== undefined) assert.ok(fencedAt - seen.firstAnswerAt <= BOUND_MS, `round ${round}: the manager fenced db1 ${fencedAt - seen.firstAnswerAt} ms after it answered`);
        if (round === 1) {
          await stopServer(db1, 'SIGKILL');
          // Past the kill: the watch's kept session is closed, attempts run again.
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    } finally {
      await m.stop(10_000);
    }
  });
});
