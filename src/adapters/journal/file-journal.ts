/**
 * The failover journal: JSON lines, appended and fsynced, one file per
 * cluster under the state directory. A record is on disk before the step it
 * announces runs, so a manager restarted mid-failover sees the unfinished one.
 */
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalRecord } from '../../domain/guard.js';

export class FileJournal {
  readonly path: string;
  constructor(stateDir: string, cluster: string) {
    mkdirSync(join(stateDir, cluster), { recursive: true, mode: 0o750 });
    this.path = join(stateDir, cluster, 'failovers.jsonl');
  }

  append(r: JournalRecord): void {
    const fd = openSync(this.path, 'a', 0o640);
    try {
      writeSync(fd, `${JSON.stringify(r)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  read(): JournalRecord[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return [];
    }
    const out: JournalRecord[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as JournalRecord);
      } catch {
        // A torn last line (crash mid-write) is skipped.
      }
    }
    return out;
  }
}

/** For tests and tools that only need to append a line. */
export function appendJournalLine(path: string, r: JournalRecord): void {
  appendFileSync(path, `${JSON.stringify(r)}\n`);
}
