/** Cluster ownership (etcd sharding) on a fake etcd with leases and a fake monotonic clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ShardOwner, ownerKey } from '../../src/adapters/leader/shards.js';
import { assignClusters } from '../../src/domain/shard.js';
import { fakeEtcd, type Clock, type FakeEtcd } from '../helpers/fake-etcd.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const CLUSTERS = ['app1', 'app2', 'app3', 'app4', 'app5', 'app6'];

function manager(etcd: FakeEtcd, clock: Clock, instance: string, busy = new Set<string>()): ShardOwner & { watching: Set<string> } {
  const watching = new Set<string>();
  const s = new ShardOwner({
    store: etcd,
    prefix: '/mhats',
    instance,
    ttlSeconds: 3,
    log: quiet,
    mono: clock.mono,
    now: clock.now,
    pid: 1,
    clusters: () => CLUSTERS,
    busy: (c) => busy.has(c),
    onAcquire: (c) => {
      assert.ok(!watching.has(c));
      watching.add(c);
      return Promise.resolve();
    },
    onRelease: (c) => {
      watching.delete(c);
      return Promise.resolve();
    },
  });
  return Object.assign(s, { watching });
}

async function rounds(ms: ShardOwner[], clock: Clock, n: number, stepMs = 500): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const m of ms) if (!m.stopped) await m.step();
    clock.t += stepMs;
  }
}

function ownersOf(etcd: FakeEtcd): Map<string, string> {
  return new Map(CLUSTERS.flatMap((c) => {
    const kv = etcd.kvs.get(ownerKey('/mhats', c));
    return kv ? [[c, (JSON.parse(kv.value) as { instance: string }).instance]] : [];
  }));
}

describe('cluster ownership on etcd (sharding)', () => {
  it('three managers: every cluster exactly one owner, the fair share, monitors only where owned', async () => {
    const { clock, etcd } = fakeEtcd();
    const ms = ['m1', 'm2', 'm3'].map((n) => manager(etcd, clock, n));
    await rounds(ms, clock, 6);
    assert.deepEqual(ownersOf(etcd), assignClusters(CLUSTERS, ['m1', 'm2', 'm3']));
    for (const m of ms) {
      assert.deepEqual([...m.owned.keys()].sort(), [...m.watching].sort());
      for (const c of m.owned.keys()) assert.ok(m.isOwner(c) && m.fencingToken(c) !== undefined);
    }
    assert.deepEqual(ms.flatMap((m) => [...m.watching]).sort(), CLUSTERS);
  });

  it('a manager that dies: its clusters move within the lease TTL, with new fencing tokens', async () => {
    const { clock, etcd } = fakeEtcd();
    const ms = ['m1', 'm2', 'm3'].map((n) => manager(etcd, clock, n));
    await rounds(ms, clock, 6);
    const dead = ms[2]!;
    const his = [...dead.owned];
    dead.stopped = true; // SIGKILL: no more keepalives
    const t0 = clock.t;
    while (his.some(([c]) => ownersOf(etcd).get(c) === 'm3' || !ownersOf(etcd).has(c))) await rounds(ms, clock, 1, 250);
    assert.ok(clock.t - t0 <= 3000 + 1000, `moved after ${clock.t - t0} ms`);
    for (const [c, token] of his) {
      const owner = ms.find((m) => m.owned.has(c))!;
      assert.notEqual(owner.fencingToken(c), token, 'a new term, a new token');
    }
    assert.deepEqual(ownersOf(etcd), assignClusters(CLUSTERS, ['m1', 'm2']));
  });

  it('a manager that joins takes its share; a cluster in a failover is not handed over until it ends', async () => {
    const { clock, etcd } = fakeEtcd();
    const busy = new Set<string>();
    const m1 = manager(etcd, clock, 'm1', busy);
    const m2 = manager(etcd, clock, 'm2', busy);
    await rounds([m1, m2], clock, 6);
    const toM3 = [...assignClusters(CLUSTERS, ['m1', 'm2', 'm3'])].filter(([, m]) => m === 'm3').map(([c]) => c);
    const failing = toM3[0]!;
    busy.add(failing);
    const releasedBefore = m1.released + m2.released;
    const m3 = manager(etcd, clock, 'm3');
    await rounds([m1, m2, m3], clock, 6);
    assert.ok(!m3.owned.has(failing), 'not taken during the failover');
    assert.ok(m1.owned.has(failing) || m2.owned.has(failing), 'its owner keeps it');
    for (const c of toM3.slice(1)) assert.ok(m3.owned.has(c), `${c} moved to the newcomer`);
    busy.delete(failing);
    await rounds([m1, m2, m3], clock, 4);
    assert.ok(m3.owned.has(failing), 'taken once the failover ended');
    assert.deepEqual(ownersOf(etcd), assignClusters(CLUSTERS, ['m1', 'm2', 'm3']));
    assert.deepEqual({ acquired: m3.acquired, released: m1.released + m2.released - releasedBefore }, { acquired: toM3.length, released: toM3.length }, "no cluster moved twice");
  });

  it('a stopped manager resigns: its keys go at once', async () => {
    const { clock, etcd } = fakeEtcd();
    const ms = ['m1', 'm2'].map((n) => manager(etcd, clock, n));
    await rounds(ms, clock, 4);
    await ms[1]!.resign();
    assert.ok([...ownersOf(etcd).values()].every((o) => o === 'm1'));
    await rounds([ms[0]!], clock, 2);
    assert.equal(ownersOf(etcd).size, 6);
  });
});
