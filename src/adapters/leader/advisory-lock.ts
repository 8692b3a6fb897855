/**
 * MHA's guard against a second manager (mha.md §3.2): the manager watching a
 * master holds GET_LOCK('MHA_Master_High_Availability_Monitor') on it, on a
 * dedicated connection. Unlike MHA (first connect only) the lock is checked
 * and re-taken every few seconds, and taken on the new master after a
 * failover. When another session holds it (a second mhats manager, or MHA's
 * masterha_manager), this manager says so loudly and does not fail the
 * cluster over automatically: two managers must never race for a promotion.
 * Its own earlier session, cut off by the network while it held the lock, is
 * told from a second manager and killed; a conflict stops blocking once the
 * master cannot be checked (src/domain/monitor-lock.ts).
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { openSession, type DbSession } from '../mysql/connection.js';
import { dialectFor, parseVersion, VERSION_QUERY, type Dialect } from '../mysql/dialect.js';
import type { Logger } from '../../ports/logger.js';
import { DbError } from '../mysql/connection.js';
import { conflictStillBlocks, isOwnOrphan, type LockSession } from '../../domain/monitor-lock.js';

export interface MonitorLockConflict {
  master: string;
  /** Connection id holding the lock on the master (null: it was released meanwhile). */
  holder: number | null;
  since: number;
  /** When the holder was last seen holding it. */
  seenAt: number;
}

export interface MonitorLockOptions {
  cluster: ClusterConfig;
  /** The master the monitor watches now. */
  master: () => string | undefined;
  log: Logger;
  intervalMs?: number | undefined;
  now?: () => number;
}

export class MasterMonitorLock {
  readonly cluster: ClusterConfig;
  conflict: MonitorLockConflict | undefined;
  #o: MonitorLockOptions;
  #session: DbSession | undefined;
  #d: Dialect | undefined;
  #on: string | undefined;
  #held = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** This manager's session that held the lock on #on, kept after it died: the master may keep it alive a while. */
  #mine: LockSession | undefined;

  constructor(o: MonitorLockOptions) {
    this.#o = o;
    this.cluster = o.cluster;
  }

  /** Automatic failover is off while another session holds the lock. */
  get blocked(): boolean {
    return this.conflict !== undefined;
  }

