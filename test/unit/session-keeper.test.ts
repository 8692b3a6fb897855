/**
 * The monitor's kept connections (SessionKeeper) against a MySQL-protocol
 * simulator in a child process (bench/scale/sim.ts, a hand-written protocol loop):
 * reuse, a connection the server closed while idle (retried once on a fresh
 * one), and a statement that times out (destroyed, then re-opened).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionKeeper } from '../../src/adapters/mysql/keeper.js';
import { DbError, openSession } from '../../src/adapters/mysql/connection.js';
import { inspectServer } from '../../src/adapters/mysql/inspect.js';
import type { SimReply } from '../../bench/scale/sim.js';
import { simDb1 } from '../helpers/sim.js';

const sim = simDb1('127.1.200.1');
const { target, ask } = sim;
const timeouts = { connectTimeoutMs: 2000, queryTimeoutMs: 2000 };

test('reuse, a stale connection retried once on a fresh one, a timeout destroyed and re-opened', async () => {
  const k = new SessionKeeper();
  const ping = (timeoutMs?: number): Promise<number | null> => k.use(target, timeouts, async (s) => (await s.query<{ value: number }>('SELECT 1 AS value', timeoutMs), s.threadId));
  const first = await ping();
  assert.equal(await ping(), first, 'the same connection answers the second time');
  assert.equal(k.opened, 1);

  // The server closes it while idle: the next read succeeds on a fresh connection, not reported as a failure.
  assert.equal(await sim.drop(), 1);
  await new Promise((r) => setTimeout(r, 100));
  const second = await ping();
  assert.notEqual(second, first);
  assert.equal(k.opened, 2);

  // The server hangs: the statement's deadline passes, the connection is destroyed, never reused.
  sim.signal('SIGSTOP');
  const t0 = performance.now();
  await assert.rejects(ping(300), (e: unknown) => e instanceof DbError && e.kind === 'timeout');
  assert.ok(performance.now() - t0 < 1500, 'the deadline held');
  assert.equal(k.size, 0, 'the timed-out connection is forgotten');
  sim.signal('SIGCONT');
  const third = await ping();
  assert.notEqual(third, second);
  assert.equal(k.opened, 3);
  k.close();
  assert.equal(k.size, 0);
});

test('an inspection on a kept connection is one multi-statement round trip and reads what the statements one by one read', async () => {
  const k = new SessionKeeper();
  const opts = { ...timeouts, now: () => 0 };
  const s0 = await ask({ type: 'stats' });
  const one = await inspectServer(target, opts); // its own connection, one statement at a time
  const s1 = await ask({ type: 'stats' });
  await inspectServer(target, opts, k); // opens the kept connection (reads the version once)
  const s2 = await ask({ type: 'stats' });
  const kept = await inspectServer(target, opts, k);
  const s3 = await ask({ type: 'stats' });
  assert.ok(one.ok && kept.ok);
  const strip = (o: object): string => JSON.stringify(o, (key, v: unknown) => (key === 'gtid' || key === 'binlog' || key === 'observedAt' ? undefined : v));
  assert.equal(strip(kept.obs), strip(one.obs), 'the same observation');
  const queries = (a: SimReply, b: SimReply): number => (a.type === 'stats' && b.type === 'stats' ? b.queries - a.queries : NaN);
  assert.ok(queries(s0, s1) >= 6, `one by one: ${queries(s0, s1)} statements`);
  assert.equal(queries(s2, s3), 1, 'one query per inspection on the kept connection');
  assert.ok(queries(s1, s2) <= 2);
  k.close();
});

test('a batch stops at its first failing statement, and the live connection still answers', async () => {
  const s = await openSession(target, timeouts, undefined, { multipleStatements: true });
  await assert.rejects(s.queryBatch(['SELECT 1 AS value', 'SELECT no_such_thing()', 'SELECT 2 AS value']), (e: unknown) => e instanceof DbError && e.kind !== 'timeout');
  assert.ok(s.alive);
  const [a, b] = await s.queryBatch(['SELECT 1 AS value', 'SELECT 2 AS value']);
  assert.deepEqual([a![0]!.value, b![0]!.value], [1, 2]);
  s.close();
});
