import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jittered } from '../../src/domain/jitter.js';

test('jittered: base ± spread, the draw decides where; clamped; never negative', () => {
  assert.equal(jittered(60_000, 0.2, () => 0.5), 60_000, 'the middle draw is the base');
  assert.equal(jittered(60_000, 0.2, () => 0), 48_000);
  assert.equal(jittered(60_000, 0.2, () => 0.75), 66_000);
  assert.ok(jittered(60_000, 0.2, () => 0.999_999) <= 72_000);
  assert.equal(jittered(60_000, 0, () => 0.9), 60_000, 'no spread: no jitter');
  assert.equal(jittered(1000, 5, () => 0), 0, 'spread clamped to 1');
  assert.equal(jittered(1000, 0.2, () => -3), 800, 'a draw below 0 counts as 0');
  assert.equal(jittered(1000, 0.2, () => 7), 1200, 'a draw above 1 counts as 1');
  assert.equal(jittered(1000, -1, () => 0), 1000, 'a negative spread counts as 0');
});

test('jittered: hosts that failed together are spread over the whole ±20% window', () => {
  // A deterministic uniform sequence stands in for Math.random.
  let i = 0;
  const draws = (): number => ((i++ * 0.618_034) % 1);
  const delays = Array.from({ length: 3000 }, () => jittered(60_000, 0.2, draws));
  assert.ok(Math.min(...delays) >= 48_000 && Math.max(...delays) <= 72_000, 'inside the window');
  // Per second of the window, no more than about its share (3000 / 24 s = 125) come due together.
  const perSecond = new Map<number, number>();
  for (const d of delays) perSecond.set(Math.floor(d / 1000), (perSecond.get(Math.floor(d / 1000)) ?? 0) + 1);
  assert.ok(perSecond.size >= 24, `spread over ${perSecond.size} seconds`);
  assert.ok(Math.max(...perSecond.values()) <= 200, `at most ${Math.max(...perSecond.values())} in one second`);
});
