/** MHA's <app>.failover.complete / .failover.error: the guard window at start, removed by ack. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guard } from '../../src/domain/guard.js';
import { readMhaStateFiles, removeMhaStateFiles } from '../../src/adapters/journal/mha-state-files.js';
import { tempDir } from '../helpers/tmp.js';

const MIN = 60_000;

test('failover.error blocks automatic failover until removed; failover.complete for last_failover_minute after its mtime', () => {
  const now = 1_000 * MIN;
  assert.deepEqual(guard([], now, 480, 'auto', 'app1', {}), { allowed: true });
  const err = guard([], now, 480, 'auto', 'app1', { error: { path: '/w/app1.failover.error', mtime: now - 5000 * MIN } });
  assert.equal(err.allowed, false);
  assert.match(!err.allowed ? err.reason : '', /\/w\/app1\.failover\.error exists .* MHA, failed; .* mhats ack app1/);
  const recent = guard([], now, 480, 'auto', 'app1', { complete: { path: '/w/app1.failover.complete', mtime: now - 30 * MIN } });
  assert.equal(recent.allowed, false);
  assert.match(!recent.allowed ? recent.reason : '', /MHA finished a failover 30 minute\(s\) ago/);
  assert.equal(guard([], now, 480, 'auto', 'app1', { complete: { path: '/w/x', mtime: now - 481 * MIN } }).allowed, true);
  // An operator's manual failover is not blocked by them.
  assert.equal(guard([], now, 480, 'manual', 'app1', { error: { path: '/w/x', mtime: now } }).allowed, true);
});

test('the files are read from manager_workdir by app name, and removed', () => {
  const dir = tempDir('mhats-mhastate-');
  assert.deepEqual(readMhaStateFiles(dir, 'app1'), { complete: undefined, error: undefined });
  writeFileSync(join(dir, 'app1.failover.complete'), '');
  utimesSync(join(dir, 'app1.failover.complete'), 1000, 1000);
  writeFileSync(join(dir, 'app1.failover.error'), '');
  const f = readMhaStateFiles(dir, 'app1');
  assert.equal(f.complete?.mtime, 1_000_000);
  assert.equal(f.error?.path, join(dir, 'app1.failover.error'));
  assert.deepEqual(removeMhaStateFiles(dir, 'app1').sort(), [join(dir, 'app1.failover.complete'), join(dir, 'app1.failover.error')]);
  assert.ok(!existsSync(join(dir, 'app1.failover.error')));
  assert.deepEqual(removeMhaStateFiles(dir, 'app1'), []);
});
