import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errantReport, errantUnion, MARIADB_INJECT_EXPLANATION, singleGtids } from '../../src/domain/errant.js';
import { analyzeTopology } from '../../src/domain/topology.js';
import { dialectFor, parseVersion } from '../../src/adapters/mysql/dialect.js';
import { obs, replicaStatus, spec } from '../helpers/observations.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
const MYSQL = { flavor: 'mysql' as const, major: 8, minor: 0, patch: 36, raw: '8.0.36' };

function mysqlCluster(): ReturnType<typeof analyzeTopology> {
  const specs = [spec('db1', '10.0.0.1'), spec('db2', '10.0.0.2'), spec('db3', '10.0.0.3')];
  const m = obs('db1', '10.0.0.1', 1, { version: MYSQL, serverUuid: U1, gtid: { enabled: true, executed: `${U1}:1-100` } });
  const r2 = obs('db2', '10.0.0.2', 2, { version: MYSQL, serverUuid: U2, readOnly: true, gtid: { enabled: true, executed: `${U1}:1-100,${U2}:1-3` }, replica: replicaStatus('10.0.0.1', { gtidAutoPosition: true }) });
  const r3 = obs('db3', '10.0.0.3', 3, { version: MYSQL, readOnly: true, gtid: { enabled: true, executed: `${U1}:1-100` }, replica: replicaStatus('10.0.0.1', { gtidAutoPosition: true }) });
  return analyzeTopology(specs, [{ ok: true, obs: m }, { ok: true, obs: r2 }, { ok: true, obs: r3 }], { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false });
}

test('errant GTIDs per server, with a count for MySQL sets', () => {
  const r = errantReport(mysqlCluster());
  assert.equal(r.master, 'db1');
  assert.deepEqual(r.servers, [{ server: 'db2', errant: `${U2}:1-3`, count: 3 }]);
});

test('the GTIDs an empty-transaction repair injects: the union minus what the master has, capped', () => {
  const r = errantReport(mysqlCluster());
  const u = errantUnion(r, `${U1}:1-100,${U2}:2`);
  const l = singleGtids(u, 10);
  assert.deepEqual(l, { ok: true, gtids: [`${U2}:1`, `${U2}:3`] });
  const capped = singleGtids(errantUnion(r, ''), 2);
  assert.match(capped.ok ? '' : capped.reason, /3 errant transactions .* more than 2/);
});

test('the dialect: one empty transaction per GTID on MySQL; MariaDB refuses', () => {
  const my = dialectFor(parseVersion('8.0.36'));
  assert.deepEqual(my.injectEmptyTransaction(`${U2.toUpperCase()}:7`), [`SET GTID_NEXT = '${U2}:7'`, 'BEGIN', 'COMMIT', "SET GTID_NEXT = 'AUTOMATIC'"]);
  assert.throws(() => my.injectEmptyTransaction(`${U2}:1-3`), /not a single MySQL GTID/);
  assert.throws(() => my.injectEmptyTransaction(`x'; DROP TABLE t; --:1`), /not a single MySQL GTID/);
  const maria = dialectFor(parseVersion('10.11.6-MariaDB'));
  assert.throws(() => maria.injectEmptyTransaction('0-2-5'), /positions .* not sets/);
  assert.match(MARIADB_INJECT_EXPLANATION.join(' '), /reseed the replica/);
});

test('the dialect: SHOW BINLOG EVENTS pages, and their rows', () => {
  const d = dialectFor(parseVersion('10.11.6-MariaDB'));
  assert.deepEqual(d.showBinlogEvents('mysql-bin.000003', 1234, 2000), { sql: 'SHOW BINLOG EVENTS IN ? FROM 1234 LIMIT 2000', values: ['mysql-bin.000003'] });
  assert.throws(() => d.showBinlogEvents("x' OR 1", 4, 10), /invalid binlog file name/);
  assert.deepEqual(d.parseBinlogEvent({ Log_name: 'mysql-bin.000003', Pos: 1234, Event_type: 'Gtid', Server_id: 1, End_log_pos: 1276, Info: 'BEGIN GTID 0-1-21' }), { file: 'mysql-bin.000003', pos: 1234, type: 'Gtid', serverId: 1, endPos: 1276, info: 'BEGIN GTID 0-1-21' });
});
