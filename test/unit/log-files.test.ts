/** manager_log: lines routed by cluster, appended, reopened after logrotate moved the file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogFiles } from '../../src/adapters/log-files.js';
import { createLogger } from '../../src/adapters/logging.js';
import { tempDir } from '../helpers/tmp.js';

test('each cluster to its manager_log, general lines to all; append; reopen after a move (logrotate)', () => {
  const dir = tempDir('mhats-log-');
  const a = join(dir, 'app1.log');
  writeFileSync(a, 'old line\n');
  const out: string[] = [];
  const files = new LogFiles({ stdout: (l) => out.push(l), stderr: () => undefined });
  files.configure([{ name: 'app1', manager_log: a }]);
  const log = createLogger({ format: 'json', sink: (l, r) => files.write(l, r) });
  log.info({}, 'starting');
  log.child({ cluster: 'app1' }).info({}, 'watching app1');
  assert.deepEqual(out, []);
  let text = readFileSync(a, 'utf8');
  assert.match(text, /^old line\n\{.*"msg":"starting"\}\n\{.*"cluster":"app1".*"msg":"watching app1"\}\n$/);
  renameSync(a, `${a}.1`);
  files.reopen();
  log.child({ cluster: 'app1' }).info({}, 'after rotation');
  assert.ok(existsSync(a));
  assert.match(readFileSync(a, 'utf8'), /after rotation/);
  assert.doesNotMatch(readFileSync(`${a}.1`, 'utf8'), /after rotation/);
  // A second cluster without manager_log: its lines, and the general ones, also reach stdout.
  files.configure([{ name: 'app1', manager_log: a }, { name: 'app2' }]);
  log.child({ cluster: 'app2' }).info({}, 'app2 line');
  log.info({}, 'general');
  assert.equal(out.length, 2);
  text = readFileSync(a, 'utf8');
  assert.match(text, /general/);
  assert.doesNotMatch(text, /app2 line/);
  files.close();
});

test('a manager_log that cannot be opened is an error naming it; nothing changes', () => {
  const files = new LogFiles({ stdout: () => undefined, stderr: () => undefined });
  assert.throws(() => files.configure([{ name: 'app1', manager_log: '/nonexistent-dir/app1.log' }]), /cannot open manager_log \/nonexistent-dir\/app1\.log: ENOENT/);
  assert.deepEqual(files.paths, []);
});
