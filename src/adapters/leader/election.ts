/**
 * Manager HA: leader election on an etcd lease (ecosystem.md §2.9).
 *
 *  - campaign: a txn on the leader key, `create_revision == 0` → put
 *    {instance, pid, started} attached to this manager's lease;
 *  - the leader keeps its lease alive every TTL/3 (faster after a failure)
 *    and checks that the key is still its own;
 *  - a follower keeps its own lease alive and campaigns again every poll
 *    interval: it wins as soon as the leader's key is gone (revoked on a
 *    clean stop, expired with the lease after a crash);
 *  - leadership is held only while the lease is surely fresh: the time of
 *    the last successful keepalive is taken when the request was SENT, on a
 *    monotonic clock, and the lease counts as lost as soon as less than a
 *    safety margin of its TTL remains. Never act on a possibly expired lease;
 *  - the fencing token is the leader key's create_revision: it grows with
 *    every new term, and the journal's writes are conditional on it.
 *
 * The loop is one `step()` at a time, so tests drive it with a fake store
 * and a fake clock.
 */
import type { KeyValue } from './etcd-client.js';

/** What the election needs from etcd (EtcdClient, or a fake). */
export interface ElectionStore {
  leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }>;
  leaseKeepAlive(id: string): Promise<number>;
  leaseRevoke(id: string): Promise<void>;
  putIfAbsent(key: string, value: string, lease: string): Promise<{ created: true; revision: string } | { created: false; current: KeyValue | undefined }>;
  get(key: string): Promise<KeyValue | undefined>;
}

export interface ElectionLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ElectionOptions {
  store: ElectionStore;
  /** The leader key, e.g. /mhats/leader. */
  key: string;
  instance: string;
  ttlSeconds: number;
  /** Leadership ends when less than this much of the lease remains (default: a quarter of the TTL, at least 1 s). */
  marginMs?: number | undefined;
  /** A follower campaigns this often (default: TTL/3, at most 1 s). */
  pollMs?: number | undefined;
  log: ElectionLog;
  /** Monotonic ms. */
  mono: () => number;
  /** Wall clock ms (only for the value stored in the key). */
  now: () => number;
  pid?: number;
  /** Runs after winning, before this manager acts as the leader (e.g. re-read the journal). A throw gives the leadership up. */
  onElected?: (() => Promise<void>) | undefined;
  /** Called on every change of isLeader() seen by step(). */
  onChange?: ((leader: boolean) => void) | undefined;
}

export type ElectionState = 'follower' | 'leader' | 'stopped';

export interface LeaderInfo {
  instance: string;
  pid?: number | undefined;
  started?: string | undefined;
}

export class Election {
  readonly key: string;
  readonly instance: string;
  readonly ttlMs: number;
  readonly marginMs: number;
  readonly pollMs: number;
  state: ElectionState = 'follower';
  /** The current leader as this manager last saw it (itself when leading). */
  leader: LeaderInfo | undefined;
  #o: ElectionOptions;
  #lease: string | undefined;
  /** Monotonic ms until which the lease surely lives (send time of the last grant/keepalive + its TTL). */
  #leaseUntil = -Infinity;
  #token: string | undefined;
  /** Monotonic ms of the last successful call to etcd (for healthy()). */
  #lastContact = -Infinity;
  #nextKeepAlive = -Infinity;
  #lastReported: boolean | undefined;
  #followingLogged: string | undefined;
  #failing = false;

  constructor(o: ElectionOptions) {
    this.#o = o;
    this.key = o.key;
    this.instance = o.instance;
    this.ttlMs = o.ttlSeconds * 1000;
    this.marginMs = o.marginMs ?? Math.max(1000, this.ttlMs / 4);
    this.pollMs = o.pollMs ?? Math.min(1000, this.ttlMs / 3);
    if (this.marginMs >= this.ttlMs) throw new Error(`etcd lease TTL ${o.ttlSeconds}s is too short for a ${this.marginMs} ms safety margin`);
  }

  /** How long the lease surely lives still (ms); ≤ 0: possibly expired. */
  remainingMs(): number {
    return this.#leaseUntil - this.#o.mono();
  }

