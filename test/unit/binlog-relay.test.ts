/**
 * Mapping a master coordinate into relay logs (differential relay-log
 * recovery), on the real relay logs of a MariaDB replica and on hand-made ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventFlag, EventType, findMasterCoordInRelay, isRelayFindError, readBinlog, type RelayLogFile } from '../../src/domain/binlog/index.js';
import { BinlogBuilder } from '../fixtures/binlog/build.js';

const FIX = join(import.meta.dirname, '../fixtures/binlog');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIX, name)));
const expected = JSON.parse(readFileSync(join(FIX, 'expect.json'), 'utf8')) as {
  masterFiles: string[];
  relayFiles: string[];
  replica: Record<string, string>;
};
const relays: RelayLogFile[] = expected.relayFiles.map((name) => ({ name, bytes: fixture(name) }));

/** Master events after `offset` in relay file `index`, to the end of the relay logs: [type, end_log_pos]. */
function relayEventsAfter(index: number, offset: number): string[] {
  const out: string[] = [];
  relays.forEach((f, i) => {
    if (i < index) return;
    const r = readBinlog(f.bytes, { kind: 'relay' });
    const own = r.events[0]!.header.serverId;
    for (const e of r.events) {
      if (i === index && e.offset < offset) continue;
      if (e.header.serverId === own) continue;
      if (e.type === 'FORMAT_DESCRIPTION' || e.type === 'ROTATE') continue; // stream framing, not data
      out.push(`${e.type}@${e.header.logPos}`);
    }
  });
  return out;
}

function masterEventsAfter(file: string, pos: number): string[] {
  const out: string[] = [];
  let started = false;
  for (const f of expected.masterFiles) {
    if (f === file) started = true;
    if (!started) continue;
    for (const e of readBinlog(fixture(f)).events) {
      if (f === file && e.offset < pos) continue;
      if (e.type === 'FORMAT_DESCRIPTION' || e.type === 'ROTATE') continue;
      out.push(`${e.type}@${e.header.logPos}`);
    }
  }
  return out;
}

test('real relay logs parse (CRC32 verified), with the master checksum change in the middle', () => {
  let trx = 0;
  for (const f of relays) {
    const r = readBinlog(f.bytes, { fileName: f.name, kind: 'relay' });
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.openTransaction, undefined, f.name);
    trx += r.transactions.length;
    // the replica's own events carry its server id and the RELAY_LOG flag
    assert.equal(r.events[0]!.header.serverId, 2);
    assert.ok(r.events[0]!.header.flags & EventFlag.RELAY_LOG);
  }
  assert.equal(trx, 17, 'every master transaction reached the relay logs');
});

test("the replica's Exec_Master_Log_Pos maps to its own Relay_Log_File/Relay_Log_Pos, and the events after it equal the master's", () => {
  const { Relay_Master_Log_File: file, Exec_Master_Log_Pos: pos, Relay_Log_File, Relay_Log_Pos } = expected.replica;
  const r = findMasterCoordInRelay(relays, { file: file!, pos: Number(pos) });
  assert.ok(!isRelayFindError(r), isRelayFindError(r) ? r.error : '');
  assert.equal(r.relayFile, Relay_Log_File);
  assert.equal(r.offset, Number(Relay_Log_Pos));
  assert.equal(r.atEnd, false);
  const after = relayEventsAfter(r.relayIndex, r.offset);
  assert.deepEqual(after, masterEventsAfter(file!, Number(pos)));
  assert.equal(after.filter((e) => e.startsWith('MARIADB_GTID@')).length, 2);
});

