/**
 * The failover journal: JSON lines, appended and fsynced, one file per
 * cluster under the state directory. A record is on disk before the step it
 * announces runs, so a manager restarted mid-failover sees the unfinished one.
 */
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalRecord } from '../../domain/guard.js';

const NONE: never[] = [];

export class FileJournal<R = JournalRecord> {
  readonly path: string;
  #cache: { sig: string; records: R[] } | undefined;
  /** state_dir/CLUSTER/failovers.jsonl; with cluster null, state_dir/FILE (journals of no one cluster, e.g. maintenance). */
  constructor(stateDir: string, cluster: string | null, file = 'failovers.jsonl') {
    const dir = cluster === null ? stateDir : join(stateDir, cluster);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    this.path = join(dir, file);
  }

  append(r: R): void {
    this.#cache = undefined;
    const fd = openSync(this.path, 'a', 0o640);
    try {
      writeSync(fd, `${JSON.stringify(r)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  read(): R[] {
    let sig: string;
    try {
      const st = statSync(this.path, { throwIfNoEntry: false, bigint: true });
      if (st === undefined) return NONE;
      sig = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      return NONE;
    }
    if (this.#cache?.sig === sig) return this.#cache.records;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return NONE;
    }
    const out: R[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as R);
      } catch {
        // A torn last line (crash mid-write) is skipped.
      }
    }
    this.#cache = { sig, records: out };
    return out;
  }
}

/** For tests and tools that only need to append a line. */
export function appendJournalLine(path: string, r: JournalRecord): void {
  appendFileSync(path, `${JSON.stringify(r)}\n`);
}
