/** The journal as a history: phase bars with real start times, hook outcomes, loss, acks, switchovers, API writes, newest first. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { history } from '../../src/domain/history.js';
import type { JournalRecord } from '../../src/domain/guard.js';
import { pruneJournal } from '../../src/app/jobs.js';

const T = 1_700_000_000_000;
const records: JournalRecord[] = [
  { type: 'begin', id: 'f1', cluster: 'app1', at: T, deadMaster: 'db1', trigger: 'auto', reason: 'db1 is dead' },
  { type: 'phase', id: 'f1', phase: 'Phase 1: Configuration Check Phase', at: T + 100, durationMs: 100, ok: true },
  { type: 'event', id: 'f1', at: T + 150, message: 'hook vip (start): ok', detail: { hook: 'vip', type: 'vip', phase: 'start', verdict: 'ok', exitCode: 0, timedOut: false } },
  { type: 'event', id: 'f1', at: T + 160, message: 'salvaged 3 events' },
  { type: 'phase', id: 'f1', phase: 'Phase 3.5: Promoting New Master Phase', at: T + 400, durationMs: 250, ok: true },
  { type: 'end', id: 'f1', at: T + 500, outcome: 'success', newMaster: 'db2', oldMaster: 'db1', durationMs: 500, reason: 'done', lost: 'none' },
  { type: 'ack', id: 'f1', at: T + 1000, by: 'alice@cli' },
  { type: 'switchover', id: 's1', cluster: 'app1', at: T + 2000, by: 'api:127.0.0.1', from: 'db2', to: 'db3' },
  { type: 'switchover_end', id: 's1', at: T + 2100, outcome: 'success', oldMaster: 'db2', newMaster: 'db3', durationMs: 100, writeBlockedMs: 40, reason: 'switched', steps: [{ step: 'read_only on db2', durationMs: 10, ok: true }, { step: 'wait for db3', durationMs: 30, ok: true, detail: 'caught up' }] },
  { type: 'write', id: 'w1', at: T + 1900, by: 'api:127.0.0.1', action: 'switchover', cluster: 'app1', status: 202, outcome: 'accepted', job: 'job-1' },
  { type: 'begin', id: 'f2', cluster: 'app1', at: T + 3000, deadMaster: 'db3', trigger: 'manual', reason: 'manual' },
  { type: 'phase', id: 'f2', phase: 'Phase 1: Configuration Check Phase', at: T + 3050, durationMs: 50, ok: true },
];

test('history: newest first; phases, hooks, loss, acks, switchover steps laid end to end, API writes', () => {
  const h = history(records);
  assert.deepEqual(h.map((e) => `${e.kind}:${e.id}`), ['failover:f2', 'switchover:s1', 'write:w1', 'ack:f1', 'failover:f1']);
  const f1 = h.find((e) => e.id === 'f1' && e.kind === 'failover');
  assert.ok(f1?.kind === 'failover');
  assert.deepEqual(f1.phases.map((p) => [p.name.slice(0, 9), p.startedAt - T, p.durationMs]), [['Phase 1: ', 0, 100], ['Phase 3.5', 150, 250]]);
  assert.deepEqual(f1.hooks, [{ at: T + 150, name: 'vip', phase: 'start', verdict: 'ok', exitCode: 0, timedOut: false }]);
  assert.deepEqual(f1.events, [{ at: T + 160, message: 'salvaged 3 events' }]);
  assert.equal(f1.outcome, 'success');
  assert.equal(f1.lost, 'none');
  assert.equal(f1.acked, true);
  assert.equal(f1.ackedBy, 'alice@cli');
  const s1 = h.find((e) => e.kind === 'switchover');
  assert.ok(s1?.kind === 'switchover');
  assert.deepEqual(s1.steps.map((s) => [s.startedAt - T, s.durationMs, s.detail]), [[2000, 10, undefined], [2010, 30, 'caught up']]);
  assert.equal(s1.writeBlockedMs, 40);
  const f2 = h[0];
  assert.ok(f2?.kind === 'failover');
  assert.equal(f2.outcome, 'unfinished');
  assert.equal(history(records, { running: new Set(['f2']) })[0]?.kind === 'failover' && (history(records, { running: new Set(['f2']) })[0] as { outcome: string }).outcome, 'running');
  assert.equal(history(records, { limit: 2 }).length, 2);
});

test('journal retention drops old switchovers and API write records, keeps recent and unfinished ones', () => {
  const day = 86_400_000;
  const recs: JournalRecord[] = [
    { type: 'switchover', id: 'old', cluster: 'app1', at: T, by: 'a', from: 'db1', to: 'db2' },
    { type: 'switchover_end', id: 'old', at: T + 10, outcome: 'success', durationMs: 10, reason: 'ok', steps: [] },
    { type: 'switchover', id: 'open', cluster: 'app1', at: T, by: 'a', from: 'db1', to: 'db2' },
    { type: 'write', id: 'w-old', at: T, by: 'a', action: 'ack', cluster: 'app1', status: 200, outcome: 'done' },
    { type: 'write', id: 'w-new', at: T + 40 * day, by: 'a', action: 'ack', cluster: 'app1', status: 200, outcome: 'done' },
  ];
  const r = pruneJournal(recs, T + 40 * day, 30, 480, 'app1');
  assert.deepEqual(r.dropped.sort(), ['old', 'w-old']);
  assert.deepEqual(r.keep.map((x) => x.id), ['open', 'w-new']);
});

test("history: the executor's plan, steps, demotion, promotion and adoption records on the failover's entry", () => {
  const plan = (newMaster: string | undefined, loss: string): Extract<JournalRecord, { type: 'plan' }>['plan'] =>
    ({ ok: newMaster !== undefined, newMaster: newMaster ? { name: newMaster } : undefined, expectedLoss: { text: loss, exact: true } }) as unknown as Extract<JournalRecord, { type: 'plan' }>['plan'];
  const h = history([
    { type: 'begin', id: 'f3', cluster: 'app1', at: T, deadMaster: 'db1', trigger: 'auto', reason: 'db1 is dead' },
    { type: 'plan', id: 'f3', at: T + 10, revision: 1, reason: 'initial', plan: plan('db2', 'nothing') },
    { type: 'demoted', id: 'f3', at: T + 20, server: 'db1' },
    { type: 'step', id: 'f3', at: T + 120, server: 'db2', step: 'apply_own_relay_log', ok: true, durationMs: 90 },
    { type: 'step', id: 'f3', at: T + 150, server: 'db3', step: 'relay_diff', ok: false, durationMs: 20, detail: 'ssh: timed out' },
    { type: 'plan', id: 'f3', at: T + 160, revision: 2, reason: 'db3 could not take the relay diff', plan: plan('db2', '1 transaction') },
    { type: 'promoted', id: 'f3', at: T + 200, server: 'db2' },
    { type: 'end', id: 'f3', at: T + 300, outcome: 'partial', newMaster: 'db2', oldMaster: 'db1', durationMs: 300, reason: 'db3 not recovered' },
    { type: 'adopted', id: 'f3', at: T + 900, server: 'db1', reason: 'its replicas follow it' },
  ]);
  const f = h[0];
  assert.ok(f?.kind === 'failover');
  assert.deepEqual(f.steps.map((s) => [s.server, s.name, s.startedAt - T, s.durationMs, s.ok, s.detail]), [
    ['db2', 'apply_own_relay_log', 30, 90, true, undefined],
    ['db3', 'relay_diff', 130, 20, false, 'ssh: timed out'],
  ]);
  assert.equal(f.promotedAt, T + 200);
  assert.deepEqual(f.planned, { newMaster: 'db2', expectedLoss: '1 transaction', revision: 2 });
  assert.deepEqual(f.events.map((e) => e.message), [
    'plan: promote db2 (initial)',
    'db1 demoted (fencing began): it stays fenced whatever happens next',
    'db3: relay_diff FAILED in 20 ms (ssh: timed out)',
    'plan revised: promote db2 (db3 could not take the relay diff)',
    'db2 accepts writes',
    'db1 adopted as the master of the cluster rebuilt around it: its replicas follow it',
  ]);
});

test("the executor's records (plan, steps, demotion, promotion, adoption) are the failover's events", () => {
  const plan = { ok: true, newMaster: { name: 'db2' } } as unknown as Extract<JournalRecord, { type: 'plan' }>['plan'];
  const recs: JournalRecord[] = [
    { type: 'begin', id: 'f1', cluster: 'app1', at: T, deadMaster: 'db1', trigger: 'auto', reason: 'db1 is dead' },
    { type: 'plan', id: 'f1', at: T + 10, revision: 0, reason: 'Phase 1', plan },
    { type: 'demoted', id: 'f1', at: T + 20, server: 'db1' },
    { type: 'step', id: 'f1', at: T + 30, server: 'db3', step: 'relay_diff', ok: false, durationMs: 12, detail: 'no SSH' },
    { type: 'promoted', id: 'f1', at: T + 40, server: 'db2' },
    { type: 'end', id: 'f1', at: T + 50, outcome: 'partial', newMaster: 'db2', oldMaster: 'db1', durationMs: 50, reason: 'db3 not recovered' },
    { type: 'adopted', id: 'f1', at: T + 90, server: 'db1', reason: 'db2 and db3 replicate from it' },
  ];
  const [f] = history(recs);
  assert.ok(f?.kind === 'failover');
  assert.deepEqual(
    f.events.map((e) => e.message),
    ['plan: promote db2 (Phase 1)', 'db1 demoted (fencing began): it stays fenced whatever happens next', 'db3: relay_diff FAILED in 12 ms (no SSH)', 'db2 accepts writes', 'db1 adopted as the master of the cluster rebuilt around it: db2 and db3 replicate from it'],
  );
  assert.equal(f.rejoined, true, 'adopted: a member again');
  assert.equal(f.outcome, 'partial');
});
