/**
 * The old master comes back while its failover runs (pure): what the failover's
 * own return watch does next (src/engine/failover-return.ts runs it).
 *
 * From the end of Phase 2 until the failover ends, a restarted old master (systemd's
 * Restart= after the kill, no read_only in its my.cnf) would otherwise be writable
 * beside the new master until the monitor's own watch starts, after the failover:
 * seconds with real report hooks. The watch (src/engine/return-watch.ts) says when it
 * answers; then:
 *
 *   probe   one session: is it writable? (read_only OFF)
 *   fence   it is: read_only (super_read_only where it exists), every client session
 *           killed, read back (the same fence as the monitor's); the new master is
 *           never touched, nothing of the failover undone
 *   leave   read-only (fenced already), or gone again: nothing to do
 *
 * Never two attempts in flight: an answer that arrives while a probe or a fence runs
 * is kept (pending) and probed once it ends. The failover's own work on the old
 * master (Phase 2's late fence, the re-checks before the promotion, which fence it
 * themselves and read what it holds) is never disturbed: while one runs, no probe or
 * fence starts (the fence kills every client session, theirs too), an answer is kept
 * pending, and a writable one found meanwhile is probed again when they end (they may
 * have connected just before it came back). A fence that failed is tried again after
 * `retryMs`. Once stopped (the failover ended: the monitor's own watch takes over),
 * nothing more starts.
 */

export type ReturnWatchPhase = 'idle' | 'probing' | 'fencing' | 'stopped';

export interface ReturnWatchState {
  phase: ReturnWatchPhase;
  /** An answer not yet probed (it came while busy, or a fence is to be retried). */
  pending: boolean;
  /** The failover's own operations on the old master in flight. */
  own: number;
}

export type ProbeResult = 'writable' | 'read_only' | 'not_answering' | 'refuses';

export type ReturnWatchEvent =
  /** The watch's connection was answered (a new session, or an error only a live mysqld gives); also a retry's timer. */
  | { type: 'answered' }
  | { type: 'probed'; result: ProbeResult }
  | { type: 'fenced'; ok: boolean }
  /** The failover starts (ends) an operation of its own on the old master. */
  | { type: 'own_start' }
  | { type: 'own_end' }
  | { type: 'stop' };

export type ReturnWatchAction =
  | { do: 'none' }
  | { do: 'probe' }
  | { do: 'fence' }
  /** Dispatch 'answered' again after ms (a fence that failed). */
  | { do: 'retry'; ms: number };

export const initialReturnWatch: ReturnWatchState = { phase: 'idle', pending: false, own: 0 };

const NONE: ReturnWatchAction = { do: 'none' };

/** The next state, and what to start (at most one probe or fence at a time). */
export function stepReturnWatch(s: ReturnWatchState, e: ReturnWatchEvent, retryMs: number): { state: ReturnWatchState; action: ReturnWatchAction } {
  if (s.phase === 'stopped') return { state: s, action: NONE };
  /** Idle, nothing of the failover's own in flight: probe what is pending. */
  const next = (st: ReturnWatchState): { state: ReturnWatchState; action: ReturnWatchAction } =>
    st.phase === 'idle' && st.pending && st.own === 0 ? { state: { ...st, phase: 'probing', pending: false }, action: { do: 'probe' } } : { state: st, action: NONE };
  switch (e.type) {
    case 'stop':
      return { state: { ...s, phase: 'stopped', pending: false }, action: NONE };
    case 'answered':
      return next({ ...s, pending: true });
    case 'own_start':
      return { state: { ...s, own: s.own + 1 }, action: NONE };
    case 'own_end':
      return next({ ...s, own: Math.max(0, s.own - 1) });
    case 'probed': {
      if (s.phase !== 'probing') return { state: s, action: NONE };
      const idle: ReturnWatchState = { ...s, phase: 'idle' };
      if (e.result !== 'writable') return next(idle);
      // The failover's own fence started meanwhile: it fences it; probed again once it ends.
      if (s.own > 0) return { state: { ...idle, pending: true }, action: NONE };
      return { state: { ...s, phase: 'fencing' }, action: { do: 'fence' } };
    }
    case 'fenced': {
      if (s.phase !== 'fencing') return { state: s, action: NONE };
      const idle: ReturnWatchState = { ...s, phase: 'idle' };
      if (e.ok) return next(idle);
      // Not verified: probed (and fenced) again after a pause, not at the watch's pace.
      return { state: { ...idle, pending: false }, action: { do: 'retry', ms: retryMs } };
    }
  }
}

