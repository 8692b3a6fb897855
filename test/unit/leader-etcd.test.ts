/** The etcd gateway client (against a fake fetch), the journal in etcd (fenced writes, order), and the config section. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient, prefixEnd, type Compare, type KeyValue, type TxnOp, type TxnResult } from '../../src/adapters/leader/etcd-client.js';
import { EtcdJournal } from '../../src/adapters/journal/etcd-journal.js';
import { summarize, guard, type JournalRecord } from '../../src/domain/guard.js';
import { parseYamlConfig } from '../../src/config/yaml.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('etcd gateway client', () => {
  it('campaigns with a create_revision == 0 txn, base64 keys and values, and the lease', async () => {
    const seen: Array<{ url: string; body: unknown }> = [];
    const fake = ((url: string, init: { body: string }) => {
      seen.push({ url, body: JSON.parse(init.body) });
      return Promise.resolve(new Response(JSON.stringify({ header: { revision: '7' }, succeeded: true, responses: [{ response_put: {} }] })));
    }) as unknown as typeof fetch;
    const c = new EtcdClient({ endpoints: ['http://e1:2379/'], timeoutMs: 500, fetch: fake });
    const r = await c.putIfAbsent('/mhats/leader', '{"instance":"a"}', '42');
    assert.deepEqual(r, { created: true, revision: '7' });
    assert.equal(seen[0]!.url, 'http://e1:2379/v3/kv/txn');
    assert.deepEqual(seen[0]!.body, {
      compare: [{ key: b64('/mhats/leader'), target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
      success: [{ request_put: { key: b64('/mhats/leader'), value: b64('{"instance":"a"}'), lease: '42' } }],
      failure: [{ request_range: { key: b64('/mhats/leader') } }],
    });
  });

  it('a lost campaign returns the holder, decoded', async () => {
    const kv = { key: b64('/k'), value: b64('{"instance":"b"}'), create_revision: '3', mod_revision: '3', version: '1', lease: '9' };
    const fake = (() => Promise.resolve(new Response(JSON.stringify({ header: { revision: '5' }, responses: [{ response_range: { kvs: [kv] } }] })))) as unknown as typeof fetch;
    const c = new EtcdClient({ endpoints: ['http://e1:2379'], timeoutMs: 500, fetch: fake });
    const r = await c.putIfAbsent('/k', 'x', '1');
    assert.equal(r.created, false);
    assert.equal(!r.created && r.current?.value, '{"instance":"b"}');
    assert.equal(!r.created && r.current?.lease, '9');
  });

  it('keepalive reads the streamed result; a lease gone has TTL 0', async () => {
    let ttl: string | undefined = '10';
    const fake = (() => Promise.resolve(new Response(`${JSON.stringify({ result: { header: {}, ID: '1', ...(ttl ? { TTL: ttl } : {}) } })}\n`))) as unknown as typeof fetch;
    const c = new EtcdClient({ endpoints: ['http://e1:2379'], timeoutMs: 500, fetch: fake });
    assert.equal(await c.leaseKeepAlive('1'), 10);
    ttl = undefined;
    assert.equal(await c.leaseKeepAlive('1'), 0);
  });

  it('tries the next endpoint when one does not answer, all within one deadline', async () => {
    const urls: string[] = [];
    const fake = ((url: string, init: { signal: AbortSignal }) => {
      urls.push(url);
      if (url.startsWith('http://dead')) return Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
      if (url.startsWith('http://hung')) return new Promise((_r, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      return Promise.resolve(new Response(JSON.stringify({ ID: '5', TTL: '10' })));
    }) as unknown as typeof fetch;
    const c = new EtcdClient({ endpoints: ['http://dead:2379', 'http://ok:2379'], timeoutMs: 300, fetch: fake });
    assert.deepEqual(await c.leaseGrant(10), { id: '5', ttl: 10 });
    assert.deepEqual(urls, ['http://dead:2379/v3/lease/grant', 'http://ok:2379/v3/lease/grant']);
    const h = new EtcdClient({ endpoints: ['http://hung:2379'], timeoutMs: 150, fetch: fake });
    const t0 = performance.now();
    await assert.rejects(h.leaseGrant(10), /no endpoint answered: http:\/\/hung:2379: no answer within 150 ms/);
    assert.ok(performance.now() - t0 < 1000);
  });

  it("etcd's own refusals are errors with its message", async () => {
    const fake = (() => Promise.resolve(new Response(JSON.stringify({ error: 'etcdserver: requested lease not found', code: 5 }), { status: 404 }))) as unknown as typeof fetch;
    const c = new EtcdClient({ endpoints: ['http://e1:2379'], timeoutMs: 500, fetch: fake });
    await assert.rejects(c.get('/x'), /requested lease not found/);
    await c.leaseRevoke('1'); // already gone is fine
  });

  it('prefix range end', () => {
    assert.equal(Buffer.from(prefixEnd('/mhats/journal/c1/'), 'base64').toString(), '/mhats/journal/c10');
  });
});

/** A fake of what the journal needs: a kv with revisions and the leader key. */
class FakeKv {
  rev = 10;
  kvs = new Map<string, KeyValue>();
  fail = false;
  range(prefix: string): Promise<KeyValue[]> {
    return Promise.resolve([...this.kvs.values()].filter((k) => k.key.startsWith(prefix)).sort((a, b) => Number(a.createRevision) - Number(b.createRevision)));
  }
  put(key: string, value: string): Promise<string> {
    const r = String(++this.rev);
    this.kvs.set(key, { key, value, createRevision: r, modRevision: r, version: '1', lease: '0' });
    return Promise.resolve(r);
  }
  txn(compare: Compare[], success: TxnOp[]): Promise<TxnResult> {
    if (this.fail) return Promise.reject(new Error('no endpoint answered'));
    const ok = compare.every((c) => c.target === 'CREATE' && (this.kvs.get(c.key)?.createRevision ?? '0') === c.createRevision);
    if (ok) for (const op of success) if ('put' in op) void this.put(op.put.key, op.put.value);
    return Promise.resolve({ succeeded: ok, revision: String(this.rev), kvs: [] });
  }
}

