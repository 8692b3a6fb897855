/**
 * Each owner's last view of its clusters in etcd (sharding), for the next
 * owner (domain/handover.ts): PREFIX/clusters/NAME/view.
 *
 *  - Written when the view changes (the master, healthy or failing), never
 *    periodically: etcd keeps no growing history of it. The write is fenced
 *    on the cluster's owner key (its create_revision, the fencing token): a
 *    manager that lost the cluster cannot overwrite its new owner's view.
 *  - Attached to a lease of this manager's own (the view lease, TTL derived
 *    from lease_ttl), renewed with the ownership rounds while every monitor
 *    loop makes progress. So a view outlives its writer by at most that TTL:
 *    one that can still be read is recent, without comparing clocks. A
 *    manager whose loops are wedged stops renewing: its views expire.
 *  - A cluster handed over (or lost, or removed) keeps its last view on a
 *    fresh lease of the same TTL that nobody renews: the next owner reads
 *    it, and it goes away on its own.
 *  - Nothing is revoked on stop: the views of a stopped manager must outlive
 *    it for the managers that take its clusters.
 */
import type { Compare, KeyValue, TxnOp, TxnResult } from './etcd-client.js';
import type { ElectionLog } from './election.js';
import { ownerKey } from './shards.js';
import { parseView, sameView, type OwnerView } from '../../domain/handover.js';

export interface ViewStore {
  leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }>;
  leaseKeepAlive(id: string): Promise<number>;
  txn(compare: Compare[], success: TxnOp[], failure?: TxnOp[]): Promise<TxnResult>;
  get(key: string): Promise<KeyValue | undefined>;
}

export interface OwnerViewsOptions {
  store: ViewStore;
  prefix: string;
  /** The view lease's TTL (s). */
  ttlSeconds: number;
  log: ElectionLog;
  /** Monotonic ms. */
  mono: () => number;
  /** Do this manager's monitor loops make progress? While not, the view lease is not renewed. */
  progressing: () => boolean;
}

export function viewKey(prefix: string, cluster: string): string {
  return `${prefix.replace(/\/+$/, '')}/clusters/${cluster}/view`;
}

export class OwnerViews {
  readonly ttlSeconds: number;
  /** Views written (etcd puts), for tests and metrics. */
  writes = 0;
  #o: OwnerViewsOptions;
  #lease: string | undefined;
  #nextKeepAlive = -Infinity;
  /** Owned clusters: the view to record and the fencing token to write it with. */
  #latest = new Map<string, { view: OwnerView; token: string }>();
  /** What etcd has from us on the view lease. */
  #written = new Map<string, OwnerView>();
  /** Released clusters whose view could not be moved off our lease yet. */
  #orphans = new Map<string, OwnerView>();
  #chain: Promise<void> = Promise.resolve();
  #pausedLogged = false;
  #failLogged = false;

  constructor(o: OwnerViewsOptions) {
    this.#o = o;
    this.ttlSeconds = o.ttlSeconds;
  }

  /** The view lease (undefined: none yet, or it expired). */
  get lease(): string | undefined {
    return this.#lease;
  }

