import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allHold,
  checkChecksums,
  checkHooks,
  checkOldMasterFenced,
  checkOneWritable,
  checkOutcome,
  checkSurvivors,
  checkWrites,
  expandGtids,
  firstWritableOther,
  oldMasterWritableAgain,
  restartedWritableNote,
  isWritableMaster,
  parseLostClaim,
  timings,
} from '../../src/domain/drill/invariants.js';
import type { AckedWrite, ReplicaSample, Round, Sample } from '../../src/domain/drill/types.js';

const rep = (over: Partial<ReplicaSample> = {}): ReplicaSample => ({ sourceHost: '10.0.0.11', sourcePort: 3306, io: 'Yes', sql: true, ioErrno: 0, ioError: '', sqlErrno: 0, sqlError: '', ...over });
const w = (server: string): Sample => ({ server, ok: true, readOnly: false });
const ro = (server: string, replica?: ReplicaSample): Sample => ({ server, ok: true, readOnly: true, replica });
const down = (server: string): Sample => ({ server, ok: false, error: 'timeout' });
const round = (at: number, ...samples: Sample[]): Round => ({ at, samples });

test('writable master: read_only OFF and not a running replica; no answer is not writable', () => {
  assert.equal(isWritableMaster(w('a')), true);
  assert.equal(isWritableMaster(ro('a')), false);
  assert.equal(isWritableMaster(down('a')), false);
  assert.equal(isWritableMaster({ server: 'a', ok: true, readOnly: false, replica: rep() }), false, 'a running replica left writable is not a master');
  assert.equal(isWritableMaster({ server: 'a', ok: true, readOnly: false, replica: rep({ io: 'Connecting' }) }), true, 'a replica whose IO thread does not run is one');
});

test('one writable master: holds through a clean failover, fails on any round with two', () => {
  const clean = [round(0, w('db1'), ro('db2', rep()), ro('db3', rep())), round(100, down('db1'), ro('db2', rep({ io: 'Connecting' })), ro('db3')), round(200, down('db1'), w('db2'), ro('db3', rep()))];
  const v = checkOneWritable(clean);
  assert.equal(v.ok, true, v.detail);
  const split = [...clean, round(300, w('db1'), w('db2'), ro('db3')), round(400, w('db1'), w('db2'), ro('db3')), round(500, ro('db1'), w('db2'), ro('db3'))];
  const bad = checkOneWritable(split);
  assert.equal(bad.ok, false);
  assert.match(bad.detail, /TWO WRITABLE MASTERS \(db1 and db2\) at \+300 ms, in 2 of 6 rounds/);
  assert.equal(checkOneWritable([]).ok, false, 'no samples prove nothing');
});

test('first writable server other than the old master, after the fault', () => {
  const rounds = [round(0, w('db1'), ro('db2')), round(100, w('db2')), round(200, w('db3'))];
  assert.deepEqual(firstWritableOther(rounds, 'db1', 50), { at: 100, server: 'db2' });
  assert.equal(firstWritableOther(rounds, 'db1', 300), undefined);
});

test('GTID lists expand to one GTID per transaction; garbage is refused', () => {
  assert.deepEqual(expandGtids('0-1-5..0-1-7, 1-2-3'), ['0-1-5', '0-1-6', '0-1-7', '1-2-3']);
  assert.deepEqual(expandGtids('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-3:7'), ['3e11fa47-71ca-11e1-9e33-c80aa9429562:1', '3e11fa47-71ca-11e1-9e33-c80aa9429562:2', '3e11fa47-71ca-11e1-9e33-c80aa9429562:3', '3e11fa47-71ca-11e1-9e33-c80aa9429562:7']);
  assert.equal(expandGtids('0-1-7..0-2-9'), undefined, 'a range across servers');
  assert.equal(expandGtids('mysql-bin.000003:120'), undefined);
  assert.deepEqual(expandGtids(''), []);
});

