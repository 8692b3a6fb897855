/**
 * The file journal's cached views: read() looks at the file every time (a change by another process is
 * seen at once); readRecent() at most once per maxAgeMs, but this journal's own appends at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';

type Rec = { type: string; id: string };

test('readRecent: own appends at once, another writer within maxAgeMs, read() always fresh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mhats-journal-'));
  try {
    const mine = new FileJournal<Rec>(dir, 'c1');
    const other = new FileJournal<Rec>(dir, 'c1');
    assert.deepEqual(mine.readRecent(1000, 0), [], 'no file yet');
    mine.append({ type: 'start', id: 'a' });
    assert.deepEqual(mine.readRecent(1000, 1).map((r) => r.id), ['a'], 'its own append, at once');
    const first = mine.readRecent(1000, 2);
    assert.equal(mine.readRecent(1000, 3), first, 'unchanged: the same array');
    other.append({ type: 'start', id: 'b' });
    assert.deepEqual(mine.readRecent(1000, 500).map((r) => r.id), ['a'], 'another writer: not yet (the file was looked at 499 ms ago)');
    assert.deepEqual(mine.readRecent(1000, 1002).map((r) => r.id), ['a', 'b'], 'after maxAgeMs');
    other.append({ type: 'end', id: 'b' });
    assert.deepEqual(mine.read(1003).map((r) => r.type), ['start', 'start', 'end'], 'read() looks every time');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
