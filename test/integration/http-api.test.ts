/**
 * The HTTP API v1 against a running manager over a real sandbox (MariaDB
 * master + 2 replicas): every endpoint; maintenance; a switchover through the
 * API moves the master, and without or with a wrong token nothing changes; a
 * manual failover of a dead master (the automatic one held by maintenance),
 * during which a switchover gets 409, and its acknowledgement; without a
 * token file (after a reload) every write is refused while reads and
 * /metrics answer; no password or token in any answer or log line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { Validator } from '@seriousme/openapi-schema-validator';
import { rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { API_TOKEN, call, SchemaChecker, startApiManager, waitFor, type Answer, type ApiManager } from '../helpers/api.js';
import type { Job, Journal, ManagerHealth, Overview, Plan, Topology } from '../../src/adapters/http/api-schemas.js';

const readOnly = async (s: SandboxServer): Promise<string> => (await rootSql(s, 'SELECT @@read_only')).trim();

describe('HTTP API v1 against a sandbox', () => {
  let sb: SandboxInfo;
  let am: ApiManager;
  let checker: SchemaChecker;
  const answers: Answer[] = [];
  const secrets: string[] = [];
  const api = async <T = unknown>(method: string, path: string, opts: { body?: unknown; token?: string } = {}): Promise<Answer<T>> => {
    const a = await call<T>(am.url, method, path, opts);
    answers.push(a);
    checker?.check(method, path, a);
    return a;
  };
  const topology = async (): Promise<Topology> => (await api<Topology>('GET', '/api/v1/clusters/sandbox/topology')).json;
  const waitJob = async (id: string, timeoutMs = 60_000): Promise<Job> => waitFor(`job ${id} to end`, async () => {
    const j = (await api<Job>('GET', `/api/v1/jobs/${id}`)).json;
    return j.state === 'done' ? j : undefined;
  }, timeoutMs, 200);

  before(async () => {
    sb = await withSandbox(undefined, { name: 'http-api', baseAddress: '127.0.110.11', replicas: 2, sshPort: 2420 });
    secrets.push(readFileSync(sb.adminPasswordFile, 'utf8').trim(), readFileSync(sb.replPasswordFile, 'utf8').trim(), API_TOKEN);
    am = await startApiManager(sb, { listen: '127.0.110.1:0', slowStart: 2 });
    const doc = (await call(am.url, 'GET', '/api/v1/openapi.json')).json;
    checker = new SchemaChecker(doc);
  });

  after(async () => {
    await am?.mgr.stop();
  });

  test('reads: every endpoint, each answer as its OpenAPI schema says; the document validates and lists every route', async () => {
    const doc = (await api<{ openapi: string; paths: Record<string, Record<string, unknown>> }>('GET', '/api/v1/openapi.json')).json;
    assert.equal(doc.openapi, '3.1.0');
    const v = new Validator();
    const res = await v.validate(doc);
    assert.ok(res.valid, JSON.stringify(res.errors));
    const expected = [
      'get /api/v1/openapi.json', 'get /api/v1/manager', 'get /api/v1/clusters', 'get /api/v1/overview', 'get /api/v1/clusters/{cluster}/topology', 'get /api/v1/clusters/{cluster}/plan',
      'get /api/v1/clusters/{cluster}/journal', 'get /api/v1/jobs', 'get /api/v1/jobs/{id}', 'get /api/v1/events', 'post /api/v1/clusters/{cluster}/switchover', 'post /api/v1/clusters/{cluster}/failover', 'post /api/v1/clusters/{cluster}/ack',
      'get /api/v1/maintenance', 'post /api/v1/maintenance', 'post /api/v1/maintenance/stop', 'post /api/v1/clusters/{cluster}/rejoin',
    ];
    assert.deepEqual(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).sort(), [...expected].sort());

    const mh = (await api<ManagerHealth>('GET', '/api/v1/manager')).json;
    assert.equal(mh.role, 'leader');
    assert.equal(mh.writes.enabled, true);
    assert.equal(mh.ha.mode, 'single');
    const cl = (await api<{ clusters: Array<{ name: string; master: string; automatic_failover: { allowed: boolean } }> }>('GET', '/api/v1/clusters')).json;
    assert.deepEqual(cl.clusters.map((c) => [c.name, c.master, c.automatic_failover.allowed]), [['sandbox', 'db1', true]]);
    const t = await topology();
    assert.equal(t.master, 'db1');
    assert.deepEqual(t.servers.map((s) => [s.name, s.role, s.read_only]), [['db1', 'master', false], ['db2', 'replica', true], ['db3', 'replica', true]]);
    for (const s of t.servers.slice(1)) {
      assert.equal(s.source, 'db1');
      assert.equal(s.io_thread, 'Yes');
      assert.equal(s.sql_thread, true);
      assert.equal(typeof s.lag_seconds, 'number');
      assert.deepEqual(s.errors, []);
    }
    const p = (await api<Plan>('GET', '/api/v1/clusters/sandbox/plan')).json;
    assert.equal(p.master, 'db1');
    assert.ok(p.would_promote === 'db2' || p.would_promote === 'db3', JSON.stringify(p));
    assert.ok(p.because.length > 0);
    // The whole plan (the same planFailover() as a real failover): the expected loss and each survivor's part.
    assert.ok((p.expected_loss ?? '').length > 0, JSON.stringify(p));
    assert.deepEqual(p.servers.map((s) => s.name).sort(), ['db2', 'db3']);
    assert.equal(p.servers.find((s) => s.role === 'new_master')?.name, p.would_promote);
    assert.equal((await api<Journal>('GET', '/api/v1/clusters/sandbox/journal')).json.entries.length, 0, 'a new cluster has an empty journal');
    assert.deepEqual((await api<{ jobs: unknown[] }>('GET', '/api/v1/jobs')).json.jobs, []);
    assert.equal((await api('GET', '/api/v1/jobs/job-nope')).status, 404);
    assert.equal((await api('GET', '/api/v1/clusters/nope/topology')).status, 404);
    const o = (await api<Overview>('GET', '/api/v1/overview')).json;
    assert.equal(o.clusters[0]?.topology.master, 'db1');
    // The event stream's first event is the overview.
    const ac = new AbortController();
    const es = await fetch(`${am.url}/api/v1/events`, { signal: ac.signal });
    const reader = es.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    assert.match(text, /event: overview\ndata: \{/);
    // The legacy endpoints beside the API.
    assert.equal((await api('GET', '/status')).status, 200);
    assert.equal((await api('GET', '/metrics')).status, 200);
  });

  test('maintenance through the API: a server, then the cluster; shown in the topology and the journal; stopped', async () => {
    const srv = await api<{ entry: { id: string; owner: string } }>('POST', '/api/v1/maintenance', { body: { cluster: 'sandbox', server: 'db3', reason: 'disk swap', for: '1h' }, token: API_TOKEN });
    assert.equal(srv.status, 201, srv.body);
    assert.equal(srv.json.entry.owner, 'api:127.0.0.1');
    const cl = await api<{ entry: { id: string } }>('POST', '/api/v1/maintenance', { body: { cluster: 'sandbox', reason: 'kernel upgrade', for: '30m' }, token: API_TOKEN });
    assert.equal(cl.status, 201, cl.body);
    assert.equal((await api('POST', '/api/v1/maintenance', { body: { cluster: 'sandbox', reason: 'x', for: 'forever' }, token: API_TOKEN })).status, 422);
    assert.equal((await api('POST', '/api/v1/maintenance', { body: { cluster: 'sandbox', server: 'db9', reason: 'x', for: '1h' }, token: API_TOKEN })).status, 422);
    const t = await waitFor('the topology to show the maintenance', async () => {
      const x = await topology();
      return x.maintenance.held && x.servers.find((s) => s.name === 'db3')?.maintenance?.reason === 'disk swap' ? x : undefined;
    }, 5000);
    assert.equal(t.maintenance.entries.length, 2);
    const list = (await api<{ active: Array<{ id: string }> }>('GET', '/api/v1/maintenance?cluster=sandbox')).json;
    assert.equal(list.active.length, 2);
    const stop = await api<{ stopped: Array<{ id: string }> }>('POST', '/api/v1/maintenance/stop', { body: { cluster: 'sandbox' }, token: API_TOKEN });
    assert.deepEqual(stop.json.stopped.map((e) => e.id), [cl.json.entry.id]);
    assert.deepEqual((await api<{ stopped: Array<{ id: string }> }>('POST', '/api/v1/maintenance/stop', { body: { id: srv.json.entry.id }, token: API_TOKEN })).json.stopped.map((e) => e.id), [srv.json.entry.id]);
    await waitFor('the maintenance to end in the topology', async () => ((await topology()).maintenance.entries.length === 0 ? true : undefined), 5000);
    const j = (await api<Journal>('GET', '/api/v1/clusters/sandbox/journal')).json;
    assert.equal(j.entries.filter((e) => e.kind === 'maintenance').length, 2);
    assert.ok(j.entries.some((e) => e.kind === 'write' && e.action === 'maintenance start' && e.status === 201));
  });

  test('writes without a token or with a wrong one: 401, and nothing changes', async () => {
    const before = (await api<Journal>('GET', '/api/v1/clusters/sandbox/journal')).json.entries.length;
    for (const token of [undefined, 'wrong-token-wrong-token', `${API_TOKEN}0`]) {
      const r = await api('POST', '/api/v1/clusters/sandbox/switchover', { body: { new_master: 'db2' }, token });
      assert.equal(r.status, 401, String(token));
      assert.equal((await api('POST', '/api/v1/clusters/sandbox/failover', { body: {}, token })).status, 401);
      assert.equal((await api('POST', '/api/v1/clusters/sandbox/ack', { token })).status, 401);
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await readOnly(sb.servers[0]!), '0', 'db1 is still the writable master');
    assert.equal(await readOnly(sb.servers[1]!), '1');
    assert.equal((await topology()).master, 'db1');
    assert.equal((await api<Journal>('GET', '/api/v1/clusters/sandbox/journal')).json.entries.length, before, 'unauthenticated requests leave no journal record');
    assert.match(am.mgr.tail(200), /wrong bearer token/);
  });

  test('switchover: dry run plans and changes nothing; 422 for a bad field; with the token the master moves (202, job, journal)', async () => {
    const bad = await api<{ fields: Array<{ field: string }> }>('POST', '/api/v1/clusters/sandbox/switchover', { body: { new_master: 'db9', timeout: 'soon' }, token: API_TOKEN });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.json.fields.map((f) => f.field), ['timeout']);
    const unknown = await api<{ fields: Array<{ field: string; message: string }> }>('POST', '/api/v1/clusters/sandbox/switchover', { body: { new_master: 'db9' }, token: API_TOKEN });
    assert.equal(unknown.status, 422);
    assert.deepEqual(unknown.json.fields.map((f) => f.field), ['new_master']);
    const dry = await api<{ dry_run: boolean; plan: { master: string; new_master: string; steps: string[] }; checks: Array<{ ok: boolean }> }>('POST', '/api/v1/clusters/sandbox/switchover', { body: { new_master: 'db2', dry_run: true }, token: API_TOKEN });
    assert.equal(dry.status, 200, dry.body);
    assert.equal(dry.json.plan.master, 'db1');
    assert.equal(dry.json.plan.new_master, 'db2');
    assert.ok(dry.json.checks.every((c) => c.ok));
    assert.ok(dry.json.plan.steps.length > 5);
    assert.equal(await readOnly(sb.servers[0]!), '0', 'a dry run changes nothing');

    const t0 = Date.now();
    const run = await api<{ job: Job }>('POST', '/api/v1/clusters/sandbox/switchover', { body: { new_master: 'db2', orig_master_is_new_slave: true }, token: API_TOKEN });
    assert.equal(run.status, 202, run.body);
    assert.match(run.json.job.links.self, /^\/api\/v1\/jobs\/job-/);
    // A second write while the first runs: 409 naming the job.
    const second = await api<{ error: string }>('POST', '/api/v1/clusters/sandbox/switchover', { body: { new_master: 'db3' }, token: API_TOKEN });
    assert.equal(second.status, 409, second.body);
    const job = await waitJob(run.json.job.id);
    assert.equal(job.outcome, 'success', JSON.stringify(job));
    assert.equal(job.new_master, 'db2');
    assert.ok(job.steps.length > 5 && job.steps.every((s) => s.ok));
    assert.equal(typeof job.write_blocked_ms, 'number');
    assert.equal(await readOnly(sb.servers[1]!), '0', 'db2 is the writable master');
    assert.equal(await readOnly(sb.servers[0]!), '1', 'db1 is read_only');
    // The API shows it at once (the monitor re-inspects after the action).
    const t = await waitFor('the topology to show db2 as master', async () => {
      const x = await topology();
      return x.master === 'db2' && x.servers.find((s) => s.name === 'db1')?.source === 'db2' ? x : undefined;
    }, 5000);
    assert.ok(Date.now() - t0 < 30_000);
    assert.equal(t.servers.find((s) => s.name === 'db3')?.source, 'db2');
    const j = (await api<Journal>('GET', '/api/v1/clusters/sandbox/journal')).json;
    const sw = j.entries.find((e) => e.kind === 'switchover');
    assert.ok(sw?.kind === 'switchover');
    assert.deepEqual([sw.from, sw.to, sw.outcome, sw.by], ['db1', 'db2', 'success', 'api:127.0.0.1']);
    assert.ok(sw.steps.length > 5);
    const writes = j.entries.filter((e) => e.kind === 'write');
    assert.ok(writes.some((w) => w.kind === 'write' && w.action === 'switchover' && w.status === 202 && w.outcome === 'accepted' && w.job === job.id), JSON.stringify(writes));
    assert.ok(writes.some((w) => w.kind === 'write' && w.status === 200 && w.outcome === 'dry run'));
    assert.ok(writes.some((w) => w.kind === 'write' && w.status === 409 && w.outcome === 'refused'));
    assert.ok(writes.some((w) => w.kind === 'write' && w.status === 422));
  });

  test('manual failover of a dead master through the API (the cluster in maintenance holds the automatic one); meanwhile a switchover gets 409; then ack; the old master rejoins', async () => {
    const hold = await api<{ entry: { id: string } }>('POST', '/api/v1/maintenance', { body: { cluster: 'sandbox', reason: 'hold automatic failover for the test', for: '1h' }, token: API_TOKEN });
    assert.equal(hold.status, 201, hold.body);
    await waitFor('the hold to be seen', async () => ((await topology()).maintenance.held ? true : undefined), 5000);
    assert.equal((await api<{ error: string }>('POST', '/api/v1/clusters/sandbox/failover', { body: { confirm: true }, token: API_TOKEN })).status, 409, 'a live master is not failed over');
    const master = (await topology()).master!;
    assert.equal(master, 'db2');
    await stopServer(sb.servers[1]!, 'SIGKILL');
    await waitFor('the monitor to hold the dead master (maintenance)', async () => ((await topology()).maintenance.held_dead_master ? true : undefined), 30_000, 100);
    assert.equal((await api('POST', '/api/v1/clusters/sandbox/failover', { body: { new_master: 'db7', confirm: true }, token: API_TOKEN })).status, 422);
    assert.equal((await api('POST', '/api/v1/clusters/sandbox/failover', { body: { dead_master: 'db2', new_master: 'db2', confirm: true }, token: API_TOKEN })).status, 422);
    const r = await api<{ job: Job }>('POST', '/api/v1/clusters/sandbox/failover', { body: { dead_master: 'db2', confirm: true }, token: API_TOKEN });
    assert.equal(r.status, 202, r.body);
    // While it runs (its start hook sleeps), a switchover and a second failover get 409.
    await waitFor('the failover to be running', async () => ((await topology()).in_failover ? true : undefined), 30_000, 50);
    const sw = await api<{ error: string }>('POST', '/api/v1/clusters/sandbox/switchover', { body: { new_master: 'db3' }, token: API_TOKEN });
    assert.equal(sw.status, 409, sw.body);
    assert.match(sw.json.error, /failover of sandbox is running/);
    assert.equal((await api('POST', '/api/v1/clusters/sandbox/failover', { body: { confirm: true }, token: API_TOKEN })).status, 409);
    assert.equal((await api('POST', '/api/v1/clusters/sandbox/ack', { token: API_TOKEN })).status, 409, 'a running failover is not acknowledged');
    const job = await waitJob(r.json.job.id, 90_000);
    assert.equal(job.outcome, 'success', JSON.stringify(job));
    assert.ok(job.new_master === 'db1' || job.new_master === 'db3', JSON.stringify(job));
    assert.ok(job.steps.length >= 4 && job.steps.every((p) => p.ok));
    assert.equal(await readOnly(sb.servers.find((s) => s.name === job.new_master)!), '0');
    const t = await waitFor('the topology to show the new master', async () => {
      const x = await topology();
      return x.master === job.new_master && !x.in_failover ? x : undefined;
    }, 5000);
    assert.equal(t.servers.find((s) => s.name === 'db2')?.role, 'failed');
    assert.equal(t.servers.find((s) => s.name === 'db2')?.fenced, true);
    assert.equal(t.state, 'watching', 'the new master is watched (the hold was about the dead one)');
    assert.equal(t.maintenance.held_dead_master, false);
    const f = (await api<Journal>('GET', '/api/v1/clusters/sandbox/journal')).json.entries.find((e) => e.kind === 'failover');
    assert.ok(f?.kind === 'failover');
    assert.deepEqual([f.outcome, f.trigger, f.dead_master, f.new_master], ['success', 'manual', 'db2', job.new_master]);
    assert.match(f.why, /api:127\.0\.0\.1/);
    assert.ok(f.phases.length >= 4 && f.phases.every((p) => p.duration_ms >= 0));
    assert.ok(f.hooks.some((h) => h.name === 'slow-start' && h.verdict === 'ok'), JSON.stringify(f.hooks));
    // The executor's records: its plan, when the new master took writes, the steps on the servers.
    assert.equal(f.planned?.new_master, job.new_master, JSON.stringify(f.planned));
    assert.ok(f.promoted_at !== null && Date.parse(f.promoted_at) >= Date.parse(f.started_at), JSON.stringify(f));
    assert.ok(f.steps.length > 0 && f.steps.every((x) => x.duration_ms >= 0 && x.server.length > 0), JSON.stringify(f.steps));

    const ack = await api<{ acknowledged: Array<{ id: string }> }>('POST', '/api/v1/clusters/sandbox/ack', { token: API_TOKEN });
    assert.equal(ack.status, 200, ack.body);
    assert.deepEqual(ack.json.acknowledged.map((x) => x.id), [f.id]);
    assert.equal((await api('POST', '/api/v1/clusters/sandbox/ack', { body: { failover_id: 'nope' }, token: API_TOKEN })).status, 422);
    const j = (await api<Journal>('GET', '/api/v1/clusters/sandbox/journal')).json;
    assert.ok(j.entries.some((e) => e.kind === 'ack' && e.id === f.id && e.by === 'api:127.0.0.1'));
    assert.equal((await api('POST', '/api/v1/maintenance/stop', { body: { id: hold.json.entry.id }, token: API_TOKEN })).status, 200);

    // The old master restarted: it rejoins through the API (dry run first), as mhats rejoin does.
    const db2 = await startServer(sb.servers[1]!);
    await waitFor('db2 to answer', async () => ((await rootSql(db2, 'SELECT 1')).trim() === '1' ? true : undefined), 30_000, 200);
    assert.equal((await api('POST', '/api/v1/clusters/sandbox/rejoin', { body: { server: 'db9' }, token: API_TOKEN })).status, 422);
    const dry = await api<{ rejoin: { outcome: string } }>('POST', '/api/v1/clusters/sandbox/rejoin', { body: { server: 'db2', dry_run: true }, token: API_TOKEN });
    assert.equal(dry.status, 200, dry.body);
    assert.equal(dry.json.rejoin.outcome, 'would_rejoin');
    const rj = await api<{ rejoin: { outcome: string; master: string } }>('POST', '/api/v1/clusters/sandbox/rejoin', { body: { server: 'db2' }, token: API_TOKEN });
    assert.equal(rj.status, 200, rj.body);
    assert.deepEqual([rj.json.rejoin.outcome, rj.json.rejoin.master], ['rejoined', job.new_master]);
    assert.equal(await readOnly(db2), '1');
    await waitFor('db2 to be a replica again', async () => ((await topology()).servers.find((s) => s.name === 'db2')?.role === 'replica' ? true : undefined), 10_000);
  });

  test('without a token file (after a reload) every write answers 403; reads and /metrics answer', async () => {
    const doc = parse(readFileSync(am.conf, 'utf8')) as { http: Record<string, unknown> };
    delete doc.http.token_file;
    writeFileSync(am.conf, stringify(doc), { mode: 0o600 });
    am.mgr.child.kill('SIGHUP');
    await am.mgr.waitFor(/HTTP write API off/, 15_000);
    for (const w of ['switchover', 'failover', 'ack']) {
      const r = await api<{ error: string; hint: string }>('POST', `/api/v1/clusters/sandbox/${w}`, { body: {}, token: API_TOKEN });
      assert.equal(r.status, 403, w);
      assert.match(r.json.hint, /token_file/);
    }
    assert.equal((await api<ManagerHealth>('GET', '/api/v1/manager')).json.writes.enabled, false);
    assert.equal((await api('GET', '/api/v1/clusters/sandbox/topology')).status, 200);
    const m = await api('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body, /^mhats_leader 1$/m);
  });

  test('no password and no token in any answer or log line', () => {
    assert.ok(answers.length > 40);
    for (const a of answers) for (const s of secrets) assert.ok(!a.body.includes(s) && !JSON.stringify(a.headers).includes(s), `an answer carries a secret: ${a.body.slice(0, 300)}`);
    for (const l of am.mgr.raw) for (const s of secrets) assert.ok(!l.includes(s), `a log line carries a secret: ${l.slice(0, 300)}`);
  });
});
