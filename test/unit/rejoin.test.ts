import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRejoin, transactionsOf, type BinlogEventRow, type RejoinMap } from '../../src/domain/rejoin.js';
import type { GtidState } from '../../src/domain/types.js';

let p = 256;
function ev(file: string, type: string, info: string, serverId = 1, size = 50): BinlogEventRow {
  const e = { file, pos: p, type, serverId, endPos: p + size, info };
  p += size;
  return e;
}
function mariaTxn(file: string, gtid: string, serverId = 1): BinlogEventRow[] {
  return [ev(file, 'Gtid', `BEGIN GTID ${gtid}`, serverId), ev(file, 'Annotate_rows', 'INSERT INTO t VALUES (1)', serverId), ev(file, 'Table_map', 'table_id: 1 (test.t)', serverId), ev(file, 'Write_rows_v1', 'table_id: 1 flags: STMT_END_F', serverId), ev(file, 'Xid', 'COMMIT /* xid=9 */', serverId)];
}
const maria = (binlogState: string, slavePos = ''): GtidState => ({ enabled: true, executed: binlogState, binlogPos: binlogState, slavePos, binlogState });

test('transactions: GTID groups, DDL on its own, a group cut by the end of a file never committed', () => {
  p = 256;
  const events = [
    ev('b.000001', 'Format_desc', 'Server ver: 10.11'),
    ev('b.000001', 'Gtid_list', '[0-1-10]'),
    ...mariaTxn('b.000001', '0-1-11'),
    ev('b.000001', 'Gtid', 'GTID 0-1-12'),
    ev('b.000001', 'Query', 'CREATE TABLE x (id int)'),
    ev('b.000001', 'Gtid', 'BEGIN GTID 0-1-13'),
    ev('b.000001', 'Table_map', 'table_id: 1 (test.t)'),
    // crash: the file ends here; after the restart a new file starts
    ev('b.000002', 'Format_desc', 'Server ver: 10.11'),
    ev('b.000002', 'Gtid_list', '[0-1-12]'),
    ev('b.000002', 'Binlog_checkpoint', 'b.000002'),
  ];
  const t = transactionsOf('mariadb', events);
  assert.deepEqual(t.map((x) => [x.gtid, x.complete, x.file]), [['0-1-11', true, 'b.000001'], ['0-1-12', true, 'b.000001'], ['0-1-13', false, 'b.000001']]);
  assert.equal(t[0]!.end, t[1]!.start);
  // MySQL without GTID: BEGIN ... Xid, and a bare DDL.
  p = 4;
  const my = transactionsOf('mysql', [ev('m.1', 'Anonymous_Gtid', "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'"), ev('m.1', 'Query', 'BEGIN'), ev('m.1', 'Write_rows', 'x'), ev('m.1', 'Xid', 'COMMIT /* xid=1 */'), ev('m.1', 'Query', 'BEGIN'), ev('m.1', 'Xid', 'COMMIT')]);
  assert.deepEqual(my.map((x) => [x.gtid, x.complete]), [[undefined, true], [undefined, true]]);
  // MySQL GTID.
  const g = transactionsOf('mysql', [ev('m.1', 'Gtid', "SET @@SESSION.GTID_NEXT= '3E11FA47-71CA-11E1-9E33-C80AA9429562:23'"), ev('m.1', 'Query', 'BEGIN'), ev('m.1', 'Xid', 'COMMIT')]);
  assert.equal(g[0]!.gtid, '3e11fa47-71ca-11e1-9e33-c80aa9429562:23');
});

test('MariaDB: after a crash failover (everything saved), contained; the incomplete tail is only reported', () => {
  p = 1000;
  const tail = transactionsOf('mariadb', [...mariaTxn('b.000001', '0-1-11'), ev('b.000001', 'Gtid', 'BEGIN GTID 0-1-12'), ev('b.000002', 'Format_desc', '')]);
  // The new master (server 2) took 0-1-11 (salvaged) and then wrote its own.
  const d = decideRejoin({ flavor: 'mariadb', mode: 'gtid', oldGtid: maria('0-1-11'), newGtid: maria('0-1-11,0-2-15'), tail, scanFrom: { file: 'b.000001', pos: 1000 }, oldServerId: 1 });
  assert.equal(d.kind, 'contained');
  assert.equal(d.kind === 'contained' && d.how, 'gtid');
  assert.equal(d.kind === 'contained' && d.incomplete.length, 1);
});

test('MariaDB: writes on the isolated old master diverge: exactly those GTIDs and their binlog range', () => {
  p = 2000;
  const tail = transactionsOf('mariadb', [...mariaTxn('b.000003', '0-1-20'), ...mariaTxn('b.000003', '0-1-21'), ...mariaTxn('b.000003', '0-1-22')]);
  // The new master received 0-1-20 only (in its slave position, log_slave_updates OFF), then wrote 0-2-21...
  const d = decideRejoin({ flavor: 'mariadb', mode: 'gtid', oldGtid: maria('0-1-22'), newGtid: { enabled: true, executed: '0-2-25', binlogPos: '0-2-25', slavePos: '0-1-20', binlogState: '0-2-25' }, tail, scanFrom: undefined, oldServerId: 1 });
  assert.equal(d.kind, 'diverged');
  if (d.kind !== 'diverged') return;
  assert.deepEqual(d.gtids, ['0-1-21', '0-1-22']);
  assert.deepEqual(d.range, { from: { file: 'b.000003', pos: 2250 }, to: { file: 'b.000003', pos: 2750 } });
  assert.match(d.reason, /2 transaction\(s\) the current master does not have \(0-1-21, 0-1-22\), in its binlog from b\.000003:2250 to b\.000003:2750/);
});