test('every transaction boundary of every master file maps, and the events after it match the master', () => {
  let checked = 0;
  for (const f of expected.masterFiles) {
    const m = readBinlog(fixture(f));
    for (const t of m.transactions) {
      const r = findMasterCoordInRelay(relays, { file: f, pos: t.end });
      assert.ok(!isRelayFindError(r), `${f}:${t.end}: ${isRelayFindError(r) ? r.error : ''}`);
      assert.deepEqual(relayEventsAfter(r.relayIndex, r.offset), masterEventsAfter(f, t.end), `${f}:${t.end}`);
      checked++;
    }
    // and the start of the first transaction of each file (the replica began replicating file 1 there)
    const first = m.transactions[0]!.start;
    const rf = findMasterCoordInRelay(relays, { file: f, pos: first });
    assert.ok(!isRelayFindError(rf), `${f}:${first}`);
    assert.deepEqual(relayEventsAfter(rf.relayIndex, rf.offset), masterEventsAfter(f, first), `${f}:${first}`);
    // and the start of each file after a master rotate
    const r4 = findMasterCoordInRelay(relays, { file: f, pos: 4 });
    if (f === expected.masterFiles[0]) {
      assert.ok(isRelayFindError(r4) && r4.code === 'purged', JSON.stringify(r4));
      assert.match(r4.error, /start at mysql-bin\.000001:328/);
    } else {
      assert.ok(!isRelayFindError(r4), `${f}:4`);
      assert.deepEqual(relayEventsAfter(r4.relayIndex, r4.offset), masterEventsAfter(f, 4), `${f}:4`);
    }
  }
  assert.equal(checked, 17);
  const last = expected.masterFiles.at(-1)!;
  const end = readBinlog(fixture(last)).validEnd;
  const r = findMasterCoordInRelay(relays, { file: last, pos: end });
  assert.ok(!isRelayFindError(r) && r.atEnd && r.eventsAfter === 0);
});

test('coordinates that are not transaction boundaries, not reached, or not there give clear errors', () => {
  const m = readBinlog(fixture('mysql-bin.000001'));
  const t = m.transactions[3]!; // multi-statement transaction
  const midEvent = m.events.find((e) => e.offset > t.start && e.type === 'TABLE_MAP')!;
  const mid = findMasterCoordInRelay(relays, { file: 'mysql-bin.000001', pos: midEvent.end });
  assert.ok(isRelayFindError(mid) && mid.code === 'mid-transaction', JSON.stringify(mid));
  assert.match(mid.error, /inside a transaction/);
  const inside = findMasterCoordInRelay(relays, { file: 'mysql-bin.000001', pos: midEvent.offset + 3 });
  assert.ok(isRelayFindError(inside) && inside.code === 'inside-event', JSON.stringify(inside));
  assert.match(inside.error, /points inside a TABLE_MAP event/);
  const far = findMasterCoordInRelay(relays, { file: 'mysql-bin.000003', pos: 999_999 });
  assert.ok(isRelayFindError(far) && far.code === 'not-reached', JSON.stringify(far));
  const nofile = findMasterCoordInRelay(relays, { file: 'mysql-bin.000009', pos: 4 });
  assert.ok(isRelayFindError(nofile) && nofile.code === 'file-not-found');
  assert.match(nofile.error, /do not contain master file mysql-bin\.000009/);
  const purged = findMasterCoordInRelay(relays.slice(3), { file: 'mysql-bin.000001', pos: 866 });
  assert.ok(isRelayFindError(purged) && purged.code === 'file-not-found', JSON.stringify(purged));
  const none = findMasterCoordInRelay([], { file: 'mysql-bin.000001', pos: 4 });
  assert.ok(isRelayFindError(none) && none.code === 'no-relay-logs');
});

test('a corrupt relay log before the coordinate is reported; after it, the found position stands', () => {
  // (the last relay file holds events of a checksum-off master: cut it mid-event)
  const broken = relays.map((f, i) => ({ ...f, bytes: i === relays.length - 1 ? f.bytes.subarray(0, f.bytes.length - 3) : f.bytes }));
  const early = findMasterCoordInRelay(broken, { file: 'mysql-bin.000003', pos: 755 });
  assert.ok(!isRelayFindError(early), 'found before the damage');
  const late = findMasterCoordInRelay(broken, { file: 'mysql-bin.000003', pos: 1147 });
  assert.ok(isRelayFindError(late) && late.code === 'parse-error' && late.parseError?.code === 'truncated-event', JSON.stringify(late));
});