test('the lost report as a claim: none, an exact list, or inexact text', () => {
  assert.deepEqual(parseLostClaim('none (as of its last successful health check at 2026-11-30T10:00:00Z; anything it acknowledged after that is unknown)'), { kind: 'none' });
  assert.deepEqual(parseLostClaim("none: every transaction in db1's binlog was saved and applied"), { kind: 'none' });
  assert.deepEqual(parseLostClaim(undefined), { kind: 'none' });
  assert.deepEqual(parseLostClaim('3 transaction(s): 0-1-41..0-1-43 (as of its last successful health check at X; anything …)'), { kind: 'gtids', gtids: ['0-1-41', '0-1-42', '0-1-43'] });
  assert.deepEqual(parseLostClaim("the old master's binlog from mysql-bin.000001:100 to mysql-bin.000001:900 (as of …)"), { kind: 'inexact', text: "the old master's binlog from mysql-bin.000001:100 to mysql-bin.000001:900 (as of …)" });
  assert.equal(parseLostClaim('unknown: the old master was never observed').kind, 'inexact');
  assert.deepEqual(parseLostClaim('whatever', ['0-1-2..0-1-3']), { kind: 'gtids', gtids: ['0-1-2', '0-1-3'] }, 'a structured list wins');
  assert.deepEqual(parseLostClaim('whatever', []), { kind: 'none' });
});

const acked = (n: number, from = 1): AckedWrite[] => Array.from({ length: n }, (_, i) => ({ seq: from + i, at: i, gtid: `0-1-${100 + from + i}` }));
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('writes: nothing missing and nothing claimed holds both invariants', () => {
  const r = checkWrites({ acked: acked(10), inDoubt: [11], present: range(1, 11), claim: { kind: 'none' }, checkedOn: 'db2' });
  assert.deepEqual(r.verdicts.map((v) => v.ok), [true, true]);
  assert.equal(r.missing.length, 0);
});

test('writes: missing acknowledged writes break acked-writes-present; reported exactly, the loss invariant holds', () => {
  // seq 9 and 10 (GTIDs 0-1-109, 0-1-110) lost; the report lists them plus one write whose ack never came.
  const r = checkWrites({ acked: acked(10), inDoubt: [11], present: range(1, 8), claim: { kind: 'gtids', gtids: ['0-1-109', '0-1-110', '0-1-111'] }, checkedOn: 'db2' });
  assert.equal(r.verdicts[0].ok, false);
  assert.match(r.verdicts[0].detail, /2 of 10 acknowledged writes are NOT on db2: seq 9, 10/);
  assert.equal(r.verdicts[1].ok, true, r.verdicts[1].detail);
  assert.match(r.verdicts[1].detail, /exactly the 2 missing acknowledged write\(s\) plus 1 whose acknowledgement never arrived/);
});

test('writes: the report must list every missing write, claim none that is present, and no more unknowns than writes in doubt', () => {
  const base = { acked: acked(10), present: range(1, 8), checkedOn: 'db2' } as const;
  const under = checkWrites({ ...base, inDoubt: [], claim: { kind: 'gtids', gtids: ['0-1-110'] } });
  assert.equal(under.verdicts[1].ok, false);
  assert.match(under.verdicts[1].detail, /1 missing write\(s\) are not in the report \(seq 9\)/);
  const over = checkWrites({ ...base, inDoubt: [], claim: { kind: 'gtids', gtids: ['0-1-108', '0-1-109', '0-1-110'] } });
  assert.match(over.verdicts[1].detail, /claims 1 transaction\(s\) lost that are on db2 \(0-1-108\)/);
  const phantom = checkWrites({ ...base, inDoubt: [11], claim: { kind: 'gtids', gtids: ['0-1-109', '0-1-110', '0-1-500', '0-1-501'] } });
  assert.match(phantom.verdicts[1].detail, /claims 2 lost transaction\(s\) the writer never had acknowledged, more than its 1 unacknowledged write/);
  const none = checkWrites({ ...base, inDoubt: [], claim: { kind: 'none' } });
  assert.match(none.verdicts[1].detail, /says nothing was lost, but 2 acknowledged write\(s\) are missing/);
  const inexact = checkWrites({ ...base, inDoubt: [], claim: { kind: 'inexact', text: 'unknown: x' } });
  assert.equal(inexact.verdicts[1].ok, false);
  const noGtid = checkWrites({ acked: [{ seq: 1, at: 0 }], inDoubt: [], present: [], claim: { kind: 'gtids', gtids: ['0-1-1'] }, checkedOn: 'db2' });
  assert.match(noGtid.verdicts[1].detail, /have no known GTID/);
});

