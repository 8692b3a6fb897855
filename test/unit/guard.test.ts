import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guard, summarize, type JournalRecord } from '../../src/domain/guard.js';

const MIN = 60_000;
const begin = (id: string, at: number): JournalRecord => ({ type: 'begin', id, cluster: 'app1', at, deadMaster: 'db1', trigger: 'auto', reason: 'dead' });
const end = (id: string, at: number, outcome: 'success' | 'failed' | 'refused' | 'partial'): JournalRecord => ({ type: 'end', id, at, outcome, oldMaster: 'db1', newMaster: 'db2', durationMs: 1000, reason: 'x' });

test('no history: allowed', () => {
  assert.deepEqual(guard([], 0, 480, 'auto', 'app1'), { allowed: true });
});

test('a successful failover blocks automatic ones for last_failover_minute, unless acknowledged', () => {
  const recs = [begin('f1', 0), end('f1', 1000, 'success')];
  const g = guard(summarize(recs), 100 * MIN, 480, 'auto', 'app1');
  assert.equal(g.allowed, false);
  assert.match(g.allowed ? '' : g.reason, /inside last_failover_minute=480.*mhats ack app1/);
  assert.equal(guard(summarize(recs), 481 * MIN, 480, 'auto', 'app1').allowed, true);
  assert.equal(guard(summarize([...recs, { type: 'ack', id: 'f1', at: 2000, by: 'op' }]), 100 * MIN, 480, 'auto', 'app1').allowed, true);
  // An operator's manual failover is not held by the window.
  assert.equal(guard(summarize(recs), 100 * MIN, 480, 'manual', 'app1').allowed, true);
});

test('a failed failover blocks automatic ones until acknowledged, whatever the time', () => {
  const recs = [begin('f1', 0), end('f1', 1000, 'failed')];
  assert.equal(guard(summarize(recs), 10_000 * MIN, 480, 'auto', 'app1').allowed, false);
  assert.equal(guard(summarize([...recs, { type: 'ack', id: 'f1', at: 1, by: 'op' }]), 10_000 * MIN, 480, 'auto', 'app1').allowed, true);
});

test('an unfinished failover (manager died mid-way) blocks everything, manual too', () => {
  const g = guard(summarize([begin('f1', 0), { type: 'phase', id: 'f1', phase: 'Phase 2', at: 5, durationMs: 5, ok: true }]), 1, 480, 'manual', 'app1');
  assert.equal(g.allowed, false);
  assert.match(g.allowed ? '' : g.reason, /never finished/);
});

test('refused attempts do not count', () => {
  assert.equal(guard(summarize([begin('f1', 0), end('f1', 1, 'refused')]), 2, 480, 'auto', 'app1').allowed, true);
});

test('summaries keep phases and outcome', () => {
  const [s] = summarize([begin('f1', 0), { type: 'phase', id: 'f1', phase: 'Phase 1', at: 5, durationMs: 5, ok: true }, end('f1', 10, 'partial')]);
  assert.equal(s!.outcome, 'partial');
  assert.deepEqual(s!.phases, [{ phase: 'Phase 1', durationMs: 5, ok: true }]);
});

test('old masters stay failed until they rejoin; an ack does not revive them', async () => {
  const { failedServers } = await import('../../src/domain/guard.js');
  const recs: JournalRecord[] = [begin('f1', 0), end('f1', 1, 'success'), { type: 'ack', id: 'f1', at: 2, by: 'op' }];
  assert.deepEqual(failedServers(summarize(recs)), ['db1']);
  assert.deepEqual(failedServers(summarize([...recs, { type: 'rejoin', id: 'f1', at: 3, server: 'db1' }])), []);
  // Refused and failed failovers mark nothing.
  assert.deepEqual(failedServers(summarize([begin('f2', 0), end('f2', 1, 'refused')])), []);
});
