import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeSemiSync, lostWritesAdvice, semiSyncFindings } from '../../src/domain/semisync.js';
import { analyzeTopology } from '../../src/domain/topology.js';
import { obs, replicaStatus, spec } from '../helpers/observations.js';
import type { SemiSyncState } from '../../src/domain/types.js';

const on: SemiSyncState = { sourceEnabled: true, replicaEnabled: true, sourceActive: true, sourceClients: 2, waitPoint: 'AFTER_SYNC', waitNoReplica: false, timeoutMs: 10000 };
const off: SemiSyncState = { sourceEnabled: false, replicaEnabled: false, sourceActive: false, sourceClients: 0 };

test('every server gets its semi-sync state in one line', () => {
  assert.equal(describeSemiSync(on, 'master'), 'semi-sync source ON (AFTER_SYNC, wait_no_slave OFF, timeout 10000 ms), active, 2 semi-sync client(s); replica ON');
  assert.equal(describeSemiSync(off, 'replica'), 'semi-sync source OFF; replica OFF');
  const a = analyzeTopology(
    [spec('db1', '10.0.0.1'), spec('db2', '10.0.0.2')],
    [{ ok: true, obs: obs('db1', '10.0.0.1', 1, { semiSync: on }) }, { ok: true, obs: obs('db2', '10.0.0.2', 2, { readOnly: true, semiSync: { ...on, sourceActive: false, sourceClients: 0 }, replica: replicaStatus('10.0.0.1') }) }],
    { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false },
  );
  const lines = a.findings.filter((f) => f.code === 'semi_sync' && f.severity === 'info').map((f) => `${f.server}: ${f.message}`);
  assert.ok(lines.includes('db2: semi-sync source ON (AFTER_SYNC, wait_no_slave OFF, timeout 10000 ms); replica ON'), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('db1: semi-sync source ON')), lines.join('\n'));
});

test('the trap: master side ON on a replica with wait_no_slave ON stalls its SQL thread', () => {
  const r = obs('db2', '10.0.0.2', 2, { readOnly: true, logBin: true, logSlaveUpdates: true, semiSync: { ...on, waitNoReplica: true, sourceActive: false, sourceClients: 0 }, replica: replicaStatus('10.0.0.1') });
  const f = semiSyncFindings(undefined, [r]).filter((x) => x.severity === 'warning');
  assert.equal(f.length, 1);
  assert.match(f[0]!.message, /rpl_semi_sync_master_enabled=ON on this replica with rpl_semi_sync_master_wait_no_slave=ON: .* waits 10000 ms .* replication stalls/);
  assert.match(f[0]!.hint ?? '', /rpl_semi_sync_master_wait_no_slave=OFF/);
  // wait_no_slave OFF, or nothing logged by its SQL thread: no stall.
  assert.equal(semiSyncFindings(undefined, [{ ...r, semiSync: { ...r.semiSync, waitNoReplica: false } }]).filter((x) => x.severity === 'warning').length, 0);
  assert.equal(semiSyncFindings(undefined, [{ ...r, logSlaveUpdates: false }]).filter((x) => x.severity === 'warning').length, 0);
});

test('AFTER_COMMIT on the master is a warning', () => {
  const m = obs('db1', '10.0.0.1', 1, { semiSync: { ...on, waitPoint: 'AFTER_COMMIT' } });
  assert.match(semiSyncFindings(m, []).find((f) => f.severity === 'warning')?.message ?? '', /AFTER_COMMIT/);
});

test('after a failover that lost writes with asynchronous replication: what AFTER_SYNC would have done, and how', () => {
  const last = { id: 'app1-x', lost: '3 transaction(s): 0-1-21,0-1-22,0-1-23 (as of ...)', at: '2026-11-30T10:00:00Z' };
  const f = lostWritesAdvice(last, obs('db2', '10.0.0.2', 2, { semiSync: off }));
  assert.match(f?.message ?? '', /lost transactions with asynchronous replication: 3 transaction\(s\).*AFTER_SYNC would have prevented it/);
  assert.match(f?.hint ?? '', /rpl_semi_sync_master_wait_point=AFTER_SYNC/);
  assert.match(lostWritesAdvice(last, obs('db2', '10.0.0.2', 2, { version: { flavor: 'mysql', major: 8, minor: 4, patch: 0, raw: '8.4.0' }, semiSync: off }))?.hint ?? '', /rpl_semi_sync_source_enabled=ON/);
  assert.equal(lostWritesAdvice({ ...last, lost: 'none (as of ...)' }, obs('db2', '10.0.0.2', 2, { semiSync: off })), undefined);
  assert.equal(lostWritesAdvice(last, obs('db2', '10.0.0.2', 2, { semiSync: on })), undefined);
});
