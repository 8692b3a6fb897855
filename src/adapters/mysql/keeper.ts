/**
 * One reusable connection per server for the monitor's repeated reads
 * (inspections every few seconds, the replicas asked during a suspicion).
 * Opening a connection per read costs a handshake and its allocations on
 * both sides; at a thousand servers that is most of the manager's CPU.
 *
 * The rules stay those of connection.ts: every connect and every statement
 * has its deadline; a statement that times out destroys the connection
 * (DbSession.query does), and the keeper forgets a destroyed connection, so
 * the next read opens a fresh one. A kept connection the server closed while
 * it was idle (wait_timeout, a restart) fails its first statement without a
 * timeout: the read is retried once on a fresh connection, so a stale
 * connection is never reported as an unreachable server. A timeout is never
 * retried (its deadline is spent). A connection in use is never shared: a
 * second reader at the same time gets a connection of its own for that read.
 */
import { closeAfter, DbError, openSession, type DbSession, type DbTarget, type DbTimeouts } from './connection.js';

interface Kept {
  key: string;
  session: DbSession;
  busy: boolean;
}

export class SessionKeeper {
  #kept = new Map<string, Kept>();
  #closed = false;
  /** Connections opened so far (tests, metrics). */
  opened = 0;

  /** Runs fn on this server's kept connection (opened when there is none). fn's errors propagate; the connection is then destroyed. */
  async use<T>(target: DbTarget, timeouts: DbTimeouts, fn: (s: DbSession) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const key = `${target.user}@${target.host}:${target.port}`;
    const k = this.#kept.get(target.name);
    if (k !== undefined && (k.key !== key || !k.session.alive)) this.#forget(target.name, k);
    const cur = this.#kept.get(target.name);
    if (cur !== undefined && !cur.busy) {
      cur.busy = true;
      try {
        return await fn(cur.session);
      } catch (err) {
        this.#forget(target.name, cur);
        // Stale (closed by the server while idle): once more on a fresh connection. Timeouts are not retried.
        const stale = err instanceof DbError && err.kind !== 'timeout' && !cur.session.alive && !signal?.aborted;
        if (!stale) throw err;
      } finally {
        cur.busy = false;
      }
    } else if (cur !== undefined) {
      // In use by another reader: a connection of its own, closed afterwards.
      return closeAfter(await this.#open(target, timeouts, signal), fn);
    }
    const s = await this.#open(target, timeouts, signal);
    const kept: Kept = { key, session: s, busy: true };
    if (!this.#closed && !this.#kept.has(target.name)) this.#kept.set(target.name, kept);
    try {
      return await fn(s);
    } catch (err) {
      this.#forget(target.name, kept);
      throw err;
    } finally {
      kept.busy = false;
      if (this.#kept.get(target.name) !== kept) s.close();
    }
  }

  async #open(target: DbTarget, timeouts: DbTimeouts, signal?: AbortSignal): Promise<DbSession> {
    this.opened++;
    // The monitor's own constant statements only: an inspection goes in one round trip (DbSession.queryBatch).
    return openSession(target, timeouts, signal, { multipleStatements: true });
  }

  #forget(name: string, k: Kept): void {
    k.session.destroy();
    if (this.#kept.get(name) === k) this.#kept.delete(name);
  }

  /** Closes the connection kept for one server (e.g. a server that left the cluster). */
  drop(name: string): void {
    const k = this.#kept.get(name);
    if (k) this.#forget(name, k);
  }

  /** Servers with a kept connection. */
  get size(): number {
    return this.#kept.size;
  }

  /** Closes every kept connection; later reads open and close their own. */
  close(): void {
    this.#closed = true;
    for (const [name, k] of this.#kept) {
      this.#kept.delete(name);
      if (k.busy) k.session.destroy();
      else k.session.close();
    }
  }
}
