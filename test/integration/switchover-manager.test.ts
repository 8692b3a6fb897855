/**
 * A running manager and a planned switchover: the manager follows the new
 * master, and stopping the old one afterwards (the maintenance the switchover
 * was for) is not taken for a dead master.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';
import { cliArgs } from '../helpers/cli.js';

describe('manager and switchover', () => {
  let sb: SandboxInfo;
  let mgr: ManagerProcess;
  let conf: string;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'switchover-mgr', baseAddress: '127.0.27.11', replicas: 2, sshPort: 2275 });
    conf = writeManagerConfig(sb);
    mgr = new ManagerProcess(conf, [], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/);
  });

  after(async () => {
    await mgr?.stop();
  });

  test('the manager follows the switched master and does not fail over the old one', async () => {
    const [db1, db2] = sb.servers as [SandboxServer, SandboxServer];
    const r = spawnSync(process.execPath, [...cliArgs(), 'switchover', '--conf', conf, '--new-master', 'db2', '--yes'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal((await rootSql(db2, 'SELECT @@read_only')).trim(), '0');
    await mgr.waitFor(/^the master changed outside mhats \(db1 → db2\): watching db2/, 30_000);
    const mark = mgr.lines.length;
    await stopServer(db1, 'SIGKILL');
    await new Promise((res) => setTimeout(res, 3000));
    assert.equal(mgr.lines.slice(mark).some((l) => /Phase 1: Configuration Check Phase started|IS DEAD/.test(l.msg)), false, mgr.tail(30));
    assert.equal((await rootSql(db2, 'SELECT @@read_only')).trim(), '0', 'db2 stays the master');
  });
});
