/**
 * An idle connection kept open to the watched master for one purpose: when
 * its mysqld dies (kill -9, a crash, the OOM killer), the kernel closes every
 * socket it had at once, and the monitor checks the master right away instead
 * of at the next ping_interval (on average half an interval later). The close
 * is no evidence by itself: the health check it triggers, and the usual
 * confirmation (refused, then witnesses or the second route), decide. A close
 * for any other reason (wait_timeout, KILL, a planned restart, a network
 * blip) costs one extra health check. The connection is opened again after
 * the next check that succeeds; it runs no statement.
 */
import { openSession, type DbSession, type DbTarget } from '../adapters/mysql/connection.js';
import { IdleSessionSlot } from './idle-session.js';

export class MasterWatch {
  readonly #target: DbTarget;
  readonly #onLost: () => void;
  readonly #connectTimeoutMs: number;
  readonly #slot = new IdleSessionSlot<DbSession>();
  #opening = false;
  #closed = false;
  /** Closes seen (tests, metrics). */
  lost = 0;

  constructor(target: DbTarget, onLost: () => void, connectTimeoutMs: number) {
    this.#target = target;
    this.#onLost = onLost;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /** Opens the connection when none is open (after a check that succeeded); never throws. */
  ensure(): void {
    if (this.#closed || this.#opening || this.#slot.session?.alive) return;
    this.#opening = true;
    openSession(this.#target, { connectTimeoutMs: this.#connectTimeoutMs, queryTimeoutMs: this.#connectTimeoutMs })
      .then((s) =>
        // Never keeps the process alive (a monitor that is not run() and closed, a test).
        this.#slot.keep(s, () => {
          this.lost++;
          this.#onLost();
        }),
      )
      .catch(() => undefined)
      .finally(() => {
        this.#opening = false;
      });
  }

  close(): void {
    this.#closed = true;
    this.#slot.close();
  }
}
