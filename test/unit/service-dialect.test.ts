/** The SQL of the scheduled relay-log purge (MHA purge_relay_logs) and MHA's failover advisory lock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Dialect, parseVersion } from '../../src/adapters/mysql/dialect.js';

const maria = new Dialect(parseVersion('10.11.6-MariaDB-0+deb12u1'));
const mysql8 = new Dialect(parseVersion('8.4.3'));

describe('relay-log purge SQL', () => {
  for (const [name, d] of [['MariaDB 10.11', maria], ['MySQL 8.4', mysql8]] as const) {
    it(`${name}: MHA's statements`, () => {
      assert.equal(d.relayLogPurgeQuery(), 'SELECT @@global.relay_log_purge AS Value');
      assert.equal(d.setRelayLogPurge(true), 'SET GLOBAL relay_log_purge = 1');
      assert.equal(d.setRelayLogPurge(false), 'SET GLOBAL relay_log_purge = 0');
      assert.equal(d.flushRelayLogs(), 'FLUSH NO_WRITE_TO_BINLOG RELAY LOGS');
    });
    it(`${name}: the failover advisory lock has MHA's name`, () => {
      assert.deepEqual(d.getFailoverLock(5), { sql: "SELECT GET_LOCK('MHA_Master_High_Availability_Failover', 5) AS Value" });
      assert.equal(d.releaseFailoverLock(), "SELECT RELEASE_LOCK('MHA_Master_High_Availability_Failover') AS Value");
    });
  }
  it('lock timeout is an integer, never injected text', () => {
    assert.deepEqual(maria.getFailoverLock(0), { sql: "SELECT GET_LOCK('MHA_Master_High_Availability_Failover', 0) AS Value" });
    assert.throws(() => maria.getFailoverLock(1.5), /lock timeout/);
    assert.throws(() => maria.getFailoverLock(-1), /lock timeout/);
    assert.throws(() => maria.getFailoverLock(Number.NaN), /lock timeout/);
  });
  it('parses GET_LOCK results as MySQL and MariaDB return them', () => {
    assert.equal(maria.parseLockResult(1), 'acquired');
    assert.equal(maria.parseLockResult('1'), 'acquired');
    assert.equal(maria.parseLockResult(1n), 'acquired');
    assert.equal(maria.parseLockResult(0), 'busy');
    assert.equal(maria.parseLockResult(null), 'error');
  });
});
