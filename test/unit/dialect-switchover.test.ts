import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dialectFor, parseVersion } from '../../src/adapters/mysql/dialect.js';

const maria = dialectFor(parseVersion('10.11.19-MariaDB-0+deb12u1-log'));
const mysql80 = dialectFor(parseVersion('8.0.36'));
const mysql57 = dialectFor(parseVersion('5.7.44-log'));

describe('switchover statements', () => {
  test('parseProcess reads a processlist row as mysql2 returns it (bigint-ish ids, NULL info)', () => {
    const p = maria.parseProcess({ id: 42, user: 'app', host: '127.0.0.1:51234', db: null, command: 'Query', time: 3, state: 'User sleep', info: 'INSERT INTO t SELECT SLEEP(5)' });
    assert.deepEqual(p, { id: 42, user: 'app', host: '127.0.0.1:51234', db: null, command: 'Query', time: 3, state: 'User sleep', info: 'INSERT INTO t SELECT SLEEP(5)' });
    const idle = maria.parseProcess({ id: '7', user: 'app', host: 'x', db: 'shop', command: 'Sleep', time: null, state: '', info: null });
    assert.equal(idle.id, 7);
    assert.equal(idle.time, 0);
    assert.equal(idle.info, null);
    assert.throws(() => maria.parseProcess({ id: null, user: 'x', host: 'x', command: 'Sleep' }), /processlist id/);
  });

  test('parseProcess also accepts SHOW PROCESSLIST column names', () => {
    const p = mysql80.parseProcess({ Id: 5, User: 'root', Host: 'localhost', db: null, Command: 'Query', Time: 0, State: 'init', Info: 'SHOW PROCESSLIST' });
    assert.equal(p.id, 5);
    assert.equal(p.command, 'Query');
    assert.equal(p.info, 'SHOW PROCESSLIST');
  });

  test('processlistQuery has the columns parseProcess reads', () => {
    for (const c of ['id', 'user', 'host', 'db', 'command', 'time', 'state', 'info']) assert.match(maria.processlistQuery(), new RegExp(` AS ${c}\\b`));
  });

  test('lock_wait_timeout: whole seconds ≥ 1 (0 would mean no wait at all)', () => {
    assert.equal(maria.setSessionLockWaitTimeout(5), 'SET SESSION lock_wait_timeout = 5');
    assert.equal(maria.setSessionLockWaitTimeout(0.3), 'SET SESSION lock_wait_timeout = 1');
    assert.equal(mysql80.setSessionLockWaitTimeout(2.5), 'SET SESSION lock_wait_timeout = 3');
    assert.throws(() => maria.setSessionLockWaitTimeout(0));
    assert.throws(() => maria.setSessionLockWaitTimeout(Number.NaN));
  });

  test('readOnlyQuery: super_read_only where it exists, NULL on MariaDB', () => {
    assert.equal(maria.readOnlyQuery(), 'SELECT @@global.read_only AS read_only, NULL AS super_read_only');
    assert.equal(mysql57.readOnlyQuery(), 'SELECT @@global.read_only AS read_only, @@global.super_read_only AS super_read_only');
    assert.deepEqual(maria.parseReadOnly({ read_only: 1, super_read_only: null }), { readOnly: true, superReadOnly: null });
    assert.deepEqual(mysql80.parseReadOnly({ read_only: 0, super_read_only: 0 }), { readOnly: false, superReadOnly: false });
    assert.deepEqual(mysql80.parseReadOnly({ read_only: '1', super_read_only: 'ON' }), { readOnly: true, superReadOnly: true });
  });

  test('binlogGtidQuery: the binlog GTID position (MariaDB gtid_binlog_pos, MySQL gtid_executed), squashed', () => {
    assert.equal(maria.binlogGtidQuery(), 'SELECT @@global.gtid_binlog_pos AS gtid');
    assert.equal(mysql80.binlogGtidQuery(), 'SELECT @@global.gtid_executed AS gtid');
    assert.equal(mysql80.parseBinlogGtid({ gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2' }), '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2');
    assert.equal(maria.parseBinlogGtid({ gtid: '0-1-500' }), '0-1-500');
    assert.equal(maria.parseBinlogGtid(undefined), '');
    assert.equal(maria.parseBinlogGtid({ gtid: null }), '');
  });
});
