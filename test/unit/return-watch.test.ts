/**
 * Watching a failed old master for its return (src/engine/return-watch.ts, src/domain/return-watch.ts)
 * with fake timers and a fake connect: attempts are spaced by pollMs and never overlap; the first
 * answer calls onAnswered once; the kept session's close starts the attempts again; an error only a
 * running mysqld gives counts as an answer; close() stops everything; which servers are watched,
 * and for how long after their failover.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DbError } from '../../src/adapters/mysql/connection.js';
import { Secret } from '../../src/domain/secret.js';
import { ReturnWatch, type ReturnWatchDeps, type WatchSession } from '../../src/engine/return-watch.js';
import { returnWatchWindowMs, serversToWatchForReturn } from '../../src/domain/return-watch.js';
import type { FailoverSummary } from '../../src/domain/guard.js';

const target = { name: 'db1', host: '127.0.0.1', port: 1, user: 'u', password: new Secret('x') };

class FakeClock {
  now = 0;
  timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #id = 0;
  set = (fn: () => void, ms: number): unknown => {
    const id = ++this.#id;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  };
  clear = (t: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== t);
  };
  /** Runs every timer due up to now+ms, in order, letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const t = this.timers[0];
      if (t === undefined || t.at > end) break;
      this.timers.shift();
      this.now = Math.max(this.now, t.at);
      t.fn();
    }
    this.now = end;
    await flush();
  }
}
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

class FakeSession implements WatchSession {
  closeCb: (() => void) | undefined;
  destroyed = false;
  onClose(cb: () => void): void {
    this.closeCb = cb;
  }
  destroy(): void {
    this.destroyed = true;
  }
  unref(): void {}
}

type Outcome = 'refused' | 'auth' | 'session' | 'pending' | 'unresolvable';

function setup(outcomes: () => Outcome) {
  const clock = new FakeClock();
  const sessions: FakeSession[] = [];
  const pending: Array<{ resolve: (s: WatchSession) => void; reject: (e: Error) => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const deps: ReturnWatchDeps = {
    open: () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const o = outcomes();
      const done = <T>(p: Promise<T>): Promise<T> => p.finally(() => inFlight--);
      if (o === 'refused') return done(Promise.reject(new DbError(target, 'refused', 'connection refused')));
      if (o === 'unresolvable') return done(Promise.reject(new DbError(target, 'unresolvable', 'host name does not resolve (ENOTFOUND)')));
      if (o === 'auth') return done(Promise.reject(new DbError(target, 'auth', 'access denied')));
      if (o === 'session') {
        const s = new FakeSession();
        sessions.push(s);
        return done(Promise.resolve(s));
      }
      return done(new Promise<WatchSession>((resolve, reject) => pending.push({ resolve, reject })));
    },
    setTimer: clock.set,
    clearTimer: clock.clear,
    mono: () => clock.now,
  };
  const answered: string[] = [];
  const w = new ReturnWatch('db1', deps, { pollMs: 100, attemptTimeoutMs: 500, answeredRetryMs: 1000 }, (s) => answered.push(s));
  return { clock, w, answered, sessions, pending, maxInFlight: () => maxInFlight };
}

test('a refusing server is tried every pollMs; the first session calls onAnswered once and is kept', async () => {
  let up = false;
  const { clock, w, answered, sessions } = setup(() => (up ? 'session' : 'refused'));
  // Read through a function: assert.equal narrows the property's type.
  const count = (): number => w.attempts;
  w.start();
  await clock.advance(0);
  assert.equal(w.attempts, 1);
  await clock.advance(1000);
  assert.equal(w.attempts, 11, 'one attempt per 100 ms while refused');
  assert.deepEqual(answered, []);
  up = true;
  await clock.advance(100);
  assert.deepEqual(answered, ['db1']);
  const attempts = count();
  await clock.advance(5000);
  assert.equal(count(), attempts, 'no attempt while the session is open');
  assert.deepEqual(answered, ['db1'], 'onAnswered once per return');
  assert.equal(sessions.length, 1);
  // mysqld dies again: the attempts start again, and its next return is announced again.
  up = false;
  sessions[0]!.closeCb!();
  await clock.advance(300);
  assert.ok(count() >= attempts + 2, 'attempts again after the close');
  up = true;
  await clock.advance(100);
  assert.deepEqual(answered, ['db1', 'db1']);
  w.close();
  assert.equal(sessions[1]!.destroyed, true, 'close() destroys the kept session');
  assert.equal(clock.timers.length, 0);
});

test('never two attempts in flight: a slow attempt (dropped route) delays the next one', async () => {
  const { clock, w, pending, maxInFlight } = setup(() => 'pending');
  w.start();
  await clock.advance(1000);
  assert.equal(w.attempts, 1, 'the one attempt still runs');
  assert.equal(maxInFlight(), 1);
  pending.shift()!.reject(new DbError(target, 'timeout', 'no answer within 500 ms'));
  await clock.advance(0);
  assert.equal(w.attempts, 2, 'the next attempt at once: its pollMs already passed');
  assert.equal(maxInFlight(), 1);
  w.close();
  pending.shift()!.resolve(new FakeSession());
  await clock.advance(0);
});

test('a session that opens after close() is destroyed and announces nothing', async () => {
  const { clock, w, pending, answered } = setup(() => 'pending');
  w.start();
  await clock.advance(0);
  w.close();
  const s = new FakeSession();
  pending.shift()!.resolve(s);
  await clock.advance(0);
  assert.equal(s.destroyed, true);
  assert.deepEqual(answered, []);
});

test('access denied is an answer (mysqld runs): announced, then tried again at the calm pace', async () => {
  const { clock, w, answered } = setup(() => 'auth');
  w.start();
  await clock.advance(0);
  assert.deepEqual(answered, ['db1']);
  await clock.advance(999);
  assert.equal(w.attempts, 1);
  await clock.advance(1);
  assert.equal(w.attempts, 2);
  w.close();
});

const summary = (over: Partial<FailoverSummary>): FailoverSummary => ({ id: 'f1', startedAt: 0, deadMaster: 'db1', trigger: 'auto', acked: false, rejoined: false, phases: [], ...over });

test('watched: failed servers whose failover ended within the window; not after it; not the others', () => {
  const win = returnWatchWindowMs(480);
  assert.equal(win, 480 * 60_000);
  assert.equal(returnWatchWindowMs(0), 10 * 60_000, 'at least 10 minutes');
  const s = [summary({ id: 'f1', deadMaster: 'db1', startedAt: 1000, endedAt: 5000, outcome: 'success', newMaster: 'db2' })];
  assert.deepEqual(serversToWatchForReturn(s, ['db1'], 6000, win), ['db1']);
  assert.deepEqual(serversToWatchForReturn(s, ['db1'], 5000 + win, win), [], 'past the window: the tick alone');
  assert.deepEqual(serversToWatchForReturn(s, [], 6000, win), []);
  // The demoted server counts (a switchover-like record), and the latest of several failovers.
  const s2 = [summary({ id: 'f1', deadMaster: 'db1', endedAt: 0 }), summary({ id: 'f2', deadMaster: 'db3', demoted: 'db1', endedAt: win })];
  assert.deepEqual(serversToWatchForReturn(s2, ['db1'], win + 1000, win), ['db1']);
  assert.deepEqual(serversToWatchForReturn([], ['db9'], 0, win), ['db9'], 'failed without a record: watched');
});

test('a host name that does not resolve is tried at the calm pace, and is no answer', async () => {
  const { clock, w, answered } = setup(() => 'unresolvable');
  w.start();
  await clock.advance(999);
  assert.equal(w.attempts, 1);
  await clock.advance(1);
  assert.equal(w.attempts, 2);
  assert.deepEqual(answered, []);
  w.close();
});
