/**
 * What the engine needs from a failover journal: the file journal (one
 * manager) and the etcd journal (manager HA) both provide it.
 *
 * read() is synchronous (the guard is a pure fold over it). append() puts the
 * record in the journal's view at once; flush() resolves when every record
 * appended so far is durable, and rejects if one could not be written (the
 * file journal writes synchronously and needs no flush).
 */
import type { JournalRecord } from '../../domain/guard.js';

export interface Journal<R = JournalRecord> {
  /** Where the journal lives (a file, or etcd:PREFIX), for messages and the retention job. */
  readonly path: string;
  append(r: R): void;
  read(): R[];
  /** read(), possibly up to maxAgeMs old for another process's appends (never older for this journal's own): for per-tick views, not decisions. */
  readRecent?(maxAgeMs: number): R[];
  flush?(): Promise<void>;
}
