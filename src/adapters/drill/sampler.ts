/**
 * The drill's watcher: every 100 ms, every server's read_only and replication
 * state, each on its own connection with a short deadline, so a hung or cut
 * server never delays the others' samples. One round per tick; a server whose
 * previous sample is still outstanding has no sample in that round.
 */
import { openSession, type DbSession, type DbTarget } from '../mysql/connection.js';
import { defaultChannelRow, dialectFor, parseVersion, VERSION_QUERY, type Dialect } from '../mysql/dialect.js';
import type { ReplicaSample, Round, Sample } from '../../domain/drill/types.js';

export interface SamplerOptions {
  intervalMs?: number;
  /** Deadline of one connect and of one statement (default 400 ms). */
  deadlineMs?: number;
  /** The drill's clock (ms). */
  now: () => number;
}

interface Slot {
  target: DbTarget;
  session?: DbSession | undefined;
  dialect?: Dialect | undefined;
  busy: boolean;
  last?: Sample | undefined;
}

export function toReplicaSample(d: Dialect, rows: Record<string, unknown>[]): ReplicaSample | undefined {
  const row = defaultChannelRow(rows);
  if (row === undefined) return undefined;
  const r = d.parseReplicaStatus(row);
  return { sourceHost: r.sourceHost, sourcePort: r.sourcePort, io: r.ioRunning, sql: r.sqlRunning, ioErrno: r.lastIoErrno, ioError: r.lastIoError, sqlErrno: r.lastSqlErrno, sqlError: r.lastSqlError };
}

export class Sampler {
  readonly rounds: Round[] = [];
  readonly #slots: Slot[];
  readonly #interval: number;
  readonly #deadline: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #inflight = new Set<Promise<void>>();

  constructor(targets: DbTarget[], opts: SamplerOptions) {
    this.#slots = targets.map((target) => ({ target, busy: false }));
    this.#interval = opts.intervalMs ?? 100;
    this.#deadline = opts.deadlineMs ?? 400;
    this.#now = opts.now;
  }

  start(): void {
    if (this.#timer) return;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), this.#interval);
  }

  /** The most recent answer of a server (any round). */
  latest(server: string): Sample | undefined {
    return this.#slots.find((s) => s.target.name === server)?.last;
  }

  /** Stops ticking, waits for the outstanding samples (each has a deadline), closes every connection. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#inflight]);
    for (const s of this.#slots) {
      s.session?.destroy();
      s.session = undefined;
    }
  }

  #tick(): void {
    const round: Round = { at: this.#now(), samples: [] };
    this.rounds.push(round);
    for (const slot of this.#slots) {
      if (slot.busy) continue;
      slot.busy = true;
      const p = this.#sample(slot).then((s) => {
        slot.last = s;
        round.samples.push(s);
      });
      const tracked = p.finally(() => {
        slot.busy = false;
        this.#inflight.delete(tracked);
      });
      this.#inflight.add(tracked);
    }
  }

  async #sample(slot: Slot): Promise<Sample> {
    const name = slot.target.name;
    try {
      if (slot.session === undefined || !slot.session.alive) {
        slot.session?.destroy();
        slot.session = await openSession(slot.target, { connectTimeoutMs: this.#deadline, queryTimeoutMs: this.#deadline });
        const [v] = await slot.session.query<{ version: string; version_comment: string | null }>(VERSION_QUERY);
        slot.dialect = dialectFor(parseVersion(String(v?.version), v?.version_comment ?? undefined));
      }
      const s = slot.session;
      const d = slot.dialect!;
      const [ro] = await s.query<{ ro: unknown }>('SELECT @@global.read_only AS ro');
      const rows = await s.query(d.showReplicaStatus());
      return { server: name, ok: true, readOnly: Number(ro?.ro) !== 0, replica: toReplicaSample(d, rows) };
    } catch (err) {
      slot.session?.destroy();
      slot.session = undefined;
      return { server: name, ok: false, error: (err as Error).message };
    }
  }
}
