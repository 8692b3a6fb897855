/**
 * A fake etcd for the unit tests of the election, the cluster ownership
 * (sharding) and the owners' views: keys with create/mod revisions, leases
 * that expire on a fake monotonic clock and take their keys with them.
 * `down` makes every call fail; `calls` names every call made; `puts` counts
 * the puts done by successful transactions.
 */
import type { ElectionStore } from '../../src/adapters/leader/election.js';
import type { ShardStore } from '../../src/adapters/leader/shards.js';
import type { ViewStore } from '../../src/adapters/leader/views.js';
import type { Compare, KeyValue, TxnOp, TxnResult } from '../../src/adapters/leader/etcd-client.js';

/** A fake clock: `t` is the monotonic time (ms), moved by hand. */
export class Clock {
  t = 1_000_000;
  mono = (): number => this.t;
  now = (): number => 1_700_000_000_000 + this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export class FakeEtcd implements ElectionStore, ShardStore, ViewStore {
  rev = 1;
  nextLease = 100;
  /** lease id -> expiry (mono ms) and its TTL (s) */
  leases = new Map<string, { until: number; ttl: number }>();
  kvs = new Map<string, KeyValue>();
  /** Puts done by successful transactions. */
  puts = 0;
  down = false;
  calls: string[] = [];
  constructor(private clock: Clock) {}
  #expire(): void {
    for (const [id, l] of this.leases) {
      if (l.until > this.clock.t) continue;
      this.leases.delete(id);
      for (const [k, kv] of this.kvs) if (kv.lease === id) this.kvs.delete(k);
    }
  }
  #gate(what: string): void {
    this.calls.push(what);
    if (this.down) throw new Error('connection refused');
    this.#expire();
  }
  /** Writes a key directly (not a call to etcd: never fails, not counted); returns its mod revision. */
  put(key: string, value: string, lease = '0'): string {
    const r = String(++this.rev);
    const cur = this.kvs.get(key);
    this.kvs.set(key, { key, value, lease, createRevision: cur?.createRevision ?? r, modRevision: r, version: '1' });
    return r;
  }
  leaseGrant(ttl: number): Promise<{ id: string; ttl: number }> {
    this.#gate('grant');
    const id = String(this.nextLease++);
    this.leases.set(id, { until: this.clock.t + ttl * 1000, ttl });
    return Promise.resolve({ id, ttl });
  }
  leaseKeepAlive(id: string): Promise<number> {
    this.#gate('keepalive');
    const l = this.leases.get(id);
    if (!l) return Promise.resolve(0);
    l.until = this.clock.t + l.ttl * 1000;
    return Promise.resolve(l.ttl);
  }
  leaseRevoke(id: string): Promise<void> {
    this.#gate('revoke');
    this.leases.delete(id);
    for (const [k, kv] of this.kvs) if (kv.lease === id) this.kvs.delete(k);
    return Promise.resolve();
  }
  putIfAbsent(key: string, value: string, lease: string): Promise<{ created: true; revision: string } | { created: false; current: KeyValue | undefined }> {
    this.#gate('campaign');
    const cur = this.kvs.get(key);
    if (cur) return Promise.resolve({ created: false, current: cur });
    return Promise.resolve({ created: true, revision: this.put(key, value, lease) });
  }
  get(key: string): Promise<KeyValue | undefined> {
    this.#gate('get');
    return Promise.resolve(this.kvs.get(key));
  }
  range(prefix: string): Promise<KeyValue[]> {
    this.#gate('range');
    return Promise.resolve([...this.kvs.values()].filter((kv) => kv.key.startsWith(prefix)));
  }
  txn(compare: Compare[], success: TxnOp[]): Promise<TxnResult> {
    this.#gate('txn');
    const ok = compare.every((c) => (c.target === 'LEASE' ? this.kvs.get(c.key)?.lease === c.lease : (this.kvs.get(c.key)?.createRevision ?? '0') === c.createRevision));
    if (ok) {
      for (const op of success) {
        if ('put' in op) {
          this.put(op.put.key, op.put.value, op.put.lease);
          this.puts++;
        } else if ('delete' in op) this.kvs.delete(op.delete.key);
      }
    }
    return Promise.resolve({ succeeded: ok, revision: String(this.rev), kvs: [] });
  }
}

/** A fake etcd on its own fake clock. */
export function fakeEtcd(): { clock: Clock; etcd: FakeEtcd } {
  const clock = new Clock();
  return { clock, etcd: new FakeEtcd(clock) };
}
