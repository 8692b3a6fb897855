/** What the API and the console show, from the monitor's state: roles, markers, errors, maintenance, the plan. Pure mappings, no database. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTopology } from '../../src/domain/topology.js';
import { planView, topologyView } from '../../src/app/api.js';
import type { ClusterConfig } from '../../src/config/types.js';
import type { ClusterMonitor } from '../../src/engine/monitor.js';
import type { FailoverPlan } from '../../src/domain/failover/plan.js';
import { healthy, obs, ok, replicaStatus, spec } from '../helpers/observations.js';

const T = 1_700_000_000_000;
const cluster = {
  name: 'app1',
  ping_failures: 3,
  servers: ['db1', 'db2', 'db3'].map((n, i) => ({ name: n, hostname: `127.0.0.1${i + 1}`, ip: `127.0.0.1${i + 1}`, port: 3306, candidate_master: n === 'db2', no_master: n === 'db3' })),
} as unknown as ClusterConfig;

function monitor(over: Partial<Record<string, unknown>> = {}, snap: Partial<ReturnType<ClusterMonitor['snapshot']>> = {}): ClusterMonitor {
  const h = healthy();
  const a = analyzeTopology(h.specs, h.probes, { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false });
  return {
    state: 'watching',
    master: 'db1',
    lastAnalysis: a,
    inFailover: false,
    activity: undefined,
    heldByMaintenance: undefined,
    maintenance: () => ({ cluster: 'app1', clusterWide: [], servers: {}, serversInMaintenance: [] }),
    snapshot: () => ({ cluster: 'app1', state: 'watching', master: 'db1', detector: { phase: 'healthy', consecutiveFailures: 0 }, failed: [], lastAnalysis: { healthy: true, errors: [] }, ...snap }),
    ...over,
  } as unknown as ClusterMonitor;
}

test('a healthy cluster: master, replicas with their source, threads, lag and read_only', () => {
  const t = topologyView(cluster, monitor(), T);
  assert.equal(t.master, 'db1');
  assert.deepEqual(t.servers.map((s) => [s.name, s.role, s.source, s.read_only, s.io_thread, s.sql_thread, s.lag_seconds, s.fenced]), [
    ['db1', 'master', null, false, null, null, null, false],
    ['db2', 'replica', 'db1', true, 'Yes', true, 0, false],
    ['db3', 'replica', 'db1', true, 'Yes', true, 0, false],
  ]);
  assert.equal(t.servers[0]?.binlog, 'mysql-bin.000002:1000');
  assert.deepEqual(t.maintenance, { held: false, held_dead_master: false, entries: [] });
});

test('mid-failover: the dead master keeps its place with its error; a failed old master is marked fenced; replication errors shown', () => {
  const specs = ['db1', 'db2', 'db3'].map((n, i) => spec(n, `127.0.0.1${i + 1}`));
  const a = analyzeTopology(
    specs,
    [
      { ok: false, failure: { name: 'db1', host: '127.0.0.11', port: 3306, kind: 'refused', message: 'connect ECONNREFUSED', elapsedMs: 1 } },
      ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { ioRunning: 'Connecting', lastIoError: 'error reconnecting to master', secondsBehind: null }) })),
      ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.11') })),
    ],
    { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false },
  );
  const m = monitor({ state: 'failing_over', inFailover: true, lastAnalysis: a }, { detector: { phase: 'suspect', consecutiveFailures: 3, consecutiveStalls: 0, lastFailure: { kind: 'refused', message: 'connect ECONNREFUSED', class: 'refused', at: 0 } } });
  const t = topologyView(cluster, m, T);
  assert.equal(t.in_failover, true);
  const db1 = t.servers.find((s) => s.name === 'db1')!;
  assert.equal(db1.role, 'master');
  assert.match(db1.errors[0] ?? '', /refused: connect ECONNREFUSED/);
  const db2 = t.servers.find((s) => s.name === 'db2')!;
  assert.equal(db2.io_thread, 'Connecting');
  assert.equal(db2.lag_seconds, null);
  assert.deepEqual(db2.errors, ['IO thread: error reconnecting to master']);

  const after = topologyView(cluster, monitor({ master: 'db2' }, { failed: ['db1'] }), T);
  const old = after.servers.find((s) => s.name === 'db1')!;
  assert.equal(old.role, 'failed');
  assert.equal(old.fenced, true);
});

test('maintenance: the cluster hold and a server entry, with their remaining time', () => {
  const entry = { id: 'mnt-1', scope: 'server' as const, cluster: 'app1', server: 'db3', owner: 'api:127.0.0.1', reason: 'disk swap', startedAt: T - 60_000, expiresAt: T + 3_600_000 };
  const hold = { id: 'mnt-2', scope: 'cluster' as const, cluster: 'app1', owner: 'alice@h', reason: 'kernel', startedAt: T, expiresAt: T + 600_000 };
  const t = topologyView(cluster, monitor({ maintenance: () => ({ cluster: 'app1', clusterWide: [hold], servers: { db3: [entry] }, serversInMaintenance: ['db3'] }) }), T);
  assert.equal(t.maintenance.held, true);
  assert.deepEqual(t.maintenance.entries.map((e) => [e.id, e.active, e.remaining_seconds]), [['mnt-2', true, 600], ['mnt-1', true, 3600]]);
  assert.equal(t.servers.find((s) => s.name === 'db3')?.maintenance?.reason, 'disk swap');
  assert.equal(t.servers.find((s) => s.name === 'db2')?.maintenance, null);
});

test('the plan: the candidate and why, or why none; rejected and excluded servers; each survivor\'s steps; the guard', () => {
  const c = (pos: number): { file: string; pos: number } => ({ file: 'mysql-bin.000007', pos });
  const fp: FailoverPlan = {
    version: 1,
    cluster: 'app1',
    deadMaster: 'db1',
    basis: 'observed',
    at: T,
    mode: 'position',
    flavor: 'mariadb',
    ok: true,
    survivors: ['db2', 'db3', 'db4'],
    excluded: [
      { server: 'db0', code: 'failed_old_master', reason: 'old master of an earlier failover', blocking: false, scope: 'failover' },
      { server: 'db4', code: 'in_maintenance', reason: 'in maintenance: kernel upgrade', blocking: false, scope: 'candidate' },
    ],
    choice: { ok: true, chosen: 'db2', rule: 'latest_candidate', reason: 'the latest replica among candidate_master', latest: ['db2'], rejected: [{ name: 'db3', reason: 'no_master is set' }] },
    latest: { names: ['db2'], coord: c(900), gtid: '' },
    sources: { relay: ['db2'], gtid: [] },
    newMaster: { name: 'db2', standing: 'equal', holds: { coord: c(900), gtid: '' }, steps: [], binlogHasHistory: false },
    replicas: [
      { name: 'db3', standing: 'behind', holds: { coord: c(700), gtid: '' }, delay: 0, deferred: false, steps: [{ kind: 'relay_diff', source: 'db2', from: c(700) }, { kind: 'repoint_position' }] },
      { name: 'db4', standing: 'equal', holds: { coord: c(900), gtid: '' }, delay: 3600, deferred: true, steps: [{ kind: 'apply_own_relay_log', liftDelay: false }, { kind: 'repoint_position', keepDelay: 3600 }] },
    ],
    salvage: { planned: true, reason: "db1's host answers over SSH" },
    expectedLoss: { text: 'nothing that db2 did not receive; the binlog tail of db1 is salvaged over SSH', exact: false },
    notes: ['log_slave_updates is OFF on db2: the others are repointed by binlog positions'],
  };
  const p = planView('app1', { plan: fp, inspectedAt: T }, { allowed: true });
  assert.deepEqual([p.master, p.would_promote, p.rule, p.because, p.based_on_inspection_at], ['db1', 'db2', 'latest_candidate', 'the latest replica among candidate_master', '2023-11-14T22:13:20Z']);
  assert.deepEqual(p.rejected, [{ name: 'db3', reason: 'no_master is set' }, { name: 'db4', reason: 'in maintenance: kernel upgrade' }]);
  assert.deepEqual(p.excluded, [{ name: 'db0', reason: 'old master of an earlier failover' }]);
  assert.deepEqual(p.latest, ['db2']);
  assert.match(p.expected_loss ?? '', /salvaged/);
  assert.deepEqual(p.salvage, { planned: true, reason: "db1's host answers over SSH" });
  assert.deepEqual(
    p.servers.map((s) => [s.name, s.role, s.standing, s.holds, s.delay, s.deferred, s.steps]),
    [
      ['db2', 'new_master', 'equal', 'mysql-bin.000007:900', 0, false, []],
      ['db3', 'replica', 'behind', 'mysql-bin.000007:700', 0, false, ["apply the events after mysql-bin.000007:700 from db2's relay logs", 'replicate from db2 at its binlog position']],
      ['db4', 'replica', 'equal', 'mysql-bin.000007:900', 3600, true, ['apply its own relay log', 'replicate from db2 at its binlog position (keeping its 3600 s delay)']],
    ],
  );
  assert.deepEqual(p.notes, fp.notes);

  const refused = planView('app1', { plan: { ...fp, ok: false, refusal: { code: 'no_candidate', reason: 'no replica may be promoted' }, newMaster: undefined, choice: { ok: false, reason: 'no replica may be promoted', latest: ['db2'], rejected: [] } }, inspectedAt: T }, { allowed: true });
  assert.deepEqual([refused.would_promote, refused.because, refused.rule], [null, 'no replica may be promoted', null]);
  assert.deepEqual(refused.servers.map((s) => s.role), ['replica', 'replica']);

  const none = planView('app1', { reason: 'the cluster has not been inspected yet', master: 'db1' }, { allowed: false, reason: 'flapping guard', blocking: 'f1' });
  assert.equal(none.would_promote, null);
  assert.equal(none.because, 'the cluster has not been inspected yet');
  assert.deepEqual(none.automatic_failover, { allowed: false, reason: 'flapping guard', blocking: 'f1' });
  assert.equal(none.based_on_inspection_at, null);
  assert.deepEqual([none.servers, none.expected_loss], [[], null]);
});
