import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Dialect,
  dialectFor,
  parseVersion,
  describeSql,
  defaultChannelRow,
  variableRows,
  versionAtLeast,
  type Sql,
  HEALTH_CHECK_INSERT,
  HEALTH_CHECK_SELECT,
  HEALTH_CHECK_SETUP,
} from '../../src/adapters/mysql/dialect.js';
import { Secret } from '../../src/domain/secret.js';
import { MARIADB_1011_ROW } from '../fixtures/replica-status.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

/** Same server after CHANGE MASTER TO a dead port (real capture): IO thread Connecting, empty file, NULL lag. */
const MARIADB_1011_CONNECTING: Record<string, unknown> = {
  ...MARIADB_1011_ROW,
  Slave_IO_State: 'Connecting to master',
  Master_Port: 23399,
  Master_Log_File: '',
  Read_Master_Log_Pos: 4,
  Relay_Log_File: 'relay-bin.000001',
  Relay_Log_Pos: 4,
  Relay_Master_Log_File: '',
  Slave_IO_Running: 'Connecting',
  Exec_Master_Log_Pos: 4,
  Seconds_Behind_Master: null,
  Last_IO_Errno: 2003,
  Last_IO_Error:
    "error connecting to master 'repl@127.0.0.1:23399' - retry-time: 5  maximum-retries: 100000  message: Can't connect to server on '127.0.0.1' (111 \"Connection refused\")",
};

const UUID_A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID_B = 'b5d7a1c2-0000-11ef-8a1b-0242ac120002';

/** MySQL 5.7 SHOW SLAVE STATUS (column list of the 5.7 manual), GTID replica with a SQL error. */
const MYSQL_57_ROW: Record<string, unknown> = {
  Slave_IO_State: 'Waiting for master to send event',
  Master_Host: 'db1.example',
  Master_User: 'repl',
  Master_Port: 3306,
  Connect_Retry: 60,
  Master_Log_File: 'mysql-bin.000123',
  Read_Master_Log_Pos: 45678,
  Relay_Log_File: 'relay-bin.000004',
  Relay_Log_Pos: 1234,
  Relay_Master_Log_File: 'mysql-bin.000122',
  Slave_IO_Running: 'Yes',
  Slave_SQL_Running: 'No',
  Replicate_Do_DB: 'app',
  Replicate_Ignore_DB: 'scratch',
  Replicate_Do_Table: '',
  Replicate_Ignore_Table: '',
  Replicate_Wild_Do_Table: 'app.%',
  Replicate_Wild_Ignore_Table: '',
  Last_Errno: 1062,
  Last_Error: "Error 'Duplicate entry '1' for key 'PRIMARY'' on query.",
  Skip_Counter: 0,
  Exec_Master_Log_Pos: 999,
  Relay_Log_Space: 77777,
  Until_Condition: 'None',
  Until_Log_File: '',
  Until_Log_Pos: 0,
  Master_SSL_Allowed: 'No',
  Master_SSL_CA_File: '',
  Master_SSL_CA_Path: '',
  Master_SSL_Cert: '',
  Master_SSL_Cipher: '',
  Master_SSL_Key: '',
  Seconds_Behind_Master: null,
  Master_SSL_Verify_Server_Cert: 'No',
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Last_SQL_Errno: 1062,
  Last_SQL_Error: "Error 'Duplicate entry '1' for key 'PRIMARY'' on query.",
  Replicate_Ignore_Server_Ids: '',
  Master_Server_Id: 1,
  Master_UUID: UUID_A,
  Master_Info_File: 'mysql.slave_master_info',
  SQL_Delay: 3600,
  SQL_Remaining_Delay: null,
  Slave_SQL_Running_State: '',
  Master_Retry_Count: 86400,
  Master_Bind: '',
  Last_IO_Error_Timestamp: '',
  Last_SQL_Error_Timestamp: '240501 10:00:00',
  Master_SSL_Crl: '',
  Master_SSL_Crlpath: '',
  Retrieved_Gtid_Set: `${UUID_A}:5-120`,
  Executed_Gtid_Set: `${UUID_A}:1-100,\n${UUID_B}:1-3`,
  Auto_Position: 1,
  Replicate_Rewrite_DB: '',
  Channel_Name: '',
  Master_TLS_Version: '',
};

/** MySQL 8.0.26+/8.4 SHOW REPLICA STATUS (column list of the 8.4 manual). */
const MYSQL_84_ROW: Record<string, unknown> = {
  Replica_IO_State: 'Waiting for source to send event',
  Source_Host: '10.0.0.1',
  Source_User: 'repl',
  Source_Port: 3307,
  Connect_Retry: 60,
  Source_Log_File: 'binlog.1000000',
  Read_Source_Log_Pos: 927,
  Relay_Log_File: 'replica-relay-bin.000002',
  Relay_Log_Pos: 1145,
  Relay_Source_Log_File: 'binlog.999999',
  Replica_IO_Running: 'Connecting',
  Replica_SQL_Running: 'Yes',
  Replicate_Do_DB: '',
  Replicate_Ignore_DB: '',
  Replicate_Do_Table: '',
  Replicate_Ignore_Table: '',
  Replicate_Wild_Do_Table: '',
  Replicate_Wild_Ignore_Table: '',
  Last_Errno: 0,
  Last_Error: '',
  Skip_Counter: 0,
  Exec_Source_Log_Pos: 5000,
  Relay_Log_Space: 1355,
  Until_Condition: 'None',
  Until_Log_File: '',
  Until_Log_Pos: 0,
  Source_SSL_Allowed: 'No',
  Source_SSL_CA_File: '',
  Source_SSL_CA_Path: '',
  Source_SSL_Cert: '',
  Source_SSL_Cipher: '',
  Source_SSL_Key: '',
  Seconds_Behind_Source: '12',
  Source_SSL_Verify_Server_Cert: 'No',
  Last_IO_Errno: 2061,
  Last_IO_Error: "Authentication plugin 'caching_sha2_password' reported error: Authentication requires secure connection.",
  Last_SQL_Errno: 0,
  Last_SQL_Error: '',
  Replicate_Ignore_Server_Ids: '',
  Source_Server_Id: 1,
  Source_UUID: UUID_A,
  Source_Info_File: 'mysql.slave_master_info',
  SQL_Delay: 0,
  SQL_Remaining_Delay: null,
  Replica_SQL_Running_State: 'Replica has read all relay log; waiting for more updates',
  Source_Retry_Count: 86400,
  Source_Bind: '',
  Last_IO_Error_Timestamp: '',
  Last_SQL_Error_Timestamp: '',
  Source_SSL_Crl: '',
  Source_SSL_Crlpath: '',
  Retrieved_Gtid_Set: `${UUID_A}:1-10`,
  Executed_Gtid_Set: `${UUID_A}:1-10`,
  Auto_Position: 0,
  Replicate_Rewrite_DB: '',
  Channel_Name: '',
  Source_TLS_Version: '',
  Source_public_key_path: '',
  Get_Source_public_key: 1,
  Network_Namespace: '',
};

