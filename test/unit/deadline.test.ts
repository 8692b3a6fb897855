/**
 * Deadlines that cancel: when a phase's deadline passes, its signal aborts,
 * the work in flight stops (abortable waits reject, later statements refuse
 * to run) and nothing after it runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSignal, deadline, FailoverFailed, sleep, waitUntil } from '../../src/engine/ops/admin.js';

test('the deadline aborts the work: nothing after the wait runs', async () => {
  let after = false;
  let seen: AbortSignal | undefined;
  await assert.rejects(
    deadline('Phase X', 50, undefined, async (signal) => {
      seen = signal;
      await sleep(5_000, signal);
      after = true;
    }),
    (err: unknown) => err instanceof FailoverFailed && /Phase X did not finish within 50 ms/.test(err.message),
  );
  assert.equal(seen?.aborted, true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(after, false);
});

test('a step that ignores the signal still cannot issue its next statement', async () => {
  const ran: string[] = [];
  await assert.rejects(
    deadline('Phase Y', 30, undefined, async (signal) => {
      await new Promise((r) => setTimeout(r, 60)); // an operation that does not listen
      checkSignal(signal); // what Admin.q does before every statement
      ran.push('second statement');
    }),
  );
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(ran, []);
});

test('polling stops at the abort; a finished phase aborts what it left running', async () => {
  let polls = 0;
  let left: AbortSignal | undefined;
  await deadline('Phase Z', 1000, undefined, (signal) => {
    left = signal;
    return Promise.resolve();
  });
  assert.equal(left?.aborted, true);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new FailoverFailed('cancelled')), 30);
  await assert.rejects(waitUntil('never', 5000, () => Promise.resolve(++polls < 0), ac.signal), /cancelled/);
  const n = polls;
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(polls, n, 'no poll after the abort');
});

test('a parent abort (the failover stops) cancels the phase', async () => {
  const parent = new AbortController();
  setTimeout(() => parent.abort(new FailoverFailed('lost leadership')), 20);
  await assert.rejects(deadline('Phase W', 5000, parent.signal, (signal) => sleep(5000, signal)), /lost leadership/);
});
