/**
 * The scale benchmark's simulator (bench/scale/wire.ts, bench/scale/sim-core.ts): the packet
 * encoding and splitting, and that the manager's own monitoring reads (a CONNECT health check with
 * the position, an inspection on a kept connection, the replicas' views) get answers from it
 * without a single statement it does not simulate. Loopback 127.0.80.1-3.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketReader, PacketWriter, greeting, greetingTemplate } from '../../bench/scale/wire.js';
import { SimFleet } from '../../bench/scale/sim-core.js';
import { createHealthChecker } from '../../src/adapters/mysql/health.js';
import { dialectFor, parseVersion } from '../../src/adapters/mysql/dialect.js';
import { inspectServer } from '../../src/adapters/mysql/inspect.js';
import { SessionKeeper } from '../../src/adapters/mysql/keeper.js';
import { WitnessSampler } from '../../src/adapters/mysql/witness.js';
import { Secret } from '../../src/domain/secret.js';
import { MasterMonitorLock } from '../../src/adapters/leader/advisory-lock.js';
import { silentLogger } from '../../src/ports/logger.js';
import type { SshSettings } from '../../src/config/types.js';
import { clusterConfig, serverConfig } from '../helpers/config.js';

test('PacketReader: packets split over chunks and several in one chunk, each with its sequence id', () => {
  const w = new PacketWriter(8);
  w.seq = 3;
  w.begin().raw('hello').end();
  w.begin().bytes(Buffer.alloc(300, 7)).end();
  w.begin().end();
  const bytes = w.take();
  assert.equal(bytes.length, 4 + 5 + 4 + 300 + 4);
  for (const cut of [1, 3, 4, 9, 10, 200, bytes.length]) {
    const got: Array<[number, string]> = [];
    const r = new PacketReader((seq, p) => got.push([seq, p.length === 300 ? `300x${p[299]}` : p.toString()]));
    r.push(bytes.subarray(0, cut));
    r.push(bytes.subarray(cut));
    assert.deepEqual(got, [[3, 'hello'], [4, '300x7'], [5, '']], `cut at ${cut}`);
  }
});

test('PacketWriter: length-encoded integers and cells', () => {
  const enc = (f: (w: PacketWriter) => void): number[] => {
    const w = new PacketWriter(4);
    f(w);
    return [...w.take()];
  };
  assert.deepEqual(enc((w) => w.lenenc(250)), [250]);
  assert.deepEqual(enc((w) => w.lenenc(251)), [0xfc, 251, 0]);
  assert.deepEqual(enc((w) => w.lenenc(0x10000)), [0xfd, 0, 0, 1]);
  assert.deepEqual(enc((w) => w.lenenc(0x1000000)), [0xfe, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.deepEqual(enc((w) => w.cell(null)), [0xfb]);
  assert.deepEqual(enc((w) => w.cell(42)), [2, 0x34, 0x32]);
  assert.deepEqual(enc((w) => w.cell('é')), [2, 0xc3, 0xa9]);
});

test('greeting: the connection id patched into a copy of the template', () => {
  const t = greetingTemplate('10.11.6-MariaDB-log');
  const a = greeting(t, 7);
  const b = greeting(t, 0x01020304);
  assert.equal(a.readUInt32LE(t.connIdOffset), 7);
  assert.equal(b.readUInt32LE(t.connIdOffset), 0x01020304);
  assert.equal(t.packet.readUInt32LE(t.connIdOffset), 0, 'the template is not changed');
  assert.equal(a.readUIntLE(0, 3), a.length - 4);
  assert.equal(a[4], 10, 'protocol version 10');
});

const fleet = new SimFleet({ rate: 1000, maxLagMs: 5 });
const host = (i: number): string => `127.0.80.${i}`;
const target = (i: number): { name: string; host: string; port: number; user: string; password: Secret } => ({ name: `db${i}`, host: host(i), port: 3306, user: 'mhats', password: new Secret('x') });

before(async () => {
  await fleet.listen({ name: 'db1', host: host(1), port: 3306, serverId: 1 });
  await fleet.listen({ name: 'db2', host: host(2), port: 3306, serverId: 2, master: 'db1' });
  await fleet.listen({ name: 'db3', host: host(3), port: 3306, serverId: 3, master: 'db1' });
});

after(() => fleet.close());

test("the manager's monitoring reads are all simulated, with values that change", async () => {
  const dialect = dialectFor(parseVersion('10.11.6-MariaDB-log'));
  const check = createHealthChecker('CONNECT', target(1), { timeoutMs: 2000, now: () => performance.now(), dialect });
  const r1 = await check.check();
  assert.ok(r1.ok, JSON.stringify(r1));
  assert.match(r1.position?.gtid ?? '', /^0-1-\d+$/);
  assert.equal(r1.position?.coord?.file, 'mysql-bin.000001');
  await new Promise((r) => setTimeout(r, 20));
  const r2 = await check.check();
  assert.ok(r2.ok);
  assert.ok((r2.position?.coord?.pos ?? 0) > (r1.position?.coord?.pos ?? 0), 'the master writes');
  for (const type of ['SELECT', 'INSERT'] as const) {
    const c = createHealthChecker(type, target(1), { timeoutMs: 2000, now: () => performance.now(), dialect });
    assert.ok((await c.check()).ok, type);
    assert.ok((await c.check()).ok, type);
    c.close();
  }

  const keeper = new SessionKeeper();
  const opts = { connectTimeoutMs: 2000, queryTimeoutMs: 2000, now: Date.now };
  for (let round = 0; round < 2; round++) {
    for (const i of [1, 2, 3]) {
      const p = await inspectServer(target(i), opts, keeper);
      assert.ok(p.ok, JSON.stringify(p));
      if (i === 1) assert.equal(p.obs.readOnly, false);
      else {
        assert.equal(p.obs.replica?.sourceHost, host(1));
        assert.equal(p.obs.replica?.ioRunning, 'Yes');
      }
    }
  }
  assert.equal(keeper.opened, 3, 'inspections reuse their connections');
  keeper.close();

  const sampler = new WitnessSampler({ connectTimeoutMs: 2000, queryTimeoutMs: 2000 }, () => performance.now());
  const s = await sampler.sampleOne(target(2), (h, port) => h === host(1) && port === 3306);
  assert.ok(s.reachable && s.replicatesFromMaster && s.io === 'Yes' && s.heartbeats !== undefined, JSON.stringify(s));
  sampler.close();

  // MHA's monitor lock on the master, as the manager holds it (taken, its holder and the holder's client address read back).
  const lock = new MasterMonitorLock({ cluster: clusterConfig([1, 2, 3].map((i) => serverConfig(`db${i}`, host(i))), { connect_timeout: 2, user: 'root', port: 22, options: [] } as unknown as SshSettings, { name: 'sim', query_timeout: 2, connect_timeout: 2 }), master: () => 'db1', log: silentLogger });
  await lock.check();
  await lock.check();
  assert.equal(lock.heldOn, 'db1');
  assert.equal(lock.blocked, false);
  await lock.stop();

  assert.deepEqual(fleet.unknown, {}, 'no statement the simulator does not know');
});

test('an unknown statement is answered with an error and counted', async () => {
  const keeper = new SessionKeeper();
  await assert.rejects(keeper.use(target(1), { connectTimeoutMs: 2000, queryTimeoutMs: 2000 }, (s) => s.query('SELECT * FROM t')));
  keeper.close();
  assert.deepEqual(fleet.unknown, { 'SELECT * FROM t': 1 });
});

test('a killed server refuses connections; its replicas report the IO thread reconnecting', async () => {
  fleet.kill('db1');
  const check = createHealthChecker('CONNECT', target(1), { timeoutMs: 1000, now: () => performance.now() });
  const r = await check.check();
  assert.equal(r.ok, false);
  assert.equal(r.kind, 'refused');
  const p = await inspectServer(target(2), { connectTimeoutMs: 2000, queryTimeoutMs: 2000, now: Date.now });
  assert.ok(p.ok);
  assert.equal(p.obs.replica?.ioRunning, 'Connecting');
  assert.equal(p.obs.replica?.lastIoErrno, 2003);
});
