import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialectFor, parseVersion } from '../../src/adapters/mysql/dialect.js';

const maria = dialectFor(parseVersion('10.11.6-MariaDB-0+deb12u1-log'));
const my80 = dialectFor(parseVersion('8.0.36'));
const my57 = dialectFor(parseVersion('5.7.44-log'));
const my84 = dialectFor(parseVersion('8.4.2'));

const mariaRow = (over: Record<string, unknown> = {}) => ({
  Connection_name: '',
  Master_Host: '10.0.0.1',
  Master_Port: 3306,
  Master_User: 'repl',
  Slave_IO_Running: 'Yes',
  Slave_SQL_Running: 'Yes',
  Master_Log_File: 'mysql-bin.000003',
  Read_Master_Log_Pos: 1234,
  Relay_Master_Log_File: 'mysql-bin.000003',
  Exec_Master_Log_Pos: 1234,
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Slave_received_heartbeats: 17,
  Slave_heartbeat_period: '30.000',
  ...over,
});

test('MariaDB: SHOW ALL SLAVES STATUS gives the status and the heartbeat counter in one row (default connection)', () => {
  assert.deepEqual(maria.witnessQueries(), ['SHOW ALL SLAVES STATUS']);
  const w = maria.parseWitness([[mariaRow({ Connection_name: 'other', Slave_received_heartbeats: 99 }), mariaRow()]]);
  assert.equal(w.heartbeats, 17);
  assert.equal(w.heartbeatPeriod, 30);
  assert.equal(w.status?.ioRunning, 'Yes');
  assert.deepEqual(w.status?.read, { file: 'mysql-bin.000003', pos: 1234 });
  assert.deepEqual(maria.parseWitness([[]]), {});
});

test('MySQL: SHOW REPLICA STATUS plus performance_schema (heartbeats, how long ago something arrived, by the replica clock)', () => {
  const q = my80.witnessQueries();
  assert.equal(q[0], 'SHOW REPLICA STATUS');
  assert.match(q[1]!, /COUNT_RECEIVED_HEARTBEATS/);
  assert.match(q[1]!, /LAST_QUEUED_TRANSACTION_END_QUEUE_TIMESTAMP/);
  assert.match(q[1]!, /NOW\(6\)/);
  assert.doesNotMatch(my57.witnessQueries()[1]!, /LAST_QUEUED/, '5.7 has no queued-transaction timestamps');
  assert.equal(my57.witnessQueries()[0], 'SHOW SLAVE STATUS');
  assert.equal(my84.witnessQueries()[0], 'SHOW REPLICA STATUS');
  const status = { Channel_Name: '', Source_Host: 'db1', Source_Port: 3306, Replica_IO_Running: 'Connecting', Replica_SQL_Running: 'Yes', Last_IO_Errno: 2003, Read_Source_Log_Pos: 5, Source_Log_File: 'b.1' };
  const w = my80.parseWitness([[status], [{ heartbeats: '42', received_ago_us: '1500000', heartbeat_period: '30.000' }]]);
  assert.equal(w.heartbeats, 42);
  assert.equal(w.receivedAgoMs, 1500);
  assert.equal(w.heartbeatPeriod, 30);
  assert.equal(w.status?.ioRunning, 'Connecting');
  assert.equal(w.status?.lastIoErrno, 2003);
  // performance_schema off: the status alone still counts; nothing received yet: no age.
  assert.equal(my80.parseWitness([[status], undefined]).heartbeats, undefined);
  assert.equal(my80.parseWitness([[status], [{ heartbeats: 0, received_ago_us: null, heartbeat_period: 30 }]]).receivedAgoMs, undefined);
});

test('replication timing for check-repl: net timeout variable per version', () => {
  assert.match(maria.replicationTimingQuery(), /@@global\.slave_net_timeout AS net_timeout/);
  assert.match(my80.replicationTimingQuery(), /@@global\.replica_net_timeout AS net_timeout/);
  assert.match(my57.replicationTimingQuery(), /@@global\.slave_net_timeout/);
  assert.match(my80.replicationTimingQuery(), /HEARTBEAT_INTERVAL/);
});
