/**
 * Small files read and parsed once per version: SSH private keys and known_hosts, which every SSH
 * opening needs. A manager warming sessions to thousands of servers (and retrying the hosts without
 * SSH every minute) otherwise re-read and re-parsed them per opening: about 0.9 ms of CPU per opening
 * for a key and a short known_hosts, 8.6 ms with a known_hosts of 3,000 hosts.
 *
 * Each get() costs one stat(); the file is read and parsed again only when its version changed: a
 * key rotated by renaming a new file over it (another inode), rewritten in place (size, mtime, ctime)
 * or made unreadable (ctime). File times come from a coarse clock (a few ms), so a file changed in
 * the last second is never taken from the cache (as git treats "racily clean" files): two writes of
 * the same size within one tick cannot leave the older content cached. Errors (a missing file, no
 * permission, a parse that throws) are not cached and keep the fs error's code. The values may hold
 * secrets (a private key): they are kept in memory only, never logged.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

/** A file changed less than this long ago (ms) is read again on every get(). */
export const RACY_MS = 1000;

/** What identifies one version of a file, or undefined when it changed too recently to be trusted. Pure. */
export function fileVersion(st: Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>, nowMs: number): string | undefined {
  if (nowMs - Math.max(st.mtimeMs, st.ctimeMs) < RACY_MS) return undefined;
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

export class FileCache<T> {
  readonly #parse: (content: Buffer, path: string) => T;
  readonly #now: () => number;
  readonly #entries = new Map<string, { version: string; value: Promise<T> }>();
  /** Files read (not served from the cache), for tests. */
  reads = 0;

  constructor(parse: (content: Buffer, path: string) => T, now: () => number = Date.now) {
    this.#parse = parse;
    this.#now = now;
  }

  /** The parsed content of path (callers at the same version share one read); rejects with the fs error or the parser's. */
  async get(path: string): Promise<T> {
    let st: Stats;
    try {
      st = await stat(path);
    } catch (e) {
      this.#entries.delete(path);
      throw e;
    }
    const version = fileVersion(st, this.#now());
    const hit = this.#entries.get(path);
    if (version !== undefined && hit?.version === version) return hit.value;
    this.reads++;
    const value = readFile(path).then((buf) => this.#parse(buf, path));
    if (version === undefined) {
      this.#entries.delete(path);
      return value;
    }
    const entry = { version, value };
    this.#entries.set(path, entry);
    value.catch(() => {
      if (this.#entries.get(path) === entry) this.#entries.delete(path);
    });
    return value;
  }

  /** Forgets every file (tests). */
  clear(): void {
    this.#entries.clear();
  }
}
