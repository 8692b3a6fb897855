/**
 * The CONNECT check's lean client (src/adapters/mysql/lean-connect.ts) against scripted servers on
 * 127.0.80.20 (the packet helpers of the benchmark's simulator, bench/scale/wire.ts): both password
 * scrambles checked byte for byte, auth switch, caching_sha2 fast and full authentication, errors in
 * the greeting, after authentication and in the middle of a multi-statement answer, a server that
 * closes or never greets, and the health checker's fall back to mysql2 for what the client does not speak.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { PacketReader, PacketWriter, STATUS_AUTOCOMMIT, STATUS_MORE_RESULTS } from '../../bench/scale/wire.js';
import { LeanAuth, leanQuery, LeanUnsupported } from '../../src/adapters/mysql/lean-connect.js';
import { DbError, type DbTarget } from '../../src/adapters/mysql/connection.js';
import { createHealthChecker } from '../../src/adapters/mysql/health.js';
import { Secret } from '../../src/domain/secret.js';

const HOST = '127.0.80.20';
const PASSWORD = 's3cret-pässword';
const SCRAMBLE = Buffer.from('0123456789abcdefghij', 'latin1');
const SCRAMBLE2 = Buffer.from('ABCDEFGHIJ0123456789', 'latin1');

const sha1 = (...b: Buffer[]): Buffer => b.reduce((h, x) => h.update(x), createHash('sha1')).digest();
const sha256 = (...b: Buffer[]): Buffer => b.reduce((h, x) => h.update(x), createHash('sha256')).digest();
const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((x, i) => x ^ b[i]!));
const pw = Buffer.from(PASSWORD, 'utf8');
const nativeToken = (s: Buffer): Buffer => xor(sha1(pw), sha1(s, sha1(sha1(pw))));
const sha2Token = (s: Buffer): Buffer => xor(sha256(pw), sha256(sha256(sha256(pw)), s));

function greetingPacket(plugin: string, caps = 0xffffff & ~0x800 & ~0x20 & ~0x800000): Buffer {
  const w = new PacketWriter();
  w.begin().u8(10).raw('10.11.6-MariaDB-log').u8(0).u32(42).bytes(SCRAMBLE.subarray(0, 8)).u8(0).u16(caps & 0xffff).u8(33).u16(2).u16((caps >>> 16) & 0xffff);
  w.u8(21).bytes(Buffer.alloc(10)).bytes(SCRAMBLE.subarray(8)).u8(0).raw(plugin).u8(0).end();
  return w.take();
}

/** The handshake response's user, auth token and plugin. */
function parseResponse(p: Buffer): { user: string; token: Buffer; plugin: string } {
  let o = 32;
  const ue = p.indexOf(0, o);
  const user = p.toString('utf8', o, ue);
  o = ue + 1;
  const n = p[o]!;
  const token = p.subarray(o + 1, o + 1 + n);
  o += 1 + n;
  const plugin = p.toString('latin1', o, p.indexOf(0, o));
  return { user, token: Buffer.from(token), plugin };
}

type Script = (socket: Socket, step: number, seq: number, payload: Buffer, out: PacketWriter) => void;

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A server that greets (unless greet is undefined) and hands every packet of the client to the script. */
async function scripted(greet: Buffer | undefined, script: Script): Promise<{ target: DbTarget; seen: Array<{ seq: number; payload: Buffer }>; connections: () => number }> {
  const seen: Array<{ seq: number; payload: Buffer }> = [];
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let step = 0;
    socket.on('error', () => undefined);
    const r = new PacketReader((seq, payload) => {
      seen.push({ seq, payload: Buffer.from(payload) });
      const out = new PacketWriter();
      out.seq = seq + 1;
      script(socket, step++, seq, payload, out);
      if (out.length > 0 && !socket.destroyed) socket.write(out.take());
    });
    socket.on('data', (c: Buffer) => r.push(c));
    if (greet) socket.write(greet);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as { port: number }).port;
  return { target: { name: 'db1', host: HOST, port, user: 'mhats', password: new Secret(PASSWORD) }, seen, connections: () => connections };
}

