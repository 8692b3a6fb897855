/** The HTTP endpoint and the metrics registry, without a database. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startHttpServer } from '../../src/adapters/http/server.js';
import { Metrics } from '../../src/app/metrics.js';
import { silentLogger } from '../../src/ports/logger.js';
import { Secret } from '../../src/domain/secret.js';
import { parsePrometheusText as assertPrometheusText } from '../helpers/service.js';

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('endpoints: /healthz, /readyz (503 until ready), /status JSON, /metrics text; read-only; 404', async () => {
  const metrics = new Metrics();
  let ready = false;
  const srv = await startHttpServer(
    { host: '127.0.13.1', port: 0 },
    {
      healthz: () => ({ ok: true, body: { ok: true } }),
      readyz: () => ({ ok: ready, body: { ready } }),
      status: () => ({ clusters: [{ name: 'app1', password: new Secret('hunter2') }] }),
      metrics: () => metrics.render(),
    },
    silentLogger,
  );
  try {
    assert.equal(srv.host, '127.0.13.1');
    assert.ok(srv.port > 0);
    assert.equal((await get(`${srv.url}/healthz`)).status, 200);
    assert.equal((await get(`${srv.url}/readyz`)).status, 503);
    ready = true;
    assert.equal((await get(`${srv.url}/readyz`)).status, 200);
    const st = await get(`${srv.url}/status`);
    assert.match(st.type, /application\/json/);
    assert.ok(!st.body.includes('hunter2'));
    assert.equal((JSON.parse(st.body) as { clusters: Array<{ password: string }> }).clusters[0]?.password, '***');
    const m = await get(`${srv.url}/metrics`);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    const samples = assertPrometheusText(m.body);
    assert.equal(samples.get('mhats_leader'), 1);
    assert.ok([...samples.keys()].some((k) => k.startsWith('process_cpu_user_seconds_total')), 'default process metrics');
    assert.ok([...samples.keys()].some((k) => k.startsWith('nodejs_eventloop_lag')), 'event loop lag');
    assert.equal((await get(`${srv.url}/status`, 'POST')).status, 405);
    assert.equal((await get(`${srv.url}/nope`)).status, 404);
  } finally {
    await srv.close();
  }
});

test('failover metrics: counters by outcome and phase-duration histograms', async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.failover('app1', {
    id: 'x', outcome: 'success', exitCode: 0, oldMaster: 'db1', newMaster: 'db2', reason: '', recovered: [], notRecovered: [], rejected: [], deferred: [], durationMs: 1500,
    phases: [{ phase: 'Phase 1: Configuration Check Phase', durationMs: 120, ok: true }, { phase: 'Phase 3.5: Promoting New Master Phase', durationMs: 30, ok: true }],
  });
  const s = assertPrometheusText((await metrics.render()).body);
  assert.equal(s.get('mhats_failovers_total{cluster="app1",outcome="success"}'), 1);
  assert.equal(s.get('mhats_failover_phase_duration_seconds_count{cluster="app1",phase="Phase 1: Configuration Check Phase"}'), 1);
  assert.equal(s.get('mhats_failover_phase_duration_seconds_sum{cluster="app1",phase="Phase 3.5: Promoting New Master Phase"}'), 0.03);
  await metrics.forgetCluster('app1');
  const after = assertPrometheusText((await metrics.render()).body);
  assert.equal([...after.keys()].some((k) => k.includes('cluster="app1"')), false);
});