/** A hand-made relay log: own FDE (server 2), fake master rotate, master FDE, master events with master positions. */
function relayFile(build: (b: BinlogBuilder, at: { pos: number }) => void, opts: { next?: string } = {}): Uint8Array {
  const b = new BinlogBuilder({ serverId: 2 });
  const at = { pos: 0 };
  build(b, at);
  if (opts.next) b.rotate(opts.next, 4, { serverId: 2, flags: EventFlag.RELAY_LOG });
  return b.bytes();
}

test('hand-made relay logs: a transaction split across relay files, and a re-fetch after reconnect (last occurrence wins)', () => {
  // master positions: trx A = [100, 300), trx B = [300, 500)
  const m = (b: BinlogBuilder, type: 'gtid' | 'map' | 'rows' | 'xid', seq: number, end: number): void => {
    const o = { serverId: 1, logPos: end };
    if (type === 'gtid') b.mariaGtid(0, seq, 0x0c, o);
    else if (type === 'map') b.tableMap(1, 'd', 't', o);
    else if (type === 'rows') b.rows(EventType.WRITE_ROWS_V1, 1, o);
    else b.xid(seq, o);
  };
  const r1 = relayFile(
    (b) => {
      b.rotate('mysql-bin.000005', 100, { serverId: 1, logPos: 0, flags: EventFlag.ARTIFICIAL });
      b.fde({ serverId: 1, logPos: 0 });
      m(b, 'gtid', 1, 150);
      m(b, 'map', 1, 200);
    },
    { next: 'relay-bin.000002' },
  );
  const r2 = relayFile(
    (b) => {
      b.rotate('mysql-bin.000005', 200, { serverId: 1, logPos: 0, flags: EventFlag.ARTIFICIAL });
      b.fde({ serverId: 1, logPos: 0 });
      m(b, 'rows', 1, 250);
      m(b, 'xid', 1, 300);
      m(b, 'gtid', 2, 350);
    },
    { next: 'relay-bin.000003' },
  );
  // reconnect in GTID mode: the master re-sends B from its start
  const r3 = relayFile((b) => {
    b.rotate('mysql-bin.000005', 300, { serverId: 1, logPos: 0, flags: EventFlag.ARTIFICIAL });
    b.fde({ serverId: 1, logPos: 0 });
    m(b, 'gtid', 2, 350);
    m(b, 'map', 2, 400);
    m(b, 'rows', 2, 450);
    m(b, 'xid', 2, 500);
  });
  const files = [
    { name: 'relay-bin.000001', bytes: r1 },
    { name: 'relay-bin.000002', bytes: r2 },
    { name: 'relay-bin.000003', bytes: r3 },
  ];
  const a = findMasterCoordInRelay(files, { file: 'mysql-bin.000005', pos: 100 });
  assert.ok(!isRelayFindError(a) && a.relayFile === 'relay-bin.000001', JSON.stringify(a));
  const mid = findMasterCoordInRelay(files, { file: 'mysql-bin.000005', pos: 200 });
  assert.ok(isRelayFindError(mid) && mid.code === 'mid-transaction', 'the fake rotate at 200 is inside trx A');
  const b = findMasterCoordInRelay(files, { file: 'mysql-bin.000005', pos: 300 });
  assert.ok(!isRelayFindError(b), JSON.stringify(b));
  assert.equal(b.relayFile, 'relay-bin.000003', 'the re-fetched copy (last occurrence) wins');
  assert.equal(b.eventsAfter, 5); // the master's FDE, then B's 4 events
  const end = findMasterCoordInRelay(files, { file: 'mysql-bin.000005', pos: 500 });
  assert.ok(!isRelayFindError(end) && end.atEnd);
  const purged = findMasterCoordInRelay(files.slice(1), { file: 'mysql-bin.000005', pos: 150 });
  assert.ok(isRelayFindError(purged) && purged.code === 'purged', JSON.stringify(purged));
  const gap = findMasterCoordInRelay(files, { file: 'mysql-bin.000005', pos: 120 });
  assert.ok(isRelayFindError(gap) && gap.code === 'inside-event', JSON.stringify(gap));
});