test('survivors: from the new master, both threads, no error; any address of it counts', () => {
  const nm = { name: 'db2', addresses: ['db2.example', '10.0.0.12'], port: 3306 };
  assert.equal(checkSurvivors(nm, [{ name: 'db3', replica: rep({ sourceHost: '10.0.0.12' }) }]).ok, true);
  assert.equal(checkSurvivors(nm, [{ name: 'db3', replica: rep({ sourceHost: 'db2.example' }) }]).ok, true);
  const bad = checkSurvivors(nm, [
    { name: 'db3', replica: rep({ sourceHost: '10.0.0.11' }) },
    { name: 'db4', replica: rep({ sourceHost: '10.0.0.12', sql: false, sqlErrno: 1062, sqlError: 'Duplicate entry' }) },
    { name: 'db5', replica: undefined },
    { name: 'db6', replica: null },
  ]);
  assert.equal(bad.ok, false);
  assert.match(bad.detail, /db3 replicates from 10\.0\.0\.11:3306, not from db2/);
  assert.match(bad.detail, /db4: SQL error 1062: Duplicate entry/);
  assert.match(bad.detail, /db5 does not answer/);
  assert.match(bad.detail, /db6 is not a replica/);
  assert.equal(checkSurvivors(nm, []).ok, true);
});

test('checksums: equal everywhere, else which differ or are missing', () => {
  assert.equal(checkChecksums(new Map([['db2', '123'], ['db3', '123']])).ok, true);
  assert.match(checkChecksums(new Map([['db2', '123'], ['db3', '124']])).detail, /checksums differ: db2 123, db3 124/);
  assert.match(checkChecksums(new Map([['db2', '123'], ['db3', undefined]])).detail, /no checksum from db3/);
});

test('old master fenced: read_only and no VIP after healing', () => {
  assert.equal(checkOldMasterFenced({ name: 'db1', readOnly: true }).ok, true);
  assert.match(checkOldMasterFenced({ name: 'db1', readOnly: true, holdsVip: false, fencedAfterMs: 800 }).detail, /read_only, without the VIP \(800 ms after it answered again\)/);
  assert.match(checkOldMasterFenced({ name: 'db1', readOnly: false }).detail, /WRITABLE/);
  assert.match(checkOldMasterFenced({ name: 'db1', readOnly: true, holdsVip: true }).detail, /still holds the VIP/);
  assert.match(checkOldMasterFenced({ name: 'db1', readOnly: undefined }).detail, /did not answer after healing/);
  assert.equal(checkOldMasterFenced({ name: 'db1', readOnly: true, vipError: 'ssh timeout' }).ok, false);
});

test('hooks: every configured hook in each of its phases, with its outcome', () => {
  const expected = [{ name: 'vip', phase: 'stop' }, { name: 'vip', phase: 'start' }, { name: 'report', phase: 'report' }];
  const ran = [{ name: 'vip', phase: 'stop', verdict: 'ok' }, { name: 'vip', phase: 'start', verdict: 'ok' }, { name: 'report', phase: 'report', verdict: 'failed' }];
  const v = checkHooks(expected, ran);
  assert.equal(v.ok, true);
  assert.equal(v.detail, 'vip/stop ok, vip/start ok, report/report failed');
  const m = checkHooks(expected, ran.slice(0, 1));
  assert.equal(m.ok, false);
  assert.match(m.detail, /did not run: vip\/start, report\/report; ran: vip\/stop ok/);
  assert.equal(checkHooks([], []).ok, true);
});

