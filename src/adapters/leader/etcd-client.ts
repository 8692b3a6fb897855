/**
 * A small etcd v3 client over the JSON gRPC-gateway (`/v3/*`, etcd ≥ 3.4)
 * with fetch: no dependency. Keys and values travel base64-encoded; int64s
 * (revisions, lease IDs) are decimal strings and stay strings here.
 *
 * Every call has a deadline (AbortSignal.timeout). With several endpoints a
 * call tries them in turn within that one deadline, starting with the last
 * one that answered. A write whose answer was lost may or may not have been
 * applied: callers that care (campaign, journal) read back to find out.
 */

export interface KeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  version: string;
  /** The lease the key is attached to; '0' = none. */
  lease: string;
}

export interface EtcdClientOptions {
  endpoints: string[];
  /** Deadline of one call (all endpoints tried within it), ms. */
  timeoutMs: number;
  fetch?: typeof fetch;
}

export class EtcdError extends Error {
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.name = 'EtcdError';
    this.code = code;
  }
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** The range end that selects every key starting with `prefix` (etcd's "prefix" convention). */
export function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    const byte = buf[i]!;
    if (byte < 0xff) {
      const out = Buffer.from(buf.subarray(0, i + 1));
      out[i] = byte + 1;
      return out.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64'); // "\0": every key
}

interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}

function kvOf(r: RawKv): KeyValue {
  return { key: unb64(r.key), value: unb64(r.value), createRevision: r.create_revision ?? '0', modRevision: r.mod_revision ?? '0', version: r.version ?? '0', lease: r.lease ?? '0' };
}

