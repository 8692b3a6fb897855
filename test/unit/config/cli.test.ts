import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/tmp.js';

const FIX = 'test/fixtures/config';

/** `npx tsx src/cli/bin.ts ...` as the brief says for the first test; `node --import tsx` (same thing, faster) for the rest. */
function mhats(args: string[], env: NodeJS.ProcessEnv = {}, viaNpx = false): { status: number | null; stdout: string; stderr: string } {
  const [cmd, pre] = viaNpx ? ['npx', ['tsx']] : [process.execPath, ['--import', 'tsx']];
  const r = spawnSync(cmd, [...pre, 'src/cli/bin.ts', ...args], { encoding: 'utf8', env: { ...process.env, MHATS_DEBUG: '', ...env } });
  // npm may print its own warnings; they are not ours
  const stderr = r.stderr.split('\n').filter((l) => !l.startsWith('npm warn')).join('\n');
  return { status: r.status, stdout: r.stdout, stderr };
}

test('config check on a bad YAML: exit 3, one file:line line, no stack trace', () => {
  const r = mhats(['config', 'check', '--conf', join(FIX, 'bad-key.yaml')], {}, true);
  assert.equal(r.status, 3);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.equal(lines[0], `mhats: ${join(FIX, 'bad-key.yaml')}:7: unknown key "candiate_master" in clusters.app1.servers[1] (did you mean "candidate_master"?)`);
  assert.ok(!r.stderr.includes('    at '), r.stderr);
});

test('config check on a malformed cnf: exit 3, file:line', () => {
  const r = mhats(['config', 'check', '--conf', join(FIX, 'tiny-syntax-error.cnf')]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /tiny-syntax-error\.cnf:3: syntax error/);
  assert.ok(!r.stderr.includes('    at '));
});

test('config check on a good YAML prints clusters and secret sources, never secret values', () => {
  const r = mhats(['config', 'check', '--conf', join(FIX, 'good.yaml')], { MHATS_TEST_PW: 'v3ry-s3cret' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cluster app1: 3 servers/);
  assert.match(r.stdout, /env MHATS_TEST_PW/);
  assert.match(r.stdout, /OK: 1 cluster, 3 servers/);
  assert.doesNotMatch(r.stdout + r.stderr, /v3ry-s3cret|replpw/);
  const j = mhats(['config', 'check', '--json', '--conf', join(FIX, 'good.yaml')], { MHATS_TEST_PW: 'v3ry-s3cret' });
  assert.equal(j.status, 0);
  const parsed = JSON.parse(j.stdout) as { clusters: { servers: { password: unknown }[] }[] };
  assert.deepEqual(parsed.clusters[0]?.servers[0]?.password, { source: { kind: 'env', name: 'MHATS_TEST_PW' } });
  assert.doesNotMatch(j.stdout, /v3ry-s3cret/);
});

test('config import-mha writes 0600 when it holds a password and refuses to overwrite', () => {
  const dir = tempDir('mhats-cli-');
  const out = join(dir, 'mhats.yaml');
  const r = mhats(['config', 'import-mha', join(FIX, 'app1.cnf'), '--global_conf', join(FIX, 'masterha_default.cnf'), '-o', out, '--cluster', 'prod']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(out));
  assert.equal(statSync(out).mode & 0o777, 0o600);
  assert.match(readFileSync(out, 'utf8'), /clusters:\n {2}prod:/);
  assert.match(r.stderr, /password is written inline/);
  writeFileSync(out, 'keep');
  const again = mhats(['config', 'import-mha', join(FIX, 'app1.cnf'), '-o', out]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exists/);
  assert.equal(readFileSync(out, 'utf8'), 'keep');
  const forced = mhats(['config', 'import-mha', join(FIX, 'app1.cnf'), '-o', out, '--force']);
  assert.equal(forced.status, 0, forced.stderr);
});

test('every config command has --help', () => {
  for (const args of [['config', '--help'], ['config', 'check', '--help'], ['config', 'import-mha', '--help']]) {
    const r = mhats(args);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: mhats config/);
  }
});