const query = (t: DbTarget, sql = 'SELECT 1 AS value', ms = 2000): Promise<Array<Array<Record<string, unknown>>>> => leanQuery(t, new LeanAuth(t), sql, { signal: AbortSignal.timeout(ms) });

/** Answers a query with the ping's row; more: a second, empty-ish result follows. */
function answerPing(out: PacketWriter): void {
  out.resultSet([{ name: 'value', numeric: true }], [[1]], STATUS_AUTOCOMMIT);
}

test('mysql_native_password: the scramble is checked byte for byte, the query answered, COM_QUIT sent', async () => {
  const s = await scripted(greetingPacket('mysql_native_password'), (sock, step, _seq, p, out) => {
    if (step === 0) {
      const r = parseResponse(p);
      assert.equal(r.user, 'mhats');
      assert.equal(r.plugin, 'mysql_native_password');
      assert.deepEqual(r.token, nativeToken(SCRAMBLE));
      out.ok(STATUS_AUTOCOMMIT);
    } else if (step === 1) answerPing(out);
  });
  assert.deepEqual(await query(s.target), [[{ value: 1 }]]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.seen[0]!.seq, 1, 'the handshake response follows the greeting');
  assert.equal(s.seen[1]!.seq, 0);
  assert.equal(s.seen[1]!.payload[0], 0x03);
  assert.equal(s.seen[2]?.payload[0], 0x01, 'COM_QUIT (sent with the query)');
});

test('caching_sha2_password fast authentication, after an auth switch from another plugin', async () => {
  const s = await scripted(greetingPacket('mysql_native_password'), (_sock, step, _seq, p, out) => {
    if (step === 0) {
      assert.deepEqual(parseResponse(p).token, nativeToken(SCRAMBLE));
      out.begin().u8(0xfe).raw('caching_sha2_password').u8(0).bytes(SCRAMBLE2).u8(0).end();
    } else if (step === 1) {
      assert.deepEqual(Buffer.from(p), sha2Token(SCRAMBLE2));
      out.begin().u8(0x01).u8(0x03).end();
      out.ok(STATUS_AUTOCOMMIT);
    } else if (step === 2) answerPing(out);
  });
  assert.deepEqual(await query(s.target), [[{ value: 1 }]]);
});

test('several results, NULL, integers (a big one as text), text', async () => {
  const s = await scripted(greetingPacket('caching_sha2_password'), (_sock, step, _seq, p, out) => {
    if (step === 0) {
      assert.deepEqual(parseResponse(p).token, sha2Token(SCRAMBLE));
      out.begin().u8(0x01).u8(0x03).end();
      out.ok(STATUS_AUTOCOMMIT);
    } else if (step === 1) {
      assert.equal(p.toString('utf8', 1), 'SELECT 1 AS value, @@global.gtid_binlog_pos AS gtid; SHOW MASTER STATUS');
      out.resultSet(
        [
          { name: 'value', numeric: true },
          { name: 'gtid', numeric: false },
        ],
        [[1, null]],
        STATUS_AUTOCOMMIT | STATUS_MORE_RESULTS,
      );
      out.resultSet(
        [
          { name: 'File', numeric: false },
          { name: 'Position', numeric: true },
          { name: 'Big', numeric: true },
        ],
        [
          ['mysql-bin.000003', 123456789, '18446744073709551615'],
          ['x'.repeat(300), 0, 5],
        ],
        STATUS_AUTOCOMMIT,
      );
    }
  });
  const sets = await query(s.target, 'SELECT 1 AS value, @@global.gtid_binlog_pos AS gtid; SHOW MASTER STATUS');
  assert.deepEqual(sets, [
    [{ value: 1, gtid: null }],
    [
      { File: 'mysql-bin.000003', Position: 123456789, Big: '18446744073709551615' },
      { File: 'x'.repeat(300), Position: 0, Big: 5 },
    ],
  ]);
});

