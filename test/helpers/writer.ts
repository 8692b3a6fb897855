/**
 * A continuous writer, as an application would be: one INSERT at a time on
 * one connection, each with a deadline; every id the server acknowledged is
 * recorded. It stops at the first error (the master died).
 */
import mysql from 'mysql2/promise';

export interface WriterTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export class Writer {
  readonly acked: number[] = [];
  error: string | undefined;
  #stop = false;
  #done: Promise<void> | undefined;

  start(t: WriterTarget, table = 'mhats_test.t'): void {
    this.#done = (async () => {
      let conn: mysql.Connection | undefined;
      try {
        conn = await mysql.createConnection({ ...t, connectTimeout: 2000 });
        let n = 0;
        while (!this.#stop) {
          const [r] = await conn.query({ sql: `INSERT INTO ${table} (val) VALUES (?)`, values: [`w${n++}`], timeout: 3000 });
          this.acked.push((r as mysql.ResultSetHeader).insertId);
        }
      } catch (err) {
        this.error = (err as Error).message;
      } finally {
        conn?.destroy();
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }

  /** Resolves once at least n writes were acknowledged. */
  async waitFor(n: number, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.acked.length < n) {
      if (this.error) throw new Error(`writer failed: ${this.error}`);
      if (Date.now() > end) throw new Error(`only ${this.acked.length} writes acknowledged within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resolves when the writer has stopped by itself (an error). */
  async stopped(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.#done, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('writer still running')), timeoutMs)))]);
    } finally {
      clearTimeout(timer); // a pending timer would keep the test process alive for up to timeoutMs
    }
  }
}

/**
 * A writer that follows the master, as an application behind a VIP or a
 * proxy would: one INSERT at a time; on any error it drops the connection
 * and looks for a server with read_only=OFF among the targets, and goes on
 * there. Records every acknowledged id, which server acknowledged it, and the
 * longest gap between two acknowledged writes.
 */
export class FollowingWriter {
  readonly acked: number[] = [];
  /** Address that acknowledged each write, same order as acked. */
  readonly ackedBy: string[] = [];
  readonly errors: string[] = [];
  maxGapMs = 0;
  current: string | undefined;
  #stop = false;
  #done: Promise<void> | undefined;
  readonly #targets: WriterTarget[];
  readonly #table: string;

  constructor(targets: WriterTarget[], table = 'mhats_test.t') {
    this.#targets = targets;
    this.#table = table;
  }

  start(): void {
    this.#done = (async () => {
      let conn: mysql.Connection | undefined;
      let n = 0;
      let last = performance.now();
      while (!this.#stop) {
        if (conn === undefined) {
          conn = await this.#findWritable();
          if (conn === undefined) {
            await new Promise((r) => setTimeout(r, 2));
            continue;
          }
        }
        try {
          const [r] = await conn.query({ sql: `INSERT INTO ${this.#table} (val) VALUES (?)`, values: [`f${n++}`], timeout: 3000 });
          const now = performance.now();
          this.maxGapMs = Math.max(this.maxGapMs, now - last);
          last = now;
          this.acked.push((r as mysql.ResultSetHeader).insertId);
          this.ackedBy.push(this.current ?? '?');
        } catch (err) {
          this.errors.push((err as Error).message);
          conn.destroy();
          conn = undefined;
          this.current = undefined;
        }
      }
      conn?.destroy();
    })();
  }

  async #findWritable(): Promise<mysql.Connection | undefined> {
    for (const t of this.#targets) {
      let c: mysql.Connection | undefined;
      try {
        c = await mysql.createConnection({ ...t, connectTimeout: 1000 });
        const [rows] = await c.query({ sql: 'SELECT @@global.read_only AS ro', timeout: 1000 });
        if (Number((rows as Array<{ ro: unknown }>)[0]?.ro) === 0) {
          this.current = t.host;
          return c;
        }
        c.destroy();
      } catch {
        c?.destroy();
      }
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }

  /** Resolves once at least n writes were acknowledged (in all). */
  async waitFor(n: number, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.acked.length < n) {
      if (Date.now() > end) throw new Error(`only ${this.acked.length} writes acknowledged within ${timeoutMs} ms (last errors: ${this.errors.slice(-3).join(' | ')})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resolves once n more writes were acknowledged by the server at address. */
  async waitForOn(address: string, n: number, timeoutMs = 20_000): Promise<void> {
    const start = this.ackedBy.filter((a) => a === address).length;
    const end = Date.now() + timeoutMs;
    while (this.ackedBy.filter((a) => a === address).length < start + n) {
      if (Date.now() > end) throw new Error(`fewer than ${n} writes acknowledged by ${address} within ${timeoutMs} ms (last errors: ${this.errors.slice(-3).join(' | ')})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