/** parseVersion inputs for the version matrix. */
const MATRIX = {
  '5.7.44': '5.7.44-log',
  '8.0.21': '8.0.21',
  '8.0.22': '8.0.22',
  '8.0.23': '8.0.23',
  '8.0.26': '8.0.26',
  '8.0.36': '8.0.36-28',
  '8.4.0': '8.4.0',
  '9.1.0': '9.1.0',
  'mariadb-10.5': '10.5.23-MariaDB-0+deb11u1',
  'mariadb-10.6': '10.6.16-MariaDB',
  'mariadb-10.11': '10.11.6-MariaDB-0+deb12u1-log',
  'mariadb-11.4': '11.4.2-MariaDB',
} as const;
type MatrixKey = keyof typeof MATRIX;

const d = (k: MatrixKey): Dialect => dialectFor(parseVersion(MATRIX[k]));

interface Expect {
  showReplica: string;
  word: 'SLAVE' | 'REPLICA';
  change: string;
  opt: 'SOURCE_' | 'MASTER_';
  posWait: string;
  gtidWait: string;
  binlogStatus: string;
  sro: boolean;
  slaveUpdatesVar: string;
  publicKey: string | null;
  resetBinlogs: string;
  showReplicas: string;
}

const OLD: Expect = {
  showReplica: 'SHOW SLAVE STATUS',
  word: 'SLAVE',
  change: 'CHANGE MASTER TO',
  opt: 'MASTER_',
  posWait: 'MASTER_POS_WAIT',
  gtidWait: 'WAIT_FOR_EXECUTED_GTID_SET',
  binlogStatus: 'SHOW MASTER STATUS',
  sro: true,
  slaveUpdatesVar: '@@global.log_slave_updates AS log_slave_updates',
  publicKey: null,
  resetBinlogs: 'RESET MASTER',
  showReplicas: 'SHOW SLAVE HOSTS',
};
const V8022: Expect = { ...OLD, showReplica: 'SHOW REPLICA STATUS', word: 'REPLICA', publicKey: 'GET_MASTER_PUBLIC_KEY', showReplicas: 'SHOW REPLICAS' };
const V8023: Expect = { ...V8022, change: 'CHANGE REPLICATION SOURCE TO', opt: 'SOURCE_', publicKey: 'GET_SOURCE_PUBLIC_KEY' };
const V8026: Expect = { ...V8023, posWait: 'SOURCE_POS_WAIT', slaveUpdatesVar: '@@global.log_replica_updates AS log_slave_updates' };
const V84: Expect = { ...V8026, binlogStatus: 'SHOW BINARY LOG STATUS', resetBinlogs: 'RESET BINARY LOGS AND GTIDS' };
const MARIA: Expect = { ...OLD, gtidWait: 'MASTER_GTID_WAIT', sro: false };

const EXPECT: Record<MatrixKey, Expect> = {
  '5.7.44': OLD,
  '8.0.21': { ...OLD, publicKey: 'GET_MASTER_PUBLIC_KEY' },
  '8.0.22': V8022,
  '8.0.23': V8023,
  '8.0.26': V8026,
  '8.0.36': V8026,
  '8.4.0': V84,
  '9.1.0': V84,
  'mariadb-10.5': MARIA,
  'mariadb-10.6': MARIA,
  'mariadb-10.11': MARIA,
  'mariadb-11.4': MARIA,
};

function placeholders(sql: string): number {
  return (sql.match(/\?/g) ?? []).length;
}