test('errors: in the greeting (too many connections), at authentication (access denied), in the middle of the answer', async () => {
  const busy = await scripted(new PacketWriter().begin().u8(0xff).u16(1040).raw('Too many connections').end().take(), () => undefined);
  await assert.rejects(query(busy.target), (e: unknown) => e instanceof DbError && e.kind === 'too_many_connections' && e.errno === 1040);

  const denied = await scripted(greetingPacket('mysql_native_password'), (_s, step, _q, _p, out) => {
    if (step === 0) out.err(1045, "Access denied for user 'mhats'@'127.0.0.1' (using password: YES)", '28000');
  });
  await assert.rejects(query(denied.target), (e: unknown) => e instanceof DbError && e.kind === 'auth' && e.errno === 1045);

  const midway = await scripted(greetingPacket('mysql_native_password'), (_s, step, _q, _p, out) => {
    if (step === 0) out.ok(STATUS_AUTOCOMMIT);
    else if (step === 1) {
      out.resultSet([{ name: 'value', numeric: true }], [[1]], STATUS_AUTOCOMMIT | STATUS_MORE_RESULTS);
      out.err(1227, 'Access denied; you need (at least one of) the SUPER, BINLOG MONITOR privilege(s) for this operation');
    }
  });
  await assert.rejects(query(midway.target, 'SELECT 1 AS value; SHOW MASTER STATUS'), (e: unknown) => e instanceof DbError && e.errno === 1227);
});

test('a server that closes before its greeting, one that never greets (the deadline), a refused port', async () => {
  const closes = await scripted(undefined, () => undefined);
  const srv = servers.at(-1)!;
  srv.removeAllListeners('connection');
  srv.on('connection', (sock: Socket) => sock.destroy());
  await assert.rejects(query(closes.target), (e: unknown) => e instanceof DbError && e.kind === 'protocol');

  const silent = await scripted(undefined, () => undefined);
  const t0 = performance.now();
  await assert.rejects(query(silent.target, 'SELECT 1 AS value', 200), (e: unknown) => e instanceof DbError && e.kind === 'timeout');
  assert.ok(performance.now() - t0 < 1000);

  const gone = await scripted(undefined, () => undefined);
  const port = gone.target.port;
  await new Promise<void>((r) => servers.pop()!.close(() => r()));
  await assert.rejects(query({ ...gone.target, port }), (e: unknown) => e instanceof DbError && e.kind === 'refused');
});

test('what the client does not speak is LeanUnsupported, before any statement: another plugin, caching_sha2 full authentication, no 4.1 protocol', async () => {
  const ed = await scripted(greetingPacket('client_ed25519'), () => undefined);
  await assert.rejects(query(ed.target), LeanUnsupported);
  const full = await scripted(greetingPacket('caching_sha2_password'), (_s, step, _q, _p, out) => {
    if (step === 0) out.begin().u8(0x01).u8(0x04).end();
  });
  await assert.rejects(query(full.target), LeanUnsupported);
  assert.ok(full.seen.every((x) => x.payload[0] !== 0x03), 'no statement was sent');
  const old = await scripted(greetingPacket('mysql_native_password', 0xffff & ~0x200), () => undefined);
  await assert.rejects(query(old.target), LeanUnsupported);
});

test('the CONNECT health check falls back to mysql2 for good when the lean client is not enough', async () => {
  let conn = 0;
  const server = createServer((socket) => {
    const n = ++conn;
    socket.on('error', () => undefined);
    let step = 0;
    const r = new PacketReader((seq, _p) => {
      const out = new PacketWriter();
      out.seq = seq + 1;
      if (step === 0) out.ok(STATUS_AUTOCOMMIT);
      else if (step === 1) answerPing(out);
      else if (step >= 1) socket.destroy();
      step++;
      if (out.length > 0 && !socket.destroyed) socket.write(out.take());
    });
    socket.on('data', (c: Buffer) => r.push(c));
    // The first connection offers a plugin the lean client does not speak; mysql2's connections get native.
    socket.write(greetingPacket(n === 1 ? 'client_ed25519' : 'mysql_native_password'));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as { port: number }).port;
  const check = createHealthChecker('CONNECT', { name: 'db1', host: HOST, port, user: 'mhats', password: new Secret(PASSWORD) }, { timeoutMs: 2000, now: () => performance.now() });
  const r1 = await check.check();
  assert.ok(r1.ok, JSON.stringify(r1));
  assert.equal(conn, 2, 'the lean attempt, then mysql2');
  const r2 = await check.check();
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.equal(conn, 3, 'mysql2 only from then on');
});
