import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, dropGtidListEvents, headerLength } from '../../src/engine/ops/salvage.js';

function event(type: number, size: number, fill = 0): Uint8Array {
  const b = new Uint8Array(size).fill(fill);
  b[4] = type;
  b[9] = size & 0xff;
  b[10] = (size >> 8) & 0xff;
  b[11] = 0;
  b[12] = 0;
  return b;
}

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

test('Gtid_list events are dropped, every other event and a truncated tail are kept in order', () => {
  const gl = event(163, 30, 1);
  const gtid = event(162, 40, 2);
  const q = event(2, 25, 3);
  const partial = event(16, 31, 4).subarray(0, 12);
  const out = dropGtidListEvents(concat(gl, gtid, q, partial));
  assert.deepEqual(out, concat(gtid, q, partial));
});

test('headerLength: magic plus the format description event, or a clear error', () => {
  const magic = new Uint8Array([0xfe, 0x62, 0x69, 0x6e]);
  assert.equal(headerLength(concat(magic, event(15, 120))), 124);
  assert.throws(() => headerLength(concat(new Uint8Array([1, 2, 3, 4]), event(15, 120))), /bad magic/);
  assert.throws(() => headerLength(concat(magic, event(2, 120))), /not a format description/);
  assert.throws(() => headerLength(concat(magic, event(15, 120)).subarray(0, 60)), /truncated/);
});
