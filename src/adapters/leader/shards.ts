/**
 * Clusters spread over several managers on etcd (`etcd.sharding: true`).
 *
 *  - Each manager keeps one lease, and a member key PREFIX/managers/INSTANCE
 *    on it: the live managers are the member keys.
 *  - Each cluster has an owner key PREFIX/clusters/NAME/owner, created with
 *    `create_revision == 0` on its owner's lease. Only the owner watches and
 *    fails over the cluster; the key's create_revision is the fencing token
 *    (the cluster's journal writes are conditional on it, and hooks get it).
 *  - Every manager computes the same fair share from the live members
 *    (domain/shard.ts: rendezvous hashing with bounded loads). A manager
 *    hands over a cluster that is no longer its share by stopping its
 *    monitor first and deleting the key after; it takes a cluster of its
 *    share once the key is free. A manager that dies stops renewing its
 *    lease: its keys go with it within the TTL and the others take over.
 *  - A cluster in the middle of a failover is never handed over: its owner
 *    keeps the key until the failover ends (or its lease expires, and then
 *    the journal's unfinished record blocks the next owner).
 *  - Ownership counts only while the lease is surely fresh (as for the
 *    leader: the keepalive's send time on a monotonic clock, minus a margin).
 *
 * One step() at a time, so tests drive it with a fake store and clock.
 */
import type { Compare, KeyValue, TxnOp, TxnResult } from './etcd-client.js';
import type { ElectionLog, ElectionStore } from './election.js';
import { assignClusters } from '../../domain/shard.js';

export interface ShardStore extends ElectionStore {
  range(prefix: string): Promise<KeyValue[]>;
  txn(compare: Compare[], success: TxnOp[], failure?: TxnOp[]): Promise<TxnResult>;
}

export interface ShardOptions {
  store: ShardStore;
  /** Key prefix, e.g. /mhats. */
  prefix: string;
  instance: string;
  ttlSeconds: number;
  marginMs?: number | undefined;
  pollMs?: number | undefined;
  log: ElectionLog;
  mono: () => number;
  now: () => number;
  pid?: number;
  /** The clusters of the configuration. */
  clusters: () => string[];
  /** A failover of the cluster is running: it is not handed over. */
  busy: (cluster: string) => boolean;
  /** After the key was won, before the cluster counts as owned (read its journal, start its monitor). A throw gives it back. */
  onAcquire: (cluster: string, token: string) => Promise<void>;
  /** Before the key is given back, and when ownership was lost (stop the monitor; resolves when it stopped). */
  onRelease: (cluster: string, why: 'handover' | 'lost' | 'removed') => Promise<void>;
  onChange?: (() => void) | undefined;
}

export interface OwnerInfo {
  instance: string;
  pid?: number | undefined;
  since?: string | undefined;
}

export function ownerKey(prefix: string, cluster: string): string {
  return `${prefix.replace(/\/+$/, '')}/clusters/${cluster}/owner`;
}

