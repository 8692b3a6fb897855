import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildStart, describeEntry, entriesToStop, foldMaintenance, formatDuration, maintenanceOf, MAX_MAINTENANCE_MS, mayFailOverAutomatically, parseDuration, type MaintenanceRecord,
} from '../../src/domain/maintenance.js';

const H = 3600_000;
const known = { clusters: [{ name: 'app1', servers: ['db1', 'db2', 'db3'] }, { name: 'app2', servers: ['x1', 'x2'] }] };
const start = (id: string, at: number, rest: Partial<Extract<MaintenanceRecord, { type: 'maintenance_start' }>>): MaintenanceRecord => ({ type: 'maintenance_start', id, at, scope: 'cluster', cluster: 'app1', owner: 'alice', reason: 'kernel upgrade', expiresAt: at + H, ...rest });

test('durations: units required, combined units, bad text refused', () => {
  assert.deepEqual(parseDuration('90s'), { ok: true, ms: 90_000 });
  assert.deepEqual(parseDuration('30m'), { ok: true, ms: 1_800_000 });
  assert.deepEqual(parseDuration('1h30m'), { ok: true, ms: 5_400_000 });
  assert.deepEqual(parseDuration(' 2H '), { ok: true, ms: 7_200_000 });
  assert.deepEqual(parseDuration('1d'), { ok: true, ms: 86_400_000 });
  assert.deepEqual(parseDuration('1.5h'), { ok: true, ms: 5_400_000 });
  for (const bad of ['', '10', 'forever', '0s', '-5m', '1y', '5 m']) assert.equal(parseDuration(bad).ok, false, bad);
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(45_000), '45s');
  assert.equal(formatDuration(90_061_000), '1d1h1m');
});

test('start: reason and expiry required, bounded, scope checked against the configuration', () => {
  const ok = buildStart({ scope: 'cluster', cluster: 'app1', owner: 'alice', reason: 'kernel upgrade', duration: '2h' }, known, 'm1', 1000);
  assert.deepEqual(ok, { ok: true, record: { type: 'maintenance_start', id: 'm1', at: 1000, scope: 'cluster', cluster: 'app1', owner: 'alice', reason: 'kernel upgrade', expiresAt: 1000 + 2 * H } });
  const noReason = buildStart({ scope: 'cluster', cluster: 'app1', owner: 'alice', reason: '  ', duration: '2h' }, known, 'm1', 0);
  assert.match(noReason.ok ? '' : noReason.message, /reason is required/);
  const noExpiry = buildStart({ scope: 'cluster', cluster: 'app1', owner: 'alice', reason: 'r', duration: 'forever' }, known, 'm1', 0);
  assert.match(noExpiry.ok ? '' : noExpiry.message, /not a duration/);
  const tooLong = buildStart({ scope: 'cluster', cluster: 'app1', owner: 'alice', reason: 'r', duration: '8d' }, known, 'm1', 0);
  assert.match(tooLong.ok ? '' : tooLong.message, /longer than the 7d/);
  assert.equal(buildStart({ scope: 'cluster', cluster: 'app1', owner: 'a', reason: 'r', duration: MAX_MAINTENANCE_MS }, known, 'm', 0).ok, true);
  const badCluster = buildStart({ scope: 'cluster', cluster: 'nope', owner: 'a', reason: 'r', duration: '1h' }, known, 'm', 0);
  assert.match(badCluster.ok ? '' : badCluster.message, /unknown cluster nope \(known: app1, app2\)/);
  const badServer = buildStart({ scope: 'server', cluster: 'app1', server: 'x1', owner: 'a', reason: 'r', duration: '1h' }, known, 'm', 0);
  assert.match(badServer.ok ? '' : badServer.message, /unknown server x1 in cluster app1/);
  const global = buildStart({ scope: 'global', owner: 'a', reason: 'network work', duration: '1h' }, known, 'g', 0);
  assert.equal(global.ok && global.record.cluster, undefined);
});

test('a cluster in maintenance is not failed over automatically until stop or expiry', () => {
  const recs = [start('m1', 0, {})];
  const entries = foldMaintenance(recs);
  const held = mayFailOverAutomatically(entries, 'app1', 10 * 60_000);
  assert.equal(held.allowed, false);
  assert.match(held.allowed ? '' : held.reason, /^cluster app1 is in maintenance: cluster app1 by alice \("kernel upgrade"\), until 1970-01-01T01:00:00Z, 50m left \[m1\]$/);
  // Another cluster is not concerned.
  assert.deepEqual(mayFailOverAutomatically(entries, 'app2', 10 * 60_000), { allowed: true });
  // Expiry.
  assert.deepEqual(mayFailOverAutomatically(entries, 'app1', H), { allowed: true });
  // Stop.
  const stopped = foldMaintenance([...recs, { type: 'maintenance_stop', id: 'm1', at: 60_000, by: 'bob' }]);
  assert.deepEqual(mayFailOverAutomatically(stopped, 'app1', 2 * 60_000), { allowed: true });
  assert.match(describeEntry(stopped[0]!, 2 * 60_000), /stopped 1970-01-01T00:01:00Z by bob/);
});

test('the global switch holds every cluster; a server entry holds none', () => {
  const entries = foldMaintenance([start('g', 0, { scope: 'global', cluster: undefined }), start('s', 0, { scope: 'server', cluster: 'app2', server: 'x2' })]);
  const a = mayFailOverAutomatically(entries, 'app1', 1000);
  assert.match(a.allowed ? '' : a.reason, /^automatic failover is switched off everywhere/);
  const onlyServer = foldMaintenance([start('s', 0, { scope: 'server', cluster: 'app2', server: 'x2' })]);
  assert.deepEqual(mayFailOverAutomatically(onlyServer, 'app2', 1000), { allowed: true });
  const m = maintenanceOf(entries, 'app2', 1000);
  assert.deepEqual(m.serversInMaintenance, ['x2']);
  assert.equal(m.clusterWide.length, 1);
  assert.deepEqual(maintenanceOf(onlyServer, 'app1', 1000).serversInMaintenance, []);
});

test('stop targets: by scope or id, only active entries; torn or foreign records are skipped', () => {
  const entries = foldMaintenance([
    start('c1', 0, {}),
    start('c2', 0, {}),
    start('old', 0, { expiresAt: 10 }),
    start('s1', 0, { scope: 'server', server: 'db2' }),
    start('g1', 0, { scope: 'global', cluster: undefined }),
    { type: 'begin', id: 'f1' },
    null,
    { type: 'maintenance_start', id: 'torn' },
  ]);
  assert.deepEqual(entries.map((e) => e.id), ['c1', 'c2', 'old', 's1', 'g1']);
  assert.deepEqual(entriesToStop(entries, { scope: 'cluster', cluster: 'app1' }, 1000).map((e) => e.id), ['c1', 'c2']);
  assert.deepEqual(entriesToStop(entries, { scope: 'server', cluster: 'app1', server: 'db2' }, 1000).map((e) => e.id), ['s1']);
  assert.deepEqual(entriesToStop(entries, { scope: 'global' }, 1000).map((e) => e.id), ['g1']);
  assert.deepEqual(entriesToStop(entries, { id: 'old' }, 1000), []);
});
