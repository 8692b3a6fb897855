/**
 * The binlog reader on the real binlogs and relay logs of a sandbox
 * (position-based and GTID replication): every event parses with a valid
 * CRC32, the transactions are those written (cross-checked with
 * mariadb-binlog when installed), the replica's executed master coordinate
 * maps into its relay log where the server itself says it is, the events after
 * it are the master's, and truncated copies are cut at the last whole
 * transaction.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { detectFlavor, replicaStatus, rootSql, type SandboxServer } from '../../src/sandbox/index.js';
import {
  findMasterCoordInRelay,
  isRelayFindError,
  lastCompleteTransactionEnd,
  readBinlog,
  type BinlogReadResult,
  type RelayLogFile,
} from '../../src/domain/binlog/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';

const BIG = 300_000;

/** One entry per binlogged transaction. */
const BATCH1 = [
  'CREATE DATABASE bl',
  'CREATE TABLE bl.t (id INT PRIMARY KEY, v LONGTEXT) ENGINE=InnoDB',
  "INSERT INTO bl.t VALUES (1,'a'),(2,'b'),(3,'c'),(4,'d')",
  "UPDATE bl.t SET v = CONCAT(v, '!') WHERE id IN (1, 2)",
  'DELETE FROM bl.t WHERE id = 3',
  "BEGIN; INSERT INTO bl.t VALUES (5,'e'); UPDATE bl.t SET v='y' WHERE id=1; DELETE FROM bl.t WHERE id=4; INSERT INTO bl.t VALUES (7,'g'),(8,'h'); COMMIT",
  `INSERT INTO bl.t VALUES (6, REPEAT('z', ${BIG}))`,
  'CREATE TABLE bl.m (id INT) ENGINE=MyISAM',
  'INSERT INTO bl.m VALUES (1),(2)',
  'SET SESSION binlog_format=STATEMENT; CREATE TABLE bl.a (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB',
  'SET SESSION binlog_format=STATEMENT; SET @v = 7; INSERT INTO bl.a (v) VALUES (@v), (2)',
  'SET SESSION binlog_format=STATEMENT; BEGIN; INSERT INTO bl.a (v) VALUES (3); SAVEPOINT s; INSERT INTO bl.a (v) VALUES (4); ROLLBACK TO SAVEPOINT s; UPDATE bl.a SET v = v + 1; COMMIT',
];
const BATCH2 = ["INSERT INTO bl.t VALUES (10,'k')", "INSERT INTO bl.t VALUES (11,'l')", 'UPDATE bl.t SET v = UPPER(v) WHERE id >= 10'];
/** Written while the replica's SQL thread is stopped: read but not executed. */
const BATCH3 = ["BEGIN; INSERT INTO bl.t VALUES (12,'m'); INSERT INTO bl.t VALUES (13,'n'); COMMIT", 'DELETE FROM bl.t WHERE id = 12', "INSERT INTO bl.t VALUES (14, REPEAT('q', 5000))"];
const WRITTEN = BATCH1.length + BATCH2.length + BATCH3.length;

async function masterPos(m: SandboxServer): Promise<{ file: string; pos: number }> {
  const [file, pos] = (await rootSql(m, 'SHOW MASTER STATUS')).trim().split('\t');
  return { file: file!, pos: Number(pos) };
}

async function replicaHasRead(m: SandboxServer, r: SandboxServer, executed: boolean): Promise<Map<string, string>> {
  const flavor = await detectFlavor();
  let st = new Map<string, string>();
  await until('the replica to catch up', async () => {
    const mp = await masterPos(m);
    st = await replicaStatus(flavor, r);
    const read = st.get('Master_Log_File') === mp.file && Number(st.get('Read_Master_Log_Pos')) === mp.pos;
    const exec = st.get('Relay_Master_Log_File') === mp.file && Number(st.get('Exec_Master_Log_Pos')) === mp.pos;
    return read && (!executed || exec);
  }, 30_000, 150);
  return st;
}

function binlogTool(): string | undefined {
  for (const p of ['/usr/bin/mariadb-binlog', '/usr/bin/mysqlbinlog', '/usr/local/bin/mariadb-binlog']) if (existsSync(p)) return p;
  return undefined;
}

