/**
 * The one idle session a watch keeps open (src/engine/master-watch.ts,
 * src/engine/return-watch.ts): it runs no statement; its close is the news
 * (mysqld died, or the session was killed). Never keeps the process alive.
 */

/** The part of a session an idle slot needs. */
export interface WatchSession {
  onClose(cb: () => void): void;
  destroy(): void;
  unref(): void;
}

export class IdleSessionSlot<S extends WatchSession = WatchSession> {
  #session: S | undefined;
  #closed = false;

  get session(): S | undefined {
    return this.#session;
  }

  /** Keeps `s` (destroyed at once when the slot is closed already); `onGone` when it closes while kept, never after close(). */
  keep(s: S, onGone: () => void): void {
    if (this.#closed) {
      s.destroy();
      return;
    }
    this.#session = s;
    s.unref();
    s.onClose(() => {
      if (this.#session !== s) return;
      this.#session = undefined;
      if (!this.#closed) onGone();
    });
  }

  close(): void {
    this.#closed = true;
    const s = this.#session;
    this.#session = undefined;
    s?.destroy();
  }
}