  get heldOn(): string | undefined {
    return this.#held ? this.#on : undefined;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  start(): void {
    const every = this.#o.intervalMs ?? 2000;
    const tick = (): void => {
      if (this.#stopped) return;
      this.#running = this.check()
        .catch((err: unknown) => this.#o.log.debug({ cluster: this.cluster.name, err: (err as Error).message }, `monitor lock check failed: ${(err as Error).message}`))
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#timer = setTimeout(tick, every);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    await this.#release();
  }

  async #release(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s && this.#held && this.#d && s.alive) await s.query(this.#d.releaseMonitorLock(), 1000).catch(() => undefined);
    this.#held = false;
    s?.close();
  }

  #server(name: string): ServerConfig | undefined {
    return this.cluster.servers.find((s) => s.name === name);
  }

  /** One round: hold the lock on the current master, or find out who does. */
  async check(): Promise<void> {
    const master = this.#o.master();
    if (master === undefined) return;
    if (this.#on !== master) {
      await this.#release();
      this.#on = master;
      this.#mine = undefined;
      if (this.conflict && this.conflict.master !== master) this.conflict = undefined;
    }
    const srv = this.#server(master);
    if (!srv) return;
    const qt = this.cluster.query_timeout * 1000;
    if (this.#session === undefined || !this.#session.alive) {
      this.#held = false;
      try {
        this.#session = await openSession({ name: srv.name, host: srv.ip, port: srv.port, user: srv.user, password: srv.password }, { connectTimeoutMs: this.cluster.connect_timeout * 1000, queryTimeoutMs: qt });
        const [v] = await this.#session.query<{ version: string; version_comment: string | null }>(VERSION_QUERY);
        this.#d = dialectFor(parseVersion(String(v?.version), v?.version_comment ?? undefined));
      } catch (err) {
        // The master is unreachable: the monitor's health checks deal with that. The lock died with the session.
        this.#session?.destroy();
        this.#session = undefined;
        this.#unverifiable(master, err);
        return;
      }
    }
    const s = this.#session;
    const d = this.#d!;
    if (this.#held) {
      const [h] = await s.query<{ Value: unknown }>(d.monitorLockHolderQuery(), qt);
      const holder = d.parseLockHolder(h?.Value);
      if (holder === s.threadId) return;
      this.#held = false; // lost it (should not happen while the session lives)
    }
    const [r] = await s.query<{ Value: unknown }>(d.getMonitorLock(0), qt);
    let got = d.parseLockResult(r?.Value);
    let holder: number | null = null;
    if (got === 'busy') {
      const [h] = await s.query<{ Value: unknown }>(d.monitorLockHolderQuery(), qt);
      holder = d.parseLockHolder(h?.Value);
      if (await this.#takeBackFromOwnSession(master, holder)) got = 'acquired';
    }
    if (got === 'acquired') {
      this.#held = true;
      if (s.threadId !== null) {
        const [me] = await s.query<{ host: string | null }>(d.connectionHostQuery(s.threadId), qt).catch(() => []);
        this.#mine = me?.host !== undefined && me.host !== null ? { id: s.threadId, host: String(me.host) } : undefined;
      }
      if (this.conflict) this.#o.log.warn({ cluster: this.cluster.name, master }, `MHA's monitor lock on ${master} is free again and now held by this manager: automatic failover of ${this.cluster.name} is allowed again`);
      else this.#o.log.info({ cluster: this.cluster.name, master, lock: 'MHA_Master_High_Availability_Monitor' }, `holding MHA's monitor lock on ${master} (a second manager, or MHA, watching it would see this one)`);
      this.conflict = undefined;
      return;
    }
    if (got !== 'busy') return;
    const first = this.conflict === undefined || this.conflict.holder !== holder;
    this.conflict = { master, holder, since: this.conflict?.since ?? this.#now(), seenAt: this.#now() };
    if (first) {
      this.#o.log.error(
        { cluster: this.cluster.name, master, lockHolderConnection: holder, lock: 'MHA_Master_High_Availability_Monitor' },
        `A SECOND MANAGER (another mhats manager, or MHA's masterha_manager) WATCHES master ${master} of ${this.cluster.name}: MHA_Master_High_Availability_Monitor is held by connection ${holder ?? '?'} on ${master}. Automatic failover of ${this.cluster.name} is DISABLED while it is held; stop the other manager (or use etcd for manager HA)`,
      );
    }
  }

  /** Why automatic failover is disabled now (undefined: it is not). */
  blockedReason(): string | undefined {
    const c = this.conflict;
    if (c === undefined) return undefined;
    return `MHA's monitor lock on ${c.master} is held by connection ${c.holder ?? '?'} (another mhats manager, or MHA's masterha_manager, watches it; seen ${Math.max(0, Math.round((this.#now() - c.seenAt) / 1000))} s ago): stop the other manager, or use etcd for manager HA`;
  }

  /**
   * The holder is this manager's own earlier session (same connection id, same client ip:port): the network
   * cut it off while it held the lock, and the master has not noticed yet. Kill it and take the lock back.
   */
  async #takeBackFromOwnSession(master: string, holder: number | null): Promise<boolean> {
    const s = this.#session!;
    const d = this.#d!;
    const qt = this.cluster.query_timeout * 1000;
    if (holder === null || this.#mine === undefined || holder !== this.#mine.id) return false;
    const [row] = await s.query<{ host: string | null }>(d.connectionHostQuery(holder), qt);
    const host = row?.host === undefined || row.host === null ? undefined : String(row.host);
    if (!isOwnOrphan(this.#mine, holder, host)) return false;
    await s.query(d.killConnection(holder), qt).catch((err: unknown) => {
      // Already gone (1094 unknown thread): the lock is free or about to be.
      if (!(err instanceof DbError && err.errno === 1094)) throw err;
    });
    const [r] = await s.query<{ Value: unknown }>(d.getMonitorLock(2), qt + 2000);
    const ok = d.parseLockResult(r?.Value) === 'acquired';
    this.#o.log.info(
      { cluster: this.cluster.name, master, connection: holder, client: host },
      ok
        ? `MHA's monitor lock on ${master} was still held by this manager's own earlier session (connection ${holder} from ${host ?? '?'}), which the network had cut off: killed it and took the lock back`
        : `MHA's monitor lock on ${master} is held by this manager's own earlier session (connection ${holder}), which the network had cut off: killed it, but the lock is not free yet`,
    );
    return ok;
  }

  /** The master could not be checked: a conflict seen earlier stops blocking once the lock cannot be there any more (or cannot be seen). */
  #unverifiable(master: string, err: unknown): void {
    const c = this.conflict;
    if (c === undefined || c.master !== master) return;
    const kind = err instanceof DbError ? err.kind : 'other';
    const staleMs = 2 * (this.#o.intervalMs ?? 2000) + this.cluster.connect_timeout * 1000;
    if (conflictStillBlocks(c.seenAt, kind, this.#now(), staleMs)) return;
    this.conflict = undefined;
    this.#o.log.warn(
      { cluster: this.cluster.name, master, lockHolderConnection: c.holder, error: (err as Error).message },
      `MHA's monitor lock on ${master} cannot be checked (${(err as Error).message}): the holder seen ${Math.round((this.#now() - c.seenAt) / 1000)} s ago (connection ${c.holder ?? '?'}) no longer disables automatic failover of ${this.cluster.name} (a lock dies with its server; a second manager must take MHA's failover lock on the replicas first, as this one does, so the two never promote twice)`,
    );
  }
}
