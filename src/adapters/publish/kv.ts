/**
 * Key-value stores the master is published to: etcd v3 (over the JSON
 * gateway, like the manager's own etcd client) and Consul KV (its HTTP API).
 * Every request has a deadline; a timed-out request is aborted.
 */
import { EtcdClient, type TxnOp } from '../leader/etcd-client.js';
import type { KvWrite } from '../../domain/publish.js';
import type { Secret } from '../../domain/secret.js';

export interface KvStore {
  /** 'etcd' or 'consul', for logs and metrics. */
  readonly kind: 'etcd' | 'consul';
  /** Where, for messages. */
  readonly where: string;
  /** Applies the writes (undefined value = delete), in order; etcd applies them in one transaction. */
  apply(writes: KvWrite[]): Promise<void>;
  get(key: string): Promise<string | undefined>;
}

export class EtcdKv implements KvStore {
  readonly kind = 'etcd' as const;
  readonly where: string;
  readonly #c: Pick<EtcdClient, 'txn' | 'get'>;
  constructor(opts: { endpoints: string[]; timeoutMs: number } | { client: Pick<EtcdClient, 'txn' | 'get'>; where: string }) {
    if ('client' in opts) {
      this.#c = opts.client;
      this.where = opts.where;
    } else {
      this.#c = new EtcdClient({ endpoints: opts.endpoints, timeoutMs: opts.timeoutMs });
      this.where = opts.endpoints.join(',');
    }
  }

  async apply(writes: KvWrite[]): Promise<void> {
    const ops: TxnOp[] = writes.map((w) => (w.value === undefined ? { delete: { key: w.key } } : { put: { key: w.key, value: w.value } }));
    const r = await this.#c.txn([], ops);
    if (!r.succeeded) throw new Error('etcd refused the transaction');
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#c.get(key))?.value;
  }
}

export class ConsulKv implements KvStore {
  readonly kind = 'consul' as const;
  readonly where: string;
  readonly #o: { address: string; token?: Secret | undefined; datacenter?: string | undefined; timeoutMs: number; fetch?: typeof fetch | undefined };
  constructor(o: { address: string; token?: Secret | undefined; datacenter?: string | undefined; timeoutMs: number; fetch?: typeof fetch | undefined }) {
    this.#o = o;
    this.where = o.address;
  }

  #url(key: string, query: string[] = []): string {
    const k = key.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
    const q = [...query, ...(this.#o.datacenter ? [`dc=${encodeURIComponent(this.#o.datacenter)}`] : [])];
    return `${this.#o.address.replace(/\/+$/, '')}/v1/kv/${k}${q.length ? `?${q.join('&')}` : ''}`;
  }

  async #req(method: 'GET' | 'PUT' | 'DELETE', url: string, body?: string): Promise<{ status: number; text: string }> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`no answer within ${this.#o.timeoutMs} ms`)), this.#o.timeoutMs);
    try {
      const headers: Record<string, string> = {};
      if (this.#o.token) headers['x-consul-token'] = this.#o.token.reveal();
      const res = await (this.#o.fetch ?? fetch)(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: ac.signal });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      const e = err as { cause?: { code?: string; message?: string }; message?: string };
      throw new Error(`consul ${method} ${url.replace(/\?.*$/, '')}: ${ac.signal.aborted ? `no answer within ${this.#o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err))}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async apply(writes: KvWrite[]): Promise<void> {
    for (const w of writes) {
      const url = this.#url(w.key);
      const r = w.value === undefined ? await this.#req('DELETE', url) : await this.#req('PUT', url, w.value);
      if (r.status < 200 || r.status >= 300 || r.text.trim() === 'false') throw new Error(`consul ${w.value === undefined ? 'DELETE' : 'PUT'} ${w.key}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    }
  }

  async get(key: string): Promise<string | undefined> {
    const r = await this.#req('GET', this.#url(key, ['raw']));
    if (r.status === 404) return undefined;
    if (r.status < 200 || r.status >= 300) throw new Error(`consul GET ${key}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    return r.text;
  }
}

/** The IPv4 address of a host name (a literal is returned as is), with a deadline; undefined when it has none. */
export async function resolveIpv4(host: string, timeoutMs: number): Promise<string | undefined> {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host;
  const { lookup } = await import('node:dns/promises');
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([lookup(host, { family: 4 }), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
    return r?.address;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
