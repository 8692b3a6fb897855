/**
 * The failover journal in etcd (manager HA): the same records as the file
 * journal, one key per record under PREFIX/journal/CLUSTER/, read back in
 * the order etcd created them. Every manager sees every failover, so a new
 * leader finds an unfinished one and refuses to start a conflicting one.
 *
 * - read() answers from a local view; refresh() replaces the view with what
 *   etcd holds (the manager refreshes it periodically and before it leads).
 * - append() adds the record to the view at once and writes it to etcd in
 *   order, in the background; flush() waits until it is there (the engine
 *   flushes the `begin` record before anything changes).
 * - Writes are fenced: a put only happens while the leader key still has
 *   this manager's fencing token (its create_revision). A deposed leader
 *   cannot write. An operator's `mhats ack` writes unfenced.
 */
import type { JournalRecord } from '../../domain/guard.js';
import type { EtcdSettings } from '../../config/types.js';
import { EtcdClient } from '../leader/etcd-client.js';
import type { Journal } from './journal.js';

/** The fence for a write: the leader key and the token it must still carry; undefined = not the leader (no write); null = unfenced. */
export type Fence = () => { key: string; token: string } | undefined | null;

/** What a journal record needs for the etcd journal (its messages name the type and id). */
export interface RecordBase {
  type: string;
  id: string;
}

export interface EtcdJournalOptions<R extends RecordBase = JournalRecord> {
  client: Pick<EtcdClient, 'range' | 'txn' | 'put'>;
  prefix: string;
  cluster: string;
  /** The keys' prefix; default PREFIX/journal/CLUSTER/ (journalPrefix). */
  keyPrefix?: string | undefined;
  /** Distinguishes this manager's keys (instance name). */
  writer: string;
  fence: Fence;
  now?: () => number;
  /** Told when a record could not be written (never throws). */
  onWriteError?: ((err: Error, r: R) => void) | undefined;
}

export function journalPrefix(prefix: string, cluster: string): string {
  return `${prefix.replace(/\/+$/, '')}/journal/${cluster}/`;
}

export class NotLeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotLeaderError';
  }
}

export class EtcdJournal<R extends RecordBase = JournalRecord> implements Journal<R> {
  readonly path: string;
  readonly keyPrefix: string;
  #o: EtcdJournalOptions<R>;
  #confirmed: R[] = [];
  #pending: R[] = [];
  #queue: Promise<void> = Promise.resolve();
  #last: R | undefined;
  #failed = new WeakMap<R, Error>();
  #seq = 0;
  #refreshed = false;
  #view: R[] | undefined;
  #sig = '';

  constructor(o: EtcdJournalOptions<R>) {
    this.#o = o;
    this.keyPrefix = o.keyPrefix ?? journalPrefix(o.prefix, o.cluster);
    this.path = `etcd:${this.keyPrefix}`;
  }

  /** Has the view been read from etcd at least once? */
  get refreshed(): boolean {
    return this.#refreshed;
  }

  /** The same array until the view changes (read on every monitor tick; callers must not modify it). */
  read(): R[] {
    this.#view ??= [...this.#confirmed, ...this.#pending];
    return this.#view;
  }

  append(r: R): void {
    this.#pending.push(r);
    this.#view = undefined;
    this.#last = r;
    this.#queue = this.#queue.then(() => this.#write(r));
  }

  async #write(r: R): Promise<void> {
    const drop = (): void => {
      const i = this.#pending.indexOf(r);
      if (i >= 0) this.#pending.splice(i, 1);
      this.#view = undefined;
    };
    try {
      const fence = this.#o.fence();
      if (fence === undefined) throw new NotLeaderError('this manager is not the leader: journal records are written by the leader only');
      const seq = String(++this.#seq).padStart(6, '0');
      const key = `${this.keyPrefix}${String((this.#o.now ?? Date.now)()).padStart(15, '0')}-${this.#o.writer.replace(/[^A-Za-z0-9_.-]/g, '_')}-${seq}`;
      const value = JSON.stringify(r);
      if (fence === null) {
        await this.#o.client.put(key, value);
      } else {
        const t = await this.#o.client.txn([{ key: fence.key, target: 'CREATE', createRevision: fence.token }], [{ put: { key, value } }]);
        if (!t.succeeded) throw new NotLeaderError(`fenced: the leader key ${fence.key} no longer carries this manager's token ${fence.token}`);
      }
      drop();
      this.#confirmed.push(r);
      this.#sig = '';
      this.#view = undefined;
    } catch (err) {
      // A write whose answer was lost may be in etcd after all: the next refresh tells.
      drop();
      this.#failed.set(r, err as Error);
      this.#o.onWriteError?.(err as Error, r);
    }
  }

  /** Resolves when every record appended so far has been tried; rejects if the last one appended was not written. */
  async flush(): Promise<void> {
    await this.#queue;
    const e = this.#last ? this.#failed.get(this.#last) : undefined;
    if (e) throw e;
  }

  /** Replaces the view with the records in etcd (after this manager's queued writes). */
  refresh(): Promise<void> {
    const p = this.#queue.then(async () => {
      const kvs = await this.#o.client.range(this.keyPrefix);
      const out: R[] = [];
      for (const kv of kvs) {
        try {
          out.push(JSON.parse(kv.value) as R);
        } catch {
          // not ours
        }
      }
      // Unchanged in etcd: keep the same records (and the monitors' memo of them).
      const sig = kvs.map((kv) => `${kv.key}@${kv.modRevision}`).join('\n');
      if (sig !== this.#sig || out.length !== this.#confirmed.length) {
        this.#confirmed = out;
        this.#sig = sig;
        this.#view = undefined;
      }
      this.#refreshed = true;
    });
    this.#queue = p.catch(() => undefined);
    return p;
  }
}

/** For CLI commands (mhats ack): the cluster's journal in etcd, read once; writes are unfenced. */
export async function openEtcdJournal(settings: EtcdSettings, cluster: string, writer: string): Promise<EtcdJournal> {
  const client = new EtcdClient({ endpoints: settings.endpoints, timeoutMs: settings.request_timeout * 1000 });
  const j = new EtcdJournal({ client, prefix: settings.prefix, cluster, writer, fence: () => null });
  await j.refresh();
  return j;
}

/** Where the maintenance entries of every cluster live in etcd: PREFIX/maintenance/ (never a cluster's journal). */
export function maintenancePrefix(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/maintenance/`;
}

/** A journal of operators' records that belong to no one cluster (maintenance), read once; writes are unfenced. */
export async function openEtcdJournalAt<R extends RecordBase>(settings: EtcdSettings, keyPrefix: string, writer: string): Promise<EtcdJournal<R>> {
  const client = new EtcdClient({ endpoints: settings.endpoints, timeoutMs: settings.request_timeout * 1000 });
  const j = new EtcdJournal<R>({ client, prefix: settings.prefix, cluster: '', keyPrefix, writer, fence: () => null });
  await j.refresh();
  return j;
}