/** Every statement a dialect can produce, for blanket checks. */
function allStatements(x: Dialect): Array<string | Sql> {
  const out: Array<string | Sql> = [
    x.variablesQuery(),
    x.showReplicaStatus(),
    x.showBinlogStatus(),
    x.showBinaryLogs(),
    x.showReplicas(),
    x.semiSyncVariablesQuery(),
    x.semiSyncStatusQuery(),
    x.stopReplica(),
    x.stopReplica('io'),
    x.stopReplica('sql'),
    x.startReplica(),
    x.startReplica('io'),
    x.startReplica('sql'),
    x.resetReplicaAll(),
    x.changeSource({ host: 'h', port: 3306, user: 'u', password: new Secret('p'), gtid: 'auto', connectRetry: 5, heartbeatPeriod: 2, getSourcePublicKey: true }),
    x.changeSource({ host: 'h', port: 3306, user: 'u', coord: { file: 'mysql-bin.000001', pos: 4 } }),
    ...x.setReadOnly(true),
    ...x.setReadOnly(false),
    x.waitForCoord({ file: 'mysql-bin.000001', pos: 4 }, 5),
    x.waitForGtid('', 5),
    x.replicationUsersQuery(),
    x.processlistQuery(),
    x.killConnection(12),
    x.killQuery(12),
    x.setSessionSqlLogBin(false),
    x.resetBinaryLogsAndGtids(),
    x.flushBinaryLogs(),
  ];
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('parseVersion', () => {
  const cases: Array<[string, string | undefined, 'mysql' | 'mariadb', number, number, number]> = [
    ['8.0.36', undefined, 'mysql', 8, 0, 36],
    ['8.0.36-28', 'Percona Server (GPL), Release 28', 'mysql', 8, 0, 36],
    ['8.0.36-0ubuntu0.22.04.1', '(Ubuntu)', 'mysql', 8, 0, 36],
    ['5.7.44-log', 'MySQL Community Server (GPL)', 'mysql', 5, 7, 44],
    ['5.7.44-48-log', undefined, 'mysql', 5, 7, 44],
    ['8.4.0', undefined, 'mysql', 8, 4, 0],
    ['8.4.3-commercial', undefined, 'mysql', 8, 4, 3],
    ['9.1.0', undefined, 'mysql', 9, 1, 0],
    ['  8.0.22\n', undefined, 'mysql', 8, 0, 22],
    ['10.11.6-MariaDB-0+deb12u1-log', 'Debian 12', 'mariadb', 10, 11, 6],
    ['10.11.19-MariaDB-0+deb12u1-log', 'Debian 12', 'mariadb', 10, 11, 19],
    ['11.4.2-MariaDB', 'mariadb.org binary distribution', 'mariadb', 11, 4, 2],
    ['10.6.16-MariaDB-log', undefined, 'mariadb', 10, 6, 16],
    ['5.5.5-10.11.6-MariaDB-0+deb12u1', undefined, 'mariadb', 10, 11, 6],
    ['5.5.5-10.4.32-MariaDB-log', undefined, 'mariadb', 10, 4, 32],
    ['10.6.16', 'MariaDB Server', 'mariadb', 10, 6, 16],
    ['10.5.23-mariadb', undefined, 'mariadb', 10, 5, 23],
    ['5.5.5', undefined, 'mysql', 5, 5, 5],
  ];
  for (const [raw, comment, flavor, major, minor, patch] of cases) {
    it(`${JSON.stringify(raw)} → ${flavor} ${major}.${minor}.${patch}`, () => {
      const v = parseVersion(raw, comment);
      assert.deepEqual(v, { flavor, major, minor, patch, raw });
    });
  }
  for (const junk of ['', '   ', 'abc', '8', '8.0', '8.0.x', 'MariaDB', 'v8.0.36', '-8.0.36', '8..36', '1234.0.0', 'null']) {
    it(`rejects ${JSON.stringify(junk)} with a clear error`, () => {
      assert.throws(() => parseVersion(junk), /cannot parse server version/);
    });
  }
  it('rejects a non-string', () => {
    assert.throws(() => parseVersion(undefined as unknown as string), /not a string/);
  });
  it('versionAtLeast compares numerically', () => {
    const v = parseVersion('8.0.9');
    assert.equal(versionAtLeast(v, 8, 0, 10), false);
    assert.equal(versionAtLeast(v, 8, 0, 9), true);
    assert.equal(versionAtLeast(v, 5, 7, 44), true);
    assert.equal(versionAtLeast(parseVersion('10.11.6-MariaDB'), 10, 5, 1), true);
  });
});

describe('dialectFor', () => {
  it('refuses MySQL older than 5.7 and MariaDB older than 10.0.2', () => {
    assert.throws(() => dialectFor(parseVersion('5.6.51-log')), /not supported.*MySQL ≥ 5\.7\.0/);
    assert.throws(() => dialectFor(parseVersion('5.5.68-MariaDB')), /not supported.*MariaDB ≥ 10\.0\.2/);
    assert.ok(dialectFor(parseVersion('5.7.8')) instanceof Dialect);
  });
  it('flavour and capabilities', () => {
    assert.equal(d('5.7.44').flavor, 'mysql');
    assert.equal(d('mariadb-11.4').flavor, 'mariadb');
    assert.equal(dialectFor(parseVersion('5.7.7')).hasSuperReadOnly, false);
    assert.equal(dialectFor(parseVersion('5.7.8')).hasSuperReadOnly, true);
    assert.equal(d('mariadb-10.11').hasSuperReadOnly, false);
    assert.equal(dialectFor(parseVersion('8.1.0')).binaryLogStatus, false);
    assert.equal(dialectFor(parseVersion('8.2.0')).binaryLogStatus, true);
    assert.equal(dialectFor(parseVersion('8.2.0')).showBinlogStatus(), 'SHOW BINARY LOG STATUS');
  });
});

describe('statement text per version', () => {
  for (const k of Object.keys(MATRIX) as MatrixKey[]) {
    const e = EXPECT[k];
    describe(k, () => {
      const x = d(k);
      it('inspection statements', () => {
        assert.equal(x.showReplicaStatus(), e.showReplica);
        assert.equal(x.showBinlogStatus(), e.binlogStatus);
        assert.equal(x.showBinaryLogs(), 'SHOW BINARY LOGS');
        assert.equal(x.showReplicas(), e.showReplicas);
        assert.equal(x.semiSyncVariablesQuery(), "SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'");
        assert.equal(x.semiSyncStatusQuery(), "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'");
        assert.equal(x.replicationUsersQuery(), "SELECT User AS user, Host AS host FROM mysql.user WHERE Repl_slave_priv = 'Y' ORDER BY User, Host");
        assert.equal(
          x.processlistQuery(),
          'SELECT ID AS id, USER AS user, HOST AS host, DB AS db, COMMAND AS command, TIME AS time, STATE AS state, INFO AS info FROM information_schema.PROCESSLIST',
        );
      });
      it('variablesQuery selects every column, NULL where the flavour lacks the variable', () => {
        const q = x.variablesQuery();
        assert.match(q, /^SELECT /);
        for (const c of [
          'server_id', 'server_uuid', 'read_only', 'super_read_only', 'log_bin', 'log_slave_updates', 'binlog_format', 'gtid_mode', 'gtid_executed',
          'gtid_current_pos', 'gtid_binlog_pos', 'gtid_slave_pos', 'gtid_binlog_state', 'gtid_strict_mode', 'gtid_domain_id', 'relay_log_purge',
          'report_host', 'hostname', 'datadir', 'log_bin_basename',
        ]) {
          assert.match(q, new RegExp(` AS ${c}(,|$)`), c);
        }
        assert.ok(q.includes(e.slaveUpdatesVar), e.slaveUpdatesVar);
        assert.equal(q.includes('@@global.super_read_only'), e.sro);
        if (x.flavor === 'mariadb') {
          for (const absent of ['server_uuid', 'gtid_mode', 'gtid_executed', 'super_read_only']) assert.ok(q.includes(`NULL AS ${absent}`), absent);
          for (const present of ['gtid_current_pos', 'gtid_binlog_pos', 'gtid_slave_pos', 'gtid_binlog_state', 'gtid_strict_mode', 'gtid_domain_id']) {
            assert.ok(q.includes(`@@global.${present} AS ${present}`), present);
          }
        } else {
          for (const absent of ['gtid_current_pos', 'gtid_binlog_pos', 'gtid_slave_pos', 'gtid_binlog_state', 'gtid_strict_mode', 'gtid_domain_id']) {
            assert.ok(q.includes(`NULL AS ${absent}`), absent);
          }
          for (const present of ['server_uuid', 'gtid_mode', 'gtid_executed']) assert.ok(q.includes(`@@global.${present} AS ${present}`), present);
        }
      });
      it('start/stop/reset', () => {
        assert.equal(x.stopReplica(), `STOP ${e.word}`);
        assert.equal(x.stopReplica('io'), `STOP ${e.word} IO_THREAD`);
        assert.equal(x.stopReplica('sql'), `STOP ${e.word} SQL_THREAD`);
        assert.equal(x.startReplica(), `START ${e.word}`);
        assert.equal(x.startReplica('io'), `START ${e.word} IO_THREAD`);
        assert.equal(x.startReplica('sql'), `START ${e.word} SQL_THREAD`);
        assert.equal(x.resetReplicaAll(), `RESET ${e.word} ALL`);
        assert.equal(x.resetBinaryLogsAndGtids(), e.resetBinlogs);
        assert.equal(x.flushBinaryLogs(), 'FLUSH BINARY LOGS');
      });
      it('changeSource, GTID auto-position', () => {
        const s = x.changeSource({ host: 'db2.example', port: 3306, user: 'repl', password: new Secret('s3cr3t'), gtid: 'auto', connectRetry: 10, heartbeatPeriod: 1.5, getSourcePublicKey: true });
        const P = e.opt;
        const gtidPart = x.flavor === 'mariadb' ? 'MASTER_USE_GTID = slave_pos' : `${P}AUTO_POSITION = 1`;
        const pk = e.publicKey === null ? '' : `, ${e.publicKey} = 1`;
        assert.equal(s.sql, `${e.change} ${P}HOST = ?, ${P}PORT = 3306, ${P}USER = ?, ${P}PASSWORD = ?, ${gtidPart}, ${P}CONNECT_RETRY = 10, ${P}HEARTBEAT_PERIOD = 1.5${pk}`);
        assert.deepEqual(s.values, ['db2.example', 'repl', 's3cr3t']);
        assert.deepEqual(s.sensitive, [2]);
        assert.ok(!s.sql.includes('s3cr3t'));
      });
      it('changeSource, file/position', () => {
        const s = x.changeSource({ host: 'db2', port: 3307, user: 'repl', coord: { file: 'mysql-bin.000042', pos: 154 } });
        const P = e.opt;
        const gtidPart = x.flavor === 'mariadb' ? 'MASTER_USE_GTID = no' : `${P}AUTO_POSITION = 0`;
        assert.equal(s.sql, `${e.change} ${P}HOST = ?, ${P}PORT = 3307, ${P}USER = ?, ${P}LOG_FILE = ?, ${P}LOG_POS = 154, ${gtidPart}`);
        assert.deepEqual(s.values, ['db2', 'repl', 'mysql-bin.000042']);
        assert.equal(s.sensitive, undefined);
      });
      it('changeSource with a delay; lifting a delay keeps the relay logs', () => {
        const P = e.opt;
        const s = x.changeSource({ host: 'db2', port: 3306, user: 'repl', gtid: 'auto', delay: 3600 });
        assert.ok(s.sql.endsWith(`, ${P}DELAY = 3600`), s.sql);
        const l = x.liftDelayKeepingRelayLog('relay-bin.000002', 555);
        assert.equal(l.sql, `${e.change} ${P}DELAY = 0, RELAY_LOG_FILE = ?, RELAY_LOG_POS = 555`);
        assert.deepEqual(l.values, ['relay-bin.000002']);
      });
      it('setReadOnly', () => {
        if (e.sro) {
          assert.deepEqual(x.setReadOnly(true), ['SET GLOBAL read_only = ON', 'SET GLOBAL super_read_only = ON']);
          assert.deepEqual(x.setReadOnly(false), ['SET GLOBAL super_read_only = OFF', 'SET GLOBAL read_only = OFF']);
        } else {
          assert.deepEqual(x.setReadOnly(true), ['SET GLOBAL read_only = ON']);
          assert.deepEqual(x.setReadOnly(false), ['SET GLOBAL read_only = OFF']);
        }
      });
      it('waitForCoord / waitForGtid', () => {
        const c = x.waitForCoord({ file: 'mysql-bin.000007', pos: 1234 }, 30);
        assert.equal(c.sql, `SELECT ${e.posWait}(?, 1234, 30) AS result`);
        assert.deepEqual(c.values, ['mysql-bin.000007']);
        const set = x.flavor === 'mariadb' ? '0-1-100,1-2-5' : `${UUID_A}:1-100,\n${UUID_B}:1-5`;
        const g = x.waitForGtid(set, 2.2);
        assert.equal(g.sql, `SELECT ${e.gtidWait}(?, 3) AS result`);
        assert.deepEqual(g.values, [set.replace(/\s+/g, '')]);
      });
      it('kill / sql_log_bin', () => {
        assert.equal(x.killConnection(42), 'KILL CONNECTION 42');
        assert.equal(x.killQuery(42), 'KILL QUERY 42');
        assert.equal(x.setSessionSqlLogBin(false), 'SET SESSION sql_log_bin = OFF');
        assert.equal(x.setSessionSqlLogBin(true), 'SET SESSION sql_log_bin = ON');
      });
      it('every Sql has as many values as placeholders', () => {
        for (const s of allStatements(x)) {
          if (typeof s === 'string') assert.equal(placeholders(s), 0, s);
          else assert.equal(placeholders(s.sql), s.values?.length ?? 0, s.sql);
        }
      });
      if (k === '8.4.0' || k === '9.1.0') {
        it('uses none of the statements and options removed in 8.4', () => {
          for (const s of allStatements(x)) {
            const sql = typeof s === 'string' ? s : s.sql;
            assert.doesNotMatch(sql, /\bSLAVE\b|\bMASTER\b|\bMASTER_[A-Z_]+|SHOW MASTER|CHANGE MASTER|RESET MASTER|MASTER_POS_WAIT|WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS/i, sql);
          }
        });
      }
    });
  }
});

describe('changeSource safety', () => {
  const my = d('8.0.36');
  const maria = d('mariadb-10.11');
  it('never puts the password in sql, even a hostile one', () => {
    const pw = "x', SOURCE_HOST='evil";
    for (const x of [my, maria, d('5.7.44')]) {
      const s = x.changeSource({ host: 'db', port: 3306, user: 'repl', password: new Secret(pw) });
      assert.ok(!s.sql.includes('evil'));
      assert.ok(s.values?.includes(pw));
      assert.equal(describeSql(s).includes('evil'), false);
      assert.match(describeSql(s), /PASSWORD = '\*\*\*'/);
    }
  });
  it('an empty Secret is sent as an empty password; no password keeps the existing one', () => {
    const s = my.changeSource({ host: 'db', port: 3306, user: 'repl', password: new Secret('') });
    assert.match(s.sql, /SOURCE_PASSWORD = \?/);
    assert.equal(s.values?.[2], '');
    assert.doesNotMatch(my.changeSource({ host: 'db', port: 3306, user: 'repl' }).sql, /PASSWORD/);
  });
  it('host, user and file are values, never inlined', () => {
    const s = my.changeSource({ host: "h'; DROP TABLE x; --", port: 1, user: "u'", coord: { file: "f'.000001", pos: 4 } });
    assert.doesNotMatch(s.sql, /DROP|'/);
    assert.deepEqual(s.values, ["h'; DROP TABLE x; --", "u'", "f'.000001"]);
  });
  it('defaults: coord → file/position, no coord → GTID auto-position', () => {
    assert.match(my.changeSource({ host: 'h', port: 1, user: 'u' }).sql, /SOURCE_AUTO_POSITION = 1/);
    assert.match(my.changeSource({ host: 'h', port: 1, user: 'u', coord: { file: 'b.000001', pos: 4 } }).sql, /SOURCE_AUTO_POSITION = 0/);
    assert.match(maria.changeSource({ host: 'h', port: 1, user: 'u' }).sql, /MASTER_USE_GTID = slave_pos/);
    assert.match(maria.changeSource({ host: 'h', port: 1, user: 'u', gtid: 'current_pos' }).sql, /MASTER_USE_GTID = current_pos/);
  });
  it('rejects contradictory or invalid options', () => {
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', gtid: 'auto', coord: { file: 'b.000001', pos: 4 } }), /mutually exclusive/);
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', gtid: false }), /needs a coord/);
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', gtid: 'slave_pos' }), /MariaDB-only/);
    assert.throws(() => my.changeSource({ host: '', port: 1, user: 'u' }), /host/);
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: '' }), /user/);
    assert.throws(() => my.changeSource({ host: 'h\0', port: 1, user: 'u' }), /NUL/);
    for (const port of [0, -1, 65536, 3306.5, Number.NaN]) assert.throws(() => my.changeSource({ host: 'h', port, user: 'u' }), /port/);
    for (const pos of [-1, 4.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', coord: { file: 'b.000001', pos } }), /position/);
    }
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', coord: { file: '', pos: 4 } }), /binlog file/);
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', connectRetry: 0 }), /connect retry/);
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', heartbeatPeriod: -1 }), /heartbeat/);
    assert.throws(() => my.changeSource({ host: 'h', port: 1, user: 'u', heartbeatPeriod: Number.NaN }), /heartbeat/);
  });
  it('formats the heartbeat with millisecond resolution, never in exponent notation', () => {
    assert.match(my.changeSource({ host: 'h', port: 1, user: 'u', heartbeatPeriod: 0.0001 }).sql, /SOURCE_HEARTBEAT_PERIOD = 0(,|$)/);
    assert.match(my.changeSource({ host: 'h', port: 1, user: 'u', heartbeatPeriod: 2.34567 }).sql, /SOURCE_HEARTBEAT_PERIOD = 2\.346(,|$)/);
  });
  it('getSourcePublicKey=false is explicit; ignored where unsupported', () => {
    assert.match(my.changeSource({ host: 'h', port: 1, user: 'u', getSourcePublicKey: false }).sql, /GET_SOURCE_PUBLIC_KEY = 0$/);
    assert.doesNotMatch(maria.changeSource({ host: 'h', port: 1, user: 'u', getSourcePublicKey: true }).sql, /PUBLIC_KEY/);
    assert.doesNotMatch(d('5.7.44').changeSource({ host: 'h', port: 1, user: 'u', getSourcePublicKey: true }).sql, /PUBLIC_KEY/);
  });
});

