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
  #cache: { sig: string; records: R[]; at: number } | undefined;
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

  /**
   * read(), but the file is looked at (stat) at most once per maxAgeMs: for views refreshed every tick of every
   * cluster (the monitor's failed servers), never for decisions. This journal's own appends are seen at once;
   * another process's within maxAgeMs.
   */
  readRecent(maxAgeMs: number, now: number = performance.now()): R[] {
    if (this.#cache !== undefined && now - this.#cache.at < maxAgeMs) return this.#cache.records;
    return this.read(now);
  }

  read(now: number = performance.now()): R[] {
    let sig: string;
    try {
      const st = statSync(this.path, { throwIfNoEntry: false, bigint: true });
      sig = st === undefined ? 'absent' : `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      return NONE;
    }
    if (this.#cache?.sig === sig) {
      this.#cache.at = now;
      return this.#cache.records;
    }
    if (sig === 'absent') {
      this.#cache = { sig, records: NONE, at: now };
      return NONE;
    }
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
    this.#cache = { sig, records: out, at: now };
    return out;
  }
}

/** For tests and tools that only need to append a line. */
export function appendJournalLine(path: string, r: JournalRecord): void {
  appendFileSync(path, `${JSON.stringify(r)}\n`);
}