const begin = (id: string): JournalRecord => ({ type: 'begin', id, cluster: 'c1', at: 1, deadMaster: 'db1', trigger: 'auto', reason: 'dead' });

describe('failover journal in etcd', () => {
  it('writes under the leader token, in order; another manager reads the same records', async () => {
    const kv = new FakeKv();
    await kv.put('/mhats/leader', '{}'); // create_revision 11
    let token: string | undefined = '11';
    const fence = (): { key: string; token: string } | undefined => (token ? { key: '/mhats/leader', token } : undefined);
    let t = 1000;
    const j = new EtcdJournal({ client: kv, prefix: '/mhats', cluster: 'c1', writer: 'host a/1', fence, now: () => t++ });
    j.append(begin('f1'));
    assert.equal(j.read().length, 1, 'visible at once');
    await j.flush();
    j.append({ type: 'phase', id: 'f1', phase: 'Phase 1', at: 2, durationMs: 1, ok: true });
    j.append({ type: 'end', id: 'f1', at: 3, outcome: 'success', newMaster: 'db2', oldMaster: 'db1', durationMs: 2, reason: 'ok' });
    await j.flush();
    assert.ok([...kv.kvs.keys()].every((k) => k === '/mhats/leader' || /^\/mhats\/journal\/c1\/\d{15}-host_a_1-\d{6}$/.test(k)), [...kv.kvs.keys()].join(' '));
    const other = new EtcdJournal({ client: kv, prefix: '/mhats', cluster: 'c1', writer: 'b', fence: () => undefined });
    await other.refresh();
    assert.deepEqual(other.read().map((r) => r.type), ['begin', 'phase', 'end']);
    assert.equal(summarize(other.read())[0]!.outcome, 'success');
    // A deposed leader (the token changed) cannot write: flush rejects and the record is not kept.
    token = '5';
    j.append(begin('f2'));
    await assert.rejects(j.flush(), /fenced/);
    assert.equal(j.read().length, 3);
    // Without a token (a follower) nothing is written either.
    token = undefined;
    j.append(begin('f3'));
    await assert.rejects(j.flush(), /not the leader/);
    await other.refresh();
    assert.equal(other.read().length, 3);
  });

  it('a new leader sees the unfinished failover of a dead one and the guard refuses a second one', async () => {
    const kv = new FakeKv();
    await kv.put('/mhats/leader', '{}');
    const old = new EtcdJournal({ client: kv, prefix: '/mhats', cluster: 'c1', writer: 'a', fence: () => ({ key: '/mhats/leader', token: '11' }) });
    old.append(begin('f1'));
    await old.flush();
    const next = new EtcdJournal({ client: kv, prefix: '/mhats', cluster: 'c1', writer: 'b', fence: () => undefined });
    await next.refresh();
    const g = guard(summarize(next.read()), Date.now(), 0, 'auto', 'c1');
    assert.equal(g.allowed, false);
    assert.match(!g.allowed ? g.reason : '', /never finished/);
  });

  it('etcd unreachable: the begin record cannot be flushed (the engine refuses to start)', async () => {
    const kv = new FakeKv();
    kv.fail = true;
    const j = new EtcdJournal({ client: kv, prefix: '/mhats', cluster: 'c1', writer: 'a', fence: () => ({ key: '/mhats/leader', token: '1' }) });
    j.append(begin('f1'));
    await assert.rejects(j.flush(), /no endpoint answered/);
    assert.equal(j.read().length, 0);
  });
});