describe('waits', () => {
  const my = d('8.0.36');
  const maria = d('mariadb-10.11');
  it('refuse a timeout that the server would read as "forever"', () => {
    for (const t of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => my.waitForCoord({ file: 'b.000001', pos: 4 }, t), /positive/);
      assert.throws(() => maria.waitForGtid('0-1-1', t), /positive/);
    }
  });
  it('round fractional timeouts up to whole seconds (≥1)', () => {
    assert.match(my.waitForCoord({ file: 'b.000001', pos: 4 }, 0.01).sql, /, 1\) AS result$/);
    assert.match(my.waitForGtid('', 59.2).sql, /, 60\) AS result$/);
  });
  it('interpret MASTER_POS_WAIT / SOURCE_POS_WAIT results (real MariaDB values: 0, -1, null)', () => {
    for (const x of [my, maria]) {
      assert.deepEqual(x.parseWaitForCoordResult(0), { kind: 'reached', events: 0 });
      assert.deepEqual(x.parseWaitForCoordResult('7'), { kind: 'reached', events: 7 });
      assert.deepEqual(x.parseWaitForCoordResult(-1), { kind: 'timeout' });
      assert.deepEqual(x.parseWaitForCoordResult(-1n), { kind: 'timeout' });
      assert.deepEqual(x.parseWaitForCoordResult(null), { kind: 'not_running' });
      assert.deepEqual(x.parseWaitForCoordResult(undefined), { kind: 'not_running' });
    }
  });
  it('interpret GTID wait results per flavour', () => {
    assert.deepEqual(my.parseWaitForGtidResult(0), { kind: 'reached' });
    assert.deepEqual(my.parseWaitForGtidResult(1), { kind: 'timeout' });
    assert.deepEqual(my.parseWaitForGtidResult(-1), { kind: 'error', raw: -1 });
    assert.deepEqual(maria.parseWaitForGtidResult(0), { kind: 'reached' });
    assert.deepEqual(maria.parseWaitForGtidResult(-1), { kind: 'timeout' });
    assert.deepEqual(maria.parseWaitForGtidResult(1), { kind: 'error', raw: 1 });
    assert.deepEqual(maria.parseWaitForGtidResult(null), { kind: 'error', raw: null });
  });
  it('kill ids must be positive integers', () => {
    for (const id of [0, -3, 1.5, Number.NaN]) {
      assert.throws(() => my.killConnection(id), /connection id/);
      assert.throws(() => my.killQuery(id), /connection id/);
    }
  });
});

