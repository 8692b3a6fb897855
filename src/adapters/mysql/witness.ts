/**
 * Samples of what each replica receives from its source, for the failure
 * detector's "fresh evidence only" rule: the replication status plus the
 * heartbeat counters (MariaDB SHOW ALL SLAVES STATUS; MySQL
 * performance_schema.replication_connection_status). One persistent session
 * per replica while a suspicion lasts, so that samples taken a few hundred
 * ms apart cost one round trip each. Every statement has a deadline; a
 * failed session is destroyed and reopened at the next sample.
 */
import type { ReplicaSample } from '../../domain/detector.js';
import { DbError, openSession, type DbSession, type DbTarget, type DbTimeouts } from './connection.js';
import { dialectFor, parseVersion, VERSION_QUERY, type Dialect } from './dialect.js';

export class WitnessSampler {
  #sessions = new Map<string, { s: DbSession; d: Dialect }>();
  readonly #timeouts: DbTimeouts;
  readonly #now: () => number;

  /** now: the monotonic clock the detector uses. */
  constructor(timeouts: DbTimeouts, now: () => number) {
    this.#timeouts = timeouts;
    this.#now = now;
  }

  async #session(t: DbTarget): Promise<{ s: DbSession; d: Dialect }> {
    const have = this.#sessions.get(t.name);
    if (have?.s.alive) return have;
    have?.s.destroy();
    const s = await openSession(t, this.#timeouts);
    try {
      const [v] = await s.query<{ version: string; version_comment: string | null }>(VERSION_QUERY);
      const d = dialectFor(parseVersion(String(v?.version), v?.version_comment ?? undefined));
      const e = { s, d };
      this.#sessions.set(t.name, e);
      return e;
    } catch (err) {
      s.destroy();
      throw err;
    }
  }

  /** One sample of one replica; never throws (an unreachable replica is a sample too). */
  async sampleOne(t: DbTarget, isMaster: (host: string, port: number) => boolean): Promise<ReplicaSample> {
    try {
      const { s, d } = await this.#session(t);
      const results: Array<Record<string, unknown>[] | undefined> = [];
      const queries = d.witnessQueries();
      for (let i = 0; i < queries.length; i++) {
        try {
          results.push(await s.query(queries[i]!));
        } catch (err) {
          // Only the freshness counters may fail (performance_schema off); the status must not.
          if (i === 0 || !s.alive || (err instanceof DbError && err.kind === 'timeout')) throw err;
          results.push(undefined);
        }
      }
      const w = d.parseWitness(results);
      const st = w.status;
      return {
        at: this.#now(),
        reachable: true,
        replicatesFromMaster: st !== undefined && isMaster(st.sourceHost, st.sourcePort),
        io: st?.ioRunning,
        lastIoErrno: st?.lastIoErrno,
        lastIoError: st?.lastIoError,
        read: st?.read,
        heartbeats: w.heartbeats,
        receivedAgoMs: w.receivedAgoMs,
        heartbeatPeriod: w.heartbeatPeriod,
      };
    } catch (err) {
      this.#sessions.get(t.name)?.s.destroy();
      this.#sessions.delete(t.name);
      const msg = err instanceof Error ? err.message.replace(`${t.name} (${t.host}:${t.port}): `, '') : String(err);
      return { at: this.#now(), reachable: false, error: msg, replicatesFromMaster: false };
    }
  }

  /** Samples every replica in parallel. */
  async sample(targets: readonly DbTarget[], isMaster: (host: string, port: number) => boolean): Promise<Map<string, ReplicaSample>> {
    const out = await Promise.all(targets.map(async (t) => [t.name, await this.sampleOne(t, isMaster)] as const));
    return new Map(out);
  }

  close(): void {
    for (const { s } of this.#sessions.values()) s.close();
    this.#sessions.clear();
  }
}
