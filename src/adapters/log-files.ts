/**
 * MHA's manager_log: the manager's log lines appended to a file.
 *
 * - Each cluster's lines go to its manager_log (lines of a cluster without
 *   one go to stdout). Lines about no cluster in particular (start, stop,
 *   reload, HTTP) go to every manager_log, and to stdout as well when some
 *   cluster has none.
 * - Files are opened in append mode and written synchronously, one line per
 *   write (several writers and a crash never interleave half lines).
 * - reopen() (SIGHUP) closes and opens them again: after logrotate has moved a
 *   file away, the next line goes to a new file at the configured path.
 * - A file that cannot be written is reported once on stderr, and its lines go
 *   to stdout: the log never blocks or stops the manager.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export class LogFiles {
  #byCluster = new Map<string, string>();
  #fds = new Map<string, number>();
  #failed = new Set<string>();
  #someWithout = true;
  readonly #stdout: (line: string) => void;
  readonly #stderr: (line: string) => void;

  constructor(opts: { stdout?: (line: string) => void; stderr?: (line: string) => void } = {}) {
    this.#stdout = opts.stdout ?? ((l) => process.stdout.write(l));
    this.#stderr = opts.stderr ?? ((l) => process.stderr.write(l));
  }

  /** Which file each cluster logs to. Throws when a new file cannot be opened (nothing changed then). */
  configure(clusters: readonly { name: string; manager_log?: string | undefined }[]): void {
    const next = new Map<string, string>();
    for (const c of clusters) if (c.manager_log) next.set(c.name, c.manager_log);
    const paths = new Set(next.values());
    const opened: [string, number][] = [];
    for (const p of paths) {
      if (this.#fds.has(p)) continue;
      try {
        opened.push([p, openSync(p, 'a', 0o640)]);
      } catch (err) {
        for (const [, fd] of opened) closeSync(fd);
        throw new Error(`cannot open manager_log ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
    }
    for (const [p, fd] of opened) this.#fds.set(p, fd);
    for (const [p, fd] of this.#fds) {
      if (paths.has(p)) continue;
      this.#close(fd);
      this.#fds.delete(p);
    }
    this.#byCluster = next;
    this.#someWithout = clusters.length === 0 || clusters.some((c) => !c.manager_log);
    this.#failed.clear();
  }

  /** The files in use. */
  get paths(): string[] {
    return [...this.#fds.keys()];
  }

  /** Close and open every file again (logrotate). */
  reopen(): void {
    for (const [p, fd] of this.#fds) {
      this.#close(fd);
      try {
        this.#fds.set(p, openSync(p, 'a', 0o640));
        this.#failed.delete(p);
      } catch (err) {
        this.#fds.delete(p);
        this.#fail(p, err);
      }
    }
  }

  write(line: string, record: { cluster?: unknown }): void {
    const cluster = typeof record.cluster === 'string' ? record.cluster : undefined;
    if (cluster !== undefined) {
      const p = this.#byCluster.get(cluster);
      if (p === undefined || !this.#append(p, line)) this.#stdout(line);
      return;
    }
    let toStdout = this.#someWithout;
    for (const p of this.#fds.keys()) if (!this.#append(p, line)) toStdout = true;
    if (toStdout) this.#stdout(line);
  }

  close(): void {
    for (const fd of this.#fds.values()) this.#close(fd);
    this.#fds.clear();
  }

  #append(p: string, line: string): boolean {
    const fd = this.#fds.get(p);
    if (fd === undefined) return false;
    try {
      writeSync(fd, line);
      return true;
    } catch (err) {
      this.#fail(p, err);
      return false;
    }
  }

  #fail(p: string, err: unknown): void {
    if (this.#failed.has(p)) return;
    this.#failed.add(p);
    this.#stderr(`mhats: cannot write manager_log ${p} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); its lines go to stdout until the next SIGHUP\n`);
  }

  #close(fd: number): void {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