/** mariadb-binlog's view of a file: event offsets ('# at N') and GTID count. */
async function toolView(tool: string, path: string): Promise<{ offsets: number[]; gtids: number }> {
  const r = await execa(tool, ['--base64-output=never', path], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
  const offsets = [...r.stdout.matchAll(/^# at (\d+)$/gm)].map((m) => Number(m[1]));
  const gtids = (r.stdout.match(/\tGTID \d+-\d+-\d+/g) ?? []).length;
  return { offsets, gtids };
}

/** Master-originated events after (relayIndex, offset): [type@end_log_pos]. */
function relayTail(reads: BinlogReadResult[], index: number, offset: number): string[] {
  const out: string[] = [];
  reads.forEach((r, i) => {
    if (i < index) return;
    const own = r.events[0]!.header.serverId;
    for (const e of r.events) {
      if ((i === index && e.offset < offset) || e.header.serverId === own) continue;
      if (e.type === 'FORMAT_DESCRIPTION' || e.type === 'ROTATE') continue;
      out.push(`${e.type}@${e.header.logPos}`);
    }
  });
  return out;
}

function masterTail(files: { name: string; read: BinlogReadResult }[], file: string, pos: number): string[] {
  const out: string[] = [];
  const from = files.findIndex((f) => f.name === file);
  assert.ok(from >= 0, `master file ${file}`);
  for (const f of files.slice(from)) {
    for (const e of f.read.events) {
      if ((f.name === file && e.offset < pos) || e.type === 'FORMAT_DESCRIPTION' || e.type === 'ROTATE') continue;
      out.push(`${e.type}@${e.header.logPos}`);
    }
  }
  return out;
}

async function scenario(t: TestContext, gtid: boolean): Promise<void> {
  const sb = await withSandbox(t, { name: `binlog-reader-${gtid ? 'gtid' : 'pos'}`, baseAddress: '127.0.12.11', sshPort: 2291, replicas: 1, gtid });
  const [m, r] = sb.servers as [SandboxServer, SandboxServer];

  // --- write, rotate, write more, stop the SQL thread, write more
  for (const sql of BATCH1) await rootSql(m, `${sql};`);
  await replicaHasRead(m, r, true);
  await rootSql(m, 'FLUSH BINARY LOGS');
  await rootSql(r, 'FLUSH RELAY LOGS');
  for (const sql of BATCH2) await rootSql(m, `${sql};`);
  await replicaHasRead(m, r, true);
  await rootSql(r, 'STOP SLAVE SQL_THREAD');
  for (const sql of BATCH3) await rootSql(m, `${sql};`);
  const st = await replicaHasRead(m, r, false);
  assert.equal(st.get('Slave_SQL_Running'), 'No');

  // --- the master's binlogs
  const names = (await rootSql(m, 'SHOW BINARY LOGS')).trim().split('\n').map((l) => l.split('\t')[0]!);
  assert.ok(names.length >= 2, 'rotated');
  const tool = binlogTool();
  const master: { name: string; bytes: Uint8Array; read: BinlogReadResult }[] = [];
  let total = 0;
  for (const name of names) {
    const path = join(m.datadir, name);
    const bytes = new Uint8Array(await readFile(path));
    const read = readBinlog(bytes, { fileName: name });
    assert.equal(read.error, undefined, read.error?.message);
    assert.equal(read.openTransaction, undefined, `${name}: ends between transactions`);
    assert.equal(read.fde?.checksum, 'crc32');
    assert.ok(read.events.every((e) => e.checksum === 'ok'), `${name}: every CRC32 verified`);
    total += read.transactions.length;
    if (tool) {
      const view = await toolView(tool, path);
      assert.deepEqual(read.events.map((e) => e.offset), view.offsets, `${name}: same event offsets as mariadb-binlog`);
      assert.equal(read.transactions.length, view.gtids, `${name}: one transaction per GTID in mariadb-binlog`);
    }
    master.push({ name, bytes, read });
  }
  assert.equal(total, WRITTEN, 'transactions read = transactions written');
  const gtidPos = (await rootSql(m, 'SELECT @@gtid_binlog_pos')).trim();
  assert.equal(gtidPos, `0-1-${WRITTEN}`);
  const all = master.flatMap((f) => f.read.transactions);
  assert.deepEqual(
    all.map((x) => x.gtid),
    Array.from({ length: WRITTEN }, (_, i) => `0-1-${i + 1}`),
  );
  assert.deepEqual(
    all.map((x) => x.kind),
    [...BATCH1, ...BATCH2, ...BATCH3].map((s) => (/^(SET [^;]*; )*CREATE /.test(s) ? 'ddl' : 'transaction')),
  );

  // --- the replica's relay logs
  const index = await readFile(join(r.datadir, 'relay-bin.index'), 'utf8');
  const relayNames = index
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.replace(/^.*\//, ''));
  assert.ok(relayNames.length >= 2);
  const relays: RelayLogFile[] = [];
  const reads: BinlogReadResult[] = [];
  let relayTrx = 0;
  for (const name of relayNames) {
    const bytes = new Uint8Array(await readFile(join(r.datadir, name)));
    const read = readBinlog(bytes, { fileName: name, kind: 'relay' });
    assert.equal(read.error, undefined, read.error?.message);
    assert.ok(read.events.every((e) => e.checksum === 'ok'), `${name}: every CRC32 verified`);
    if (tool) assert.deepEqual(read.events.map((e) => e.offset), (await toolView(tool, join(r.datadir, name))).offsets, `${name}: same offsets as mariadb-binlog`);
    relayTrx += read.transactions.length;
    relays.push({ name, bytes });
    reads.push(read);
  }
  assert.ok(relayTrx <= WRITTEN && relayTrx >= BATCH2.length + BATCH3.length, `relay transactions ${relayTrx}`);

  // --- Exec_Master_Log_Pos maps where the server itself says (Relay_Log_File/Relay_Log_Pos)
  const exec = { file: st.get('Relay_Master_Log_File')!, pos: Number(st.get('Exec_Master_Log_Pos')) };
  const found = findMasterCoordInRelay(relays, exec);
  assert.ok(!isRelayFindError(found), isRelayFindError(found) ? found.error : '');
  assert.equal(found.relayFile, st.get('Relay_Log_File'));
  assert.equal(found.offset, Number(st.get('Relay_Log_Pos')));
  const relayAfter = relayTail(reads, found.relayIndex, found.offset);
  assert.deepEqual(relayAfter, masterTail(master, exec.file, exec.pos), 'the relay events after the coordinate are the master events after it');
  assert.equal(relayAfter.filter((e) => e.startsWith('MARIADB_GTID@')).length, BATCH3.length);

  // --- Read_Master_Log_Pos: the end of what was received
  const read = findMasterCoordInRelay(relays, { file: st.get('Master_Log_File')!, pos: Number(st.get('Read_Master_Log_Pos')) });
  assert.ok(!isRelayFindError(read) && read.atEnd, JSON.stringify(read));

  // --- a coordinate inside the multi-statement transaction is refused
  const multi = master.flatMap((f) => f.read.transactions.map((x) => ({ f, x }))).find(({ x }) => x.eventCount > 8)!;
  const inner = multi.f.read.events.find((e) => e.offset > multi.x.start && e.type.endsWith('ROWS_V1'))!;
  const mid = findMasterCoordInRelay(relays, { file: multi.f.name, pos: inner.end });
  assert.ok(isRelayFindError(mid) && mid.code === 'mid-transaction', JSON.stringify(mid));
  assert.match(mid.error, /inside a transaction/);

  // --- truncated copies of a real binlog are cut at the last whole transaction
  const withBig = master.find((f) => f.read.events.some((e) => e.header.eventSize > BIG))!;
  const bigEv = withBig.read.events.find((e) => e.header.eventSize > BIG)!;
  const bigTrx = withBig.read.transactions.find((x) => x.start < bigEv.offset && x.end > bigEv.offset)!;
  const cuts = [
    { at: bigEv.offset + Math.floor(bigEv.header.eventSize / 2), want: bigTrx.start, what: 'inside the big row event' },
    { at: inner.end, want: multi.x.start, what: 'between events of a multi-statement transaction' },
    { at: bigTrx.end, want: bigTrx.end, what: 'exactly at a transaction end' },
  ];
  for (const c of cuts) {
    const file = c.what.includes('multi') ? multi.f : withBig;
    const bytes = file.bytes.subarray(0, c.at);
    const cut = lastCompleteTransactionEnd(bytes, { fileName: file.name });
    assert.equal(cut.offset, c.want, `${c.what}: ${cut.reason ?? ''}`);
    const kept = readBinlog(bytes.subarray(0, cut.offset));
    assert.equal(kept.error, undefined);
    assert.equal(kept.openTransaction, undefined);
    if (tool) {
      // the server's own tool reads the cut file to the end, with the same transactions
      const path = join(sb.dir, `cut-${gtid ? 'g' : 'p'}-${c.at}.bin`);
      await writeFile(path, bytes.subarray(0, cut.offset));
      const view = await toolView(tool, path);
      assert.equal(view.gtids, kept.transactions.length, c.what);
    }
  }
  await rootSql(r, 'START SLAVE SQL_THREAD');
}

test('binlog reader on real binlogs and relay logs (position-based replication)', async (t) => {
  await scenario(t, false);
});

test('binlog reader on real binlogs and relay logs (GTID replication)', async (t) => {
  await scenario(t, true);
});
