/**
 * Publishes each cluster's master to etcd and/or Consul KV (orchestrator's
 * layout, src/domain/publish.ts): at once after a promotion (failover or
 * switchover) or when the manager adopts a master, and reconciled every
 * `publish.interval` seconds. A fenced or failed server is never published;
 * when a server is fenced, keys that still name it are retracted.
 *
 * Operations of one cluster run one after the other (a late write of an old
 * master can never overtake the new one). Nothing here throws: failures are
 * logged, counted, and retried at the next reconciliation.
 */
import type { ClusterConfig, LoadedConfig, PublishSettings, ServerConfig } from '../config/types.js';
import { ConsulKv, EtcdKv, resolveIpv4, type KvStore } from '../adapters/publish/kv.js';
import { hostPort, masterKey, masterWrites, mayPublish, pointsAt, retractWrites, type PublishCandidate } from '../domain/publish.js';
import { isoTime } from '../domain/time.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from './metrics.js';

export interface PublishRecord {
  ok: boolean;
  at: string;
  action: 'publish' | 'retract' | 'unchanged';
  server?: string | undefined;
  value?: string | undefined;
  error?: string | undefined;
}

export interface PublisherDeps {
  log: Logger;
  metrics?: Metrics | undefined;
  now?: (() => number) | undefined;
  /** Tests: stores built elsewhere (a stub Consul, a given etcd client). */
  stores?: KvStore[] | undefined;
}

export class MasterPublisher {
  readonly settings: PublishSettings;
  readonly stores: KvStore[];
  #deps: PublisherDeps;
  #chains = new Map<string, Promise<void>>();
  /** cluster → "kind where" → the last outcome. */
  #last = new Map<string, Map<string, PublishRecord>>();

  constructor(settings: PublishSettings, deps: PublisherDeps) {
    this.settings = settings;
    this.#deps = deps;
    const timeoutMs = settings.timeout * 1000;
    this.stores = deps.stores ?? [
      ...(settings.etcd ? [new EtcdKv({ endpoints: settings.etcd.endpoints, timeoutMs })] : []),
      ...(settings.consul ? [new ConsulKv({ ...settings.consul, timeoutMs })] : []),
    ];
  }

  /** The publisher the configuration asks for, or undefined. */
  static fromConfig(config: LoadedConfig, deps: PublisherDeps): MasterPublisher | undefined {
    return config.publish ? new MasterPublisher(config.publish, deps) : undefined;
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }

  /** Runs after every earlier operation of the cluster. */
  #serial(cluster: string, fn: () => Promise<void>): Promise<void> {
    const p = (this.#chains.get(cluster) ?? Promise.resolve()).then(fn).catch((err: unknown) => this.#deps.log.error({ cluster, err: (err as Error).message }, `publishing the master of ${cluster} failed: ${(err as Error).message}`));
    this.#chains.set(cluster, p);
    return p;
  }

  #record(cluster: string, store: KvStore, r: Omit<PublishRecord, 'at'>): void {
    let m = this.#last.get(cluster);
    if (!m) this.#last.set(cluster, (m = new Map<string, PublishRecord>()));
    m.set(`${store.kind} ${store.where}`, { ...r, at: isoTime(this.#now()) });
    this.#deps.metrics?.publishes.inc({ cluster, target: store.kind, result: r.ok ? r.action : 'failed' });
  }

  /**
   * Publishes `server` as the master of `cluster` if the facts allow it (never a fenced or failed
   * server). `force`: rewrite even when the keys already hold it (after a promotion).
   */
  publish(cluster: ClusterConfig, server: ServerConfig, facts: Omit<PublishCandidate, 'name'>, why: string, force = true): Promise<void> {
    return this.#serial(cluster.name, async () => {
      const d = mayPublish({ name: server.name, ...facts });
      if (!d.publish) {
        this.#deps.log.debug({ cluster: cluster.name, server: server.name, reason: d.reason }, `not publishing ${server.name} as master of ${cluster.name}: ${d.reason}`);
        return;
      }
      const ipv4 = await resolveIpv4(server.ip, this.settings.timeout * 1000);
      const writes = masterWrites(this.settings.prefix, cluster.name, { name: server.name, hostname: server.hostname, port: server.port, ipv4 });
      const value = hostPort(server.hostname, server.port);
      const key = masterKey(this.settings.prefix, cluster.name);
      await Promise.all(
        this.stores.map(async (store) => {
          try {
            if (!force) {
              const [cur, ip] = await Promise.all([store.get(key), store.get(`${key}/ipv4`)]);
              if (cur === value && (ip ?? undefined) === (ipv4 ?? undefined)) {
                this.#record(cluster.name, store, { ok: true, action: 'unchanged', server: server.name, value });
                return;
              }
              if (cur !== undefined && cur !== value) this.#deps.log.warn({ cluster: cluster.name, target: store.kind, key, found: cur, master: value }, `${store.kind}: ${key} held ${cur}, not the master ${value}: rewriting it`);
            }
            await store.apply(writes);
            this.#record(cluster.name, store, { ok: true, action: 'publish', server: server.name, value });
            this.#deps.log.info({ cluster: cluster.name, target: store.kind, key, value, why }, `published ${server.name} as master of ${cluster.name} to ${store.kind} (${key} = ${value}; ${why})`);
          } catch (err) {
            this.#record(cluster.name, store, { ok: false, action: 'publish', server: server.name, value, error: (err as Error).message });
            this.#deps.log.error({ cluster: cluster.name, target: store.kind, where: store.where, key, err: (err as Error).message }, `could not publish ${server.name} as master of ${cluster.name} to ${store.kind} (${store.where}): ${(err as Error).message}; retried at the next reconciliation`);
          }
        }),
      );
    });
  }

  /** A server was fenced: keys that still name it are removed (a proxy must not follow a fenced server). */
  retractIfPointsAt(cluster: ClusterConfig, server: ServerConfig, why: string): Promise<void> {
    return this.#serial(cluster.name, async () => {
      const key = masterKey(this.settings.prefix, cluster.name);
      await Promise.all(
        this.stores.map(async (store) => {
          try {
            const cur = await store.get(key);
            if (!pointsAt(cur, server.hostname, server.port)) return;
            await store.apply(retractWrites(this.settings.prefix, cluster.name));
            this.#record(cluster.name, store, { ok: true, action: 'retract', server: server.name, value: cur });
            this.#deps.log.warn({ cluster: cluster.name, target: store.kind, key, was: cur, why }, `retracted ${key} from ${store.kind}: it named ${server.name}, which is ${why}`);
          } catch (err) {
            this.#record(cluster.name, store, { ok: false, action: 'retract', server: server.name, error: (err as Error).message });
            this.#deps.log.error({ cluster: cluster.name, target: store.kind, key, err: (err as Error).message }, `could not check or retract ${key} in ${store.kind}: ${(err as Error).message}`);
          }
        }),
      );
    });
  }

  /** Waits for every queued operation (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#chains.values()]);
  }

  /** The last outcome per target. */
  outcomes(cluster: string): Array<{ target: 'etcd' | 'consul'; where: string; last: PublishRecord | null }> {
    return this.stores.map((s) => ({ target: s.kind, where: s.where, last: this.#last.get(cluster)?.get(`${s.kind} ${s.where}`) ?? null }));
  }

  /** For /status. */
  status(cluster: string): unknown {
    return { key: masterKey(this.settings.prefix, cluster), targets: this.outcomes(cluster) };
  }
}
