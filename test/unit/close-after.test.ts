/** closeAfter (adapters/mysql/connection.ts): close after success, destroy after a throw, the error kept. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAfter } from '../../src/adapters/mysql/connection.js';
import { concatBytes } from '../../src/engine/ops/salvage.js';

function conn(): { close(): void; destroy(): void; ended: string[] } {
  const ended: string[] = [];
  return { ended, close: () => ended.push('close'), destroy: () => ended.push('destroy') };
}

test('closeAfter: the result and close() on success; destroy() and the same error on a throw', async () => {
  const ok = conn();
  assert.equal(await closeAfter(ok, (c) => Promise.resolve(c === ok ? 42 : 0)), 42);
  assert.deepEqual(ok.ended, ['close']);
  const bad = conn();
  const boom = new Error('boom');
  await assert.rejects(closeAfter(bad, () => Promise.reject(boom)), (e) => e === boom);
  assert.deepEqual(bad.ended, ['destroy']);
});

test('concatBytes: the parts in order, in a new array', () => {
  const a = Uint8Array.of(1, 2);
  const out = concatBytes([a, new Uint8Array(0), Uint8Array.of(3)]);
  assert.deepEqual([...out], [1, 2, 3]);
  out[0] = 9;
  assert.equal(a[0], 1, 'a copy, not a view');
  assert.equal(concatBytes([]).length, 0);
});
