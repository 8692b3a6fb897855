/**
 * The drill catches a broken invariant: a test build of mhats that skips
 * fencing (test/helpers/no-fence: engine/ops/fence.js replaced through a
 * module hook, for every process started with it; nothing in src/ knows).
 * A hung master is failed over; when it resumes nobody fences it, so it is a
 * second writable master: `mhats drill` exits 1 and names the invariants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { matrixSetup } from '../../src/app/drill/matrix.js';
import { netnsAvailable } from '../helpers/netns.js';
import { CLI, drillEnv, guardCase } from '../helpers/drill.js';

test('a test build without fencing: the drill exits 1 and names old-master-fenced and one-writable-master', { skip: !netnsAvailable() && 'needs root and iproute2', timeout: 400_000 }, async () => {
  const env = drillEnv({ tag: 'mhats-t-xf', subnet: '10.213.56', sshPort: 2345 });
  guardCase(env, 'nofence');
  const setup = await matrixSetup(env, 'nofence', { managers: 0 });
  try {
    const nodeOptions = `--import ${resolve('test/helpers/no-fence/register.mjs')}`;
    const r = spawnSync(CLI[0]!, [...CLI.slice(1), 'drill', '--conf', setup.conf, '--fault', 'hang', '--yes', '--with-manager', '--timeout', '90'], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, NODE_OPTIONS: nodeOptions } });
    const out = `${r.stdout}\n${r.stderr}`;
    // The test build was really in force: the manager it started logged it.
    const dir = join(setup.dir, 'work', 'drill');
    const log = !existsSync(dir) ? '' : readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    assert.match(log, /TEST BUILD: not fencing db1/, out);
    assert.equal(r.status, 1, out);
    assert.match(r.stdout, /^ {2}BROKEN {2}old-master-fenced +db1 is WRITABLE \(read_only=OFF\) after healing/m, out);
    assert.match(r.stdout, /^ {2}BROKEN {2}one-writable-master +TWO WRITABLE MASTERS/m, out);
    assert.match(r.stdout, /^BROKEN invariant\(s\): .*old-master-fenced/m, out);
    assert.match(r.stdout, /^1 +hang +db1 → db[23] .* BROKEN$/m, out);
  } finally {
    await setup.close();
  }
});