describe('parseReplicaStatus', () => {
  it('MariaDB 10.11 (real row)', () => {
    const r = d('mariadb-10.11').parseReplicaStatus(MARIADB_1011_ROW);
    assert.deepEqual(r, {
      sourceHost: '127.0.0.1',
      sourcePort: 23301,
      sourceUser: 'repl',
      ioRunning: 'Yes',
      sqlRunning: true,
      read: { file: 'mysql-bin.000001', pos: 1323 },
      exec: { file: 'mysql-bin.000001', pos: 1323 },
      relayLogFile: 'relay-bin.000002',
      relayLogPos: 1622,
      secondsBehind: 0,
      lastIoErrno: 0,
      lastIoError: '',
      lastSqlErrno: 0,
      lastSqlError: '',
      gtidAutoPosition: true,
      mariadbUsingGtid: 'Slave_Pos',
      retrievedGtidSet: '0-1-6',
      executedGtidSet: '',
      sqlDelay: 0,
      sqlThreadState: 'Slave has read all relay log; waiting for more updates',
      filters: { replicateDoDb: '', replicateIgnoreDb: '', replicateDoTable: '', replicateIgnoreTable: '', replicateWildDoTable: '', replicateWildIgnoreTable: '' },
    });
  });
  it('MariaDB 10.11 IO thread connecting to a dead source (real row)', () => {
    const r = d('mariadb-10.11').parseReplicaStatus(MARIADB_1011_CONNECTING);
    assert.equal(r.ioRunning, 'Connecting');
    assert.equal(r.secondsBehind, null);
    assert.equal(r.lastIoErrno, 2003);
    assert.match(r.lastIoError, /Connection refused/);
    assert.deepEqual(r.read, { file: '', pos: 4 });
  });
  it('MariaDB Using_Gtid=No is not auto-positioned', () => {
    const r = d('mariadb-10.6').parseReplicaStatus({ ...MARIADB_1011_ROW, Using_Gtid: 'No' });
    assert.equal(r.gtidAutoPosition, false);
    assert.equal(r.mariadbUsingGtid, 'No');
  });
  it('MySQL 5.7 (Slave_*/Master_* columns)', () => {
    const r = d('5.7.44').parseReplicaStatus(MYSQL_57_ROW);
    assert.deepEqual(r, {
      sourceHost: 'db1.example',
      sourcePort: 3306,
      sourceUser: 'repl',
      ioRunning: 'Yes',
      sqlRunning: false,
      read: { file: 'mysql-bin.000123', pos: 45678 },
      exec: { file: 'mysql-bin.000122', pos: 999 },
      relayLogFile: 'relay-bin.000004',
      relayLogPos: 1234,
      secondsBehind: null,
      lastIoErrno: 0,
      lastIoError: '',
      lastSqlErrno: 1062,
      lastSqlError: "Error 'Duplicate entry '1' for key 'PRIMARY'' on query.",
      gtidAutoPosition: true,
      mariadbUsingGtid: undefined,
      retrievedGtidSet: `${UUID_A}:5-120`,
      executedGtidSet: `${UUID_A}:1-100,${UUID_B}:1-3`,
      sqlDelay: 3600,
      sqlThreadState: '',
      filters: { replicateDoDb: 'app', replicateIgnoreDb: 'scratch', replicateDoTable: '', replicateIgnoreTable: '', replicateWildDoTable: 'app.%', replicateWildIgnoreTable: '' },
    });
  });
  it('MySQL 8.4 (Replica_*/Source_* columns), strings for numbers', () => {
    const r = d('8.4.0').parseReplicaStatus(MYSQL_84_ROW);
    assert.equal(r.sourceHost, '10.0.0.1');
    assert.equal(r.sourcePort, 3307);
    assert.equal(r.ioRunning, 'Connecting');
    assert.equal(r.sqlRunning, true);
    assert.deepEqual(r.read, { file: 'binlog.1000000', pos: 927 });
    assert.deepEqual(r.exec, { file: 'binlog.999999', pos: 5000 });
    assert.equal(r.secondsBehind, 12);
    assert.equal(r.lastIoErrno, 2061);
    assert.equal(r.gtidAutoPosition, false);
    assert.equal(r.mariadbUsingGtid, undefined);
    assert.equal(r.executedGtidSet, `${UUID_A}:1-10`);
  });
  it('either column set parses on any MySQL version (8.0.22–8.0.25 and SHOW SLAVE STATUS on 8.0.22+)', () => {
    const a = d('8.0.22').parseReplicaStatus(MYSQL_57_ROW);
    const b = d('5.7.44').parseReplicaStatus(MYSQL_84_ROW);
    assert.equal(a.sourceHost, 'db1.example');
    assert.equal(b.sourceHost, '10.0.0.1');
  });
  it('column names are matched case-insensitively; Buffers and bigints are accepted', () => {
    const row = Object.fromEntries(Object.entries(MYSQL_84_ROW).map(([k, v]) => [k.toLowerCase(), v]));
    row.source_host = Buffer.from('buf-host');
    row.read_source_log_pos = 2n ** 40n;
    const r = d('8.0.36').parseReplicaStatus(row);
    assert.equal(r.sourceHost, 'buf-host');
    assert.equal(r.read.pos, 2 ** 40);
  });
  it('throws a clear error on a non-numeric position', () => {
    assert.throws(() => d('8.0.36').parseReplicaStatus({ ...MYSQL_84_ROW, Read_Source_Log_Pos: 'abc' }), /Read_Source_Log_Pos: not an integer/);
  });
  it('defaultChannelRow picks the default channel', () => {
    assert.equal(defaultChannelRow([]), undefined);
    assert.equal(defaultChannelRow([MARIADB_1011_ROW]), MARIADB_1011_ROW);
    const named = { ...MYSQL_84_ROW, Channel_Name: 'other' };
    assert.equal(defaultChannelRow([named, MYSQL_84_ROW]), MYSQL_84_ROW);
    assert.equal(defaultChannelRow([named]), undefined);
  });
});

