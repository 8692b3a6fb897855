import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTopology, replicationTimingFinding } from '../../src/domain/topology.js';
import { obs, replicaStatus, spec } from '../helpers/observations.js';

const replica = (timing: { netTimeout?: number; heartbeatPeriod?: number } | undefined, version?: { flavor: 'mysql' | 'mariadb'; major: number; minor: number; patch: number; raw: string }) =>
  obs('db2', '10.0.0.2', 2, { replica: replicaStatus('10.0.0.1'), readOnly: true, replicationTiming: timing, ...(version ? { version } : {}) });

test('production defaults (slave_net_timeout=60, heartbeat 30 s): a warning saying what to set', () => {
  const f = replicationTimingFinding(replica({ netTimeout: 60, heartbeatPeriod: 30 }), { pingInterval: 1 });
  assert.ok(f);
  assert.equal(f.severity, 'warning');
  assert.equal(f.code, 'replication_timing');
  assert.match(f.message, /heartbeats every 30 s, slave_net_timeout=60 s/);
  assert.match(f.message, /for up to 60 s/);
  assert.equal(f.hint, 'on db2: SET GLOBAL slave_net_timeout=10 (and slave_net_timeout=10 under [mysqld] in my.cnf); STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1; START SLAVE');
});

test('quick settings are fine; ping_interval scales the target', () => {
  assert.equal(replicationTimingFinding(replica({ netTimeout: 10, heartbeatPeriod: 1 }), { pingInterval: 1 }), undefined);
  assert.equal(replicationTimingFinding(replica({ netTimeout: 20, heartbeatPeriod: 5 }), { pingInterval: 3 }), undefined);
  assert.ok(replicationTimingFinding(replica({ netTimeout: 10, heartbeatPeriod: 0 }), { pingInterval: 1 }), 'heartbeats off');
  assert.equal(replicationTimingFinding(replica(undefined), { pingInterval: 1 }), undefined, 'unknown: no claim');
});

test('MySQL 8.0.26+: replica_net_timeout and CHANGE REPLICATION SOURCE; second route off is said', () => {
  const f = replicationTimingFinding(replica({ netTimeout: 60, heartbeatPeriod: 30 }, { flavor: 'mysql', major: 8, minor: 0, patch: 36, raw: '8.0.36' }), { pingInterval: 1, secondRoute: false });
  assert.ok(f);
  assert.match(f.hint!, /SET GLOBAL replica_net_timeout=10 .*STOP REPLICA; CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD=1; START REPLICA/);
  assert.match(f.message, /with second_route off, mhats waits for it/);
});

test('analyzeTopology reports it per replica, as a warning (the topology stays healthy)', () => {
  const a = analyzeTopology(
    [spec('db1', '10.0.0.1'), spec('db2', '10.0.0.2')],
    [{ ok: true, obs: obs('db1', '10.0.0.1', 1) }, { ok: true, obs: replica({ netTimeout: 60, heartbeatPeriod: 30 }) }],
    { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false, pingInterval: 1 },
  );
  assert.ok(a.findings.some((f) => f.code === 'replication_timing' && f.server === 'db2'), JSON.stringify(a.findings));
});
