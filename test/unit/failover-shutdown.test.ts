/**
 * Phase 2, Dead Master Shutdown: what the fence, the SSH probe, the stop hooks (shutdown_script's exit
 * code) and the IO stops decide (src/domain/failover/shutdown.ts, pure). Table cases for each decision,
 * then whole runs: a scripted executor feeds decideShutdown() what it asks for, and the order of the
 * steps is checked.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideShutdown, fenceBeforePowerOff, reachFromKill, releaseVipAfterSql, type FenceReport, type ShutdownFacts, type ShutdownNext, type StopReport } from '../../src/domain/failover/shutdown.js';

const fence = (sql: FenceReport['sql'], kill: string, safe: boolean): FenceReport => ({ sql, kill, safe, detail: `${sql}/${kill}` });
const FENCED = fence('fenced', 'not_needed', true);
const KILLED = fence('not_answering', 'killed', true);
const NOT_RUNNING = fence('not_answering', 'not_running', true);
const NO_SSH = fence('not_answering', 'no_ssh', false);
const KILL_FAILED = fence('not_answering', 'failed', false);
const DISABLED = fence('not_answering', 'disabled', false);
const UNVERIFIED = fence('unverified', 'failed', false);
const UNVERIFIED_KILLED = fence('unverified', 'killed', true);
const BY_SCRIPT = fence('not_answering', 'shutdown_script', false);
const UNVERIFIED_BY_SCRIPT = fence('unverified', 'shutdown_script', false);
const POWER_OFF: StopReport = { sshReachable: false };
const EXIT_10: StopReport = { sshReachable: true };
const OK: StopReport = {};
const ABORTED: StopReport = { aborted: { name: 'ipscript', detail: 'exit 1' } };

const base = (f: Partial<ShutdownFacts>): ShutdownFacts => ({ oldMaster: 'db1', shutdownHook: false, candidate: { leftOut: false, readOnly: true }, ...f });

describe('reachFromKill / releaseVipAfterSql', () => {
  test('what a kill says about the host', () => {
    const cases: Array<[string, boolean | undefined]> = [['killed', true], ['not_running', true], ['no_ssh', false], ['failed', undefined], ['not_needed', undefined], ['disabled', undefined], ['shutdown_script', undefined]];
    for (const [kill, want] of cases) assert.equal(reachFromKill(kill), want, kill);
  });
  test('the vip release runs right after SQL only without a shutdown_script, with a vip stop hook, and not on an unverified answer', () => {
    const cases: Array<[boolean, boolean, FenceReport['sql'], boolean]> = [
      [false, true, 'fenced', true],
      [false, true, 'not_answering', true],
      [false, true, 'unverified', false],
      [false, false, 'fenced', false],
      [true, true, 'fenced', false],
      [true, true, 'not_answering', false],
    ];
    for (const [hook, vip, sql, want] of cases) assert.equal(releaseVipAfterSql(hook, vip, sql), want, `${hook} ${vip} ${sql}`);
  });
});

describe('decideShutdown without a shutdown_script', () => {
  test('the fence comes first: nothing is decided before it ends (the probe is not enough)', () => {
    assert.deepEqual(decideShutdown(base({})), { next: 'fence' });
    assert.deepEqual(decideShutdown(base({ probe: true })), { next: 'fence' });
    assert.deepEqual(decideShutdown(base({ given: true, probe: false })), { next: 'fence' });
  });
  test('an answer that could not be fenced, and not killed: abort before the stop hooks', () => {
    const d = decideShutdown(base({ fence: UNVERIFIED, probe: true }));
    assert.equal(d.next, 'abort');
    assert.match((d as { reason: string }).reason, /^db1 answers SQL but could not be fenced \(unverified\/failed\): not promoting another master/);
    // Killed after all: safe, it goes on (reachable: the kill reached it).
    assert.deepEqual(decideShutdown(base({ fence: UNVERIFIED_KILLED })), { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false });
  });
  test('which reachability wins before the stop hooks: the caller, then the kill, then the probe', () => {
    // [given, fence, probe] -> next / sshReachable
    const cases: Array<[boolean | undefined, FenceReport, boolean | undefined, ShutdownNext]> = [
      [undefined, KILLED, undefined, { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      [undefined, KILLED, false, { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      [undefined, NOT_RUNNING, false, { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      [undefined, NO_SSH, true, { next: 'stop-hooks', sshReachable: false, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      [true, NO_SSH, undefined, { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      [false, KILLED, true, { next: 'stop-hooks', sshReachable: false, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      // The kill says nothing (fenced over SQL, kill disabled or failed): the probe decides, waited for.
      [undefined, FENCED, undefined, { next: 'probe' }],
      [undefined, FENCED, true, { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      [undefined, DISABLED, false, { next: 'stop-hooks', sshReachable: false, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
      [undefined, KILL_FAILED, undefined, { next: 'probe' }],
      [true, FENCED, undefined, { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false }],
    ];
    for (const [given, f, probe, want] of cases) assert.deepEqual(decideShutdown(base({ given, fence: f, probe })), want, `given=${given} fence=${f.detail} probe=${probe}`);
  });
  test('the vip released early after SQL: not run twice, released again when the value that won differs', () => {
    // Released as unreachable (quick probe: no), the kill then reached the host: released again as reachable.
    assert.deepEqual(decideShutdown(base({ fence: KILLED, probe: false, vipReleasedAs: false })), { next: 'stop-hooks', sshReachable: true, skipVip: true, releaseVipAgain: true, deferShutdown: false });
    assert.deepEqual(decideShutdown(base({ fence: KILLED, probe: true, vipReleasedAs: true })), { next: 'stop-hooks', sshReachable: true, skipVip: true, releaseVipAgain: false, deferShutdown: false });
    assert.deepEqual(decideShutdown(base({ fence: FENCED, probe: true, vipReleasedAs: true })), { next: 'stop-hooks', sshReachable: true, skipVip: true, releaseVipAgain: false, deferShutdown: false });
    assert.deepEqual(decideShutdown(base({ fence: NO_SSH, probe: true, vipReleasedAs: true })), { next: 'stop-hooks', sshReachable: false, skipVip: true, releaseVipAgain: true, deferShutdown: false });
  });
  test('after the stop hooks: abort, reachability and the early VIP', () => {
    const cases: Array<[Partial<ShutdownFacts>, Omit<Extract<ShutdownNext, { next: 'end' }>, 'next'>]> = [
      [{ fence: FENCED, probe: true, stop: OK }, { sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false }],
      [{ fence: NO_SSH, probe: false, stop: OK }, { sshReachable: false, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false }],
      // A stop hook aborts; an IO thread still running aborts; the stop hook's reason first.
      [{ fence: FENCED, probe: true, stop: ABORTED }, { sshReachable: true, poweredOff: false, lateFence: false, abort: 'hook ipscript failed in the stop phase (exit 1): aborting', earlyVip: false, shutdownDeferred: false }],
      [{ fence: FENCED, probe: true, stop: OK, ioAbort: 'could not stop the IO threads: db3' }, { sshReachable: true, poweredOff: false, lateFence: false, abort: 'could not stop the IO threads: db3', earlyVip: false, shutdownDeferred: false }],
      [{ fence: FENCED, probe: true, stop: ABORTED, ioAbort: 'io' }, { sshReachable: true, poweredOff: false, lateFence: false, abort: 'hook ipscript failed in the stop phase (exit 1): aborting', earlyVip: false, shutdownDeferred: false }],
      // The early VIP: never to a candidate left out, or not seen read_only.
      [{ fence: FENCED, probe: true, stop: OK, candidate: { leftOut: true, readOnly: true } }, { sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: false, shutdownDeferred: false }],
      [{ fence: FENCED, probe: true, stop: OK, candidate: { leftOut: false, readOnly: false } }, { sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: false, shutdownDeferred: false }],
      [{ fence: FENCED, probe: true, stop: OK, candidate: { leftOut: false, readOnly: undefined } }, { sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: false, shutdownDeferred: false }],
    ];
    for (const [f, want] of cases) assert.deepEqual(decideShutdown(base(f)), { next: 'end', ...want }, JSON.stringify(f));
  });
});

describe('fenceBeforePowerOff', () => {
  test('the SQL answer is waited for only when the old master may answer: refused (host up), or nothing known', () => {
    const cases: Array<[{ basis?: string; failure?: string } | undefined, boolean]> = [
      [undefined, true],
      [{ basis: 'refused', failure: 'refused' }, true],
      [{ basis: 'replicas', failure: 'refused' }, true],
      [{ basis: 'unreachable', failure: 'timeout' }, false],
      [{ basis: 'replicas', failure: 'timeout' }, false],
      [{ basis: 'stalled', failure: 'timeout' }, false],
      [{ basis: 'stalled' }, false],
    ];
    for (const [v, want] of cases) assert.equal(fenceBeforePowerOff(v), want, JSON.stringify(v));
  });
});

describe('decideShutdown with a shutdown_script', () => {
  const hook = (f: Partial<ShutdownFacts>): ShutdownFacts => base({ shutdownHook: true, ...f });
  test("before the stop hooks: reachability is the caller's, else the probe; then the fence, briefly", () => {
    assert.deepEqual(decideShutdown(hook({})), { next: 'probe' });
    assert.deepEqual(decideShutdown(hook({ fence: BY_SCRIPT })), { next: 'probe' });
    assert.deepEqual(decideShutdown(hook({ probe: false })), { next: 'fence-briefly' });
    assert.deepEqual(decideShutdown(hook({ given: true })), { next: 'fence-briefly' });
    // The bounded wait ended without the fence's answer (hung, unreachable): the stop hooks run now, the script included.
    assert.deepEqual(decideShutdown(hook({ probe: false, fenceWaitOver: true })), { next: 'stop-hooks', sshReachable: false, skipVip: false, releaseVipAgain: false, deferShutdown: false });
    assert.deepEqual(decideShutdown(hook({ given: true, probe: false, fenceWaitOver: true })), { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false });
    // It did not answer SQL, or answered unfenced: the script runs now (it stops it); no abort.
    assert.deepEqual(decideShutdown(hook({ probe: true, fence: BY_SCRIPT })), { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false });
    assert.deepEqual(decideShutdown(hook({ probe: true, fence: UNVERIFIED_BY_SCRIPT })), { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false });
  });
  test('SQL fenced it in time (it answers: restarted): the shutdown_script is deferred until the new master is level with it; no power-off now', () => {
    const fenced = fence('fenced', 'not_needed', true);
    assert.deepEqual(decideShutdown(hook({ probe: true, fence: fenced })), { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: true });
    // Fenced only after the wait was over: too late, the script ran (the answer is no longer asked for).
    assert.deepEqual(decideShutdown(hook({ probe: true, fenceWaitOver: true })), { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false });
    // The other stop hooks ran: the phase ends with no power-off, the host reachable, the script still owed.
    assert.deepEqual(decideShutdown(hook({ probe: true, fence: fenced, stop: { shutdownDeferred: true } })), { next: 'end', sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: true });
    assert.deepEqual(decideShutdown(hook({ probe: true, fence: fenced, stop: { shutdownDeferred: true, aborted: { name: 'ip', detail: 'exit 1' } } })), { next: 'end', sshReachable: true, poweredOff: false, lateFence: false, abort: 'hook ip failed in the stop phase (exit 1): aborting', earlyVip: false, shutdownDeferred: true });
    // Without a shutdown_script nothing is ever deferred.
    assert.deepEqual(decideShutdown(base({ probe: true, fence: fenced })), { next: 'stop-hooks', sshReachable: true, skipVip: false, releaseVipAgain: false, deferShutdown: false });
  });
  test('power-off (exit 0) ends the wait: the fence is journaled late; any other outcome waits for it', () => {
    // [probe, stop, fence] -> decision
    const cases: Array<[boolean, StopReport, FenceReport | undefined, ShutdownNext]> = [
      [true, POWER_OFF, undefined, { next: 'end', sshReachable: false, poweredOff: true, lateFence: true, abort: undefined, earlyVip: true, shutdownDeferred: false }],
      // The fence came first (before the power-off was reported): nothing left to wait for.
      [true, POWER_OFF, BY_SCRIPT, { next: 'end', sshReachable: false, poweredOff: true, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false }],
      [true, EXIT_10, undefined, { next: 'fence' }],
      [true, EXIT_10, UNVERIFIED_BY_SCRIPT, { next: 'end', sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false }],
      [false, OK, undefined, { next: 'fence' }],
      [false, OK, BY_SCRIPT, { next: 'end', sshReachable: false, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false }],
      // A power-off that a later hook aborted is no power-off: the fence is waited for, then abort.
      [true, { sshReachable: false, aborted: { name: 'x', detail: 'exit 1' } }, undefined, { next: 'fence' }],
      [true, { sshReachable: false, aborted: { name: 'x', detail: 'exit 1' } }, BY_SCRIPT, { next: 'end', sshReachable: false, poweredOff: false, lateFence: false, abort: 'hook x failed in the stop phase (exit 1): aborting', earlyVip: false, shutdownDeferred: false }],
    ];
    for (const [probe, stop, f, want] of cases) assert.deepEqual(decideShutdown(hook({ probe, stop, fence: f })), want, `probe=${probe} stop=${JSON.stringify(stop)} fence=${f?.detail}`);
  });
  test("the script's exit code wins over the probe and the caller's value", () => {
    const cases: Array<[boolean | undefined, boolean, StopReport, boolean]> = [
      [undefined, true, POWER_OFF, false],
      [true, true, POWER_OFF, false],
      [undefined, false, EXIT_10, true],
      [false, false, EXIT_10, true],
      [undefined, false, OK, false],
      [true, false, OK, true],
    ];
    for (const [given, probe, stop, want] of cases) {
      const d = decideShutdown(hook({ given, probe, stop, fence: BY_SCRIPT }));
      assert.equal(d.next === 'end' && d.sshReachable, want, `given=${given} probe=${probe} stop=${JSON.stringify(stop)}`);
    }
  });
  test('after a power-off, a stuck IO thread still aborts (the late fence is still journaled)', () => {
    assert.deepEqual(decideShutdown(hook({ probe: false, stop: POWER_OFF, ioAbort: 'io' })), { next: 'end', sshReachable: false, poweredOff: true, lateFence: true, abort: 'io', earlyVip: false, shutdownDeferred: false });
  });
});

/** Runs the decisions as the executor does, against scripted reports; returns the steps taken and the end. */
function drive(f0: ShutdownFacts, world: { fence: FenceReport; probe: boolean; vipAfterSql?: boolean; fenceInTime?: boolean; stop: (reach: boolean) => StopReport }): { steps: string[]; end: ShutdownNext } {
  const f = { ...f0 };
  const steps: string[] = [];
  for (let i = 0; i < 10; i++) {
    const d = decideShutdown(f);
    if (d.next === 'end' || d.next === 'abort') return { steps, end: d };
    steps.push(d.next === 'stop-hooks' ? `stop-hooks(${d.sshReachable}${d.skipVip ? ', vip done' : ''}${d.releaseVipAgain ? ', vip again' : ''}${d.deferShutdown ? ', script deferred' : ''})` : d.next);
    if (d.next === 'probe') f.probe = world.probe;
    else if (d.next === 'fence-briefly') {
      if (world.fenceInTime) f.fence = world.fence;
      else f.fenceWaitOver = true;
    } else if (d.next === 'fence') {
      // The fence's afterSql: the vip release, with the probe's answer (waited for there).
      if (world.vipAfterSql && releaseVipAfterSql(f.shutdownHook, true, world.fence.sql)) f.vipReleasedAs = world.probe;
      f.fence = world.fence;
    } else f.stop = { ...world.stop(d.sshReachable), shutdownDeferred: d.deferShutdown };
  }
  throw new Error('no end after 10 steps');
}

