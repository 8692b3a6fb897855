import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heapGrowingFlag, MANAGER_HEAP_GROWING_PERCENT } from '../../src/adapters/heap.js';

test("the manager's heap growth: default, the operator's node flag wins, the environment's value, 0, a bad value", () => {
  assert.deepEqual(heapGrowingFlag([], {}), { flag: `--heap-growing-percent=${MANAGER_HEAP_GROWING_PERCENT}` });
  assert.deepEqual(heapGrowingFlag(['--heap-growing-percent=20'], {}), {}, 'node started with its own: left alone');
  assert.deepEqual(heapGrowingFlag(['--heap_growing_percent', '20'], { MHATS_HEAP_GROWING_PERCENT: '80' }), {});
  assert.deepEqual(heapGrowingFlag(['--heap-growing-percentage-not-a-flag'], {}), { flag: `--heap-growing-percent=${MANAGER_HEAP_GROWING_PERCENT}` });
  assert.deepEqual(heapGrowingFlag([], { MHATS_HEAP_GROWING_PERCENT: ' 80 ' }), { flag: '--heap-growing-percent=80' });
  assert.deepEqual(heapGrowingFlag([], { MHATS_HEAP_GROWING_PERCENT: '' }), { flag: `--heap-growing-percent=${MANAGER_HEAP_GROWING_PERCENT}` });
  assert.deepEqual(heapGrowingFlag([], { MHATS_HEAP_GROWING_PERCENT: '0' }), {}, "0: V8's own heuristics");
  for (const bad of ['-1', '1.5', 'lots', '1001']) assert.match(heapGrowingFlag([], { MHATS_HEAP_GROWING_PERCENT: bad }).error ?? '', /whole number from 0 to 1000/, bad);
});
