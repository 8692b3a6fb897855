/**
 * afterIoStop / onOldMasterReturned (src/domain/failover/returned.ts): a
 * survivor lost in Phase 2, and an old master that comes back during the
 * failover holding writes the new master lacks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { afterIoStop, onOldMasterReturned, othersAfterCatchUp, stepsWhenLevel, verifyWhenLevel, type ReturnedInput } from '../../src/domain/failover/returned.js';

describe('afterIoStop', () => {
  test('a survivor that stopped answering is left out; the failover goes on', () => {
    const r = afterIoStop([{ server: 'db2', reason: 'connect ECONNREFUSED', answers: false, ignoreFail: false }]);
    assert.equal(r.abort, undefined);
    assert.deepEqual(r.leaveOut.map((l) => l.server), ['db2']);
    assert.match(r.leaveOut[0]!.reason, /stopped answering/);
  });
  test('one that answers with its IO thread stopped after all: nothing to do', () => {
    assert.deepEqual(afterIoStop([{ server: 'db2', reason: 'Lost connection', answers: true, ioRunning: 'No', ignoreFail: false }]), { leaveOut: [] });
  });
  test('one that answers with its IO thread running aborts (MHA), unless ignore_fail', () => {
    const r = afterIoStop([{ server: 'db2', reason: 'access denied', answers: true, ioRunning: 'Yes', ignoreFail: false }]);
    assert.match(r.abort ?? '', /could not stop the IO threads: db2: access denied/);
    const i = afterIoStop([{ server: 'db3', reason: 'access denied', answers: true, ioRunning: 'Yes', ignoreFail: true }]);
    assert.equal(i.abort, undefined);
    assert.deepEqual(i.leaveOut.map((l) => l.server), ['db3']);
  });
  test('nothing failed: nothing to do', () => {
    assert.deepEqual(afterIoStop([]), { leaveOut: [] });
  });
});

describe('onOldMasterReturned', () => {
  const base: ReturnedInput = { oldMaster: 'db1', newMaster: 'db2', flavor: 'mariadb', state: 'fenced', oldHolds: '0-1-151', newMasterHolds: '0-1-151', catchUps: 0, maxCatchUps: 2 };
  test('still down: promote', () => {
    assert.equal(onOldMasterReturned({ ...base, state: 'unreachable', oldHolds: '' }).action, 'promote');
  });
  test('fenced, holding nothing the new master lacks: promote', () => {
    assert.equal(onOldMasterReturned(base).action, 'promote');
    assert.equal(onOldMasterReturned({ ...base, oldHolds: '0-1-150' }).action, 'promote');
  });
  test('fenced, holding writes acknowledged after its restart (GTID): catch the new master up from it', () => {
    const v = onOldMasterReturned({ ...base, oldHolds: '0-1-152' });
    assert.equal(v.action, 'catch_up');
    assert.ok(v.action === 'catch_up');
    assert.equal(v.source, 'db1');
    assert.equal(v.upTo, '0-1-152');
  });
  test('MySQL GTID sets too', () => {
    const u = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    assert.equal(onOldMasterReturned({ ...base, flavor: 'mysql', oldHolds: `${u}:1-152`, newMasterHolds: `${u}:1-151` }).action, 'catch_up');
    assert.equal(onOldMasterReturned({ ...base, flavor: 'mysql', oldHolds: `${u}:1-151`, newMasterHolds: `${u}:1-151` }).action, 'promote');
  });
  test('level after a catch-up: promote', () => {
    assert.equal(onOldMasterReturned({ ...base, oldHolds: '0-1-152', newMasterHolds: '0-1-152', catchUps: 1 }).action, 'promote');
  });
  test('a catch-up failed: refuse, loudly, saying what to run; never promote a master lacking acknowledged writes', () => {
    const v = onOldMasterReturned({ ...base, oldHolds: '0-1-152', catchUpFailed: 'did not catch up within 20000 ms' });
    assert.equal(v.action, 'refuse');
    assert.ok(v.action === 'refuse');
    assert.match(v.reason, /not promoting db2/);
    assert.match(v.reason, /did not catch up within/);
    assert.match(v.reason, /read_only=OFF on db1/);
    assert.match(v.reason, /mhats failover --new-master db2/);
  });
  test('still moving after the rounds ran out: refuse', () => {
    assert.equal(onOldMasterReturned({ ...base, oldHolds: '0-1-160', newMasterHolds: '0-1-155', catchUps: 2 }).action, 'refuse');
  });
  test('binlog positions: its binlog moved past the known end: refuse; a fresh binlog file from the restart: promote', () => {
    const pos = { ...base, oldHolds: '', newMasterHolds: '', knownEnd: { file: 'mysql-bin.000003', pos: 1200 } };
    assert.equal(onOldMasterReturned({ ...pos, oldCoord: { file: 'mysql-bin.000003', pos: 1500 } }).action, 'refuse');
    assert.equal(onOldMasterReturned({ ...pos, oldCoord: { file: 'mysql-bin.000004', pos: 385 } }).action, 'promote');
    assert.equal(onOldMasterReturned({ ...pos, oldCoord: { file: 'mysql-bin.000004', pos: 900 } }).action, 'refuse');
    assert.equal(onOldMasterReturned({ ...pos, oldCoord: { file: 'mysql-bin.000003', pos: 1200 } }).action, 'promote');
  });
});

describe('othersAfterCatchUp / stepsWhenLevel', () => {
  const replicas = [
    { name: 'db3', deferred: false, delay: 0 },
    { name: 'db4', deferred: false, delay: 0 },
    { name: 'db5', deferred: true, delay: 3600 },
  ];
  test('every replica not delayed is brought level from the old master too', () => {
    const o = othersAfterCatchUp({ oldMaster: 'db1', newMaster: 'db2', newMasterLogsReplicated: true, upTo: '0-1-12', replicas });
    assert.deepEqual(o.catchUp, ['db3', 'db4']);
    assert.deepEqual(o.leaveOut, [], 'log_slave_updates=ON on the new master: the delayed one gets the writes through its binlog');
  });
  test('log_slave_updates=OFF on the new master: the delayed replica that would lack the writes is left out, with what to run', () => {
    const o = othersAfterCatchUp({ oldMaster: 'db1', newMaster: 'db2', newMasterLogsReplicated: false, upTo: '0-1-12', replicas });
    assert.deepEqual(o.catchUp, ['db3', 'db4']);
    assert.deepEqual(o.leaveOut, ['db5']);
    assert.match(o.reason ?? '', /^delayed, it cannot get the writes db1 took after its restart \(up to 0-1-12\) from db2, which has log_slave_updates=OFF/);
    assert.match(o.reason ?? '', /MASTER_USE_GTID=slave_pos until it holds 0-1-12, then to db2/);
  });
  test('a delayed replica that is not deferred (GTID, the new master holds the history) is not touched either', () => {
    const o = othersAfterCatchUp({ oldMaster: 'db1', newMaster: 'db2', newMasterLogsReplicated: true, upTo: '0-1-12', replicas: [{ name: 'db5', deferred: false, delay: 60 }] });
    assert.deepEqual(o.catchUp, []);
  });
  test('a replica level with the new master is only repointed, its delay kept', () => {
    assert.deepEqual(stepsWhenLevel('position', [{ kind: 'relay_diff', source: 'db2', from: { file: 'b.000001', pos: 4 } }, { kind: 'repoint_position' }]), [{ kind: 'repoint_position' }]);
    assert.deepEqual(stepsWhenLevel('position', [{ kind: 'manual', reason: 'lacks events' }]), [{ kind: 'repoint_position' }]);
    assert.deepEqual(stepsWhenLevel('gtid', [{ kind: 'repoint_gtid', keepDelay: 60 }]), [{ kind: 'repoint_gtid', keepDelay: 60 }]);
    assert.deepEqual(stepsWhenLevel('position', [{ kind: 'gtid_then_positions' }]), [{ kind: 'repoint_position' }]);
  });
  test('verified by GTID in GTID mode, by the new master\'s coordinates in binlog-position mode', () => {
    const t = { gtid: '0-1-215', coord: { file: 'b.000001', pos: 400 } };
    assert.deepEqual(verifyWhenLevel('gtid', t), t);
    assert.deepEqual(verifyWhenLevel('position', t), { gtid: '', coord: { file: 'b.000001', pos: 400 } });
    assert.deepEqual(verifyWhenLevel('position', { gtid: '0-1-215', coord: undefined }), { gtid: '0-1-215', coord: undefined });
  });
});
