/**
 * Cutting a binlog that ends mid-event or mid-transaction (a master that
 * crashed while writing) at its last complete transaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventType, lastCompleteTransactionEnd, readBinlog } from '../../src/domain/binlog/index.js';
import { BinlogBuilder } from '../fixtures/binlog/build.js';

const FIX = join(import.meta.dirname, '../fixtures/binlog');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIX, name)));

test('every truncation of real binlogs cuts at the last transaction that is wholly inside', () => {
  for (const f of ['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003']) {
    const bytes = fixture(f);
    const full = readBinlog(bytes);
    const ends = full.transactions.map((t) => t.end);
    for (let len = 0; len <= bytes.length; len++) {
      const c = lastCompleteTransactionEnd(bytes.subarray(0, len), { fileName: f });
      const lastEnd = ends.filter((e) => e <= len).at(-1);
      const open = full.transactions.find((t) => t.start < len && t.end > len);
      if (open) {
        assert.equal(c.offset, open.start, `${f} len ${len}: cut at the start of the partial transaction`);
        assert.equal(c.partialFrom, open.start);
        const gtidEvent = full.events.find((e) => e.offset === open.start)!;
        if (len >= gtidEvent.end) assert.match(c.reason ?? '', new RegExp(`partial transaction \\(GTID ${open.gtid}\\)`));
        else assert.match(c.reason ?? '', /truncated file/, 'the GTID event itself is cut');
      } else if (lastEnd !== undefined) {
        // between transactions: keep any whole neutral events after the last one
        assert.ok(c.offset >= lastEnd && c.offset <= len, `${f} len ${len}: offset ${c.offset}`);
      }
      assert.equal(c.lastTransaction?.end, lastEnd, `${f} len ${len}`);
      assert.equal(c.transactions, ends.filter((e) => e <= len).length);
      // the kept prefix is whole events and whole transactions
      if (c.offset >= 4) {
        const kept = readBinlog(bytes.subarray(0, c.offset));
        if (c.offset > 4) assert.equal(kept.error, undefined, `${f} len ${len}: kept prefix ${c.offset}: ${kept.error?.message}`);
        assert.equal(kept.openTransaction, undefined, `${f} len ${len}`);
      }
      if (len === bytes.length) {
        assert.equal(c.offset, bytes.length);
        assert.equal(c.partialFrom, undefined);
      }
    }
  }
});

test('a crash in the middle of a big row event cuts before its transaction; trailing Rotate is kept', () => {
  const bytes = fixture('mysql-bin.000001');
  const full = readBinlog(bytes);
  const big = full.events.reduce((a, e) => (e.header.eventSize > a.header.eventSize ? e : a));
  assert.ok(big.header.eventSize > 3000);
  const trx = full.transactions.find((t) => t.start < big.offset && t.end > big.offset)!;
  const c = lastCompleteTransactionEnd(bytes.subarray(0, big.offset + 1000));
  assert.equal(c.offset, trx.start);
  assert.equal(c.error?.code, 'truncated-event');
  assert.match(c.reason ?? '', /partial transaction \(GTID 0-1-4\) starts at offset \d+ and never ends: .*truncated file/);
  const whole = lastCompleteTransactionEnd(bytes);
  assert.equal(whole.offset, bytes.length, 'ends with a Rotate after the last transaction: nothing to cut');
});

test('corruption inside a transaction cuts before the transaction; corruption between transactions cuts there', () => {
  const b = new BinlogBuilder();
  b.mariaGtid(0, 1).tableMap(1, 'd', 't').rows(EventType.WRITE_ROWS_V1, 1).xid(1);
  b.mariaGtid(0, 2).tableMap(1, 'd', 't').rows(EventType.WRITE_ROWS_V1, 1).xid(2);
  b.raw(EventType.BINLOG_CHECKPOINT, [16, 0, 0, 0, ...new TextEncoder().encode('mysql-bin.000001')]);
  const clean = b.bytes();
  const mid = clean.slice();
  mid[b.starts[7]! + 20]! ^= 0x55;
  const c1 = lastCompleteTransactionEnd(mid);
  assert.equal(c1.offset, b.starts[5]);
  assert.equal(c1.error?.code, 'bad-checksum');
  const between = clean.slice();
  between[b.starts[9]! + 20]! ^= 0x55;
  const c2 = lastCompleteTransactionEnd(between);
  assert.equal(c2.offset, b.starts[9]);
  assert.equal(c2.transactions, 2);
  assert.equal(c2.partialFrom, b.starts[9]);
});

test('a binlog that ends inside an open transaction on an event boundary (server killed between events)', () => {
  const b = new BinlogBuilder({ serverVersion: '8.0.36' });
  b.mysqlGtid('3e11fa47-71ca-11e1-9e33-c80aa9429562', 1).query('BEGIN').query('INSERT INTO t VALUES (1)').xid(1);
  b.mysqlGtid('3e11fa47-71ca-11e1-9e33-c80aa9429562', 2).query('BEGIN').query('INSERT INTO t VALUES (2)');
  const c = lastCompleteTransactionEnd(b.bytes());
  assert.equal(c.error, undefined);
  assert.equal(c.offset, b.starts[5]);
  assert.equal(c.lastTransaction?.gtid, '3e11fa47-71ca-11e1-9e33-c80aa9429562:1');
  assert.match(c.reason ?? '', /GTID 3e11fa47-71ca-11e1-9e33-c80aa9429562:2\) starts at offset \d+ and never ends \(the data ends inside it\)/);
});

test('cutting a slice read from a start position (salvage from a replica read position)', () => {
  const bytes = fixture('mysql-bin.000002');
  const head = readBinlog(bytes);
  const from = head.transactions[2]!.start;
  const tail = bytes.subarray(from, bytes.length - 100);
  const c = lastCompleteTransactionEnd(tail, { fde: head.fde!, startOffset: from });
  const last = head.transactions.filter((t) => t.end <= bytes.length - 100).at(-1)!;
  const open = head.transactions.find((t) => t.start < bytes.length - 100 && t.end > bytes.length - 100)!;
  assert.equal(c.lastTransaction?.gtid, last.gtid);
  assert.equal(c.offset, open.start, 'offsets are file offsets, not slice offsets');
});
