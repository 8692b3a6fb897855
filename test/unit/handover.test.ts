/**
 * A cluster that changes owner while its master dies (etcd sharding): the pure decision of the new owner's first
 * look (domain/handover.ts), and the owners' views in etcd (adapters/leader/views.ts) on a fake etcd with leases.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { handoverDecision, handoverTimes, parseView, sameView, viewOf, type FirstLook, type OwnerView } from '../../src/domain/handover.js';
import { OwnerViews, viewKey } from '../../src/adapters/leader/views.js';
import { ownerKey } from '../../src/adapters/leader/shards.js';
import { Clock, FakeEtcd } from '../helpers/fake-etcd.js';

const NOW = 1_800_000_000_000;
const limits = { maxFailingMs: 8000, maxReadAgeMs: 10_000 };
const dead: FirstLook = { master: 'db1', masterReachable: false, errors: [{ code: 'master_unreachable', server: 'db1' }, { code: 'io_thread', server: 'db2' }] };
const healthyView: OwnerView = { master: 'db1', healthy: true, by: 'm1', at: NOW - 60_000 };

describe('handoverDecision: the new owner finds the master dead at its first look', () => {
  it('no view of a previous owner (a cold start, or the view expired): not failed over, as before', () => {
    const d = handoverDecision(undefined, dead, 100, NOW, limits);
    assert.equal(d.adopt, false);
    assert.match(d.reason, /cold start/);
  });
  it('the previous owner watched the same master healthy: watched as a master that just failed', () => {
    // The write time does not matter: the view exists, so its writer renewed it until a moment ago.
    const d = handoverDecision(healthyView, dead, 500, NOW, limits);
    assert.deepEqual(d.adopt ? d.master : undefined, 'db1');
    assert.match(d.reason, /m1 watched db1 healthy/);
  });
  it('lagging replicas (their master is gone) do not stand in the way', () => {
    const d = handoverDecision(healthyView, { ...dead, errors: [...dead.errors, { code: 'lag', server: 'db3' }] }, 500, NOW, limits);
    assert.equal(d.adopt, true);
  });
  it('a view naming another master: refused (the topology is not the one the previous owner watched)', () => {
    const d = handoverDecision({ ...healthyView, master: 'db3' }, dead, 500, NOW, limits);
    assert.equal(d.adopt, false);
    assert.match(d.reason, /watched db3 as master, the replicas now point at db1/);
  });
  it('the previous owner watched no master (a broken topology): refused', () => {
    const d = handoverDecision({ healthy: false, by: 'm1', at: NOW }, dead, 500, NOW, limits);
    assert.equal(d.adopt, false);
    assert.match(d.reason, /watched no master/);
  });
  it('other problems than a dead master (a replica elsewhere, one unreachable): refused, naming them', () => {
    const d = handoverDecision(healthyView, { ...dead, errors: [...dead.errors, { code: 'wrong_source', server: 'db3' }, { code: 'unreachable', server: 'db4' }] }, 500, NOW, limits);
    assert.equal(d.adopt, false);
    assert.match(d.reason, /db3: wrong_source, db4: unreachable/);
  });
  it('the replicas name no master, or the master answers: nothing to decide', () => {
    assert.equal(handoverDecision(healthyView, { master: undefined, masterReachable: false, errors: [{ code: 'no_master' }] }, 500, NOW, limits).adopt, false);
    assert.equal(handoverDecision(healthyView, { master: 'db1', masterReachable: true, errors: [{ code: 'lag', server: 'db2' }] }, 500, NOW, limits).adopt, false);
  });
  it('a master the previous owner saw failing a few seconds: watched as failed; failing for long: refused', () => {
    const failing = (ago: number): OwnerView => ({ master: 'db1', healthy: false, failingSince: NOW - ago, by: 'm1', at: NOW - ago });
    assert.equal(handoverDecision(failing(3000), dead, 500, NOW, limits).adopt, true);
    const d = handoverDecision(failing(9000), dead, 500, NOW, limits);
    assert.equal(d.adopt, false);
    assert.match(d.reason, /failing for 9 s without failing it over \(at most 8 s count\)/);
    // A writer's clock a little ahead of ours: still a recent failure.
    assert.equal(handoverDecision(failing(-1500), dead, 500, NOW, limits).adopt, true);
    assert.equal(handoverDecision({ master: 'db1', healthy: false, by: 'm1', at: NOW }, dead, 500, NOW, limits).adopt, false);
  });
  it('a view read long before the first inspection: refused', () => {
    const d = handoverDecision(healthyView, dead, 12_000, NOW, limits);
    assert.equal(d.adopt, false);
    assert.match(d.reason, /read 12 s before/);
  });
});

describe('viewOf / sameView / parseView / handoverTimes', () => {
  it('records the master and whether it answers; nothing before the first inspection', () => {
    assert.equal(viewOf({ state: 'starting', detectorHealthy: true }, 'm1', NOW), undefined);
    assert.deepEqual(viewOf({ state: 'watching', master: 'db1', detectorHealthy: true }, 'm1', NOW), { master: 'db1', healthy: true, by: 'm1', at: NOW });
    assert.deepEqual(viewOf({ state: 'suspect', master: 'db1', detectorHealthy: false, failingSince: NOW - 700 }, 'm1', NOW), { master: 'db1', healthy: false, failingSince: NOW - 700, by: 'm1', at: NOW });
    assert.deepEqual(viewOf({ state: 'failing_over', master: 'db1', detectorHealthy: false }, 'm1', NOW), { master: 'db1', healthy: false, failingSince: NOW, by: 'm1', at: NOW });
    assert.deepEqual(viewOf({ state: 'broken', detectorHealthy: true }, 'm1', NOW), { healthy: false, by: 'm1', at: NOW });
  });
  it('the same view written later is the same (no write), a change is not', () => {
    const a = viewOf({ state: 'watching', master: 'db1', detectorHealthy: true }, 'm1', NOW);
    assert.ok(sameView(a, viewOf({ state: 'watching', master: 'db1', detectorHealthy: true }, 'm1', NOW + 5000)));
    assert.ok(!sameView(a, viewOf({ state: 'suspect', master: 'db1', detectorHealthy: false, failingSince: NOW }, 'm1', NOW)));
    assert.ok(!sameView(a, undefined));
  });
  it('parses what it writes; rejects anything else', () => {
    const v: OwnerView = { master: 'db1', healthy: false, failingSince: NOW, by: 'm1', at: NOW };
    assert.deepEqual(parseView(JSON.stringify(v)), v);
    for (const bad of [undefined, '', 'x', '{}', '{"healthy":"yes","by":"m","at":1}', '{"healthy":true,"by":"m","at":1,"master":3}']) assert.equal(parseView(bad), undefined, String(bad));
  });
  it('derives the view lease and the limits from the settings', () => {
    assert.deepEqual(handoverTimes({ leaseTtlS: 10, requestTimeoutS: 2, pingIntervalS: 3, connectTimeoutS: 4 }), { viewTtlS: 24, maxFailingMs: 24_000, maxReadAgeMs: 17_000 });
    assert.deepEqual(handoverTimes({ leaseTtlS: 3, requestTimeoutS: 1, pingIntervalS: 0.3, connectTimeoutS: 1 }), { viewTtlS: 8, maxFailingMs: 8000, maxReadAgeMs: 10_000 });
  });
});

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const P = '/mhats';

function setup(progressing = (): boolean => true): { clock: Clock; etcd: FakeEtcd; views: OwnerViews; token: string } {
  const clock = new Clock();
  const etcd = new FakeEtcd(clock);
  // The cluster's owner key (its create_revision is the fencing token).
  const token = etcd.put(ownerKey(P, 'app1'), '{"instance":"m1"}');
  const views = new OwnerViews({ store: etcd, prefix: P, ttlSeconds: 8, log: quiet, mono: clock.mono, progressing });
  return { clock, etcd, views, token };
}
const healthy = (at: number): OwnerView => ({ master: 'db1', healthy: true, by: 'm1', at });
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('OwnerViews: each owner\'s last view of its clusters in etcd', () => {
  it('writes a view when it changes, not at every tick', async () => {
    const { clock, etcd, views, token } = setup();
    await views.step();
    for (let i = 0; i < 20; i++) {
      views.set('app1', token, healthy(NOW + i * 300));
      await views.step();
      clock.t += 300;
    }
    assert.equal(etcd.puts, 1);
    views.set('app1', token, { master: 'db1', healthy: false, failingSince: NOW, by: 'm1', at: NOW });
    await views.settle();
    assert.equal(etcd.puts, 2);
    assert.equal((await views.read('app1'))?.healthy, false);
  });
  it('a view outlives its writer by at most the view lease TTL (its writer stopped renewing it)', async () => {
    const { clock, views, token } = setup();
    await views.step();
    views.set('app1', token, healthy(NOW));
    for (let i = 0; i < 40; i++) {
      await views.step();
      clock.t += 500;
    }
    // Renewed while the writer lives (20 s, more than the TTL of 8 s).
    assert.equal((await views.read('app1'))?.master, 'db1');
    // The writer dies: the view stays readable for a while, then goes.
    clock.t += 5000;
    assert.equal((await views.read('app1'))?.master, 'db1');
    clock.t += 3500;
    assert.equal(await views.read('app1'), undefined);
  });
  it('fenced on the owner key: a manager that lost the cluster writes nothing', async () => {
    const { etcd, views } = setup();
    await views.step();
    views.set('app1', '999', healthy(NOW));
    await views.settle();
    assert.equal(etcd.puts, 0);
    assert.equal(await views.read('app1'), undefined);
  });
  it('a handed-over cluster keeps its last view for the next owner, on a lease nobody renews', async () => {
    const { clock, views, token } = setup();
    await views.step();
    views.set('app1', token, healthy(NOW));
    await views.settle();
    await views.release('app1');
    // The writer lives on and renews its own lease, but the released view expires TTL after the release.
    for (let i = 0; i < 15; i++) {
      await views.step();
      clock.t += 500;
    }
    assert.equal((await views.read('app1'))?.master, 'db1');
    for (let i = 0; i < 2; i++) {
      await views.step();
      clock.t += 500;
    }
    assert.equal(await views.read('app1'), undefined);
  });
  it('a release while etcd cannot be reached is done at a later round (the view must not live on with our lease)', async () => {
    const { clock, etcd, views, token } = setup();
    await views.step();
    views.set('app1', token, healthy(NOW));
    await views.settle();
    etcd.down = true;
    await views.release('app1');
    etcd.down = false;
    clock.t += 500;
    await views.step();
    const releasedAt = clock.t;
    // The writer keeps renewing its own lease; the released view goes TTL after it was moved.
    while (clock.t < releasedAt + 7500) {
      await views.step();
      clock.t += 500;
    }
    assert.equal((await views.read('app1'))?.master, 'db1');
    clock.t += 1000;
    await views.step();
    assert.equal(await views.read('app1'), undefined);
  });
  it('release never moves another owner\'s view', async () => {
    const { etcd, views, token } = setup();
    await views.step();
    views.set('app1', token, healthy(NOW));
    await views.settle();
    // A new owner wrote its own view meanwhile (on its lease).
    const other = await etcd.leaseGrant(8);
    etcd.put(viewKey(P, 'app1'), JSON.stringify({ master: 'db2', healthy: true, by: 'm2', at: NOW }), other.id);
    await views.release('app1');
    assert.equal(etcd.kvs.get(viewKey(P, 'app1'))?.lease, other.id);
    assert.equal((await views.read('app1'))?.by, 'm2');
  });
  it('while the monitor loops do not progress the lease is not renewed: the views expire', async () => {
    let ok = true;
    const { clock, views, token } = setup(() => ok);
    await views.step();
    views.set('app1', token, healthy(NOW));
    await views.settle();
    ok = false;
    for (let i = 0; i < 17; i++) {
      await views.step();
      clock.t += 500;
    }
    assert.equal(await views.read('app1'), undefined);
    // Progress again: a new lease, and the view written again.
    ok = true;
    await views.step();
    assert.equal((await views.read('app1'))?.master, 'db1');
  });
  it('etcd unreachable: set() and step() never throw; the view is written once etcd answers', async () => {
    const { etcd, views, token } = setup();
    await views.step();
    etcd.down = true;
    views.set('app1', token, healthy(NOW));
    await settle();
    await views.step();
    etcd.down = false;
    await views.step();
    assert.equal((await views.read('app1'))?.master, 'db1');
  });
});
