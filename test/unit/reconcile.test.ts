import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcileFailed } from '../../src/domain/reconcile.js';
import { failedServers, summarize, type JournalRecord } from '../../src/domain/guard.js';
import { obs, ok, replicaStatus, spec } from '../helpers/observations.js';
import type { ServerProbe } from '../../src/domain/types.js';

// server1 is 10.91.0.11 in the config, with a host name: replicas name it by ip.
const specs = [spec('server1', '10.91.0.11', { hostname: 'server1.example' }), spec('server2', '10.91.0.12'), spec('server3', '10.91.0.13')];
const down = (name: string): ServerProbe => ({ ok: false, failure: { name, host: name, port: 3306, kind: 'refused', message: 'refused', elapsedMs: 1 } });

test('a stale journal on a cluster rebuilt around the failed server: adopted, not fenced', () => {
  const probes = [ok(obs('server1', '10.91.0.11', 1, { readOnly: false })), ok(obs('server2', '10.91.0.12', 2, { replica: replicaStatus('10.91.0.11') })), ok(obs('server3', '10.91.0.13', 3, { replica: replicaStatus('10.91.0.11') }))];
  const [r] = reconcileFailed(['server1'], specs, probes);
  assert.equal(r!.action, 'adopt');
  assert.match(r!.reason, /rebuilt around server1: server2, server3 replicate from it/);
});

test('the old master back writable while the new one is the writable master: fenced', () => {
  const probes = [ok(obs('server1', '10.91.0.11', 1, { readOnly: false })), ok(obs('server2', '10.91.0.12', 2, { readOnly: false })), ok(obs('server3', '10.91.0.13', 3, { replica: replicaStatus('10.91.0.12') }))];
  const [r] = reconcileFailed(['server1'], specs, probes);
  assert.deepEqual([r!.action, r!.writable], ['fence', true]);
  assert.match(r!.reason, /server2 is the cluster's writable master/);
});

test('replicas follow another server (its master read-only or down): fenced', () => {
  const probes = [ok(obs('server1', '10.91.0.11', 1, { readOnly: false })), down('server2'), ok(obs('server3', '10.91.0.13', 3, { replica: replicaStatus('10.91.0.12') }))];
  assert.equal(reconcileFailed(['server1'], specs, probes)[0]!.action, 'fence');
});

test('healthy replica of the master: rejoined; down: left alone', () => {
  const probes = [ok(obs('server1', '10.91.0.11', 1, { replica: replicaStatus('10.91.0.12') })), ok(obs('server2', '10.91.0.12', 2, { readOnly: false }))];
  // server2 is writable, so server1 must be read-only: "fence" ensures it (it is already a replica).
  assert.equal(reconcileFailed(['server1'], specs, probes)[0]!.action, 'fence');
  const probes2 = [ok(obs('server1', '10.91.0.11', 1, { replica: replicaStatus('10.91.0.12') })), ok(obs('server2', '10.91.0.12', 2, { readOnly: true }))];
  assert.equal(reconcileFailed(['server1'], specs, probes2)[0]!.action, 'rejoin');
  assert.equal(reconcileFailed(['server1'], specs, [down('server1')])[0]!.action, 'leave');
});

test('demoted from the moment fencing began: a failure after promotion keeps the old master failed; adopted ends it', () => {
  const recs: JournalRecord[] = [
    { type: 'begin', id: 'f1', cluster: 'c', at: 0, deadMaster: 'server1', trigger: 'auto', reason: 'dead' },
    { type: 'demoted', id: 'f1', at: 1, server: 'server1' },
    { type: 'promoted', id: 'f1', at: 2, server: 'server2' },
  ];
  // The manager died after promotion: unfinished, yet server1 is failed and server2 the new master.
  assert.deepEqual(failedServers(summarize(recs)), ['server1']);
  assert.equal(summarize(recs)[0]!.newMaster, 'server2');
  const failed: JournalRecord = { type: 'end', id: 'f1', at: 3, outcome: 'failed', oldMaster: 'server1', durationMs: 3, reason: 'x' };
  assert.deepEqual(failedServers(summarize([...recs, failed])), ['server1']);
  assert.deepEqual(failedServers(summarize([...recs, failed, { type: 'adopted', id: 'f1', at: 4, server: 'server1', reason: 'rebuilt' }])), []);
  // A failed failover before any fencing demotes nobody.
  assert.deepEqual(failedServers(summarize([recs[0]!, failed])), []);
});

test('after a failure after promotion: the new master still has its stopped replica config, the others still point at the old one: fenced', () => {
  const stopped = (src: string) => replicaStatus(src, { ioRunning: 'No', sqlRunning: false });
  const probes = [
    ok(obs('server1', '10.91.0.11', 1, { readOnly: false })),
    ok(obs('server2', '10.91.0.12', 2, { readOnly: false, replica: stopped('10.91.0.11') })),
    ok(obs('server3', '10.91.0.13', 3, { replica: stopped('10.91.0.11') })),
  ];
  const [r] = reconcileFailed(['server1'], specs, probes);
  assert.deepEqual([r!.action, r!.writable], ['fence', true], r!.reason);
});

test('replicas follow the failed server and another is writable without followers: two writable masters, fence neither', () => {
  const probes = [ok(obs('server1', '10.91.0.11', 1, { readOnly: false })), ok(obs('server2', '10.91.0.12', 2, { readOnly: false })), ok(obs('server3', '10.91.0.13', 3, { replica: replicaStatus('10.91.0.11') }))];
  const [r] = reconcileFailed(['server1'], specs, probes);
  assert.equal(r!.action, 'leave');
  assert.match(r!.reason, /two writable masters/);
});

test('replicas whose IO thread a failover stopped follow nobody', () => {
  const probes = [
    ok(obs('server1', '10.91.0.11', 1, { readOnly: false })),
    ok(obs('server2', '10.91.0.12', 2, { readOnly: false, replica: replicaStatus('10.91.0.11', { ioRunning: 'No' }) })),
    ok(obs('server3', '10.91.0.13', 3, { replica: replicaStatus('10.91.0.11', { ioRunning: 'No', sqlRunning: true }) })),
  ];
  assert.equal(reconcileFailed(['server1'], specs, probes)[0]!.action, 'fence');
});