test('outcome: a successful failover, or none where none is expected', () => {
  assert.equal(checkOutcome('failover', { id: 'f1', outcome: 'success', newMaster: 'db2' }, 30_000).ok, true);
  assert.match(checkOutcome('failover', undefined, 30_000).detail, /no failover within 30 s/);
  assert.match(checkOutcome('failover', { id: 'f1', outcome: undefined }, 30_000).detail, /did not finish/);
  assert.match(checkOutcome('failover', { id: 'f1', outcome: 'refused', reason: 'no candidate' }, 30_000).detail, /f1: refused: no candidate/);
  assert.equal(checkOutcome('no-failover', undefined, 20_000).ok, true);
  assert.match(checkOutcome('no-failover', { id: 'f1', outcome: 'success' }, 20_000).detail, /a failover ran \(f1, success\) where none should/);
});

test('timings relative to the fault; overall verdict', () => {
  assert.deepEqual(timings(1000, { beginAt: 3500, writableAt: 4100, endAt: 5000 }), { detectMs: 2500, writableMs: 3100, doneMs: 4000, writesResumedMs: undefined });
  assert.equal(allHold([{ name: 'outcome', ok: true, detail: '' }]), true);
  assert.equal(allHold([{ name: 'outcome', ok: true, detail: '' }, { name: 'manager-running', ok: false, detail: '' }]), false);
  assert.equal(allHold([]), false);
});

test('hooks expected by how far the failover got: none for a refusal, stop+report after a failure in or after Phase 2, all for a promotion', async () => {
  const { hooksExpected } = await import('../../src/domain/drill/invariants.js');
  const configured = [{ name: 'vip', phases: ['stop', 'start', 'online_change_stop'] }, { name: 'mail', phases: ['report'] }];
  assert.deepEqual(hooksExpected(configured, 'refused', false), []);
  assert.deepEqual(hooksExpected(configured, 'failed', false), []);
  assert.deepEqual(hooksExpected(configured, 'failed', true), [{ name: 'vip', phase: 'stop' }, { name: 'mail', phase: 'report' }]);
  assert.deepEqual(hooksExpected(configured, 'success', true), [{ name: 'vip', phase: 'stop' }, { name: 'vip', phase: 'start' }, { name: 'mail', phase: 'report' }]);
  assert.deepEqual(hooksExpected(configured, undefined, true), []);
});

test('oldMasterWritableAgain: the old master writable once another server was; restartedWritableNote says why and what to configure', () => {
  const rounds = [round(0, w('db1'), ro('db2')), round(100, ro('db2')), round(200, w('db2')), round(300, w('db2'), w('db1')), round(400, w('db2'), w('db1')), round(500, w('db2'), ro('db1'))];
  const after = firstWritableOther(rounds, 'db1', 50)?.at;
  const again = oldMasterWritableAgain(rounds, 'db1', after);
  assert.deepEqual(again, { firstAt: 300, lastAt: 400, rounds: 2 });
  assert.equal(oldMasterWritableAgain(rounds, 'db1', undefined), undefined, 'no other writable server: not "again"');
  assert.equal(oldMasterWritableAgain([round(0, w('db1')), round(100, w('db2'), ro('db1'))], 'db1', 100), undefined, 'writable only before the promotion');
  const note = restartedWritableNote('db1', 'db2', again, 120);
  assert.match(note, /db1 came back WRITABLE/);
  assert.match(note, /read_only=ON \(and super_read_only=ON/);
  assert.match(note, /fenced it 120 ms after it answered again/);
  assert.match(note, /beside db2 in 2 rounds \(\+300\.\.\+400 ms\)/);
  assert.match(restartedWritableNote('db1', 'db2', undefined, 0), /fenced it right after it answered again\. Put/);
});
