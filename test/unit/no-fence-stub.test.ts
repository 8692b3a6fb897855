/**
 * The drill's test build without fencing (test/helpers/no-fence) replaces
 * src/engine/ops/fence.ts and fencing.ts by one stub module: it must export
 * every value both export, or the test build does not even start (and
 * test/matrix/drill-nofence.test.ts, outside the default suite, fails).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fence from '../../src/engine/ops/fence.js';
import * as fencing from '../../src/engine/ops/fencing.js';
// @ts-expect-error: a plain .mjs test helper without types
import * as stub from '../helpers/no-fence/fence.mjs';

test('no-fence stub: exports every value of engine/ops/fence and engine/ops/fencing', () => {
  const want = [...new Set([...Object.keys(fence), ...Object.keys(fencing)])].sort();
  const have = new Set(Object.keys(stub as Record<string, unknown>));
  assert.deepEqual(want.filter((k) => !have.has(k)), [], 'add these to test/helpers/no-fence/fence.mjs');
});
