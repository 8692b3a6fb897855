/** Cluster ownership (etcd sharding) on a fake etcd with leases and a fake monotonic clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ShardOwner, ownerKey, type ShardStore } from '../../src/adapters/leader/shards.js';
import type { Compare, KeyValue, TxnOp, TxnResult } from '../../src/adapters/leader/etcd-client.js';
import { assignClusters } from '../../src/domain/shard.js';

class Clock {
  t = 1_000_000;
  mono = (): number => this.t;
  now = (): number => 1_700_000_000_000 + this.t;
}

class FakeEtcd implements ShardStore {
  rev = 1;
  nextLease = 100;
  leases = new Map<string, number>();
  kvs = new Map<string, KeyValue>();
  constructor(private clock: Clock) {}
  #expire(): void {
    for (const [id, until] of this.leases) {
      if (until > this.clock.t) continue;
      this.leases.delete(id);
      for (const [k, kv] of this.kvs) if (kv.lease === id) this.kvs.delete(k);
    }
  }
  #put(key: string, value: string, lease = '0'): string {
    const r = String(++this.rev);
    const cur = this.kvs.get(key);
    this.kvs.set(key, { key, value, lease, createRevision: cur?.createRevision ?? r, modRevision: r, version: '1' });
    return r;
  }
  leaseGrant(ttl: number): Promise<{ id: string; ttl: number }> {
    this.#expire();
    const id = String(this.nextLease++);
    this.leases.set(id, this.clock.t + ttl * 1000);
    return Promise.resolve({ id, ttl });
  }
  leaseKeepAlive(id: string): Promise<number> {
    this.#expire();
    if (!this.leases.has(id)) return Promise.resolve(0);
    this.leases.set(id, this.clock.t + 3000);
    return Promise.resolve(3);
  }
  leaseRevoke(id: string): Promise<void> {
    this.leases.set(id, -1);
    this.#expire();
    return Promise.resolve();
  }
  putIfAbsent(key: string, value: string, lease: string): Promise<{ created: true; revision: string } | { created: false; current: KeyValue | undefined }> {
    this.#expire();
    const cur = this.kvs.get(key);
    if (cur) return Promise.resolve({ created: false, current: cur });
    return Promise.resolve({ created: true, revision: this.#put(key, value, lease) });
  }
  get(key: string): Promise<KeyValue | undefined> {
    this.#expire();
    return Promise.resolve(this.kvs.get(key));
  }
  range(prefix: string): Promise<KeyValue[]> {
    this.#expire();
    return Promise.resolve([...this.kvs.values()].filter((kv) => kv.key.startsWith(prefix)));
  }
  txn(compare: Compare[], success: TxnOp[]): Promise<TxnResult> {
    this.#expire();
    const ok = compare.every((c) => (c.target === 'LEASE' ? this.kvs.get(c.key)?.lease === c.lease : (this.kvs.get(c.key)?.createRevision ?? '0') === c.createRevision));
    if (ok) for (const op of success) if ('put' in op) this.#put(op.put.key, op.put.value, op.put.lease);
    else if ('delete' in op) this.kvs.delete(op.delete.key);
    return Promise.resolve({ succeeded: ok, revision: String(this.rev), kvs: [] });
  }
}

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
    const clock = new Clock();
    const etcd = new FakeEtcd(clock);
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
    const clock = new Clock();
    const etcd = new FakeEtcd(clock);
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
    const clock = new Clock();
    const etcd = new FakeEtcd(clock);
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
    const clock = new Clock();
    const etcd = new FakeEtcd(clock);
    const ms = ['m1', 'm2'].map((n) => manager(etcd, clock, n));
    await rounds(ms, clock, 4);
    await ms[1]!.resign();
    assert.ok([...ownersOf(etcd).values()].every((o) => o === 'm1'));
    await rounds([ms[0]!], clock, 2);
    assert.equal(ownersOf(etcd).size, 6);
  });
});
