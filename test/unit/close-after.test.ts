/** closeAfter (adapters/mysql/connection.ts): close after success, destroy after a throw, the error kept. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAfter } from '../../src/adapters/mysql/connection.js';

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