test('MariaDB: divergence outside the part of the binlog that was read is still caught', () => {
  const d = decideRejoin({ flavor: 'mariadb', mode: 'gtid', oldGtid: maria('0-1-30'), newGtid: maria('0-1-20,0-2-25'), tail: [], scanFrom: undefined, oldServerId: 1 });
  assert.equal(d.kind, 'diverged');
  assert.match(d.kind === 'diverged' ? d.reason : '', /before the part of its binlog that was read: 0-1-30/);
});

test('binlog positions: mapped through the failover record', () => {
  p = 500;
  const map: RejoinMap = { oldMaster: 'db1', oldMasterApplied: { file: 'm.000007', pos: 500 }, salvagedTransactions: 1, salvagedGtids: [], newMaster: 'db2', newMasterCoord: { file: 'n.000002', pos: 1234 } };
  const one = (): BinlogEventRow[] => [ev('m.000007', 'Query', 'BEGIN'), ev('m.000007', 'Write_rows', 'x'), ev('m.000007', 'Xid', 'COMMIT')];
  const none = { enabled: false, executed: '' };
  // One transaction after the applied point, saved at the failover: contained; start at the recorded coordinate.
  const tail1 = transactionsOf('mysql', one());
  const c = decideRejoin({ flavor: 'mysql', mode: 'position', oldGtid: none, newGtid: none, tail: tail1, scanFrom: map.oldMasterApplied, map });
  assert.deepEqual(c.kind === 'contained' ? [c.how, c.startAt] : c, ['position', { file: 'n.000002', pos: 1234 }]);
  // Two more written after the partition: diverged, with the binlog range.
  p = 500;
  const tail3 = transactionsOf('mysql', [...one(), ...one(), ...one()]);
  const d = decideRejoin({ flavor: 'mysql', mode: 'position', oldGtid: none, newGtid: none, tail: tail3, scanFrom: map.oldMasterApplied, map });
  assert.equal(d.kind, 'diverged');
  assert.deepEqual(d.kind === 'diverged' ? d.range : undefined, { from: { file: 'm.000007', pos: 650 }, to: { file: 'm.000007', pos: 950 } });
  // Fewer than were saved: it lost part of its binlog: refused.
  const lost = decideRejoin({ flavor: 'mysql', mode: 'position', oldGtid: none, newGtid: none, tail: [], scanFrom: map.oldMasterApplied, map });
  assert.match(lost.kind === 'refused' ? lost.reason : '', /fewer than the 1 saved/);
  // No record, no GTID: refused, never guessed.
  const blind = decideRejoin({ flavor: 'mysql', mode: 'position', oldGtid: none, newGtid: none, tail: tail1, scanFrom: undefined });
  assert.match(blind.kind === 'refused' ? blind.reason : '', /containment cannot be proven; reseed/);
});

test('MariaDB positions: a crash that lost part of its binlog is refused (the recorded start would skip)', () => {
  const map: RejoinMap = { oldMaster: 'db1', oldMasterApplied: { file: 'b.1', pos: 4 }, salvagedTransactions: 0, salvagedGtids: [], newMaster: 'db2', newMasterCoord: { file: 'n.1', pos: 4 } };
  const d = decideRejoin({ flavor: 'mariadb', mode: 'position', oldGtid: maria('0-1-18'), newGtid: maria('0-1-20,0-2-22'), tail: [], scanFrom: map.oldMasterApplied, map, oldServerId: 1 });
  assert.match(d.kind === 'refused' ? d.reason : '', /0-1-20 \(it has up to 0-1-18\)/);
  const ok = decideRejoin({ flavor: 'mariadb', mode: 'position', oldGtid: maria('0-1-20'), newGtid: maria('0-1-20,0-2-22'), tail: [], scanFrom: map.oldMasterApplied, map, oldServerId: 1 });
  assert.equal(ok.kind === 'contained' && ok.how, 'position');
});

test('MySQL GTID sets: the divergent set, also before the window read', () => {
  const u1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  const u2 = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
  const d = decideRejoin({ flavor: 'mysql', mode: 'gtid', oldGtid: { enabled: true, executed: `${u1}:1-12` }, newGtid: { enabled: true, executed: `${u1}:1-10,${u2}:1-3` }, tail: [], scanFrom: undefined });
  assert.equal(d.kind, 'diverged');
  assert.deepEqual(d.kind === 'diverged' ? d.gtids : [], [`${u1}:11-12`]);
  const c = decideRejoin({ flavor: 'mysql', mode: 'gtid', oldGtid: { enabled: true, executed: `${u1}:1-10` }, newGtid: { enabled: true, executed: `${u1}:1-10,${u2}:1-3` }, tail: [], scanFrom: undefined });
  assert.equal(c.kind === 'contained' && c.how, 'gtid');
});
