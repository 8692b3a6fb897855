/**
 * Malformed input: the reader never throws and never hangs; it says where
 * (file, offset) and what is wrong, and keeps everything before the break.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BinlogStreamReader, EventType, findMasterCoordInRelay, lastCompleteTransactionEnd, readBinlog } from '../../src/domain/binlog/index.js';
import { BinlogBuilder, u32, u64 } from '../fixtures/binlog/build.js';

const FIX = join(import.meta.dirname, '../fixtures/binlog');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIX, name)));

function sample(): BinlogBuilder {
  const b = new BinlogBuilder();
  b.mariaGtid(0, 1).tableMap(1, 'd', 't').rows(EventType.WRITE_ROWS_V1, 1).xid(1);
  b.mariaGtid(0, 2).tableMap(1, 'd', 't').rows(EventType.WRITE_ROWS_V1, 1).xid(2);
  return b;
}

test('wrong magic, empty file, magic only', () => {
  const bad = readBinlog(new TextEncoder().encode('GIF89a.......................'), { fileName: 'x.000001' });
  assert.equal(bad.error?.code, 'bad-magic');
  assert.equal(bad.error?.offset, 0);
  assert.equal(bad.error?.file, 'x.000001');
  assert.match(bad.error?.message ?? '', /^x\.000001 at offset 0: not a binlog: the file starts with 47 49 46 38/);
  assert.equal(bad.complete, false);
  assert.equal(readBinlog(new Uint8Array(0)).error?.code, 'bad-magic');
  const magic = readBinlog(Uint8Array.of(0xfe, 0x62, 0x69, 0x6e));
  assert.equal(magic.error?.code, 'missing-format-description');
  assert.equal(magic.error?.offset, 4);
});

test('first event not an FDE; Start_v3 (binlog v1/v3); FDE with binlog version 3; implausible FDE', () => {
  const noFde = new BinlogBuilder({ fde: false }).query('BEGIN').bytes();
  assert.equal(readBinlog(noFde).error?.code, 'missing-format-description');
  const v3 = new BinlogBuilder({ fde: false }).raw(EventType.START_V3, [3, 0, ...new Array<number>(54).fill(0)]).bytes();
  assert.equal(readBinlog(v3).error?.code, 'unsupported-version');
  const b = new BinlogBuilder();
  const bytes = b.bytes();
  bytes[4 + 19] = 3; // binlog_version
  const r = readBinlog(bytes, { verifyChecksums: false });
  assert.equal(r.error?.code, 'unsupported-version');
  assert.equal(r.error?.offset, 4);
  const garbageVersion = b.bytes();
  garbageVersion.fill(0x41, 4 + 19 + 2, 4 + 19 + 10);
  assert.equal(readBinlog(garbageVersion, { verifyChecksums: false }).error?.code, 'bad-format-description');
});

test('event_size smaller than the header, and running past the end', () => {
  const b = sample();
  const bytes = b.bytes();
  const at = b.starts[2]!; // the first table map
  bytes.set(u32(10), at + 9);
  const r = readBinlog(bytes, { fileName: 'f' });
  assert.equal(r.error?.code, 'bad-event-size');
  assert.equal(r.error?.offset, at);
  assert.match(r.error?.message ?? '', /declares size 10, smaller than the 19-byte header/);
  assert.equal(r.validEnd, at);

  const big = b.bytes();
  big.set(u32(0x7fffffff), at + 9);
  const r2 = readBinlog(big, { checkLogPos: false });
  assert.equal(r2.error?.code, 'truncated-event');
  assert.equal(r2.error?.offset, at);
  assert.match(r2.error?.message ?? '', /declares 2147483647 bytes but only \d+ remain/);
});

test('a bad CRC32 is reported with the offset of the event; verifyChecksums:false reads on', () => {
  const b = sample();
  const bytes = b.bytes();
  const at = b.starts[7]!; // rows of the second transaction
  bytes[at + 19 + 2]! ^= 0xff;
  const r = readBinlog(bytes, { fileName: 'mysql-bin.000009' });
  assert.equal(r.error?.code, 'bad-checksum');
  assert.equal(r.error?.offset, at);
  assert.match(r.error?.message ?? '', /^mysql-bin\.000009 at offset \d+: WRITE_ROWS_V1 event \(\d+ bytes\): CRC32 mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/);
  assert.equal(r.transactions.length, 1, 'the first transaction is still reported');
  assert.equal(r.openTransaction?.gtid, '0-1-2');
  const loose = readBinlog(bytes, { verifyChecksums: false });
  assert.equal(loose.error, undefined);
  assert.equal(loose.transactions.length, 2);
  assert.ok(loose.events.every((e) => e.checksum !== 'ok'));
  // A flipped FDE byte is caught too, but not the BINLOG_IN_USE flag the server clears in place.
  const fdeBad = b.bytes();
  fdeBad[4 + 30]! ^= 1;
  assert.equal(readBinlog(fdeBad).error?.code, 'bad-checksum');
  const inUse = b.bytes();
  inUse[4 + 17]! |= 1;
  const ru = readBinlog(inUse);
  assert.equal(ru.error, undefined);
  assert.equal(ru.fde?.inUse, true);
});

test('end_log_pos that does not match the offset (own binlogs only)', () => {
  const b = new BinlogBuilder();
  b.mariaGtid(0, 1, 0x0c, { logPos: 12345 }).xid(1);
  const r = readBinlog(b.bytes());
  assert.equal(r.error?.code, 'bad-log-pos');
  assert.equal(r.error?.offset, b.starts[1]);
  assert.equal(readBinlog(b.bytes(), { kind: 'relay' }).error, undefined);
});

test('a malformed body with a valid checksum: Query whose database length runs past the end; Gtid_list with too many GTIDs', () => {
  const b = new BinlogBuilder();
  b.raw(EventType.QUERY, [...u32(1), ...u32(0), 200, 0, 0, 0, 0, 0x41, 0x42]);
  const r = readBinlog(b.bytes());
  assert.equal(r.error?.code, 'malformed-event');
  assert.equal(r.error?.offset, b.starts[1]);
  assert.match(r.error?.message ?? '', /QUERY event \(\d+ bytes\) is malformed: database name needs 200 bytes/);
  const g = new BinlogBuilder().raw(EventType.MARIADB_GTID_LIST, [...u32(1000), ...u64(1)]);
  assert.equal(readBinlog(g.bytes()).error?.code, 'malformed-event');
  const p = new BinlogBuilder().raw(EventType.PREVIOUS_GTIDS, [...u64(2n ** 60n)]);
  assert.equal(readBinlog(p.bytes()).error?.code, 'malformed-event');
});

test('encrypted binlogs are refused clearly', () => {
  const b = new BinlogBuilder();
  b.raw(EventType.START_ENCRYPTION, [1, ...u32(1), ...new Array<number>(12).fill(7)]);
  b.raw(0x55, [1, 2, 3, 4, 5, 6, 7, 8]);
  const r = readBinlog(b.bytes(), { fileName: 'mysql-bin.000002' });
  assert.equal(r.error?.code, 'encrypted');
  assert.equal(r.error?.offset, b.starts[1]);
  assert.match(r.error?.message ?? '', /encrypted binlogs are not supported/);
});

test('truncated header and truncated event at the end', () => {
  const bytes = sample().bytes();
  const h = readBinlog(bytes.subarray(0, bytes.length - 31 + 5));
  assert.equal(h.error?.code, 'truncated-header');
  const e = readBinlog(bytes.subarray(0, bytes.length - 3));
  assert.equal(e.error?.code, 'truncated-event');
  assert.equal(e.error?.offset, bytes.length - 31);
});

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mustNotThrow(bytes: Uint8Array, what: string): void {
  const t0 = performance.now();
  try {
    const r = readBinlog(bytes, { fileName: 'fuzz' });
    assert.ok(r.validEnd <= r.size, what);
    if (r.error) assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length, `${what}: error offset in range`);
    const c = lastCompleteTransactionEnd(bytes);
    assert.ok(c.offset >= 0 && c.offset <= bytes.length, what);
    readBinlog(bytes, { kind: 'relay', verifyChecksums: false });
    findMasterCoordInRelay([{ name: 'relay-bin.000001', bytes }], { file: 'mysql-bin.000001', pos: 4 });
    const s = new BinlogStreamReader({ verifyChecksums: false, checkLogPos: false });
    for (let i = 0; i < bytes.length; i += 97) s.push(bytes.subarray(i, i + 97));
    s.finish();
  } catch (err) {
    assert.fail(`${what}: threw ${err instanceof Error ? err.stack : String(err)}`);
  }
  assert.ok(performance.now() - t0 < 2000, `${what}: too slow`);
}

test('fuzz: random bytes, with and without the magic, never throw and end quickly', () => {
  const rand = rng(42);
  for (let i = 0; i < 300; i++) {
    const n = Math.floor(rand() * 2000);
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) b[j] = Math.floor(rand() * 256);
    if (i % 2 === 0 && n >= 4) b.set([0xfe, 0x62, 0x69, 0x6e]);
    mustNotThrow(b, `random #${i}`);
  }
});

test('fuzz: random truncations and byte mutations of real files never throw; a valid prefix is never lost', () => {
  const rand = rng(7);
  for (const f of ['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003', 'relay-bin.000004']) {
    const real = fixture(f);
    const full = readBinlog(real, { kind: f.startsWith('relay') ? 'relay' : 'binlog' });
    for (let i = 0; i < 150; i++) {
      const cut = Math.floor(rand() * (real.length + 1));
      const b = real.slice(0, cut);
      if (i % 3 === 1) {
        const k = 1 + Math.floor(rand() * 4);
        for (let j = 0; j < k && cut > 0; j++) b[Math.floor(rand() * cut)] = Math.floor(rand() * 256);
      }
      if (i % 3 === 2 && cut > 40) {
        // garbage event size in some header
        const ev = full.events[Math.floor(rand() * full.events.length)]!;
        if (ev.offset + 13 <= cut) b.set(u32(Math.floor(rand() * 0xffffffff)), ev.offset + 9);
      }
      mustNotThrow(b, `${f} cut ${cut} #${i}`);
      if (i % 3 === 0) {
        // pure truncation: every event wholly before the cut is still read
        const r = readBinlog(b, { kind: f.startsWith('relay') ? 'relay' : 'binlog' });
        const whole = full.events.filter((e) => e.end <= cut).length;
        assert.equal(r.eventCount, whole, `${f} cut ${cut}`);
      }
    }
  }
});
