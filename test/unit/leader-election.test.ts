/** The election state machine on a fake etcd and a fake monotonic clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Election, type ElectionStore } from '../../src/adapters/leader/election.js';
import { fakeEtcd, type Clock } from '../helpers/fake-etcd.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

function election(store: ElectionStore, clock: Clock, instance: string, extra: Partial<ConstructorParameters<typeof Election>[0]> = {}): Election {
  return new Election({ store, key: '/mhats/leader', instance, ttlSeconds: 3, log: quiet, mono: clock.mono, now: clock.now, pid: 1, ...extra });
}

describe('election on an etcd lease', () => {
  it('the first to campaign leads; the second follows and names the leader', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    const b = election(etcd, clock, 'b');
    await a.step();
    await b.step();
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    assert.equal(b.leader?.instance, 'a');
    assert.equal(a.fencingToken(), '2');
    assert.equal(b.fencingToken(), undefined);
    assert.equal(await a.stillLeader(), true);
    assert.equal(a.healthy(), true);
    assert.equal(b.healthy(), true, 'a follower that reaches etcd is healthy');
  });

  it('the leader keeps its lease alive at TTL/3 and stays leader', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    await a.step();
    for (let i = 0; i < 30; i++) {
      clock.advance(500);
      await a.step();
      assert.equal(a.isLeader(), true, `still leader after ${(i + 1) * 500} ms`);
    }
    assert.ok(etcd.calls.filter((c) => c === 'keepalive').length >= 10);
  });

  it('a killed leader (no more keepalives) is replaced once its lease expires; the token grows', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    const b = election(etcd, clock, 'b');
    await a.step();
    await b.step();
    const t1 = a.fencingToken()!;
    // a dies: only b steps from now on.
    let took: number | undefined;
    for (let ms = 0; ms <= 5000; ms += 250) {
      clock.advance(250);
      await b.step();
      if (b.isLeader()) {
        took = ms + 250;
        break;
      }
    }
    assert.ok(took !== undefined && took <= 3000 + 500, `takeover within the TTL (took ${took} ms)`);
    assert.ok(BigInt(b.fencingToken()!) > BigInt(t1));
  });

  it('a leader cut off from etcd stops being leader BEFORE its lease can expire', async () => {
    const { clock, etcd } = fakeEtcd();
    const changes: boolean[] = [];
    const a = election(etcd, clock, 'a', { onChange: (l) => changes.push(l) });
    await a.step();
    const granted = clock.t;
    etcd.down = true;
    let lostAt: number | undefined;
    for (let i = 0; i < 40; i++) {
      clock.advance(100);
      await a.step().catch(() => 0);
      if (!a.isLeader() && lostAt === undefined) lostAt = clock.t;
    }
    assert.ok(lostAt !== undefined);
    // The lease lives 3000 ms from the grant at the latest: leadership must end at least the margin (1000 ms) before.
    assert.ok(lostAt - granted <= 3000 - 1000, `lost after ${lostAt - granted} ms`);
    assert.equal(await a.stillLeader(), false);
    assert.equal(a.fencingToken(), undefined);
    assert.deepEqual(changes, [true, false]);
    assert.equal(a.healthy(), false);
  });

  it('isLeader() turns false on the clock alone, even when no step runs (a wedged loop never acts on an old lease)', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    await a.step();
    assert.equal(a.isLeader(), true);
    clock.advance(1999);
    assert.equal(a.isLeader(), true);
    clock.advance(2);
    assert.equal(a.isLeader(), false);
  });

  it('a lease that expired at etcd (keepalive says TTL 0) ends the leadership', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    await a.step();
    etcd.leases.clear();
    etcd.kvs.clear();
    clock.advance(1100);
    await a.step();
    // It lost, then campaigned again with a new lease and won a new term.
    assert.equal(etcd.calls.filter((c) => c === 'grant').length, 2);
    assert.equal(a.fencingToken(), '3');
  });

  it('a leader whose key was deleted steps down, then campaigns again', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    const b = election(etcd, clock, 'b');
    await a.step();
    await b.step();
    etcd.kvs.clear();
    await b.step(); // b wins the now free key
    await a.step();
    assert.equal(a.isLeader(), false);
    assert.equal(b.isLeader(), true);
    assert.equal(a.leader?.instance, 'b');
  });

  it('resign() revokes the lease: a follower takes over at its next step', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    const b = election(etcd, clock, 'b');
    await a.step();
    await b.step();
    await a.resign();
    assert.equal(a.isLeader(), false);
    assert.equal(a.state, 'stopped');
    clock.advance(100);
    await b.step();
    assert.equal(b.isLeader(), true);
  });

  it('onElected runs before leading; when it fails the lease is given up', async () => {
    const { clock, etcd } = fakeEtcd();
    let fail = true;
    let seen = false;
    const a = election(etcd, clock, 'a', {
      onElected: () => {
        seen = true;
        return fail ? Promise.reject(new Error('journal unreadable')) : Promise.resolve();
      },
    });
    await a.step();
    assert.equal(seen, true);
    assert.equal(a.isLeader(), false);
    assert.equal(etcd.kvs.size, 0, 'the key went with the revoked lease');
    fail = false;
    clock.advance(1000);
    await a.step();
    assert.equal(a.isLeader(), true);
  });

  it('a campaign whose answer was lost but which got through is recognised as ours', async () => {
    const { clock, etcd } = fakeEtcd();
    const a = election(etcd, clock, 'a');
    const real = etcd.putIfAbsent.bind(etcd);
    let lose = true;
    etcd.putIfAbsent = async (k, v, l) => {
      const r = await real(k, v, l);
      if (lose) {
        lose = false;
        throw new Error('timeout');
      }
      return r;
    };
    await a.step();
    assert.equal(a.isLeader(), false);
    clock.advance(500);
    await a.step();
    assert.equal(a.isLeader(), true);
    assert.equal(a.fencingToken(), '2');
  });

  it('refuses a TTL too short for its safety margin', () => {
    const { clock, etcd } = fakeEtcd();
    assert.throws(() => election(etcd, clock, 'a', { ttlSeconds: 1, marginMs: 1000 }), /too short/);
  });
});