  /** The owner's current view of a cluster it owns: written when it differs from what etcd has. */
  set(cluster: string, token: string, view: OwnerView): void {
    const prev = this.#latest.get(cluster);
    this.#latest.set(cluster, { view, token });
    if (prev?.token === token && sameView(prev.view, view)) return;
    // A failed write is tried again at the next round.
    if (this.#lease !== undefined) this.#serial(() => this.#flush()).catch(() => undefined);
  }

  /** The last view recorded by anyone (undefined: none, it expired, or etcd could not be read). */
  async read(cluster: string): Promise<OwnerView | undefined> {
    return parseView((await this.#o.store.get(viewKey(this.#o.prefix, cluster)))?.value);
  }

  /**
   * The cluster is no longer ours (its monitor stopped): its last view stays for the next owner, on a
   * lease nobody renews. Only a view still on our lease is moved (never another owner's).
   */
  release(cluster: string): Promise<void> {
    this.#latest.delete(cluster);
    return this.#serial(async () => {
      const view = this.#written.get(cluster);
      this.#written.delete(cluster);
      if (view !== undefined) await this.#moveOff(cluster, view);
    });
  }

  /** A released cluster's view, still on our lease: moved to a lease nobody renews (retried every round until done). */
  async #moveOff(cluster: string, view: OwnerView): Promise<void> {
    const lease = this.#lease;
    this.#orphans.delete(cluster);
    if (lease === undefined) return;
    const key = viewKey(this.#o.prefix, cluster);
    try {
      const once = await this.#o.store.leaseGrant(this.ttlSeconds);
      await this.#o.store.txn([{ key, target: 'LEASE', lease }], [{ put: { key, value: JSON.stringify(view), lease: once.id } }]);
    } catch (err) {
      // Renewed with our lease meanwhile, it would never expire: tried again at the next round.
      this.#orphans.set(cluster, view);
      this.#o.log.debug({ cluster, err: (err as Error).message }, `could not leave the last view of ${cluster} for its next owner yet: ${(err as Error).message}`);
    }
  }

  /** One round (with the ownership rounds): renew or create the view lease, write what changed. */
  step(): Promise<void> {
    return this.#serial(async () => {
      if (!this.#o.progressing()) {
        if (!this.#pausedLogged) this.#o.log.warn({ lease: this.#lease }, `monitor loops not progressing: the views of this manager's clusters are no longer renewed in etcd (they expire within ${this.ttlSeconds} s; a new owner then treats a dead master as at a cold start)`);
        this.#pausedLogged = true;
        return;
      }
      if (this.#pausedLogged) this.#o.log.info({}, 'monitor loops progress again: the views of this manager\'s clusters are renewed again');
      this.#pausedLogged = false;
      try {
        const mono = this.#o.mono();
        if (this.#lease !== undefined && mono >= this.#nextKeepAlive) {
          const ttl = await this.#o.store.leaseKeepAlive(this.#lease);
          if (ttl <= 0) {
            this.#lease = undefined;
            this.#written.clear();
          } else this.#nextKeepAlive = mono + (this.ttlSeconds * 1000) / 3;
        }
        if (this.#lease === undefined) {
          const g = await this.#o.store.leaseGrant(this.ttlSeconds);
          this.#lease = g.id;
          this.#written.clear();
          // The old lease is gone, and the released views with it.
          this.#orphans.clear();
          this.#nextKeepAlive = mono + (this.ttlSeconds * 1000) / 3;
        }
        for (const [cluster, view] of [...this.#orphans]) if (!this.#latest.has(cluster)) await this.#moveOff(cluster, view);
        await this.#flush();
        if (this.#failLogged) this.#o.log.info({}, 'the views of this manager\'s clusters are written to etcd again');
        this.#failLogged = false;
      } catch (err) {
        if (!this.#failLogged) this.#o.log.warn({ err: (err as Error).message }, `cannot record this manager's views of its clusters in etcd: ${(err as Error).message}`);
        this.#failLogged = true;
      }
    });
  }

  /** Writes what changed now (on stop, before the ownership goes); never rejects. */
  settle(): Promise<void> {
    return this.#serial(() => this.#flush()).catch(() => undefined);
  }

  async run(signal: AbortSignal, sleep: (ms: number, signal: AbortSignal) => Promise<void>, everyMs: number): Promise<void> {
    while (!signal.aborted) {
      await this.step();
      await sleep(everyMs, signal);
    }
  }

  async #flush(): Promise<void> {
    const lease = this.#lease;
    if (lease === undefined) return;
    for (const [cluster, { view, token }] of [...this.#latest]) {
      if (sameView(this.#written.get(cluster), view)) continue;
      const r = await this.#o.store.txn([{ key: ownerKey(this.#o.prefix, cluster), target: 'CREATE', createRevision: token }], [{ put: { key: viewKey(this.#o.prefix, cluster), value: JSON.stringify(view), lease } }]);
      if (!r.succeeded) {
        // Not the owner any more: the ownership round tells the manager, which releases it.
        if (this.#latest.get(cluster)?.token === token) this.#latest.delete(cluster);
        continue;
      }
      this.writes++;
      this.#written.set(cluster, view);
    }
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const p = this.#chain.then(fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }
}