describe('config: etcd section', () => {
  const base = 'clusters:\n  c1:\n    servers:\n      - hostname: db1\n';
  it('defaults', () => {
    const r = parseYamlConfig(`etcd:\n  endpoints: [http://127.0.0.1:2379, "http://[::1]:2379/"]\n${base}`, 'm.yaml');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.etcd, { endpoints: ['http://127.0.0.1:2379', 'http://[::1]:2379'], prefix: '/mhats', lease_ttl: 10, instance: undefined, request_timeout: 2, sharding: false });
  });
  it('all keys', () => {
    const r = parseYamlConfig(`etcd:\n  endpoints: [http://e1:2379]\n  prefix: /prod/mhats/\n  lease_ttl: 6\n  instance: mgr-1\n  request_timeout: 1.5\n  sharding: true\n${base}`, 'm.yaml');
    assert.deepEqual(r.etcd, { endpoints: ['http://e1:2379'], prefix: '/prod/mhats', lease_ttl: 6, instance: 'mgr-1', request_timeout: 1.5, sharding: true });
  });
  it('file:line errors', () => {
    const r = parseYamlConfig(`etcd:\n  endpoints: [e1:2379]\n  lease_ttl: 1\n  prefix: mhats\n  lease_tll: 3\n${base}`, 'm.yaml');
    const msgs = r.problems.map((p) => `${p.line}: ${p.message}`);
    assert.ok(msgs.some((m) => /^2: .*must be an etcd client URL/.test(m)), msgs.join('\n'));
    assert.ok(msgs.some((m) => /^3: lease_ttl must be a whole number of seconds >= 2/.test(m)), msgs.join('\n'));
    assert.ok(msgs.some((m) => /^4: prefix must be a key prefix starting with "\/"/.test(m)), msgs.join('\n'));
    assert.ok(msgs.some((m) => /^5: unknown key "lease_tll" in etcd \(did you mean "lease_ttl"\?\)/.test(m)), msgs.join('\n'));
    const e = parseYamlConfig(`etcd:\n  endpoints: []\n${base}`, 'm.yaml');
    assert.equal(e.problems.length, 1);
    const t = parseYamlConfig(`etc:\n  endpoints: []\n${base}`, 'm.yaml');
    assert.match(t.problems[0]!.message, /did you mean "etcd"/);
  });
});