describe('parseVariables', () => {
  it('MariaDB 10.11 (real row: replica with a local write in its binlog state)', () => {
    const v = d('mariadb-10.11').parseVariables({
      server_id: 2,
      server_uuid: null,
      read_only: 0,
      super_read_only: null,
      log_bin: 1,
      log_slave_updates: 1,
      binlog_format: 'ROW',
      gtid_mode: null,
      gtid_executed: null,
      gtid_current_pos: '0-1-6',
      gtid_binlog_pos: '0-1-6',
      gtid_slave_pos: '0-1-6',
      gtid_binlog_state: '0-2-6,0-1-6',
      gtid_strict_mode: 0,
      gtid_domain_id: 0,
      relay_log_purge: 1,
      report_host: 'db2',
      hostname: 'vm',
      datadir: '/tmp/mhats-dialect/i2/data/',
      log_bin_basename: '/tmp/mhats-dialect/i2/data/mysql-bin',
    });
    assert.deepEqual(v, {
      serverId: 2,
      readOnly: false,
      superReadOnly: null,
      logBin: true,
      logSlaveUpdates: true,
      binlogFormat: 'ROW',
      gtid: { enabled: true, executed: '0-1-6', binlogPos: '0-1-6', slavePos: '0-1-6', binlogState: '0-2-6,0-1-6', strictMode: false, domainId: 0 },
      relayLogPurge: true,
      reportHost: 'db2',
      hostname: 'vm',
      datadir: '/tmp/mhats-dialect/i2/data/',
      logBinBasename: '/tmp/mhats-dialect/i2/data/mysql-bin',
    });
  });
  it('MariaDB with no GTID history is not "enabled"', () => {
    const v = d('mariadb-10.5').parseVariables({
      server_id: 1, read_only: 1, log_bin: 0, log_slave_updates: 0, binlog_format: 'mixed', gtid_current_pos: '', gtid_binlog_pos: '', gtid_slave_pos: '',
      gtid_binlog_state: '', gtid_strict_mode: 1, gtid_domain_id: 3, relay_log_purge: 0, report_host: null, hostname: 'h', datadir: '/d/', log_bin_basename: null,
    });
    assert.equal(v.gtid.enabled, false);
    assert.equal(v.gtid.strictMode, true);
    assert.equal(v.gtid.domainId, 3);
    assert.equal(v.binlogFormat, 'MIXED');
    assert.equal(v.reportHost, undefined);
    assert.equal('reportHost' in v, false);
    assert.equal(v.readOnly, true);
  });
  it('MySQL 8.0 (typed as mysql2 returns them, GTID set with newlines)', () => {
    const v = d('8.0.36').parseVariables({
      server_id: 101,
      server_uuid: UUID_B.toUpperCase(),
      read_only: 1,
      super_read_only: 1,
      log_bin: 1,
      log_slave_updates: 1,
      binlog_format: 'ROW',
      gtid_mode: 'ON',
      gtid_executed: `${UUID_A}:1-100,\n${UUID_B}:1-3`,
      gtid_current_pos: null,
      gtid_binlog_pos: null,
      gtid_slave_pos: null,
      gtid_binlog_state: null,
      gtid_strict_mode: null,
      gtid_domain_id: null,
      relay_log_purge: 0,
      report_host: 'db101',
      hostname: 'db101.example',
      datadir: '/var/lib/mysql/',
      log_bin_basename: '/var/lib/mysql/binlog',
    });
    assert.equal(v.serverId, 101);
    assert.equal(v.serverUuid, UUID_B);
    assert.equal(v.superReadOnly, true);
    assert.equal(v.relayLogPurge, false);
    assert.deepEqual(v.gtid, { enabled: true, executed: `${UUID_A}:1-100,${UUID_B}:1-3` });
  });
  it('MySQL 5.7 with GTID off, Buffer and string values', () => {
    const v = d('5.7.44').parseVariables({
      server_id: '7', server_uuid: Buffer.from(UUID_A), read_only: '0', super_read_only: '0', log_bin: Buffer.from('1'), log_slave_updates: 'OFF',
      binlog_format: 'STATEMENT', gtid_mode: 'OFF_PERMISSIVE', gtid_executed: '', relay_log_purge: 'ON', report_host: '', hostname: 'h', datadir: '/d/', log_bin_basename: '/d/mysql-bin',
    });
    assert.equal(v.serverId, 7);
    assert.equal(v.serverUuid, UUID_A);
    assert.equal(v.superReadOnly, false);
    assert.equal(v.logBin, true);
    assert.equal(v.logSlaveUpdates, false);
    assert.deepEqual(v.gtid, { enabled: false, executed: '' });
    assert.equal(v.reportHost, undefined);
  });
  it('MySQL < 5.7.8 has no super_read_only', () => {
    const v = dialectFor(parseVersion('5.7.7')).parseVariables({ server_id: 1, read_only: 0, log_bin: 0, log_slave_updates: 0, binlog_format: 'ROW', gtid_mode: 'OFF', gtid_executed: '', relay_log_purge: 1 });
    assert.equal(v.superReadOnly, null);
  });
  it('throws a clear error on a missing server_id or a junk boolean', () => {
    assert.throws(() => d('8.0.36').parseVariables({ read_only: 0 }), /server_id: missing/);
    assert.throws(() => d('8.0.36').parseVariables({ server_id: 1, read_only: 'maybe' }), /read_only: not a boolean/);
  });
});