export type Compare =
  | { key: string; target: 'CREATE'; result?: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL'; createRevision: string }
  | { key: string; target: 'LEASE'; result?: 'EQUAL' | 'NOT_EQUAL'; lease: string };

export type TxnOp = { put: { key: string; value: string; lease?: string | undefined } } | { range: { key: string } } | { delete: { key: string } };

export interface TxnResult {
  succeeded: boolean;
  revision: string;
  /** Keys read by range operations of the branch that ran. */
  kvs: KeyValue[];
}

export class EtcdClient {
  readonly endpoints: string[];
  readonly timeoutMs: number;
  #fetch: typeof fetch;
  #preferred = 0;

  constructor(opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('etcd: no endpoints');
    this.endpoints = opts.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.timeoutMs = opts.timeoutMs;
    this.#fetch = opts.fetch ?? fetch;
  }

  /** POST one gateway call; tries every endpoint within one deadline. */
  async call<T>(path: string, body: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    // A timer of our own (AbortSignal.timeout's is unref'd): a pending call keeps the process up until its deadline.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`deadline of ${timeoutMs} ms`)), timeoutMs);
    try {
      return await this.#call<T>(path, body, timeoutMs, ac.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async #call<T>(path: string, body: unknown, timeoutMs: number, signal: AbortSignal): Promise<T> {
    const errors: string[] = [];
    for (let n = 0; n < this.endpoints.length; n++) {
      const i = (this.#preferred + n) % this.endpoints.length;
      const ep = this.endpoints[i]!;
      let res: Response;
      try {
        res = await this.#fetch(`${ep}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
      } catch (err) {
        errors.push(`${ep}: ${signal.aborted ? `no answer within ${timeoutMs} ms` : describeFetchError(err)}`);
        if (signal.aborted) break;
        continue;
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        errors.push(`${ep}: ${signal.aborted ? `no answer within ${timeoutMs} ms` : describeFetchError(err)}`);
        if (signal.aborted) break;
        continue;
      }
      let json: unknown;
      try {
        // The keepalive stream answers one JSON object per line; the first one is ours.
        json = JSON.parse(text.split('\n').find((l) => l.trim() !== '') ?? 'null');
      } catch {
        errors.push(`${ep}: HTTP ${res.status}: not JSON`);
        continue;
      }
      const o = (json ?? {}) as { error?: string | { message?: string; grpc_code?: number; http_code?: number }; message?: string; code?: number; result?: unknown };
      if (!res.ok || o.error !== undefined) {
        // An answer from etcd itself (a refusal, not a transport failure): no point asking another member.
        const msg = typeof o.error === 'string' ? o.error : (o.error?.message ?? o.message ?? `HTTP ${res.status}`);
        this.#preferred = i;
        throw new EtcdError(`etcd ${path}: ${msg}`, typeof o.code === 'number' ? o.code : typeof o.error === 'object' ? o.error.grpc_code : undefined);
      }
      this.#preferred = i;
      return (o.result !== undefined && path === '/v3/lease/keepalive' ? o.result : json) as T;
    }
    throw new EtcdError(`etcd ${path}: no endpoint answered: ${errors.join('; ')}`);
  }

  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const r = await this.call<{ ID?: string; TTL?: string; error?: string }>('/v3/lease/grant', { TTL: String(ttlSeconds) });
    if (r.ID === undefined || r.ID === '0') throw new EtcdError('etcd: lease grant returned no lease');
    return { id: r.ID, ttl: Number(r.TTL ?? ttlSeconds) };
  }

  /** One keepalive; the TTL (seconds) the lease now has. 0: the lease no longer exists (expired or revoked). */
  async leaseKeepAlive(id: string): Promise<number> {
    const r = await this.call<{ TTL?: string }>('/v3/lease/keepalive', { ID: id });
    return Number(r.TTL ?? 0);
  }

  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: id });
    } catch (err) {
      // Already gone is fine.
      if (err instanceof EtcdError && /lease not found/.test(err.message)) return;
      throw err;
    }
  }

  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const cmp = compare.map((c) =>
      c.target === 'CREATE'
        ? { key: b64(c.key), target: 'CREATE', result: c.result ?? 'EQUAL', create_revision: c.createRevision }
        : { key: b64(c.key), target: 'LEASE', result: c.result ?? 'EQUAL', lease: c.lease },
    );
    const op = (o: TxnOp): unknown =>
      'put' in o
        ? { request_put: { key: b64(o.put.key), value: b64(o.put.value), ...(o.put.lease ? { lease: o.put.lease } : {}) } }
        : 'range' in o
          ? { request_range: { key: b64(o.range.key) } }
          : { request_delete_range: { key: b64(o.delete.key) } };
    const r = await this.call<{ header?: { revision?: string }; succeeded?: boolean; responses?: Array<{ response_range?: { kvs?: RawKv[] } }> }>('/v3/kv/txn', {
      compare: cmp,
      success: success.map(op),
      failure: failure.map(op),
    });
    const kvs = (r.responses ?? []).flatMap((x) => (x.response_range?.kvs ?? []).map(kvOf));
    return { succeeded: r.succeeded === true, revision: r.header?.revision ?? '0', kvs };
  }

  /** Creates `key` with `value` attached to `lease` only if it does not exist; else returns who holds it. */
  async putIfAbsent(key: string, value: string, lease: string): Promise<{ created: true; revision: string } | { created: false; current: KeyValue | undefined }> {
    const r = await this.txn([{ key, target: 'CREATE', createRevision: '0' }], [{ put: { key, value, lease } }], [{ range: { key } }]);
    if (r.succeeded) return { created: true, revision: r.revision };
    return { created: false, current: r.kvs[0] };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const r = await this.call<{ kvs?: RawKv[] }>('/v3/kv/range', { key: b64(key) });
    const kv = r.kvs?.[0];
    return kv ? kvOf(kv) : undefined;
  }

  /** Every key under `prefix`, in the order they were created. */
  async range(prefix: string): Promise<KeyValue[]> {
    const r = await this.call<{ kvs?: RawKv[]; more?: boolean }>('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix), sort_order: 'ASCEND', sort_target: 'CREATE' });
    return (r.kvs ?? []).map(kvOf);
  }

  async put(key: string, value: string): Promise<string> {
    const r = await this.call<{ header?: { revision?: string } }>('/v3/kv/put', { key: b64(key), value: b64(value) });
    return r.header?.revision ?? '0';
  }

  async delete(key: string): Promise<number> {
    const r = await this.call<{ deleted?: string }>('/v3/kv/deleterange', { key: b64(key) });
    return Number(r.deleted ?? 0);
  }
}

function describeFetchError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
