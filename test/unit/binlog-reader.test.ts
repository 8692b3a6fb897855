/**
 * The binlog reader on real MariaDB files (test/fixtures/binlog, made by
 * make-fixtures.ts) and on hand-made MySQL/MariaDB event streams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BinlogStreamReader, EventType, crc32, queryRole, readBinlog, type BinlogReadResult } from '../../src/domain/binlog/index.js';
import { BinlogBuilder, u16, u32, u64, str } from '../fixtures/binlog/build.js';

const FIX = join(import.meta.dirname, '../fixtures/binlog');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIX, name)));
const expected = JSON.parse(readFileSync(join(FIX, 'expect.json'), 'utf8')) as {
  masterFiles: string[];
  relayFiles: string[];
  mariadbBinlogCounts: Record<string, { gtid: number }>;
  gtidBinlogPos: string;
};

function summary(r: BinlogReadResult): string[] {
  return r.transactions.map((t) => `${t.gtid ?? '-'} ${t.kind} ${t.endedBy}`);
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const b = new TextEncoder().encode('hello binlog');
  assert.equal(crc32(b, 5, b.length, crc32(b, 0, 5)), crc32(b), 'continuation with a seed');
});

test('real MariaDB binlogs: every event parses with a verified CRC32, transactions match the GTIDs', () => {
  let total = 0;
  for (const f of expected.masterFiles) {
    const r = readBinlog(fixture(f), { fileName: f });
    assert.equal(r.error, undefined, `${f}: ${r.error?.message}`);
    assert.equal(r.complete, true);
    assert.equal(r.openTransaction, undefined);
    assert.deepEqual(r.abandoned, []);
    assert.equal(r.validEnd, r.size);
    assert.equal(r.fde?.flavor, 'mariadb');
    assert.match(r.fde?.serverVersion ?? '', /^10\.\d+\.\d+-MariaDB/);
    assert.equal(r.fde?.headerLength, 19);
    // events are contiguous and end_log_pos is the end offset
    let at = 4;
    for (const e of r.events) {
      assert.equal(e.offset, at);
      assert.equal(e.header.logPos, e.end);
      at = e.end;
      if (r.fde?.checksum === 'crc32') assert.equal(e.checksum, 'ok', `${f} ${e.type} at ${e.offset}`);
      else assert.equal(e.checksum, 'none');
    }
    // In MariaDB every transaction has a GTID: the count equals mariadb-binlog's GTID count.
    assert.equal(r.transactions.length, expected.mariadbBinlogCounts[f]?.gtid, f);
    assert.ok(r.transactions.every((t) => t.gtid !== undefined));
    total += r.transactions.length;
  }
  assert.equal(`0-1-${total}`, expected.gtidBinlogPos);
});

test('real binlog 1 (row format): DDL, multi-row insert, multi-statement transaction, MyISAM write ending in COMMIT', () => {
  const r = readBinlog(fixture('mysql-bin.000001'));
  assert.deepEqual(summary(r), [
    '0-1-1 ddl QUERY',
    '0-1-2 ddl QUERY',
    '0-1-3 transaction XID',
    '0-1-4 transaction XID',
    '0-1-5 ddl QUERY',
    '0-1-6 transaction QUERY',
  ]);
  const types = r.events.map((e) => e.type);
  assert.deepEqual(types.slice(0, 3), ['FORMAT_DESCRIPTION', 'MARIADB_GTID_LIST', 'BINLOG_CHECKPOINT']);
  assert.equal(types.at(-1), 'ROTATE');
  const rot = r.events.at(-1)!.data;
  assert.deepEqual(rot, { kind: 'rotate', position: 4, nextFile: 'mysql-bin.000002' });
  const tm = r.events.find((e) => e.data.kind === 'table_map')!.data;
  assert.ok(tm.kind === 'table_map' && tm.database === 'd' && tm.table === 't' && tm.columnCount === 2);
  const ops = r.events.flatMap((e) => (e.data.kind === 'rows' ? [`${e.data.op}${e.data.version}${e.data.stmtEnd ? '!' : ''}`] : []));
  assert.deepEqual(ops, ['write1!', 'update1!', 'delete1!', 'write1!', 'write1!']);
  const g = r.events.find((e) => e.data.kind === 'mariadb_gtid')!.data;
  assert.ok(g.kind === 'mariadb_gtid' && g.standalone && g.domainId === 0 && g.serverId === 1 && g.seqNo === 1n);
  assert.ok(r.events.some((e) => e.data.kind === 'annotate_rows' && e.data.query.startsWith('INSERT INTO d.t VALUES (1')));
  // the transaction boundaries tile the file between the header events and the rotate
  const t = r.transactions;
  for (let i = 1; i < t.length; i++) assert.equal(t[i]!.start, t[i - 1]!.end);
  assert.equal(t[0]!.startLogPos, t[0]!.start);
  assert.equal(t.at(-1)!.endLogPos, t.at(-1)!.end);
});

test('real binlog 2 (statement format): Intvar/User_var, SAVEPOINT, ROLLBACK, XA PREPARE then XA COMMIT, CREATE ... SELECT', () => {
  const r = readBinlog(fixture('mysql-bin.000002'));
  assert.deepEqual(summary(r), [
    '0-1-7 ddl QUERY',
    '0-1-8 transaction XID',
    '0-1-9 transaction XID',
    '0-1-10 transaction QUERY',
    '0-1-11 transaction XA_PREPARE',
    '0-1-12 ddl QUERY',
    '0-1-13 transaction XID',
  ]);
  const kinds = new Set(r.events.map((e) => e.data.kind));
  for (const k of ['intvar', 'user_var', 'xa_prepare', 'binlog_checkpoint', 'gtid_list']) assert.ok(kinds.has(k as never), k);
  assert.ok(r.events.some((e) => e.data.kind === 'query' && e.data.role === 'statement' && e.data.query.startsWith('SAVEPOINT')));
});

test('real binlog 3: binlog_checksum=NONE is read without checksums', () => {
  const r = readBinlog(fixture('mysql-bin.000003'));
  assert.equal(r.fde?.checksum, 'off');
  assert.equal(r.error, undefined);
  assert.equal(r.transactions.length, 4);
  assert.ok(r.events.every((e) => e.checksum === 'none'));
});

test('the FDE reports BINLOG_IN_USE for the file the server still had open', () => {
  assert.equal(readBinlog(fixture('mysql-bin.000001')).fde?.inUse, false);
  assert.equal(readBinlog(fixture('mysql-bin.000003')).fde?.inUse, true);
});

test('stream reader: the same result whatever the chunking', () => {
  const bytes = fixture('mysql-bin.000002');
  const whole = readBinlog(bytes, { keepEvents: true });
  for (const size of [1, 7, 19, 100, 4096]) {
    const s = new BinlogStreamReader();
    for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
    const r = s.finish();
    assert.equal(r.error, undefined, `chunk ${size}`);
    assert.deepEqual(r.transactions, whole.transactions, `chunk ${size}`);
    assert.deepEqual(
      r.events.map((e) => [e.offset, e.type]),
      whole.events.map((e) => [e.offset, e.type]),
    );
  }
});

test('a slice starting mid-file is read with the FDE from the head and its start offset', () => {
  const bytes = fixture('mysql-bin.000001');
  const head = readBinlog(bytes);
  const t = head.transactions[3]!; // 0-1-4
  const slice = readBinlog(bytes.subarray(t.start), { fde: head.fde!, startOffset: t.start });
  assert.equal(slice.error, undefined);
  assert.deepEqual(slice.transactions, head.transactions.slice(3));
  // without the FDE, a slice is not a binlog
  assert.equal(readBinlog(bytes.subarray(t.start)).error?.code, 'bad-magic');
});

test('MySQL GTIDs: Gtid + BEGIN .. Xid, Gtid + DDL, anonymous GTIDs, Previous_gtids', () => {
  const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  const b = new BinlogBuilder({ serverVersion: '8.0.36' });
  b.raw(EventType.PREVIOUS_GTIDS, [...u64(1), ...(uuid.replace(/-/g, '').match(/../g) ?? []).map((h) => parseInt(h, 16)), ...u64(2), ...u64(1), ...u64(6), ...u64(8), ...u64(9)]);
  b.mysqlGtid(uuid, 6).query('BEGIN').tableMap(80, 'd', 't').rows(EventType.WRITE_ROWS_V2, 80).rows(EventType.DELETE_ROWS_V2, 80).xid(11);
  b.mysqlGtid(uuid, 7).query('CREATE TABLE d.u (id INT)');
  b.mysqlGtid(uuid, 0, { anonymous: true }).query('BEGIN').query('INSERT INTO d.u VALUES (1)').query('COMMIT');
  b.raw(EventType.STOP, []);
  const r = readBinlog(b.bytes());
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.fde?.flavor, 'mysql');
  assert.deepEqual(summary(r), [`${uuid}:6 transaction XID`, `${uuid}:7 ddl QUERY`, 'ANONYMOUS transaction QUERY']);
  const pg = r.events[1]!.data;
  assert.deepEqual(pg, { kind: 'previous_gtids', gtidSet: `${uuid}:1-5:8` });
  const g = r.events[2]!.data;
  assert.ok(g.kind === 'mysql_gtid' && g.gno === 6n && g.lastCommitted === 0n && g.sequenceNumber === 1n);
  assert.equal(r.transactions[0]!.start, b.starts[2]);
  assert.equal(r.transactions[0]!.eventCount, 6);
});

test('no GTIDs (MySQL 5.6 style): BEGIN .. COMMIT, a lone DDL, SBR prelude events, SAVEPOINT / ROLLBACK TO stay inside', () => {
  const b = new BinlogBuilder({ serverVersion: '5.6.51-log' });
  b.query('BEGIN').query('INSERT INTO t VALUES (1)').query('SAVEPOINT a').query('ROLLBACK TO a').query('COMMIT');
  b.query('DROP TABLE x');
  b.raw(EventType.INTVAR, [2, ...u64(5)]).query('INSERT INTO t (v) VALUES (5)');
  b.query('BEGIN').query('INSERT INTO m VALUES (1)').query('ROLLBACK');
  const r = readBinlog(b.bytes());
  assert.equal(r.error, undefined, r.error?.message);
  assert.deepEqual(summary(r), ['- transaction QUERY', '- ddl QUERY', '- ddl QUERY', '- transaction QUERY']);
  assert.equal(r.transactions[0]!.eventCount, 5);
  assert.equal(r.transactions[2]!.start, b.starts[7], 'the Intvar starts the statement group');
});

test('MariaDB GTID flags: standalone, group commit id, non-standalone ends at COMMIT; a new GTID abandons an open group', () => {
  const b = new BinlogBuilder();
  b.mariaGtid(0, 1, 0x01 | 0x20).query('CREATE TABLE t (id INT)');
  b.mariaGtid(2, 2, 0x02 | 0x0c).annotate('INSERT ...').tableMap(1, 'd', 't').rows(EventType.WRITE_ROWS_V1, 1).xid(5);
  b.mariaGtid(0, 3, 0x08).query('INSERT INTO m VALUES (1)').query('COMMIT');
  b.mariaGtid(0, 4).tableMap(1, 'd', 't'); // cut short by the next GTID
  b.mariaGtid(0, 5).tableMap(1, 'd', 't').rows(EventType.UPDATE_ROWS_V1, 1).xid(6);
  b.mariaGtid(0, 6).tableMap(1, 'd', 't'); // open at the end
  const r = readBinlog(b.bytes());
  assert.equal(r.error, undefined, r.error?.message);
  assert.deepEqual(summary(r), ['0-1-1 ddl QUERY', '2-1-2 transaction XID', '0-1-3 transaction QUERY', '0-1-5 transaction XID']);
  const g2 = r.events.find((e) => e.data.kind === 'mariadb_gtid' && e.data.domainId === 2)!.data;
  assert.ok(g2.kind === 'mariadb_gtid' && g2.commitId === 99n && !g2.standalone);
  assert.equal(r.abandoned.length, 1);
  assert.equal(r.abandoned[0]!.gtid, '0-1-4');
  assert.equal(r.openTransaction?.gtid, '0-1-6');
  assert.equal(r.complete, true, 'the data is whole events even though a transaction is open');
});

test('other event types: Incident, Heartbeat, Binlog_checkpoint, Gtid_list, Rows_query, unknown types kept as opaque', () => {
  const b = new BinlogBuilder();
  b.raw(EventType.MARIADB_GTID_LIST, [...u32(2), ...u32(0), ...u32(1), ...u64(9), ...u32(3), ...u32(2), ...u64(4)]);
  b.raw(EventType.BINLOG_CHECKPOINT, [...u32(16), ...str('mysql-bin.000007')]);
  b.raw(EventType.INCIDENT, [...u16(1), 4, ...str('lost')]);
  b.raw(EventType.HEARTBEAT, str('mysql-bin.000007'));
  b.raw(200, [1, 2, 3]); // unknown outside a transaction: neutral
  b.mariaGtid(0, 1).raw(EventType.ROWS_QUERY, [5, ...str('x=1')]).raw(201, []).xid(1);
  const r = readBinlog(b.bytes());
  assert.equal(r.error, undefined, r.error?.message);
  const data = r.events.map((e) => e.data);
  assert.deepEqual(data[1], { kind: 'gtid_list', gtids: ['0-1-9', '3-2-4'] });
  assert.deepEqual(data[2], { kind: 'binlog_checkpoint', file: 'mysql-bin.000007' });
  assert.deepEqual(data[3], { kind: 'incident', incident: 1, message: 'lost' });
  assert.deepEqual(data[4], { kind: 'heartbeat', file: 'mysql-bin.000007' });
  assert.deepEqual(data[5], { kind: 'opaque' });
  assert.equal(r.events[5]!.type, 'TYPE_200');
  assert.deepEqual(summary(r), ['0-1-1 transaction XID']);
  assert.equal(r.transactions[0]!.eventCount, 4);
});

test('pre-checksum servers (no algorithm byte in the FDE) and checksum-aware ones with checksums off', () => {
  for (const checksum of ['legacy', 'off'] as const) {
    const b = new BinlogBuilder({ checksum });
    b.query('BEGIN').query('INSERT INTO t VALUES (1)').xid(3);
    const r = readBinlog(b.bytes());
    assert.equal(r.error, undefined, `${checksum}: ${r.error?.message}`);
    assert.equal(r.fde?.checksum, checksum === 'legacy' ? undefined : 'off');
    assert.equal(r.transactions.length, 1);
  }
});

test('queryRole', () => {
  assert.equal(queryRole('BEGIN'), 'begin');
  assert.equal(queryRole(' COMMIT '), 'commit');
  assert.equal(queryRole('ROLLBACK'), 'rollback');
  assert.equal(queryRole('ROLLBACK TO SAVEPOINT a'), 'statement');
  assert.equal(queryRole('rollback to a'), 'statement');
  assert.equal(queryRole("XA START X'31',X'',1"), 'xa_start');
  assert.equal(queryRole("XA END X'31',X'',1"), 'xa_end');
  assert.equal(queryRole("XA COMMIT X'31',X'',1"), 'xa_commit');
  assert.equal(queryRole("XA ROLLBACK X'31',X'',1"), 'xa_rollback');
  assert.equal(queryRole('COMMIT_TABLE_X'), 'statement');
  assert.equal(queryRole('CREATE TABLE t (a INT)'), 'statement');
});
