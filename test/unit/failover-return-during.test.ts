/**
 * The old master's return during its failover (src/domain/failover/return-during.ts): probe on an
 * answer, fence a writable one, never two in flight, never beside the failover's own work on the
 * old master, a failed fence retried, nothing after stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialReturnWatch, stepReturnWatch, type ReturnWatchAction, type ReturnWatchEvent, type ReturnWatchState } from '../../src/domain/failover/return-during.js';

/** Runs events from a state; returns the last state and every action that was not 'none'. */
function run(events: ReturnWatchEvent[], from: ReturnWatchState = initialReturnWatch): { state: ReturnWatchState; actions: ReturnWatchAction['do'][] } {
  let state = from;
  const actions: ReturnWatchAction['do'][] = [];
  for (const e of events) {
    const r = stepReturnWatch(state, e, 1000);
    state = r.state;
    if (r.action.do !== 'none') actions.push(r.action.do);
  }
  return { state, actions };
}

test('an answer is probed; writable → fence; fenced → idle', () => {
  const r = run([{ type: 'answered' }, { type: 'probed', result: 'writable' }, { type: 'fenced', ok: true }]);
  assert.deepEqual(r.actions, ['probe', 'fence']);
  assert.deepEqual(r.state, { phase: 'idle', pending: false, own: 0 });
});

test('read-only, gone again, or refusing the manager: nothing is fenced', () => {
  for (const result of ['read_only', 'not_answering', 'refuses'] as const) {
    const r = run([{ type: 'answered' }, { type: 'probed', result }]);
    assert.deepEqual(r.actions, ['probe'], result);
    assert.equal(r.state.phase, 'idle', result);
  }
});

test('never two attempts in flight: answers during a probe or a fence are probed once, after it', () => {
  const duringProbe = run([{ type: 'answered' }, { type: 'answered' }, { type: 'answered' }]);
  assert.deepEqual(duringProbe.actions, ['probe']);
  assert.equal(duringProbe.state.pending, true);
  const afterProbe = run([{ type: 'probed', result: 'read_only' }], duringProbe.state);
  assert.deepEqual(afterProbe.actions, ['probe'], 'the pending answer is probed once the first probe ended');
  const duringFence = run([{ type: 'answered' }, { type: 'probed', result: 'writable' }, { type: 'answered' }, { type: 'answered' }]);
  assert.deepEqual(duringFence.actions, ['probe', 'fence']);
  assert.equal(duringFence.state.phase, 'fencing');
  assert.deepEqual(run([{ type: 'fenced', ok: true }], duringFence.state).actions, ['probe'], 'the fence killed the watch session: re-checked after it');
});

test("the failover's own work on the old master: no probe or fence beside it; what came meanwhile is probed after it", () => {
  const r = run([{ type: 'own_start' }, { type: 'answered' }, { type: 'answered' }]);
  assert.deepEqual(r.actions, []);
  assert.equal(r.state.pending, true);
  assert.deepEqual(run([{ type: 'own_end' }], r.state).actions, ['probe']);
  // Two of its own (the late fence and the re-check after a power-off): only after both.
  const two = run([{ type: 'own_start' }, { type: 'own_start' }, { type: 'answered' }, { type: 'own_end' }]);
  assert.deepEqual(two.actions, []);
  assert.deepEqual(run([{ type: 'own_end' }], two.state).actions, ['probe']);
  // Nothing pending: nothing to probe when it ends.
  assert.deepEqual(run([{ type: 'own_start' }, { type: 'own_end' }]).actions, []);
});

test('a probe that finds it writable while the failover started its own re-check: not fenced beside it, probed again after', () => {
  const r = run([{ type: 'answered' }, { type: 'own_start' }, { type: 'probed', result: 'writable' }]);
  assert.deepEqual(r.actions, ['probe']);
  assert.deepEqual(r.state, { phase: 'idle', pending: true, own: 1 });
  const after = run([{ type: 'own_end' }, { type: 'probed', result: 'writable' }], r.state);
  assert.deepEqual(after.actions, ['probe', 'fence'], 'still writable after it (its connection came before the restart): fenced');
});

test('a fence that failed is retried after the pause, not at once', () => {
  const r = stepReturnWatch({ phase: 'fencing', pending: true, own: 0 }, { type: 'fenced', ok: false }, 1500);
  assert.deepEqual(r.action, { do: 'retry', ms: 1500 });
  assert.deepEqual(r.state, { phase: 'idle', pending: false, own: 0 });
  assert.deepEqual(run([{ type: 'answered' }], r.state).actions, ['probe'], 'the retry (an answer again) probes');
});

test('stopped (the failover ended): nothing more starts, whatever comes', () => {
  const s = run([{ type: 'answered' }, { type: 'stop' }]).state;
  assert.equal(s.phase, 'stopped');
  const r = run([{ type: 'probed', result: 'writable' }, { type: 'answered' }, { type: 'own_end' }, { type: 'fenced', ok: false }], s);
  assert.deepEqual(r.actions, []);
  assert.equal(r.state.phase, 'stopped');
});

test('results that do not belong to the phase are ignored (a stale probe or fence result)', () => {
  assert.deepEqual(run([{ type: 'probed', result: 'writable' }]).actions, []);
  assert.deepEqual(run([{ type: 'fenced', ok: true }]).actions, []);
  assert.deepEqual(run([{ type: 'own_end' }]).state.own, 0, 'never negative');
});
