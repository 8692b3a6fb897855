/**
 * The drill's application: one autocommit INSERT at a time, each with a
 * sequence number, through the endpoint the applications use, at a steady
 * rate. Every write the endpoint acknowledged is recorded with the server
 * that took it (its server_id) and, on MariaDB, its GTID (@@last_gtid on the
 * same session). A write whose answer never came (error, deadline) is "in
 * doubt": it may or may not have committed. On any error the connection is
 * destroyed and the endpoint asked again (a VIP, a name, HAProxy: the same
 * address; read_only routing: whichever server is writable now).
 */
import { openSession, type DbSession, type DbTarget } from '../mysql/connection.js';
import { Secret } from '../../domain/secret.js';
import type { AckedWrite } from '../../domain/drill/types.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface WriterOptions {
  /** Where to connect now; undefined = nowhere writable yet (asked again shortly). */
  resolve: () => Promise<Endpoint | undefined>;
  user: string;
  password: string;
  localAddress?: string | undefined;
  /** Writes per second (default 100). */
  rate?: number;
  /** `schema`.`table` to insert into: columns (run, seq, at). */
  table: string;
  run: string;
  /** Ask the server for the write's GTID (MariaDB's @@last_gtid). */
  gtids: boolean;
  now: () => number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class DrillWriter {
  readonly acked: AckedWrite[] = [];
  readonly inDoubt: number[] = [];
  readonly errors: Array<{ at: number; message: string }> = [];
  #stop = false;
  #done: Promise<void> | undefined;
  #seq = 0;
  readonly #o: WriterOptions;

  constructor(o: WriterOptions) {
    this.#o = o;
  }

  get lastSeq(): number {
    return this.#seq;
  }

  start(): void {
    this.#done ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }

  /** Resolves once n writes were acknowledged in all (rejects at the deadline with the last errors). */
  async waitFor(n: number, timeoutMs: number): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (this.acked.length < n) {
      if (performance.now() > end) throw new Error(`only ${this.acked.length} of ${n} writes acknowledged within ${timeoutMs} ms${this.errors.length ? ` (last error: ${this.errors.at(-1)?.message})` : ''}`);
      await sleep(20);
    }
  }

  async #loop(): Promise<void> {
    const o = this.#o;
    const gap = 1000 / (o.rate ?? 100);
    let session: DbSession | undefined;
    let by: string | undefined;
    let next = performance.now();
    const fail = (message: string): void => {
      this.errors.push({ at: o.now(), message });
      session?.destroy();
      session = undefined;
    };
    while (!this.#stop) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      next = Math.max(next + gap, performance.now() - gap);
      if (session === undefined) {
        let ep: Endpoint | undefined;
        try {
          ep = await o.resolve();
        } catch (err) {
          fail(`endpoint: ${(err as Error).message}`);
        }
        if (ep === undefined) continue;
        const target: DbTarget = { name: 'endpoint', host: ep.host, port: ep.port, user: o.user, password: new Secret(o.password), localAddress: o.localAddress };
        try {
          session = await openSession(target, { connectTimeoutMs: o.connectTimeoutMs ?? 1000, queryTimeoutMs: o.queryTimeoutMs ?? 2000 });
          const [id] = await session.query<{ id: unknown }>('SELECT @@server_id AS id');
          by = String(id?.id);
        } catch (err) {
          fail((err as Error).message);
          continue;
        }
      }
      const seq = ++this.#seq;
      try {
        await session.query({ sql: `INSERT INTO ${o.table} (run, seq, at) VALUES (?, ?, NOW(6))`, values: [o.run, seq] });
      } catch (err) {
        this.inDoubt.push(seq);
        fail((err as Error).message);
        continue;
      }
      const ack: AckedWrite = { seq, at: o.now(), by };
      this.acked.push(ack);
      if (o.gtids) {
        try {
          const [g] = await session.query<{ g: unknown }>('SELECT @@last_gtid AS g');
          if (typeof g?.g === 'string' && g.g !== '') ack.gtid = g.g;
        } catch (err) {
          fail((err as Error).message);
        }
      }
    }
    session?.destroy();
  }
}
