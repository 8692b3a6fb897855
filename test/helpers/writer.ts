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
    await Promise.race([this.#done, new Promise((_, rej) => setTimeout(() => rej(new Error('writer still running')), timeoutMs))]);
  }
}