  /** Leader, and the lease is surely fresh for at least the safety margin. */
  isLeader(): boolean {
    return this.state === 'leader' && this.remainingMs() > this.marginMs;
  }

  /** Re-checked between failover phases. */
  stillLeader(): Promise<boolean> {
    return Promise.resolve(this.isLeader());
  }

  /** /readyz: the leader, or a follower that reaches etcd. */
  healthy(): boolean {
    if (this.state === 'stopped') return false;
    if (this.state === 'leader') return this.isLeader();
    return this.#o.mono() - this.#lastContact < this.ttlMs;
  }

  /** The leader key's create_revision while leading: grows with every term. */
  fencingToken(): string | undefined {
    return this.isLeader() ? this.#token : undefined;
  }

  /** The lease this manager holds (undefined before the first grant). */
  get lease(): string | undefined {
    return this.#lease;
  }

  #report(): void {
    const now = this.isLeader();
    if (now === this.#lastReported) return;
    this.#lastReported = now;
    this.#o.onChange?.(now);
  }

  #lost(why: string): void {
    if (this.state === 'leader') this.#o.log.error({ instance: this.instance, key: this.key }, `LOST manager leadership: ${why}; no failover will be started or continued by this manager`);
    this.state = this.state === 'stopped' ? 'stopped' : 'follower';
    this.#token = undefined;
    this.#followingLogged = undefined;
  }

  async #keepAlive(): Promise<boolean> {
    const lease = this.#lease;
    if (lease === undefined) return false;
    const sent = this.#o.mono();
    try {
      const ttl = await this.#o.store.leaseKeepAlive(lease);
      this.#lastContact = this.#o.mono();
      if (ttl <= 0) {
        this.#lease = undefined;
        this.#leaseUntil = -Infinity;
        this.#lost(`the etcd lease ${lease} expired`);
        return false;
      }
      this.#leaseUntil = sent + ttl * 1000;
      if (this.#failing) this.#o.log.info({ lease }, 'etcd answers keepalives again');
      this.#failing = false;
      return true;
    } catch (err) {
      if (!this.#failing) this.#o.log.warn({ lease, err: (err as Error).message, remainingMs: Math.round(this.remainingMs()) }, `etcd lease keepalive failed: ${(err as Error).message}`);
      this.#failing = true;
      if (this.state === 'leader' && this.remainingMs() <= this.marginMs) this.#lost(`no keepalive of lease ${lease} got through and less than ${this.marginMs} ms of its TTL may remain`);
      return false;
    }
  }

  async #grant(): Promise<void> {
    const sent = this.#o.mono();
    const g = await this.#o.store.leaseGrant(this.#o.ttlSeconds);
    this.#lastContact = this.#o.mono();
    this.#lease = g.id;
    this.#leaseUntil = sent + g.ttl * 1000;
    this.#nextKeepAlive = sent + this.ttlMs / 3;
  }

  /** One round of the election; the delay (ms) until the next one. */
  async step(): Promise<number> {
    try {
      return await this.#step();
    } finally {
      this.#report();
    }
  }

  async #step(): Promise<number> {
    if (this.state === 'stopped') return this.pollMs;
    const mono = this.#o.mono();
    // Our lease: renewed at TTL/3 (sooner after a failure); re-granted once it may have expired.
    if (this.#lease !== undefined && mono >= this.#nextKeepAlive) {
      const ok = await this.#keepAlive();
      this.#nextKeepAlive = this.#o.mono() + (ok ? this.ttlMs / 3 : Math.min(500, this.ttlMs / 6));
    }
    if (this.state === 'leader') {
      if (this.remainingMs() <= this.marginMs) {
        this.#lost(`less than ${this.marginMs} ms of the lease may remain`);
      } else {
        // The key must still be ours (an operator may have deleted it).
        try {
          const kv = await this.#o.store.get(this.key);
          this.#lastContact = this.#o.mono();
          if (kv === undefined || kv.lease !== this.#lease) this.#lost(kv === undefined ? `the leader key ${this.key} disappeared` : `the leader key ${this.key} belongs to another lease`);
        } catch {
          // Keepalives decide; a failed read alone changes nothing.
        }
      }
      if (this.state === 'leader') return Math.max(50, Math.min(this.#nextKeepAlive - this.#o.mono(), this.pollMs));
    }
    // Follower: make sure we have a live lease, then campaign.
    try {
      if (this.#lease === undefined || this.remainingMs() <= this.marginMs) {
        if (this.#lease !== undefined) await this.#o.store.leaseRevoke(this.#lease).catch(() => undefined);
        this.#lease = undefined;
        await this.#grant();
      }
      const lease = this.#lease!;
      const value = JSON.stringify({ instance: this.instance, pid: this.#o.pid ?? process.pid, started: new Date(this.#o.now()).toISOString(), lease });
      const r = await this.#o.store.putIfAbsent(this.key, value, lease);
      this.#lastContact = this.#o.mono();
      let revision: string | undefined;
      if (r.created) revision = r.revision;
      else if (r.current?.lease === lease) revision = r.current.createRevision; // our own earlier attempt got through
      if (revision === undefined) {
        const holder = parseHolder(r.created ? undefined : r.current?.value);
        this.leader = holder;
        const who = holder ? `${holder.instance}${holder.pid !== undefined ? ` (pid ${holder.pid})` : ''}` : 'another manager';
        if (this.#followingLogged !== who) this.#o.log.info({ leader: holder, key: this.key }, `following: ${who} is the leader (etcd key ${this.key})`);
        this.#followingLogged = who;
        return this.pollMs;
      }
      this.#token = revision;
      try {
        await this.#o.onElected?.();
      } catch (err) {
        this.#o.log.error({ err: (err as Error).message }, `elected, but not ready to lead: ${(err as Error).message}; giving the leadership up`);
        this.#token = undefined;
        await this.#o.store.leaseRevoke(lease).catch(() => undefined);
        this.#lease = undefined;
        this.#leaseUntil = -Infinity;
        return this.pollMs;
      }
      if (this.remainingMs() <= this.marginMs) return 0; // too slow: renew first, and do not claim anything yet
      this.state = 'leader';
      this.leader = { instance: this.instance, pid: this.#o.pid ?? process.pid };
      this.#o.log.info({ instance: this.instance, key: this.key, lease, fencingToken: revision }, `elected manager leader (etcd key ${this.key}, lease ${lease}, fencing token ${revision})`);
      return Math.max(50, Math.min(this.#nextKeepAlive - this.#o.mono(), this.pollMs));
    } catch (err) {
      if (!this.#failing) this.#o.log.warn({ err: (err as Error).message }, `etcd campaign failed: ${(err as Error).message}`);
      this.#failing = true;
      return this.pollMs;
    }
  }

  /** Runs the election until the signal aborts (then resign() gives the leadership up). */
  async run(signal: AbortSignal, sleep: (ms: number, signal: AbortSignal) => Promise<void> = abortableSleep): Promise<void> {
    while (!signal.aborted && this.state !== 'stopped') {
      const wait = await this.step();
      await sleep(wait, signal);
    }
  }

  /** Gives the leadership up (revokes the lease: the key goes at once, a follower takes over). */
  async resign(): Promise<void> {
    const was = this.state;
    this.state = 'stopped';
    this.#token = undefined;
    const lease = this.#lease;
    this.#lease = undefined;
    this.#leaseUntil = -Infinity;
    this.#report();
    if (lease === undefined) return;
    try {
      await this.#o.store.leaseRevoke(lease);
      if (was === 'leader') this.#o.log.info({ lease, key: this.key }, `resigned the manager leadership (lease ${lease} revoked)`);
    } catch (err) {
      this.#o.log.warn({ lease, err: (err as Error).message }, `could not revoke lease ${lease}: ${(err as Error).message}; it expires within ${this.ttlMs / 1000} s`);
    }
  }
}

function parseHolder(v: string | undefined): LeaderInfo | undefined {
  if (v === undefined) return undefined;
  try {
    const o = JSON.parse(v) as { instance?: unknown; pid?: unknown; started?: unknown };
    if (typeof o.instance !== 'string') return undefined;
    return { instance: o.instance, pid: typeof o.pid === 'number' ? o.pid : undefined, started: typeof o.started === 'string' ? o.started : undefined };
  } catch {
    return undefined;
  }
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
