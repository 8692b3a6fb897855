/**
 * MHA's guard against a second manager (mha.md §3.2): the manager watching a
 * master holds GET_LOCK('MHA_Master_High_Availability_Monitor') on it, on a
 * dedicated connection. Unlike MHA (first connect only) the lock is checked
 * and re-taken every few seconds, and taken on the new master after a
 * failover. When another session holds it (a second mhats manager, or MHA's
 * masterha_manager), this manager says so loudly and does not fail the
 * cluster over automatically: two managers must never race for a promotion.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { openSession, type DbSession } from '../mysql/connection.js';
import { dialectFor, parseVersion, VERSION_QUERY, type Dialect } from '../mysql/dialect.js';
import type { Logger } from '../../ports/logger.js';

export interface MonitorLockConflict {
  master: string;
  /** Connection id holding the lock on the master (null: it was released meanwhile). */
  holder: number | null;
  since: number;
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
      } catch {
        // The master is unreachable: the monitor's health checks deal with that. The lock died with the session.
        this.#session?.destroy();
        this.#session = undefined;
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
    const got = d.parseLockResult(r?.Value);
    if (got === 'acquired') {
      this.#held = true;
      if (this.conflict) this.#o.log.warn({ cluster: this.cluster.name, master }, `MHA's monitor lock on ${master} is free again and now held by this manager: automatic failover of ${this.cluster.name} is allowed again`);
      else this.#o.log.info({ cluster: this.cluster.name, master, lock: 'MHA_Master_High_Availability_Monitor' }, `holding MHA's monitor lock on ${master} (a second manager, or MHA, watching it would see this one)`);
      this.conflict = undefined;
      return;
    }
    if (got !== 'busy') return;
    const [h] = await s.query<{ Value: unknown }>(d.monitorLockHolderQuery(), qt);
    const holder = d.parseLockHolder(h?.Value);
    const first = this.conflict === undefined || this.conflict.holder !== holder;
    this.conflict = { master, holder, since: this.conflict?.since ?? (this.#o.now ?? Date.now)() };
    if (first) {
      this.#o.log.error(
        { cluster: this.cluster.name, master, lockHolderConnection: holder, lock: 'MHA_Master_High_Availability_Monitor' },
        `A SECOND MANAGER (another mhats manager, or MHA's masterha_manager) WATCHES master ${master} of ${this.cluster.name}: MHA_Master_High_Availability_Monitor is held by connection ${holder ?? '?'} on ${master}. Automatic failover of ${this.cluster.name} is DISABLED while it is held; stop the other manager (or use etcd for manager HA)`,
      );
    }
  }
}
