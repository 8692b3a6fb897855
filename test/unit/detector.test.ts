import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confirm, detect, initialDetectorState, type CheckResult, type DetectorState } from '../../src/domain/detector.js';

/** A fake clock: checks happen every `interval` ms from t=0. */
function run(results: Array<Partial<CheckResult> & { ok: boolean }>, n = 3, interval = 1000) {
  let state: DetectorState = initialDetectorState;
  let now = 0;
  const transitions: string[] = [];
  for (const r of results) {
    now += interval;
    const out = detect(state, { at: now, latencyMs: 1, ...r }, n);
    state = out.state;
    transitions.push(out.transition);
  }
  return { state, transitions };
}

test('one lost ping never makes a suspicion', () => {
  const { state, transitions } = run([{ ok: true }, { ok: false, kind: 'timeout' }, { ok: true }]);
  assert.equal(state.phase, 'healthy');
  assert.deepEqual(transitions, ['none', 'first_failure', 'recovered']);
});

test('N failures in a row make a suspicion, with the time of the first failure', () => {
  const { state, transitions } = run([{ ok: true }, { ok: false, kind: 'refused' }, { ok: false, kind: 'refused' }, { ok: false, kind: 'refused' }, { ok: false, kind: 'refused' }]);
  assert.equal(state.phase, 'suspect');
  assert.equal(state.firstFailureAt, 2000);
  assert.equal(state.lastOkAt, 1000);
  assert.deepEqual(transitions, ['none', 'first_failure', 'failure', 'suspect', 'failure']);
});

test('the threshold is configurable', () => {
  assert.equal(run([{ ok: false }], 1).state.phase, 'suspect');
  assert.equal(run([{ ok: false }, { ok: false }], 5).state.phase, 'failing');
});

test('too many connections and access denied are not death, and do not reset the count', () => {
  const { state, transitions } = run([{ ok: false, kind: 'timeout' }, { ok: false, kind: 'too_many_connections' }, { ok: false, kind: 'auth' }, { ok: false, kind: 'timeout' }]);
  assert.equal(state.consecutiveFailures, 2);
  assert.equal(state.phase, 'failing');
  assert.deepEqual(transitions, ['first_failure', 'alive_but_refusing', 'alive_but_refusing', 'failure']);
});

test('a replica still receiving from the master vetoes the failover (only the route is broken)', () => {
  const v = confirm('db1', [
    { name: 'db2', reachable: true, replicatesFromMaster: true, ioRunning: 'Yes' },
    { name: 'db3', reachable: true, replicatesFromMaster: true, ioRunning: 'Connecting' },
  ], { kind: 'unset' });
  assert.equal(v.dead, false);
  assert.equal(v.code, 'UnreachableMaster');
  assert.match(v.reason, /db2 still receives/);
});

test('all reachable replicas lost the master: dead', () => {
  const v = confirm('db1', [
    { name: 'db2', reachable: true, replicatesFromMaster: true, ioRunning: 'Connecting', lastIoErrno: 2003 },
    { name: 'db3', reachable: false, replicatesFromMaster: true },
  ], { kind: 'unset' });
  assert.equal(v.dead, true);
  assert.deepEqual(v.dead && v.witnesses, ['db2']);
});

test('no reachable replica: no witness, no failover', () => {
  const v = confirm('db1', [{ name: 'db2', reachable: false, replicatesFromMaster: true }], { kind: 'unset' });
  assert.equal(v.code, 'NoWitness');
});

test('secondary_check_script: exit 0 confirms; other exits veto', () => {
  const views = [{ name: 'db2', reachable: true, replicatesFromMaster: true, ioRunning: 'No' as const }];
  assert.equal(confirm('db1', views, { kind: 'dead' }).dead, true);
  const veto = confirm('db1', views, { kind: 'alive', exitCode: 3, detail: 'master reachable from 10.0.0.5' });
  assert.equal(veto.code, 'SecondaryCheckVeto');
  assert.equal(confirm('db1', views, { kind: 'error', detail: 'timed out' }).dead, false);
});
