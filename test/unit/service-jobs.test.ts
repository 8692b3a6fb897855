/** Journal retention: old, settled failovers go; anything that still blocks or fences stays. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pruneJournal, rewriteJournal } from '../../src/app/jobs.js';
import type { FailoverOutcome, JournalRecord } from '../../src/domain/guard.js';
import { tempDir } from '../helpers/tmp.js';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

function failover(id: string, endedDaysAgo: number, outcome: FailoverOutcome | undefined, dead: string, next?: string): JournalRecord[] {
  const at = NOW - endedDaysAgo * DAY;
  const recs: JournalRecord[] = [
    { type: 'begin', id, cluster: 'app1', at: at - 1000, deadMaster: dead, trigger: 'auto', reason: 'dead' },
    { type: 'phase', id, phase: 'Phase 1: Configuration Check Phase', at: at - 500, durationMs: 100, ok: true },
  ];
  if (outcome) recs.push({ type: 'end', id, at, outcome, newMaster: next, oldMaster: dead, durationMs: 1000, reason: 'x' });
  return recs;
}

test('drops old refused failovers, acknowledged failed ones, and successes whose old master rejoined', () => {
  const recs: JournalRecord[] = [
    ...failover('refused-old', 100, 'refused', 'db1'),
    ...failover('failed-acked', 100, 'failed', 'db1'),
    { type: 'ack', id: 'failed-acked', at: NOW - 99 * DAY, by: 'op' },
    ...failover('ok-rejoined', 95, 'success', 'db1', 'db2'),
    { type: 'rejoin', id: 'ok-rejoined', at: NOW - 90 * DAY, server: 'db1' },
    ...failover('refused-new', 5, 'refused', 'db2'),
  ];
  const r = pruneJournal(recs, NOW, 30, 480, 'app1');
  assert.deepEqual(r.dropped.sort(), ['failed-acked', 'ok-rejoined', 'refused-old']);
  assert.ok(r.keep.every((x) => x.id === 'refused-new'));
});

test('keeps what still matters: unfinished, failed and not acknowledged, an old master still fenced', () => {
  const recs: JournalRecord[] = [
    ...failover('unfinished', 200, undefined, 'db1'),
    ...failover('failed', 200, 'failed', 'db2'),
    ...failover('fenced', 200, 'success', 'db3', 'db1'),
  ];
  const r = pruneJournal(recs, NOW, 30, 480, 'app1');
  assert.deepEqual(r.dropped, []);
  assert.equal(r.keep, recs);
});

test('rewriteJournal replaces the file atomically, and refuses when it changed meanwhile', () => {
  const dir = tempDir('mhats-ret-');
  const path = join(dir, 'failovers.jsonl');
  const recs = failover('a', 1, 'refused', 'db1');
  writeFileSync(path, 'old\n');
  const st = statSync(path);
  assert.equal(rewriteJournal(path, st, recs), true);
  assert.equal(readFileSync(path, 'utf8'), recs.map((r) => `${JSON.stringify(r)}\n`).join(''));
  assert.equal(rewriteJournal(path, { size: 1, mtimeMs: 0 }, []), false);
  assert.equal(readFileSync(path, 'utf8').length > 0, true);
});
