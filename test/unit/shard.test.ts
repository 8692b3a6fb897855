import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignClusters, hash53, moved, ranking } from '../../src/domain/shard.js';

const clusters = (n: number): string[] => Array.from({ length: n }, (_, i) => `app${i}`);
const managers = (n: number): string[] => Array.from({ length: n }, (_, i) => `mgr-${String.fromCharCode(97 + i)}`);

function loads(a: Map<string, string>, ms: string[]): number[] {
  return ms.map((m) => [...a.values()].filter((x) => x === m).length);
}

test('the hash is stable (the same on every manager, in every version)', () => {
  assert.equal(hash53('app1\u0000mgr-a'), hash53('app1\u0000mgr-a'));
  assert.notEqual(hash53('app1\u0000mgr-a'), hash53('app1\u0000mgr-b'));
  assert.deepEqual(ranking('app1', ['mgr-b', 'mgr-a', 'mgr-c']), ranking('app1', ['mgr-c', 'mgr-b', 'mgr-a']), 'the order of the input does not matter');
});

test('balance: every manager owns ceil or floor of C/M clusters, for many sizes', () => {
  for (const [c, m] of [[6, 3], [7, 3], [100, 3], [334, 4], [1000, 7], [5, 8], [1, 1]] as const) {
    const ms = managers(m);
    const a = assignClusters(clusters(c), ms);
    assert.equal(a.size, c);
    const l = loads(a, ms);
    assert.ok(Math.max(...l) <= Math.ceil(c / m), `${c}/${m}: ${l.join(',')}`);
    assert.ok(Math.max(...l) - Math.min(...l) <= 1 || Math.min(...l) >= Math.floor(c / m) - 1, `${c}/${m}: ${l.join(',')}`);
  }
});

test('six clusters on three managers: two each, and every manager computes the same owners', () => {
  const a = assignClusters(clusters(6), ['m1', 'm2', 'm3']);
  assert.deepEqual(loads(a, ['m1', 'm2', 'm3']), [2, 2, 2]);
  assert.deepEqual([...assignClusters([...clusters(6)].reverse(), ['m3', 'm1', 'm2'])].sort(), [...a].sort());
});

test('bounded movement: a manager that joins takes about its share, and little else moves', () => {
  for (const [c, m] of [[300, 3], [1000, 4], [60, 5]] as const) {
    const before = assignClusters(clusters(c), managers(m));
    const after = assignClusters(clusters(c), managers(m + 1));
    const share = Math.ceil(c / (m + 1));
    const took = [...after.values()].filter((x) => x === managers(m + 1).at(-1)).length;
    assert.ok(took <= share, `the newcomer takes at most its share (${took} ≤ ${share})`);
    assert.ok(moved(before, after) <= Math.ceil(share * 1.5), `${c}/${m}→${m + 1}: ${moved(before, after)} moved, share ${share}`);
  }
});

test('bounded movement: a manager that leaves gives its clusters away; the others keep nearly all theirs', () => {
  for (const [c, m] of [[300, 4], [1000, 5], [60, 3]] as const) {
    const ms = managers(m);
    const before = assignClusters(clusters(c), ms);
    const gone = ms[1]!;
    const after = assignClusters(clusters(c), ms.filter((x) => x !== gone));
    const his = [...before.values()].filter((x) => x === gone).length;
    const others = [...before].filter(([cl, x]) => x !== gone && after.get(cl) !== x).length;
    assert.ok(moved(before, after) >= his);
    assert.ok(others <= Math.ceil(his * 0.5), `${c}/${m}: besides the ${his} clusters of the leaver, ${others} moved`);
  }
});

test('pinned clusters (a failover in progress) keep their live owner; a dead owner does not pin', () => {
  const ms = ['m1', 'm2', 'm3'];
  const free = assignClusters(clusters(6), ms);
  const [c, owner] = [...free][0]!;
  const other = ms.find((m) => m !== owner)!;
  const pinned = assignClusters(clusters(6), ms, new Map([[c, other]]));
  assert.equal(pinned.get(c), other);
  assert.ok(Math.max(...loads(pinned, ms)) <= 2);
  const dead = assignClusters(clusters(6), ['m1', 'm2'].filter((m) => m !== 'm3'), new Map([[c, 'm3']]));
  assert.notEqual(dead.get(c), 'm3');
});

test('no live manager: no owner', () => {
  assert.equal(assignClusters(clusters(3), []).size, 0);
});