export function memberPrefix(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/managers/`;
}

export function parseOwner(v: string | undefined): OwnerInfo | undefined {
  if (v === undefined) return undefined;
  try {
    const o = JSON.parse(v) as { instance?: unknown; pid?: unknown; since?: unknown };
    if (typeof o.instance !== 'string') return undefined;
    return { instance: o.instance, pid: typeof o.pid === 'number' ? o.pid : undefined, since: typeof o.since === 'string' ? o.since : undefined };
  } catch {
    return undefined;
  }
}

/** Every cluster's owner as etcd has it (for `mhats status`, and the managers' view). */
export async function readOwners(store: Pick<ShardStore, 'range'>, prefix: string): Promise<Map<string, OwnerInfo & { token: string; lease: string }>> {
  const base = `${prefix.replace(/\/+$/, '')}/clusters/`;
  const out = new Map<string, OwnerInfo & { token: string; lease: string }>();
  for (const kv of await store.range(base)) {
    const rest = kv.key.slice(base.length);
    if (!rest.endsWith('/owner')) continue;
    const o = parseOwner(kv.value);
    if (o) out.set(rest.slice(0, -'/owner'.length), { ...o, token: kv.createRevision, lease: kv.lease });
  }
  return out;
}

export class ShardOwner {
  readonly instance: string;
  readonly ttlMs: number;
  readonly marginMs: number;
  readonly pollMs: number;
  /** Clusters this manager owns → the owner key's create_revision (fencing token). */
  readonly owned = new Map<string, string>();
  /** The owners of every cluster, as last read from etcd. */
  owners = new Map<string, OwnerInfo & { token: string; lease: string }>();
  /** The live managers, as last read. */
  members: string[] = [];
  acquired = 0;
  released = 0;
  stopped = false;
  /** Steps completed (the first one tells the manager it may report ready). */
  steps = 0;
  #o: ShardOptions;
  #lease: string | undefined;
  #leaseUntil = -Infinity;
  #nextKeepAlive = -Infinity;
  #lastContact = -Infinity;
  #failing = false;
  #waitLogged = new Set<string>();

  constructor(o: ShardOptions) {
    this.#o = o;
    this.instance = o.instance;
    this.ttlMs = o.ttlSeconds * 1000;
    this.marginMs = o.marginMs ?? Math.max(1000, this.ttlMs / 4);
    this.pollMs = o.pollMs ?? Math.min(1000, this.ttlMs / 3);
    if (this.marginMs >= this.ttlMs) throw new Error(`etcd lease TTL ${o.ttlSeconds}s is too short for a ${this.marginMs} ms safety margin`);
  }

  remainingMs(): number {
    return this.#leaseUntil - this.#o.mono();
  }

  /** May this manager fail over the cluster now? */
  isOwner(cluster: string): boolean {
    return !this.stopped && this.owned.has(cluster) && this.remainingMs() > this.marginMs;
  }

  fencingToken(cluster: string): string | undefined {
    return this.isOwner(cluster) ? this.owned.get(cluster) : undefined;
  }

  /** Reaches etcd (for /readyz). */
  healthy(): boolean {
    return !this.stopped && this.#o.mono() - this.#lastContact < this.ttlMs;
  }

  get lease(): string | undefined {
    return this.#lease;
  }

  async #loseAll(why: string): Promise<void> {
    if (this.owned.size === 0) return;
    const lost = [...this.owned.keys()];
    this.#o.log.error({ instance: this.instance, clusters: lost }, `LOST the ownership of ${lost.join(', ')}: ${why}; no failover of them will be started or continued by this manager`);
    this.owned.clear();
    for (const c of lost) await this.#o.onRelease(c, 'lost').catch(() => undefined);
    this.#o.onChange?.();
  }

  async #ensureLease(): Promise<void> {
    const mono = this.#o.mono();
    if (this.#lease !== undefined && mono >= this.#nextKeepAlive) {
      const sent = mono;
      try {
        const ttl = await this.#o.store.leaseKeepAlive(this.#lease);
        this.#lastContact = this.#o.mono();
        if (ttl <= 0) {
          this.#lease = undefined;
          this.#leaseUntil = -Infinity;
        } else {
          this.#leaseUntil = sent + ttl * 1000;
          if (this.#failing) this.#o.log.info({ instance: this.instance }, 'etcd answers keepalives again');
          this.#failing = false;
          this.#nextKeepAlive = sent + this.ttlMs / 3;
        }
      } catch (err) {
        if (!this.#failing) this.#o.log.warn({ err: (err as Error).message, remainingMs: Math.round(this.remainingMs()) }, `etcd lease keepalive failed: ${(err as Error).message}`);
        this.#failing = true;
        this.#nextKeepAlive = this.#o.mono() + Math.min(500, this.ttlMs / 6);
      }
    }
    if (this.remainingMs() <= this.marginMs) await this.#loseAll(this.#lease === undefined ? 'the etcd lease expired' : `less than ${this.marginMs} ms of the lease may remain`);
    if (this.#lease === undefined || this.remainingMs() <= this.marginMs) {
      if (this.#lease !== undefined) await this.#o.store.leaseRevoke(this.#lease).catch(() => undefined);
      this.#lease = undefined;
      const sent = this.#o.mono();
      const g = await this.#o.store.leaseGrant(this.#o.ttlSeconds);
      this.#lastContact = this.#o.mono();
      this.#lease = g.id;
      this.#leaseUntil = sent + g.ttl * 1000;
      this.#nextKeepAlive = sent + this.ttlMs / 3;
      await this.#putMember();
    }
  }

  async #putMember(): Promise<void> {
    const value = JSON.stringify({ instance: this.instance, pid: this.#o.pid ?? process.pid, since: new Date(this.#o.now()).toISOString() });
    await this.#o.store.txn([], [{ put: { key: `${memberPrefix(this.#o.prefix)}${this.instance}`, value, lease: this.#lease } }]);
  }

  /** One round; the delay (ms) until the next one. */
  async step(): Promise<number> {
    if (this.stopped) return this.pollMs;
    try {
      await this.#step();
      this.steps++;
    } catch (err) {
      if (!this.#failing) this.#o.log.warn({ err: (err as Error).message }, `cluster ownership round failed: ${(err as Error).message}`);
      this.#failing = true;
      // Ownership stays only while the lease is surely fresh.
      if (this.remainingMs() <= this.marginMs) await this.#loseAll('etcd cannot be reached and the lease may have expired');
    }
    return this.pollMs;
  }

  async #step(): Promise<void> {
    await this.#ensureLease();
    const lease = this.#lease!;
    const memberKvs = await this.#o.store.range(memberPrefix(this.#o.prefix));
    this.#lastContact = this.#o.mono();
    const members = memberKvs.map((kv) => parseOwner(kv.value)?.instance).filter((x): x is string => x !== undefined);
    if (!members.includes(this.instance)) {
      await this.#putMember();
      members.push(this.instance);
    }
    this.members = [...new Set(members)].sort();
    this.owners = await readOwners(this.#o.store, this.#o.prefix);
    // Keys that are no longer ours (deleted by an operator, or our lease was replaced).
    for (const [c] of [...this.owned]) {
      const o = this.owners.get(c);
      if (o === undefined || o.lease !== lease) {
        this.owned.delete(c);
        this.#o.log.error({ cluster: c, owner: o?.instance }, `LOST the ownership of ${c}: its owner key ${o === undefined ? 'disappeared' : `belongs to ${o.instance}`}; no failover of ${c} will be started or continued by this manager`);
        await this.#o.onRelease(c, 'lost').catch(() => undefined);
        this.#o.onChange?.();
      }
    }
    const configured = this.#o.clusters();
    // The share as if nothing were busy: a cluster in a failover simply stays until it ends (pinning it
    // would push other, healthy clusters around twice).
    const share = assignClusters(configured, this.members);
    // Hand over what is no longer ours to keep (never in the middle of a failover).
    for (const c of [...this.owned.keys()]) {
      const removed = !configured.includes(c);
      if (!removed && share.get(c) === this.instance) continue;
      if (this.#o.busy(c)) continue;
      await this.#o.onRelease(c, removed ? 'removed' : 'handover');
      this.owned.delete(c);
      await this.#o.store.txn([{ key: ownerKey(this.#o.prefix, c), target: 'LEASE', lease }], [{ delete: { key: ownerKey(this.#o.prefix, c) } }]);
      this.owners.delete(c);
      this.released++;
      this.#o.log.info({ cluster: c, to: removed ? undefined : share.get(c) }, removed ? `gave up ${c}: it left the configuration` : `handed ${c} over to ${share.get(c) ?? '?'} (its fair share)`);
      this.#o.onChange?.();
    }
    // Take what is ours and free.
    for (const c of configured) {
      if (share.get(c) !== this.instance || this.owned.has(c)) continue;
      const holder = this.owners.get(c);
      if (holder !== undefined) {
        if (!this.#waitLogged.has(c)) this.#o.log.info({ cluster: c, owner: holder.instance }, `${c} is in this manager's share; ${holder.instance} still owns it (it hands it over between failovers, or its lease expires)`);
        this.#waitLogged.add(c);
        continue;
      }
      if (this.remainingMs() <= this.marginMs) break;
      const key = ownerKey(this.#o.prefix, c);
      const value = JSON.stringify({ instance: this.instance, pid: this.#o.pid ?? process.pid, since: new Date(this.#o.now()).toISOString() });
      const r = await this.#o.store.putIfAbsent(key, value, lease);
      const token = r.created ? r.revision : r.current?.lease === lease ? r.current.createRevision : undefined;
      if (token === undefined) continue;
      try {
        await this.#o.onAcquire(c, token);
      } catch (err) {
        this.#o.log.error({ cluster: c, err: (err as Error).message }, `took ${c}, but cannot watch it: ${(err as Error).message}; giving it back`);
        await this.#o.store.txn([{ key, target: 'LEASE', lease }], [{ delete: { key } }]).catch(() => undefined);
        continue;
      }
      this.owned.set(c, token);
      this.owners.set(c, { instance: this.instance, token, lease });
      this.#waitLogged.delete(c);
      this.acquired++;
      this.#o.log.info({ cluster: c, fencingToken: token }, `now the owner of ${c} (etcd key ${key}, fencing token ${token})`);
      this.#o.onChange?.();
    }
  }

  async run(signal: AbortSignal, sleep: (ms: number, signal: AbortSignal) => Promise<void>): Promise<void> {
    while (!signal.aborted && !this.stopped) {
      const wait = await this.step();
      await sleep(wait, signal);
    }
  }

  /** Gives every cluster up at once (revokes the lease: the keys go, the others take over). Call after the monitors stopped. */
  async resign(): Promise<void> {
    this.stopped = true;
    const lease = this.#lease;
    this.#lease = undefined;
    this.#leaseUntil = -Infinity;
    this.owned.clear();
    if (lease === undefined) return;
    try {
      await this.#o.store.leaseRevoke(lease);
      this.#o.log.info({ lease }, `gave up every cluster (lease ${lease} revoked)`);
    } catch (err) {
      this.#o.log.warn({ lease, err: (err as Error).message }, `could not revoke lease ${lease}: ${(err as Error).message}; its clusters move within ${this.ttlMs / 1000} s`);
    }
  }
}
