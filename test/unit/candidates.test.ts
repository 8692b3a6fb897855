import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseNewMaster, delayBytes, latestReplicas, type CandidateInput } from '../../src/domain/candidates.js';
import { obs, replicaStatus } from '../helpers/observations.js';

function rep(name: string, read: [string, number], flags: Partial<CandidateInput> = {}, exec?: [string, number]): CandidateInput {
  const o = obs(name, '127.0.0.1', 1, { replica: replicaStatus('127.0.0.11', { read: { file: read[0], pos: read[1] }, exec: { file: (exec ?? read)[0], pos: (exec ?? read)[1] } }) });
  return { name, candidate_master: false, no_master: false, obs: o, ...flags };
}

const base = { checkReplDelay: true, latestPriority: true };

test('latest is found numerically across a rotation (999999 < 1000000)', () => {
  const rs = [rep('a', ['mysql-bin.999999', 5000]), rep('b', ['mysql-bin.1000000', 4])];
  assert.deepEqual(latestReplicas(rs), ['b']);
});

test('a latest candidate_master wins over an older candidate', () => {
  const rs = [rep('a', ['mysql-bin.000002', 100], { candidate_master: true }), rep('b', ['mysql-bin.000002', 200], { candidate_master: true }), rep('c', ['mysql-bin.000002', 200])];
  const c = chooseNewMaster(rs, base);
  assert.equal(c.ok && c.chosen, 'b');
  assert.equal(c.ok && c.rule, 'latest_candidate');
});

test('a candidate_master beats a later non-candidate', () => {
  const rs = [rep('a', ['mysql-bin.000002', 200]), rep('b', ['mysql-bin.000002', 150], { candidate_master: true })];
  const c = chooseNewMaster(rs, base);
  assert.equal(c.ok && c.chosen, 'b');
  assert.equal(c.ok && c.rule, 'candidate');
});

test('no_master is never chosen, even when it is the latest; the rejection is explained', () => {
  const rs = [rep('a', ['mysql-bin.000002', 300], { no_master: true }), rep('b', ['mysql-bin.000002', 200])];
  const c = chooseNewMaster(rs, base);
  assert.equal(c.ok && c.chosen, 'b');
  assert.deepEqual(c.rejected, [{ name: 'a', reason: 'no_master is set' }]);
});

test('log_bin off and a newer version are excluded', () => {
  const a = rep('a', ['mysql-bin.000002', 300]);
  a.obs.logBin = false;
  const b = rep('b', ['mysql-bin.000002', 300]);
  b.obs.version = { ...b.obs.version, major: 11, minor: 4, raw: '11.4.2-MariaDB' };
  const c = chooseNewMaster([a, b, rep('c', ['mysql-bin.000002', 100])], base);
  assert.equal(c.ok && c.chosen, 'c');
  assert.equal(c.rejected.length, 2);
});

test('check_repl_delay excludes a replica far behind in applying, numerically', () => {
  const far = rep('a', ['mysql-bin.000009', 500], { candidate_master: true }, ['mysql-bin.000003', 4]);
  const c = chooseNewMaster([far, rep('b', ['mysql-bin.000009', 500])], base);
  assert.equal(c.ok && c.chosen, 'b');
  assert.match(c.rejected[0]!.reason, /too far behind/);
  // Right after a rotation, a replica one event behind is NOT rejected (MHA issue #143).
  const justRotated = rep('a', ['mysql-bin.000010', 300], { candidate_master: true }, ['mysql-bin.000009', 1073741000]);
  const c2 = chooseNewMaster([justRotated, rep('b', ['mysql-bin.000010', 300])], { ...base, maxBinlogSize: 1073741824 });
  assert.equal(c2.ok && c2.chosen, 'a');
  assert.equal(delayBytes({ file: 'b.000010', pos: 300 }, { file: 'b.000009', pos: 1073741000 }, 1073741824), 1124);
});

test('a forced host is taken if eligible, refused with the reason if not', () => {
  const rs = [rep('a', ['mysql-bin.000002', 300], { candidate_master: true }), rep('b', ['mysql-bin.000002', 100], { no_master: true })];
  const f = chooseNewMaster(rs, { ...base, forced: 'a' });
  assert.equal(f.ok && f.rule, 'forced');
  const bad = chooseNewMaster(rs, { ...base, forced: 'b' });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.reason, /b is not eligible: no_master/);
  const unknown = chooseNewMaster(rs, { ...base, forced: 'zz' });
  assert.match(unknown.ok ? '' : unknown.reason, /not a surviving replica/);
});

test('no eligible replica: a refusal listing every reason', () => {
  const c = chooseNewMaster([rep('a', ['mysql-bin.000002', 1], { no_master: true })], base);
  assert.equal(c.ok, false);
  assert.match(c.ok ? '' : c.reason, /no eligible new master: a \(no_master is set\)/);
});

test('without latest_priority, config order decides among non-candidates', () => {
  const rs = [rep('a', ['mysql-bin.000002', 100]), rep('b', ['mysql-bin.000002', 300])];
  const c = chooseNewMaster(rs, { ...base, latestPriority: false });
  assert.equal(c.ok && c.chosen, 'a');
});
