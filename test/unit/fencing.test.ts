import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { KILL_MYSQLD, parseKillOutput, skipSqlFence } from '../../src/engine/ops/fencing.js';

test('kill output: killed, none running, failed', () => {
  assert.deepEqual(parseKillOutput({ code: 0, stdout: 'killed 1234\n', stderr: '' }), { outcome: 'killed', pids: [1234], detail: 'mysqld (pid 1234) killed with SIGKILL, gone' });
  assert.equal(parseKillOutput({ code: 0, stdout: 'none\n', stderr: '' }).outcome, 'not_running');
  const f = parseKillOutput({ code: 3, stdout: 'killed 99\n', stderr: 'still running after SIGKILL: 99\n' });
  assert.equal(f.outcome, 'failed');
  assert.match(f.detail, /still running after SIGKILL/);
  assert.equal(parseKillOutput({ code: 4, stdout: '', stderr: 'ss not found' }).outcome, 'failed');
});

test('the kill script is valid POSIX sh, and kills nothing that is not a mysqld', () => {
  const syntax = spawnSync('sh', ['-n', '-c', KILL_MYSQLD], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  // A pid file naming a process that is not a mysqld (this test's own process), on a port nothing listens on.
  const dir = spawnSync('mktemp', ['-d'], { encoding: 'utf8' }).stdout.trim();
  spawnSync('sh', ['-c', `echo ${process.pid} > ${dir}/pid`]);
  const r = spawnSync('sh', ['-c', KILL_MYSQLD, 'mhats-fence', '1', `${dir}/pid`, '127.0.0.1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'none');
  spawnSync('rm', ['-rf', dir]);
});

test('skipSqlFence: only a fresh verdict of timeouts, and only when the kill is the fence', () => {
  const now = 10_000;
  // A storage hang accepts connections: SQL fences it (kills the lock holder) without a kill.
  assert.equal(skipSqlFence({ basis: 'stalled', failure: 'timeout', at: now - 100 }, now, 'kill'), undefined);
  assert.match(skipSqlFence({ basis: 'unreachable', failure: 'timeout', at: now - 100 }, now, 'kill') ?? '', /timed out/);
  // Refused (a crash) answers at once: the SQL attempt costs nothing and is kept.
  assert.equal(skipSqlFence({ basis: 'refused', failure: 'refused', at: now - 100 }, now, 'kill'), undefined);
  assert.equal(skipSqlFence({ basis: 'unreachable', failure: 'reset', at: now - 100 }, now, 'kill'), undefined);
  assert.equal(skipSqlFence({ basis: 'replicas', failure: 'timeout', at: now - 100 }, now, 'kill'), undefined);
  // Stale (a second or more): it may answer now.
  assert.equal(skipSqlFence({ basis: 'unreachable', failure: 'timeout', at: now - 1000 }, now, 'kill'), undefined);
  // fence_hung_master: none: SQL is the only fence there is.
  assert.equal(skipSqlFence({ basis: 'unreachable', failure: 'timeout', at: now - 100 }, now, 'none'), undefined);
  // A manual failover has no verdict.
  assert.equal(skipSqlFence(undefined, now, 'kill'), undefined);
});