describe('decideShutdown, whole runs', () => {
  test('the vip released as unreachable, then the kill reached the host: the kill wins, the probe is not asked again, the vip is released again as reachable', () => {
    const r = drive(base({}), { fence: KILLED, probe: false, vipAfterSql: true, stop: () => OK });
    assert.deepEqual(r.steps, ['fence', 'stop-hooks(true, vip done, vip again)']);
    assert.deepEqual(r.end, { next: 'end', sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false });
  });
  test('fenced over SQL: the probe decides the reachability', () => {
    const r = drive(base({}), { fence: FENCED, probe: true, stop: () => OK });
    assert.deepEqual(r.steps, ['fence', 'probe', 'stop-hooks(true)']);
    assert.equal(r.end.next === 'end' && r.end.sshReachable, true);
  });
  test('unverified answer: abort right after the fence, no stop hooks', () => {
    const r = drive(base({}), { fence: UNVERIFIED, probe: true, vipAfterSql: true, stop: () => OK });
    assert.deepEqual(r.steps, ['fence']);
    assert.equal(r.end.next, 'abort');
  });
  test('shutdown_script powers off a hung master (no SQL answer within the brief wait): probe, stop hooks, end without the fence', () => {
    const r = drive(base({ shutdownHook: true }), { fence: BY_SCRIPT, probe: true, stop: () => POWER_OFF });
    assert.deepEqual(r.steps, ['probe', 'fence-briefly', 'stop-hooks(true)']);
    assert.deepEqual(r.end, { next: 'end', sshReachable: false, poweredOff: true, lateFence: true, abort: undefined, earlyVip: true, shutdownDeferred: false });
  });
  test('shutdown_script on a dead master (refused at once): the fence is in, the script powers it off', () => {
    const r = drive(base({ shutdownHook: true }), { fence: BY_SCRIPT, probe: true, fenceInTime: true, stop: () => POWER_OFF });
    assert.deepEqual(r.steps, ['probe', 'fence-briefly', 'stop-hooks(true)']);
    assert.deepEqual(r.end, { next: 'end', sshReachable: false, poweredOff: true, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false });
  });
  test('shutdown_script exit 10: probe, stop hooks, then the fence is waited for', () => {
    const r = drive(base({ shutdownHook: true }), { fence: UNVERIFIED_BY_SCRIPT, probe: false, stop: () => EXIT_10 });
    assert.deepEqual(r.steps, ['probe', 'fence-briefly', 'stop-hooks(false)', 'fence']);
    assert.deepEqual(r.end, { next: 'end', sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: false });
  });
  test('a restarted old master fenced over SQL in time: the shutdown_script is deferred, whatever the other hooks report', () => {
    const r = drive(base({ shutdownHook: true }), { fence: FENCED, probe: true, fenceInTime: true, stop: () => OK });
    assert.deepEqual(r.steps, ['probe', 'fence-briefly', 'stop-hooks(true, script deferred)']);
    assert.deepEqual(r.end, { next: 'end', sshReachable: true, poweredOff: false, lateFence: false, abort: undefined, earlyVip: true, shutdownDeferred: true });
  });
});
