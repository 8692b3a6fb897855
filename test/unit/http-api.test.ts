/**
 * The HTTP API on a fake backend (no database): routing, validation (422 with
 * every field), auth (403 without a token file, 401 without or with a wrong
 * token), the OpenAPI document (valid 3.1, every route in it, every answer
 * matching its response schema), the event stream, the console's files and
 * headers, and the legacy endpoints beside it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createApi, tokenMatches, type Api, type ApiBackend, type AuditEntry } from '../../src/adapters/http/api.js';
import { startHttpServer, type HttpServerHandle } from '../../src/adapters/http/server.js';
import { Secret } from '../../src/domain/secret.js';
import type { Logger } from '../../src/ports/logger.js';
import type { Job, Overview, Topology } from '../../src/adapters/http/api-schemas.js';
import { call as httpCall, type Answer } from '../helpers/http.js';

const TOKEN = 'f3a1c9e8d7b6a5f4e3d2c1b0a9f8e7d6';
const NOW = '2026-11-30T15:40:00.000Z';

function memoryLogger(lines: string[]): Logger {
  const mk = (): Logger => {
    const f = (level: string) => (obj: object, msg?: string) => lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
    return { trace: f('trace'), debug: f('debug'), info: f('info'), warn: f('warn'), error: f('error'), fatal: f('fatal'), child: () => mk() } as unknown as Logger;
  };
  return mk();
}

const topo = (master: string): Topology => ({
  cluster: 'app1',
  state: 'watching',
  master,
  healthy: true,
  mode: 'gtid',
  inspected_at: NOW,
  in_failover: false,
  activity: null,
  servers: ['db1', 'db2', 'db3'].map((n) => ({
    name: n,
    host: `${n}.example`,
    port: 3306,
    role: n === master ? 'master' : 'replica',
    fenced: false,
    candidate_master: false,
    no_master: false,
    source: n === master ? null : master,
    read_only: n !== master,
    version: '10.11.6-MariaDB',
    io_thread: n === master ? null : 'Yes',
    sql_thread: n === master ? null : true,
    lag_seconds: n === master ? null : 0,
    gtid: '0-1-100',
    binlog: 'bin.000001:1234',
    errors: [],
    maintenance: null,
  })),
  errors: [],
  warnings: [],
  maintenance: { held: false, held_dead_master: false, entries: [] },
});

class FakeBackend implements ApiBackend {
  master = 'db1';
  tokenValue: Secret | undefined;
  audits: AuditEntry[] = [];
  calls: string[] = [];
  dir: string | undefined;
  job: (id: string) => Job | undefined = () => undefined;
  #job: Job = { id: 'job-1', kind: 'switchover', cluster: 'app1', state: 'running', by: 'api:127.0.0.1', created_at: NOW, started_at: NOW, ended_at: null, outcome: null, ok: null, reason: null, old_master: 'db1', new_master: 'db2', journal_id: null, steps: [{ name: 'read_only on db1', duration_ms: 3, ok: true }], notes: [], write_blocked_ms: null, lost: null, links: { self: '/api/v1/jobs/job-1' } };
  constructor() {
    this.job = (id) => (id === 'job-1' ? this.#job : undefined);
  }
  hasCluster = (c: string): boolean => c === 'app1';
  clusters = () => [{ name: 'app1', state: 'watching' as const, master: this.master, healthy: true, in_failover: false, activity: null, servers: 3, automatic_failover: { allowed: true }, in_maintenance: false, links: { topology: '/api/v1/clusters/app1/topology', plan: '/api/v1/clusters/app1/plan', journal: '/api/v1/clusters/app1/journal' } }];
  topology = (c: string) => (c === 'app1' ? topo(this.master) : undefined);
  plan = (c: string) =>
    c === 'app1'
      ? { cluster: 'app1', master: this.master, would_promote: 'db2', because: 'the latest replica', rule: 'latest', latest: ['db2', 'db3'], rejected: [{ name: 'db3', reason: 'no_master is set' }], excluded: [], automatic_failover: { allowed: true }, based_on_inspection_at: NOW, source: 'monitor',
          expected_loss: 'nothing: db2 received every transaction', salvage: { planned: true, reason: 'ssh reaches db0' },
          servers: [{ name: 'db2', role: 'new_master' as const, standing: 'equal', holds: '0-1-100', delay: 0, deferred: false, steps: [] }, { name: 'db3', role: 'replica' as const, standing: 'behind', holds: '0-1-98', delay: 0, deferred: false, steps: ['repoint to db2 by GTID'] }], notes: [] }
      : undefined;
  journal = (c: string, limit: number) =>
    c === 'app1'
      ? {
          cluster: 'app1',
          journal: '/var/lib/mhats/app1/failovers.jsonl',
          entries: [
            { kind: 'failover' as const, id: 'f1', trigger: 'auto' as const, dead_master: 'db0', new_master: 'db1', started_at: NOW, ended_at: NOW, duration_ms: 1200, outcome: 'success', reason: 'ok', why: 'dead', lost: null, acked: false, acked_by: null, rejoined: false, phases: [{ name: 'Phase 1', started_at: NOW, duration_ms: 10, ok: true }], steps: [{ server: 'db2', name: 'apply_own_relay_log', started_at: NOW, duration_ms: 5, ok: true }], promoted_at: NOW, planned: { new_master: 'db1', expected_loss: 'nothing', revision: 1 }, hooks: [{ at: NOW, name: 'vip', phase: 'start', verdict: 'ok', exit_code: 0 }], events: [] },
            { kind: 'ack' as const, id: 'f1', at: NOW, by: 'alice@cli' },
          ].slice(0, limit),
        }
      : undefined;
  manager = () => ({ version: '0.1.0', pid: 1, started_at: NOW, uptime_seconds: 5, ready: true, stopping: false, role: 'leader' as const, ha: { mode: 'single' as const, instance: null, leader: null }, writes: { enabled: this.tokenValue !== undefined, reason: this.tokenValue ? null : 'no http.token_file is configured' }, clusters: 1 });
  jobs = () => [this.#job];
  overview = (): Overview => ({ generated_at: new Date().toISOString(), manager: this.manager(), clusters: [{ summary: this.clusters()[0]!, topology: topo(this.master), plan: this.plan('app1')!, history: this.journal('app1', 10)!.entries }], jobs: this.jobs() });
  token = () => this.tokenValue;
  consoleDir = () => this.dir;
  audit = (e: AuditEntry): void => void this.audits.push(e);
  switchover = (c: string, body: { dry_run?: boolean | undefined; new_master?: string | undefined }) => {
    this.calls.push(`switchover ${c} ${JSON.stringify(body)}`);
    if (!this.hasCluster(c)) return Promise.resolve({ status: 404 as const, body: { error: `unknown cluster ${c}` } });
    if (body.new_master === 'busy') return Promise.resolve({ status: 409 as const, body: { error: 'a failover of app1 is running' } });
    const plan = { master: 'db1', new_master: 'db2', why: 'latest', replicas: ['db3'], mode: 'gtid' as const, flavor: 'mariadb', rejected: [], steps: ['1. read_only'], notes: [] };
    const checks = [{ id: 'topology', title: 'one writable master', ok: true, detail: 'db1' }];
    if (body.dry_run) return Promise.resolve({ status: 200 as const, body: { dry_run: true, checks, plan } });
    return Promise.resolve({ status: 202 as const, body: { job: this.#job, checks, plan } });
  };
  failover = (c: string) => {
    this.calls.push(`failover ${c}`);
    return Promise.resolve({ status: 409 as const, body: { error: 'the master db1 answers: it is not dead (use switchover for a live master)' } });
  };
  maintenance: Array<{ id: string; cluster: string }> = [];
  maintenanceList = () => Promise.resolve({ status: 200 as const, body: { active: [], ended: [] } });
  maintenanceStart = (body: { cluster?: string | undefined; reason: string; for: string }) => {
    this.calls.push(`maintenance start ${JSON.stringify(body)}`);
    const entry = { id: 'mnt-1', scope: 'cluster' as const, cluster: body.cluster ?? null, server: null, owner: 'api:127.0.0.1', reason: body.reason, started_at: NOW, expires_at: NOW, stopped_at: null, stopped_by: null, active: true, remaining_seconds: 7200 };
    return Promise.resolve({ status: 201 as const, body: { entry, effect: 'held' } });
  };
  rejoin = (c: string, body: { server: string; dry_run?: boolean | undefined }) => {
    this.calls.push(`rejoin ${c} ${JSON.stringify(body)}`);
    const report = { cluster: c, server: body.server, outcome: 'diverged' as const, reason: 'it committed 1 transaction the cluster does not have', master: 'db2', failover: 'f1', how: 'gtid' as const, start_at: null, divergent: { count: 1, gtids: ['0-1-11'], range: null, transactions: [{ file: 'bin.000002', start: 4, end: 400, gtid: '0-1-11' }] }, extract_file: '/var/lib/mhats/app1/rejoin/db1.sql', extract_error: null, reseed: ['reseed db1 from db2'], steps: ['read_only = ON'] };
    return Promise.resolve({ status: 409 as const, body: { error: 'rejoin of db1 refused: it diverged', rejoin: report } });
  };
  maintenanceStop = () => Promise.resolve({ status: 200 as const, body: { stopped: [] } });
  ack = (c: string, body: { failover_id?: string | undefined }) => {
    this.calls.push(`ack ${c} ${JSON.stringify(body)}`);
    return Promise.resolve({ status: 200 as const, body: { cluster: c, acknowledged: [{ id: 'f1', dead_master: 'db0', new_master: 'db1', outcome: 'success' }], automatic_failover: { allowed: true } } });
  };
}

/** The API's answer: raw bodies (some tests send malformed JSON), 5 s deadline. */
const call = (base: string, method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> =>
  httpCall(base, method, path, { raw: opts.body, headers: opts.headers, timeoutMs: 5000 });

describe('HTTP API v1 (fake backend)', () => {
  const backend = new FakeBackend();
  const logLines: string[] = [];
  let api: Api;
  let srv: HttpServerHandle;
  let doc: { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
  const seen: Answer[] = [];
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const go = async (method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const r = await call(srv.url, method, path, opts);
    seen.push(r);
    // Every JSON answer of the API matches the response schema the OpenAPI document gives for it.
    if (doc && path.startsWith('/api/v1/') && r.json !== undefined) {
      const route = Object.keys(doc.paths).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path.split('?')[0]!));
      const op = route ? doc.paths[route]?.[method.toLowerCase()] : undefined;
      const schema = op?.responses[String(r.status)]?.content?.['application/json']?.schema;
      if (op) {
        assert.ok(schema, `${method} ${route} answered ${r.status}, which its OpenAPI entry does not list`);
        const ok = ajv.validate(schema, r.json);
        assert.ok(ok, `${method} ${path} ${r.status} does not match its schema: ${ajv.errorsText(ajv.errors)}\n${r.body.slice(0, 500)}`);
      }
    }
    return r;
  };

  before(async () => {
    api = await createApi(backend, { log: memoryLogger(logLines), version: '0.1.0', eventsEveryMs: 100 });
    srv = await startHttpServer(
      { host: '127.0.110.1', port: 0 },
      { healthz: () => ({ ok: true, body: { ok: true } }), readyz: () => ({ ok: true, body: { ready: true } }), status: () => ({ clusters: [] }), metrics: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'mhats_leader 1\n' }), other: (req, res) => api.handle(req, res) },
      memoryLogger(logLines),
    );
    doc = (await call(srv.url, 'GET', '/api/v1/openapi.json')).json as typeof doc;
  });
  after(async () => {
    await api.close();
    await srv.close();
    if (backend.dir) rmSync(backend.dir, { recursive: true, force: true });
  });

  test('the OpenAPI document is valid OpenAPI 3.1 and lists every API route', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const v = new Validator();
    const res = await v.validate(doc);
    assert.ok(res.valid, JSON.stringify(res.errors, null, 2));
    const apiRoutes = api.routes.filter((r) => r.url.startsWith('/api/v1') && r.method !== 'HEAD');
    assert.ok(apiRoutes.length >= 13, `routes: ${apiRoutes.map((r) => r.url).join(', ')}`);
    for (const r of apiRoutes) {
      const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
      assert.ok(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${path} is not in the OpenAPI document`);
    }
    for (const [p, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) assert.ok(apiRoutes.some((r) => r.url.replace(/:([A-Za-z_]+)/g, '{$1}') === p && r.method.toLowerCase() === m), `${m} ${p} documented but not served`);
    // Writes declare the bearer scheme and their error answers.
    for (const w of ['switchover', 'failover', 'ack']) {
      const op = doc.paths[`/api/v1/clusters/{cluster}/${w}`]!.post as unknown as { security: unknown; responses: Record<string, unknown> };
      assert.deepEqual(op.security, [{ bearer: [] }]);
      for (const code of ['401', '403', '404', '409', '422']) assert.ok(op.responses[code], `${w} documents ${code}`);
    }
  });

  test('reads: every endpoint answers, 404 for unknown clusters and jobs, 422 for a bad query', async () => {
    assert.equal((await go('GET', '/api/v1/manager')).status, 200);
    assert.equal(((await go('GET', '/api/v1/clusters')).json as { clusters: unknown[] }).clusters.length, 1);
    assert.equal(((await go('GET', '/api/v1/clusters/app1/topology')).json as Topology).servers.length, 3);
    assert.equal(((await go('GET', '/api/v1/clusters/app1/plan')).json as { would_promote: string }).would_promote, 'db2');
    assert.equal(((await go('GET', '/api/v1/clusters/app1/journal?limit=1')).json as { entries: unknown[] }).entries.length, 1);
    assert.equal((await go('GET', '/api/v1/overview')).status, 200);
    assert.equal((await go('GET', '/api/v1/jobs')).status, 200);
    assert.equal((await go('GET', '/api/v1/jobs/job-1')).status, 200);
    assert.equal((await go('GET', '/api/v1/jobs/nope')).status, 404);
    assert.equal((await go('GET', '/api/v1/maintenance?cluster=app1')).status, 200);
    for (const p of ['topology', 'plan', 'journal']) assert.equal((await go('GET', `/api/v1/clusters/nope/${p}`)).status, 404);
    const bad = await go('GET', '/api/v1/clusters/app1/journal?limit=0');
    assert.equal(bad.status, 422);
    assert.deepEqual((bad.json as { fields: unknown[] }).fields, [{ in: 'querystring', field: 'limit', message: 'must be >= 1' }]);
    assert.equal((await go('GET', '/api/v1/nope')).status, 404);
    assert.equal((await go('DELETE', '/api/v1/clusters')).status, 404);
  });

  test('legacy endpoints keep working beside the API', async () => {
    assert.equal((await go('GET', '/healthz')).status, 200);
    assert.equal((await go('GET', '/readyz')).status, 200);
    assert.equal((await go('GET', '/status')).status, 200);
    const m = await go('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(String(m.headers['content-type']), /^text\/plain/);
    assert.equal((await go('POST', '/status')).status, 405);
  });

  test('without a token file every write answers 403 saying how to enable writes, and reaches nothing', async () => {
    backend.tokenValue = undefined;
    backend.calls = [];
    for (const w of ['clusters/app1/switchover', 'clusters/app1/failover', 'clusters/app1/ack', 'clusters/app1/rejoin', 'maintenance', 'maintenance/stop']) {
      const r = await go('POST', `/api/v1/${w}`, { body: w === 'maintenance' ? JSON.stringify({ cluster: 'app1', reason: 'x', for: '1h' }) : w.endsWith('rejoin') ? JSON.stringify({ server: 'db1' }) : '{}', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(r.status, 403, w);
      assert.match((r.json as { error: string }).error, /writes are disabled.*http\.token_file/);
      assert.match((r.json as { hint: string }).hint, /token_file/);
    }
    assert.deepEqual(backend.calls, []);
    assert.deepEqual(backend.audits, []);
    assert.equal((await go('GET', '/api/v1/clusters/app1/topology')).status, 200);
    assert.equal((await go('GET', '/metrics')).status, 200);
  });

  test('with a token: 401 without one or with a wrong one (nothing reaches the backend); the right one passes', async () => {
    backend.tokenValue = new Secret(TOKEN);
    backend.calls = [];
    const none = await go('POST', '/api/v1/clusters/app1/switchover', { body: '{}' });
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    for (const h of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer ', `Bearer ${TOKEN.toUpperCase()}`]) {
      const r = await go('POST', '/api/v1/clusters/app1/switchover', { body: '{}', headers: { authorization: h } });
      assert.equal(r.status, 401, h);
    }
    assert.deepEqual(backend.calls, []);
    const dry = await go('POST', '/api/v1/clusters/app1/switchover', { body: JSON.stringify({ dry_run: true }), headers: { authorization: `Bearer ${TOKEN}`, 'x-mhats-operator': 'alice' } });
    assert.equal(dry.status, 200);
    const run = await go('POST', '/api/v1/clusters/app1/switchover', { body: JSON.stringify({ new_master: 'db2' }), headers: { authorization: `bearer  ${TOKEN}` } });
    assert.equal(run.status, 202);
    assert.equal((run.json as { job: { id: string } }).job.id, 'job-1');
    assert.equal((await go('POST', '/api/v1/clusters/app1/switchover', { body: JSON.stringify({ new_master: 'busy' }), headers: { authorization: `Bearer ${TOKEN}` } })).status, 409);
    assert.equal((await go('POST', '/api/v1/clusters/nope/switchover', { body: '{}', headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
    assert.equal((await go('POST', '/api/v1/clusters/app1/failover', { body: JSON.stringify({ confirm: true }), headers: { authorization: `Bearer ${TOKEN}` } })).status, 409);
    // ack needs no body at all.
    assert.equal((await go('POST', '/api/v1/clusters/app1/ack', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.equal((await go('POST', '/api/v1/clusters/app1/ack', { body: '', headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    const rj = await go('POST', '/api/v1/clusters/app1/rejoin', { body: JSON.stringify({ server: 'db1' }), headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(rj.status, 409);
    assert.equal((rj.json as { rejoin: { divergent: { count: number } } }).rejoin.divergent.count, 1);
    assert.equal((await go('POST', '/api/v1/clusters/app1/rejoin', { body: '{}', headers: { authorization: `Bearer ${TOKEN}` } })).status, 422, 'server is required');
    const m = await go('POST', '/api/v1/maintenance', { body: JSON.stringify({ cluster: 'app1', reason: 'kernel upgrade', for: '2h' }), headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(m.status, 201);
    const mBad = await go('POST', '/api/v1/maintenance', { body: JSON.stringify({ cluster: 'app1', for: '2h', forever: true }), headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(mBad.status, 422);
    assert.deepEqual((mBad.json as { fields: Array<{ field: string }> }).fields.map((f) => f.field).sort(), ['forever', 'reason']);
    // Every authenticated write on a known cluster is audited with the caller and its outcome.
    assert.deepEqual(
      backend.audits.map((a) => [a.action, a.status, a.outcome, a.caller.by]),
      [
        ['switchover', 200, 'dry run', 'api:127.0.0.1 (operator alice)'],
        ['switchover', 202, 'accepted', 'api:127.0.0.1'],
        ['switchover', 409, 'refused', 'api:127.0.0.1'],
        ['failover', 409, 'refused', 'api:127.0.0.1'],
        ['ack', 200, 'done', 'api:127.0.0.1'],
        ['ack', 200, 'done', 'api:127.0.0.1'],
        ['rejoin', 409, 'refused', 'api:127.0.0.1'],
        ['rejoin', 422, 'invalid request', 'api:127.0.0.1'],
        ['maintenance start', 201, 'done', 'api:127.0.0.1'],
      ],
    );
    assert.equal(backend.audits[1]?.job, 'job-1');
  });

  test('422 with every invalid field; 400 for a body that is not JSON; 413 for a huge one', async () => {
    backend.tokenValue = new Secret(TOKEN);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const r = await go('POST', '/api/v1/clusters/app1/switchover', { body: JSON.stringify({ dry_run: 'yes', new_master: '', timeout: 0, max_lag: -1, dryrun: true }), headers: auth });
    assert.equal(r.status, 422);
    const fields = (r.json as { fields: Array<{ in: string; field: string; message: string }> }).fields;
    assert.deepEqual(fields.map((f) => f.field).sort(), ['dry_run', 'dryrun', 'max_lag', 'new_master', 'timeout']);
    assert.ok(fields.every((f) => f.in === 'body'));
    assert.equal(fields.find((f) => f.field === 'dryrun')?.message, 'unknown field');
    assert.equal((await go('POST', '/api/v1/clusters/app1/failover', { body: JSON.stringify({ dead_master: 42, confirm: true }), headers: auth })).status, 422);
    // A manual failover is confirmed in its body, as the CLI's --yes: without "confirm": true it never reaches the backend.
    const before = backend.calls.length;
    for (const body of ['{}', JSON.stringify({ dead_master: 'db1' }), JSON.stringify({ dead_master: 'db1', confirm: false }), JSON.stringify({ confirm: 'yes' })]) {
      const u = await go('POST', '/api/v1/clusters/app1/failover', { body, headers: auth });
      assert.equal(u.status, 422, body);
      const f = (u.json as { error: string; fields: Array<{ field: string; message: string }> });
      assert.deepEqual(f.fields.map((x) => x.field), ['confirm'], body);
      assert.match(f.error, /confirm must be true: send "confirm": true to confirm the manual failover/, body);
    }
    assert.equal(backend.calls.length, before, 'an unconfirmed failover never reaches the backend');
    assert.equal((await go('POST', '/api/v1/clusters/app1/ack', { body: JSON.stringify({ failover_id: '' }), headers: auth })).status, 422);
    assert.equal((await go('POST', '/api/v1/clusters/app1/ack', { body: '[1,2]', headers: auth })).status, 422);
    const notJson = await go('POST', '/api/v1/clusters/app1/ack', { body: '{nope', headers: auth });
    assert.equal(notJson.status, 400);
    assert.equal((await go('POST', '/api/v1/clusters/app1/ack', { body: JSON.stringify({ x: 'a'.repeat(70_000) }), headers: auth })).status, 413);
    // Unauthenticated requests learn nothing about validity.
    assert.equal((await go('POST', '/api/v1/clusters/app1/switchover', { body: JSON.stringify({ dry_run: 'yes' }) })).status, 401);
  });

  test('the token is compared in constant time and never appears in an answer or a log line', () => {
    assert.equal(tokenMatches(TOKEN, new Secret(TOKEN)), true);
    assert.equal(tokenMatches(TOKEN.slice(1), new Secret(TOKEN)), false);
    assert.equal(tokenMatches('', new Secret(TOKEN)), false);
    for (const r of seen) assert.ok(!r.body.includes(TOKEN) && !JSON.stringify(r.headers).includes(TOKEN), `a response carries the token: ${r.body.slice(0, 200)}`);
    for (const l of logLines) assert.ok(!l.includes(TOKEN) && !l.includes(TOKEN.slice(0, -1)), `a log line carries the token: ${l}`);
    assert.ok(logLines.some((l) => /wrong bearer token/.test(l)), 'a wrong token is logged (without the token)');
  });

  test('server-sent events: the overview at once, then again within a second of a change', async () => {
    const res = await fetch(`${srv.url}/api/v1/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const nextEvent = async (deadlineMs: number): Promise<Overview> => {
      const end = Date.now() + deadlineMs;
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) return JSON.parse(data.slice(6)) as Overview;
          continue;
        }
        const left = end - Date.now();
        assert.ok(left > 0, 'no event in time');
        const chunk = await Promise.race([reader.read(), new Promise<never>((_r, rej) => setTimeout(() => rej(new Error('no event in time')), left))]);
        if (chunk.done) throw new Error('stream ended');
        buf += dec.decode(chunk.value, { stream: true });
      }
    };
    const first = await nextEvent(2000);
    assert.equal(first.clusters[0]?.topology.master, 'db1');
    const t0 = Date.now();
    backend.master = 'db2';
    const second = await nextEvent(2000);
    assert.equal(second.clusters[0]?.topology.master, 'db2');
    assert.ok(Date.now() - t0 < 1000);
    await reader.cancel();
    backend.master = 'db1';
  });

  test('the console: 503 naming the build step when not built; index.html with a strict CSP; its assets; nothing else', async () => {
    const r = await go('GET', '/');
    assert.equal(r.status, 503);
    assert.match(r.body, /npm run build/);
    backend.dir = mkdtempSync(join(tmpdir(), 'mhats-console-'));
    writeFileSync(join(backend.dir, 'index.html'), '<!doctype html><title>mhats</title><script src="/console/app.js"></script>');
    writeFileSync(join(backend.dir, 'app.js'), 'console.log(1)');
    writeFileSync(join(backend.dir, 'secret.txt'), 'no');
    const page = await go('GET', '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const js = await go('GET', '/console/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.equal((await go('GET', '/console/secret.txt')).status, 404);
    assert.equal((await go('GET', '/console/..%2Fsecret.txt')).status, 404);
  });
});
