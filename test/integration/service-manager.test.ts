/**
 * `mhats manager` as a service, against a real sandbox (db1 master, db2 and db3 replicas):
 *  1. systemd: READY=1 once the cluster is inspected, then WATCHDOG=1 at the interval
 *     (a third of WATCHDOG_USEC), with a readable STATUS= line;
 *  2. HTTP: /healthz, /readyz, /status (topology and the failover plan), /metrics as
 *     Prometheus text;
 *  3. after kill -9 of the master, the failover counters and phase durations change and
 *     /status reports the failover;
 *  4. SIGTERM in the middle of a second failover: the failover is finished, then STOPPING=1
 *     and a clean exit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { ManagerProcess } from '../helpers/manager.js';
import { NotifyListener, getJson, httpGet, parsePrometheusText, sumOf } from '../helpers/service.js';

interface ClusterStatus {
  name: string;
  state: string;
  master?: string;
  topology: { healthy?: boolean; servers: Array<{ name: string; role: string; host: string; replication?: { io: string; sql: boolean } }> };
  plan: { wouldPromote: string | null; rule?: string; why: string; rejected: Array<{ name: string; reason: string }> };
  lastFailover: { id: string; outcome: string; deadMaster: string; newMaster?: string; phases: unknown[] } | null;
  guard: { automaticFailover: string };
}

const WATCHDOG_MS = 1500;

describe('manager as a service: sd_notify, watchdog, HTTP, metrics, SIGTERM during a failover', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let mgr: ManagerProcess;
  let notify: NotifyListener;
  let url: string;
  let journal: string;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'service-manager', baseAddress: '127.0.13.11', replicas: 2, sshPort: 2293 });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    await rootSql(db1, 'CREATE DATABASE svc; CREATE TABLE svc.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; http?: unknown; clusters: Record<string, Record<string, unknown> & { servers: Array<Record<string, unknown>> }> };
    doc.state_dir = join(sb.dir, 'state');
    doc.http = { listen: '127.0.13.1:0' };
    const c = doc.clusters[sb.clusterName]!;
    // last_failover_minute 0: the second failover (for the SIGTERM test) is allowed at once.
    Object.assign(c, { ping_interval: 0.3, ping_failures: 3, ping_timeout: 0.3, connect_timeout: 1, query_timeout: 3, last_failover_minute: 0 });
    // A slow master_ip_failover_script: the SIGTERM surely lands while the failover runs.
    const hook = join(sb.dir, 'slow-hook.sh');
    writeFileSync(hook, '#!/bin/sh\nsleep 1\nexit 0\n');
    chmodSync(hook, 0o755);
    c.master_ip_failover_script = hook;
    Object.assign(c.servers[1]!, { candidate_master: false });
    Object.assign(c.servers[2]!, { candidate_master: true });
    Object.assign(c.servers[0]!, { candidate_master: false });
    const conf = join(sb.dir, 'service.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    journal = join(sb.dir, 'state', sb.clusterName, 'failovers.jsonl');
    notify = new NotifyListener(join(sb.dir, 'notify.sock'));
    await notify.listening();
    // The manager inherits these (ManagerProcess copies process.env); nothing else here needs them.
    process.env.NOTIFY_SOCKET = notify.path;
    process.env.WATCHDOG_USEC = String(WATCHDOG_MS * 1000);
    try {
      mgr = new ManagerProcess(conf, [], sb.dir);
    } finally {
      delete process.env.NOTIFY_SOCKET;
      delete process.env.WATCHDOG_USEC;
    }
    const line = await mgr.waitFor(/^HTTP endpoint on /, 30_000);
    url = String(line.url);
  });

  after(async () => {
    await mgr?.stop();
    await notify?.stop();
  });

  test('READY=1 once the cluster is inspected, then WATCHDOG=1 at a third of WATCHDOG_USEC', async () => {
    const [ready] = await notify.waitFor('READY', '1', 30_000);
    assert.ok(mgr.has(/^watching sandbox: master db1/), 'READY only after the first inspection');
    assert.match(ready!.msg, /STATUS=1 cluster\(s\): sandbox: master db1 ok/);
    const n0 = notify.with('WATCHDOG', '1').length;
    await new Promise((r) => setTimeout(r, 3 * WATCHDOG_MS));
    const pings = notify.with('WATCHDOG', '1').slice(n0);
    // Every WATCHDOG_MS / 3 = 500 ms: about 9 in 4.5 s; never a gap anywhere near WATCHDOG_USEC.
    assert.ok(pings.length >= 6, `only ${pings.length} pings in ${3 * WATCHDOG_MS} ms`);
    for (let i = 1; i < pings.length; i++) assert.ok(pings[i]!.at - pings[i - 1]!.at < WATCHDOG_MS * 0.8, `gap of ${Math.round(pings[i]!.at - pings[i - 1]!.at)} ms between pings`);
    const firstPing = notify.with('WATCHDOG', '1')[0]!;
    assert.ok(firstPing.at >= ready!.at - 50 || mgr.lines.some((l) => /^watching sandbox/.test(l.msg)), 'pings follow a real tick');
  });

  test('/healthz, /readyz, /status with the topology and the failover plan, /metrics as Prometheus text', async () => {
    assert.equal((await httpGet(`${url}/healthz`)).status, 200);
    assert.equal((await httpGet(`${url}/readyz`)).status, 200);
    const st = await getJson<{ ready: boolean; leader: boolean; clusters: ClusterStatus[] }>(`${url}/status`);
    assert.equal(st.ready, true);
    assert.equal(st.leader, true);
    const c = st.clusters[0]!;
    assert.equal(c.name, 'sandbox');
    assert.equal(c.state, 'watching');
    assert.equal(c.master, 'db1');
    assert.equal(c.topology.healthy, true);
    const roles = Object.fromEntries(c.topology.servers.map((s) => [s.name, s.role]));
    assert.deepEqual(roles, { db1: 'master', db2: 'replica', db3: 'replica' });
    assert.equal(c.topology.servers.find((s) => s.name === 'db2')?.host, db2.address);
    assert.equal(c.topology.servers.find((s) => s.name === 'db3')?.replication?.io, 'Yes');
    // If db1 died now: db3 (candidate_master, up to date).
    assert.equal(c.plan.wouldPromote, 'db3', JSON.stringify(c.plan));
    assert.match(c.plan.rule ?? '', /candidate/);
    assert.equal(c.lastFailover, null);
    assert.equal(c.guard.automaticFailover, 'allowed');
    const body = (await httpGet(`${url}/status`)).body;
    assert.ok(!body.includes(readFileSync(sb.adminPasswordFile, 'utf8').trim()), 'no password in /status');

    const m = await httpGet(`${url}/metrics`);
    assert.match(m.type, /^text\/plain/);
    const s = parsePrometheusText(m.body);
    assert.ok(sumOf(s, 'mhats_health_check_duration_seconds_count', { cluster: 'sandbox' }) > 0);
    assert.equal(sumOf(s, 'mhats_leader'), 1);
    assert.equal(sumOf(s, 'mhats_monitor_state', { cluster: 'sandbox', state: 'watching' }), 1);
    assert.ok(s.has('mhats_replication_lag_seconds{cluster="sandbox",server="db2"}'), 'replica lag');
    assert.equal(sumOf(s, 'mhats_failovers_total'), 0);
    assert.ok(sumOf(s, 'process_resident_memory_bytes') > 0, 'default process metrics');
  });

  test('kill -9 of the master: failover counters and phase durations change; /status reports it', async () => {
    const before = parsePrometheusText((await httpGet(`${url}/metrics`)).body);
    await stopServer(db1, 'SIGKILL');
    const killedAt = Date.now();
    await mgr.waitFor(/^now watching the new master db3/, 60_000);
    const s = parsePrometheusText((await httpGet(`${url}/metrics`)).body);
    const why = `${Date.now() - killedAt} ms after the kill:\n${mgr.tail(80)}`;
    assert.equal(sumOf(s, 'mhats_failovers_total', { cluster: 'sandbox', outcome: 'success' }) - sumOf(before, 'mhats_failovers_total', { outcome: 'success' }), 1);
    assert.ok(sumOf(s, 'mhats_master_suspicions_total', { cluster: 'sandbox' }) >= 1, why);
    // A refused connection is certain evidence: two failed checks (the second a short re-check) suffice.
    assert.ok(sumOf(s, 'mhats_health_check_failures_total', { cluster: 'sandbox' }) >= 2, why);
    for (const phase of ['Phase 1: Configuration Check Phase', 'Phase 3.5: Promoting New Master Phase', 'Phase 4: Slaves Recovery Phase']) {
      assert.equal(sumOf(s, 'mhats_failover_phase_duration_seconds_count', { phase }), 1, phase);
      assert.ok(sumOf(s, 'mhats_failover_phase_duration_seconds_sum', { phase }) > 0, phase);
    }
    // The plan follows the next inspection of the new topology.
    let c = (await getJson<{ clusters: ClusterStatus[] }>(`${url}/status`)).clusters[0]!;
    const end = Date.now() + 15_000;
    while (c.plan.wouldPromote !== 'db2' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 200));
      c = (await getJson<{ clusters: ClusterStatus[] }>(`${url}/status`)).clusters[0]!;
    }
    assert.equal(c.master, 'db3');
    assert.equal(c.lastFailover?.outcome, 'success');
    assert.equal(c.lastFailover?.deadMaster, 'db1');
    assert.equal(c.lastFailover?.newMaster, 'db3');
    assert.ok((c.lastFailover?.phases.length ?? 0) >= 8);
    assert.equal(c.topology.servers.find((x) => x.name === 'db1')?.role, 'failed');
    // Next plan: db2 is the only replica left.
    assert.equal(c.plan.wouldPromote, 'db2', JSON.stringify(c.plan));
  });

  test('SIGTERM in the middle of a failover: it is finished, then STOPPING=1 and a clean exit', async () => {
    await rootSql(db3, 'INSERT INTO svc.t (v) VALUES (1)');
    await stopServer(db3, 'SIGKILL');
    await mgr.waitFor(/Phase 1: Configuration Check Phase started/, 30_000).then(async () => {
      // Wait for the *second* failover's Phase 1.
      const end = Date.now() + 30_000;
      while (mgr.lines.filter((l) => /Phase 1: Configuration Check Phase started/.test(l.msg)).length < 2) {
        assert.ok(Date.now() < end, mgr.tail());
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    mgr.child.kill('SIGTERM');
    const exit = await mgr.stop(60_000);
    assert.deepEqual(exit, { code: 0, signal: null }, mgr.tail());
    const msgs = mgr.lines.map((l) => l.msg);
    const promoted = msgs.findIndex((m) => /^now watching the new master db2/.test(m));
    const stopped = msgs.findIndex((m) => m === 'mhats manager stopped');
    const sigterm = msgs.findIndex((m) => /received SIGTERM/.test(m));
    assert.ok(sigterm >= 0 && promoted > sigterm && stopped > promoted, `SIGTERM at ${sigterm}, promotion at ${promoted}, stopped at ${stopped}\n${mgr.tail(60)}`);
    // The journal: the second failover ended (success), nothing left unfinished.
    const ends = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; outcome?: string; newMaster?: string }).filter((r) => r.type === 'end');
    assert.deepEqual(ends.map((e) => [e.outcome, e.newMaster]), [['success', 'db3'], ['success', 'db2']]);
    assert.equal((await rootSql(db2, 'SELECT @@read_only')).trim(), '0');
    assert.equal((await rootSql(db2, 'SELECT COUNT(*) FROM svc.t')).trim(), '1');
    const stopping = await notify.waitFor('STOPPING', '1', 5000);
    assert.match(stopping[0]!.msg, /STATUS=stopping on SIGTERM: finishing the failover in progress \(sandbox\) first/);
    // STOPPING=1 is the last notification but the listener may still get nothing after it.
    const last = notify.messages.filter((m) => m.msg !== 'BARRIER=1').at(-1);
    assert.match(last?.msg ?? '', /STOPPING=1/);
  });
});