describe('parseBinlogStatus', () => {
  it('MySQL with Executed_Gtid_Set', () => {
    const b = d('8.4.0').parseBinlogStatus({ File: 'binlog.000003', Position: 157, Binlog_Do_DB: '', Binlog_Ignore_DB: 'mysql', Executed_Gtid_Set: `${UUID_A}:1-5,\n${UUID_B}:1` });
    assert.deepEqual(b, { file: 'binlog.000003', pos: 157, doDb: '', ignoreDb: 'mysql', executedGtidSet: `${UUID_A}:1-5,${UUID_B}:1` });
  });
  it('MariaDB (real row)', () => {
    const b = d('mariadb-10.11').parseBinlogStatus({ File: 'mysql-bin.000001', Position: 1526, Binlog_Do_DB: '', Binlog_Ignore_DB: '' });
    assert.deepEqual(b, { file: 'mysql-bin.000001', pos: 1526, doDb: '', ignoreDb: '' });
  });
  it('throws on a row without File', () => {
    assert.throws(() => d('8.0.36').parseBinlogStatus({ Position: 4 }), /no File/);
  });
});

describe('parseSemiSync', () => {
  it('MariaDB built-in names (real rows, keys lower-cased as the adapter does)', () => {
    const rows = [
      { Variable_name: 'rpl_semi_sync_master_enabled', Value: 'ON' },
      { Variable_name: 'rpl_semi_sync_master_timeout', Value: '10000' },
      { Variable_name: 'rpl_semi_sync_slave_enabled', Value: 'OFF' },
    ];
    const status = [
      { Variable_name: 'Rpl_semi_sync_master_clients', Value: '2' },
      { Variable_name: 'Rpl_semi_sync_master_status', Value: 'ON' },
    ];
    const lower = (m: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
    const s = d('mariadb-10.11').parseSemiSync(lower(variableRows(rows)), lower(variableRows(status)));
    assert.deepEqual(s, { sourceEnabled: true, replicaEnabled: false, sourceActive: true, sourceClients: 2, timeoutMs: 10000 });
  });
  it('MySQL 8.0.26+ source/replica plugin names', () => {
    const s = d('8.4.0').parseSemiSync(
      { rpl_semi_sync_source_enabled: 'OFF', rpl_semi_sync_replica_enabled: 'ON' },
      { Rpl_semi_sync_source_status: 'OFF', Rpl_semi_sync_source_clients: '0', Rpl_semi_sync_replica_status: 'ON' },
    );
    assert.deepEqual(s, { sourceEnabled: false, replicaEnabled: true, sourceActive: false, sourceClients: 0 });
  });
  it('wait point, wait_no_slave and timeout (both spellings)', () => {
    const s = d('mariadb-10.11').parseSemiSync({ rpl_semi_sync_master_enabled: 'ON', rpl_semi_sync_master_wait_no_slave: 'ON', rpl_semi_sync_master_wait_point: 'AFTER_SYNC', rpl_semi_sync_master_timeout: '10000' }, {});
    assert.deepEqual(s, { sourceEnabled: true, replicaEnabled: false, sourceActive: false, sourceClients: 0, waitNoReplica: true, waitPoint: 'AFTER_SYNC', timeoutMs: 10000 });
    const m = d('8.4.0').parseSemiSync({ rpl_semi_sync_source_wait_no_replica: 'OFF', rpl_semi_sync_source_wait_point: 'after_commit' }, {});
    assert.equal(m.waitNoReplica, false);
    assert.equal(m.waitPoint, 'AFTER_COMMIT');
  });
  it('no plugin loaded → all off', () => {
    assert.deepEqual(d('5.7.44').parseSemiSync({}, {}), { sourceEnabled: false, replicaEnabled: false, sourceActive: false, sourceClients: 0 });
  });
});

describe('describeSql', () => {
  it('inlines values for logs and hides secrets', () => {
    const s = d('mariadb-10.11').changeSource({ host: "o'neil", port: 3306, user: 'repl', password: new Secret('pw') });
    assert.equal(describeSql(s), "CHANGE MASTER TO MASTER_HOST = 'o\\'neil', MASTER_PORT = 3306, MASTER_USER = 'repl', MASTER_PASSWORD = '***', MASTER_USE_GTID = slave_pos");
    assert.equal(describeSql('SHOW SLAVE STATUS'), 'SHOW SLAVE STATUS');
  });
  it('setGtidSlavePos is MariaDB-only', () => {
    assert.deepEqual(d('mariadb-10.6').setGtidSlavePos('0-1-6, 1-2-3'), { sql: 'SET GLOBAL gtid_slave_pos = ?', values: ['0-1-6,1-2-3'] });
    assert.throws(() => d('8.0.36').setGtidSlavePos('0-1-6'), /MariaDB-only/);
  });
});

describe('health check statements', () => {
  it('are MHA-compatible and take no values', () => {
    assert.equal(HEALTH_CHECK_SELECT, 'SELECT 1 AS value');
    assert.equal(HEALTH_CHECK_SETUP.length, 2);
    assert.match(HEALTH_CHECK_SETUP[1] ?? '', /^CREATE TABLE IF NOT EXISTS infra\.chk_masterha \(`key` tinyint NOT NULL PRIMARY KEY, `val` int unsigned/);
    assert.match(HEALTH_CHECK_INSERT, /^INSERT INTO infra\.chk_masterha VALUES \(1, UNIX_TIMESTAMP\(\)\) ON DUPLICATE KEY UPDATE val = UNIX_TIMESTAMP\(\)$/);
    for (const s of [HEALTH_CHECK_SELECT, HEALTH_CHECK_INSERT, ...HEALTH_CHECK_SETUP]) assert.equal(placeholders(s), 0);
  });
});
