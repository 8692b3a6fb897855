/**
 * Watches a failed old master for its return, so that one restarted writable (a my.cnf without
 * read_only=ON, systemd's Restart= after the kill of the failover) is fenced within ~100 ms of
 * accepting connections rather than at the monitor's next tick (a ping_interval later).
 *
 * While the server does not answer, one connection attempt every `pollMs` (never two in flight;
 * each with its own short deadline, the socket destroyed when it passes): a refused connection is
 * instant, a dropped route costs at most the deadline. The first attempt that is answered (a
 * session, or an error only a running mysqld gives: access denied, too many connections) calls
 * onAnswered, which wakes the monitor loop: its tick probes the failed servers and fences (or
 * rejoins) at once. The session is kept open, idle and unref'd, so that when this mysqld dies again
 * (its socket closes) the attempts start again; a server that answers with an error is tried again
 * at a calm pace (`answeredRetryMs`). The answer is no evidence by itself: the monitor's own
 * inspection decides what to do. Which servers are watched, and for how long, is decided in
 * src/domain/return-watch.ts.
 */
import { openSession, DbError, type DbTarget } from '../adapters/mysql/connection.js';
import type { ClusterConfig } from '../config/types.js';
import { IdleSessionSlot, type WatchSession } from './idle-session.js';

export type { WatchSession };

export interface ReturnWatchDeps {
  /** Opens a session within timeoutMs (destroying it past the deadline); rejects with a DbError. */
  open: (timeoutMs: number) => Promise<WatchSession>;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (t: unknown) => void;
  mono: () => number;
}

export interface ReturnWatchOptions {
  /** Between the starts of two attempts while the server does not answer. */
  pollMs: number;
  /** The deadline of one attempt. */
  attemptTimeoutMs: number;
  /** After an answer that is an error (access denied, too many connections), or a host name that does not resolve: the next attempt. */
  answeredRetryMs: number;
}

/** The pace of a watch (the monitor's, and the failover's own from Phase 2 on): ~10 attempts a second, each within 500 ms at most. */
export function returnWatchOptions(cluster: ClusterConfig): ReturnWatchOptions {
  return { pollMs: 100, attemptTimeoutMs: Math.min(500, cluster.connect_timeout * 1000), answeredRetryMs: Math.max(1000, cluster.ping_interval * 1000) };
}

/** Failure kinds that only a running mysqld gives: it answered. */
const ANSWERED_KINDS = new Set(['auth', 'too_many_connections']);

export class ReturnWatch {
  readonly server: string;
  readonly #deps: ReturnWatchDeps;
  readonly #opts: ReturnWatchOptions;
  readonly #onAnswered: (server: string) => void;
  #timer: unknown;
  #inFlight = false;
  readonly #slot = new IdleSessionSlot();
  #closed = false;
  /** Attempts made, and how many were answered (tests, metrics). */
  attempts = 0;
  answered = 0;

  constructor(server: string, deps: ReturnWatchDeps, opts: ReturnWatchOptions, onAnswered: (server: string) => void) {
    this.server = server;
    this.#deps = deps;
    this.#opts = opts;
    this.#onAnswered = onAnswered;
  }

  /** Starts the attempts (the first at once); never throws. */
  start(): void {
    this.#schedule(0);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#deps.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#slot.close();
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = this.#deps.setTimer(() => {
      this.#timer = undefined;
      this.#attempt();
    }, Math.max(0, ms));
  }

  #attempt(): void {
    if (this.#closed || this.#inFlight || this.#slot.session !== undefined) return;
    this.#inFlight = true;
    this.attempts++;
    const started = this.#deps.mono();
    let p: Promise<WatchSession>;
    try {
      p = this.#deps.open(this.#opts.attemptTimeoutMs);
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    p.then(
      (s) => {
        this.#inFlight = false;
        if (this.#closed) {
          s.destroy();
          return;
        }
        // mysqld died (or the session was killed, e.g. by the fence): watch for the next return.
        this.#slot.keep(s, () => this.#schedule(this.#opts.pollMs));
        this.answered++;
        this.#onAnswered(this.server);
      },
      (err: unknown) => {
        this.#inFlight = false;
        if (this.#closed) return;
        if (err instanceof DbError && ANSWERED_KINDS.has(err.kind)) {
          this.answered++;
          this.#onAnswered(this.server);
          this.#schedule(this.#opts.answeredRetryMs);
          return;
        }
        // A name that does not resolve (a decommissioned host) is not asked of the resolver ten times a second.
        const pause = err instanceof DbError && err.kind === 'unresolvable' ? this.#opts.answeredRetryMs : this.#opts.pollMs;
        this.#schedule(pause - (this.#deps.mono() - started));
      },
    );
  }
}

/** The real thing: mysql2 sessions (connection.ts) and unref'd timers (a watch never keeps the process alive). */
export function realReturnWatchDeps(target: DbTarget): ReturnWatchDeps {
  return {
    open: (timeoutMs) => openSession(target, { connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs }),
    setTimer: (fn, ms) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return t;
    },
    clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
    mono: () => performance.now(),
  };
}
