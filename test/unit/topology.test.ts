import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTopology, hostPatternMatches, type FindingCode } from '../../src/domain/topology.js';
import type { ServerProbe } from '../../src/domain/types.js';
import { healthy, obs, ok, replicaStatus, spec } from '../helpers/observations.js';

const opts = { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false, replUser: 'repl' };

function codes(probes: ServerProbe[], specs = healthy().specs, o = opts): Array<[FindingCode, string | undefined]> {
  return analyzeTopology(specs, probes, o)
    .findings.filter((f) => f.severity === 'error')
    .map((f) => [f.code, f.server]);
}

function modify(name: string, f: (_p: ServerProbe) => ServerProbe): ServerProbe[] {
  return healthy().probes.map((p) => (p.ok && p.obs.name === name ? f(p) : p));
}

test('a healthy topology has a master, two replicas and no errors', () => {
  const { specs, probes } = healthy();
  const a = analyzeTopology(specs, probes, opts);
  assert.equal(a.master, 'db1');
  assert.deepEqual(a.replicas.map((r) => r.name), ['db2', 'db3']);
  assert.equal(a.mode, 'position');
  assert.equal(a.healthy, true, JSON.stringify(a.findings));
});

test('a stopped SQL thread is an error naming the replica and the SQL error', () => {
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { sqlRunning: false, lastSqlErrno: 1062, lastSqlError: "Duplicate entry '1'" }) })));
  const a = analyzeTopology(healthy().specs, probes, opts);
  const f = a.findings.find((x) => x.code === 'sql_thread');
  assert.equal(f?.server, 'db2');
  assert.match(f.message, /1062/);
  assert.equal(a.healthy, false);
});

test('a replica pointing at another replica is wrong_source, or info with multi_tier_slave', () => {
  const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.12') })));
  assert.deepEqual(codes(probes), [['wrong_source', 'db3']]);
  const a = analyzeTopology(healthy().specs, probes, { ...opts, multiTierSlave: true });
  assert.equal(a.healthy, true);
});

test('a replica pointing at a host outside the config is unknown_source', () => {
  const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('10.9.9.9') })));
  assert.deepEqual(codes(probes), [['unknown_source', 'db3']]);
});

test('duplicate server_id names both servers', () => {
  const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 2, { replica: replicaStatus('127.0.0.11') })));
  assert.deepEqual(codes(probes).sort(), [['duplicate_server_id', 'db2'], ['duplicate_server_id', 'db3']]);
});

test('a writable replica is an error', () => {
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { readOnly: false, replica: replicaStatus('127.0.0.11') })));
  assert.deepEqual(codes(probes), [['writable_replica', 'db2']]);
});

test('a server down is unreachable; with ignore_fail only a warning', () => {
  const probes = healthy().probes.map((p): ServerProbe => (p.ok && p.obs.name === 'db3' ? { ok: false, failure: { name: 'db3', host: '127.0.0.13', port: 3306, kind: 'refused', message: 'connection refused', elapsedMs: 1 } } : p));
  assert.deepEqual(codes(probes), [['unreachable', 'db3']]);
  const specs = [spec('db1', '127.0.0.11'), spec('db2', '127.0.0.12'), spec('db3', '127.0.0.13', { ignore_fail: true })];
  assert.equal(analyzeTopology(specs, probes, opts).healthy, true);
});

test('a dead master is still identified from its replicas', () => {
  const probes = healthy().probes.map((p): ServerProbe => (p.ok && p.obs.name === 'db1' ? { ok: false, failure: { name: 'db1', host: '127.0.0.11', port: 3306, kind: 'refused', message: 'connection refused', elapsedMs: 1 } } : p));
  const a = analyzeTopology(healthy().specs, probes, opts);
  assert.equal(a.master, 'db1');
  assert.deepEqual(codes(probes), [['master_unreachable', 'db1']]);
});

test('two servers replicating from nobody are two masters', () => {
  const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { readOnly: false })));
  const c = codes(probes);
  assert.ok(c.some(([code]) => code === 'multiple_masters'), JSON.stringify(c));
});

test('IO thread connecting with an error is reported with the error', () => {
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { ioRunning: 'Connecting', lastIoErrno: 2003, lastIoError: "Can't connect" }) })));
  const a = analyzeTopology(healthy().specs, probes, opts);
  assert.match(a.findings.find((f) => f.code === 'io_thread')!.message, /connecting: error 2003/);
});

test('lag over the limit is an error', () => {
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { secondsBehind: 31 }) })));
  assert.deepEqual(codes(probes), [['lag', 'db2']]);
});

test('mixed GTID and position replication is an error', () => {
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { gtidAutoPosition: true }) })));
  assert.deepEqual(codes(probes), [['gtid_mode_mismatch', undefined]]);
});

test('errant MariaDB GTIDs on a replica are reported', () => {
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { gtid: { enabled: true, executed: '0-2-11', binlogPos: '0-2-11', binlogState: '0-1-10,0-2-11' }, replica: replicaStatus('127.0.0.11') })));
  assert.deepEqual(codes(probes), [['errant_gtid', 'db2']]);
});

test('different replication filters are an error', () => {
  const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.11', { filters: { ...replicaStatus('x').filters, replicateDoDb: 'app' } }) })));
  assert.deepEqual(codes(probes), [['replicate_filter_mismatch', 'db3']]);
});

test('log_bin off on a candidate_master is an error; no promotable replica is an error', () => {
  const specs = [spec('db1', '127.0.0.11'), spec('db2', '127.0.0.12', { candidate_master: true }), spec('db3', '127.0.0.13', { no_master: true })];
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { logBin: false, binlog: undefined, replica: replicaStatus('127.0.0.11') })));
  assert.deepEqual(codes(probes, specs).sort(), [['log_bin_off', 'db2'], ['no_candidate', undefined]]);
});

test('a replication user not allowed from the other hosts is an error', () => {
  const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replicationUsers: ['repl@10.%'], replica: replicaStatus('127.0.0.11') })));
  assert.deepEqual(codes(probes), [['repl_user', 'db2']]);
});

test('host patterns use MySQL wildcards', () => {
  assert.equal(hostPatternMatches('127.%', '127.0.0.12'), true);
  assert.equal(hostPatternMatches('127.0.0._', '127.0.0.1'), true);
  assert.equal(hostPatternMatches('10.%', '127.0.0.12'), false);
  assert.equal(hostPatternMatches('%', 'anything'), true);
  assert.equal(hostPatternMatches('db1.example', 'DB1.example'), true);
});
