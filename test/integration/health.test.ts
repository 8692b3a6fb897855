/**
 * Health checks (CONNECT, SELECT, INSERT) against real mariadbd: healthy,
 * access denied (alive), hung (SIGSTOP: fails at the deadline, no hang), dead;
 * CONNECT checks leave no aborted connection in the server's counters.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHealthChecker } from '../../src/adapters/mysql/health.js';
import { openSession } from '../../src/adapters/mysql/connection.js';
import { dialectFor, parseVersion } from '../../src/adapters/mysql/dialect.js';
import { Secret } from '../../src/domain/secret.js';
import { isAliveError } from '../../src/domain/detector.js';
import { rootSql, stopServer, startServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';

describe('health checks on a real server', () => {
  let sb: SandboxInfo;
  let master: SandboxServer;
  let replica: SandboxServer;
  let password: Secret;
  const now = (): number => performance.now();

  before(async () => {
    sb = await withSandbox(undefined, { name: 'health', baseAddress: '127.0.6.11', replicas: 1, sshPort: 2261 });
    [master, replica] = sb.servers as [SandboxServer, SandboxServer];
    password = new Secret(readFileSync(sb.adminPasswordFile, 'utf8').trim());
  });

  const target = () => ({ name: master.name, host: master.address, port: 3306, user: sb.adminUser, password });

  for (const type of ['CONNECT', 'SELECT', 'INSERT'] as const) {
    test(`${type}: healthy master answers, twice`, async () => {
      const c = createHealthChecker(type, target(), { timeoutMs: 2000, now });
      try {
        const a = await c.check();
        const b = await c.check();
        assert.equal(a.ok, true, a.message);
        assert.equal(b.ok, true, b.message);
      } finally {
        c.close();
      }
    });
  }

  test('with the dialect known, every check type also reads the master\'s binlog coordinates and GTID position', async () => {
    const dialect = dialectFor(parseVersion((await rootSql(master, 'SELECT @@version')).trim()));
    for (const type of ['CONNECT', 'SELECT', 'INSERT'] as const) {
      const c = createHealthChecker(type, target(), { timeoutMs: 2000, now, dialect });
      try {
        const r = await c.check();
        assert.equal(r.ok, true, r.message);
        assert.match(r.position?.coord?.file ?? '', /\S/, `${type}: binlog file`);
        assert.ok((r.position?.coord?.pos ?? 0) > 0, `${type}: binlog position`);
        assert.equal(typeof r.position?.gtid, 'string', `${type}: GTID position`);
      } finally {
        c.close();
      }
    }
  });

  test('CONNECT checks (the lean client: COM_QUIT sent with the query) leave no aborted connection on the server; a bare close would', async () => {
    const dialect = dialectFor(parseVersion((await rootSql(master, 'SELECT @@version')).trim()));
    const aborted = async (): Promise<number> => Number((await rootSql(master, "SHOW GLOBAL STATUS LIKE 'Aborted_clients'")).trim().split(/\s+/)[1]);
    const before0 = await aborted();
    const c = createHealthChecker('CONNECT', target(), { timeoutMs: 2000, now, dialect });
    for (let i = 0; i < 20; i++) assert.equal((await c.check()).ok, true);
    c.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await aborted(), before0, 'no aborted client after 20 checks');
    // The counter does count a client that closes without COM_QUIT (so the assertion above can fail).
    const s = await openSession(target(), { connectTimeoutMs: 2000, queryTimeoutMs: 2000 });
    await s.query('SELECT 1');
    s.destroy();
    const deadline = performance.now() + 3000;
    while ((await aborted()) === before0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await aborted(), before0 + 1, 'a bare close is counted');
  });

  test('INSERT writes the heartbeat row in MHA\'s infra.chk_masterha, and it replicates', async () => {
    const c = createHealthChecker('INSERT', target(), { timeoutMs: 2000, now });
    try {
      assert.equal((await c.check()).ok, true);
    } finally {
      c.close();
    }
    assert.match(await rootSql(master, 'SELECT `key`, val > 0 FROM infra.chk_masterha'), /^1\t1/);
    const end = Date.now() + 10_000;
    while (!/^1\t/.test(await rootSql(replica, 'SELECT `key`, val FROM infra.chk_masterha').catch(() => ''))) {
      assert.ok(Date.now() < end, 'heartbeat row did not replicate');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test('access denied is classified as alive (auth), not death', async () => {
    const c = createHealthChecker('CONNECT', { ...target(), password: new Secret('wrong') }, { timeoutMs: 2000, now });
    const r = await c.check();
    c.close();
    assert.equal(r.ok, false);
    assert.equal(r.kind, 'auth');
    assert.ok(!String(r.message).includes(password.reveal()), 'no password in the message');
  });

  test('a hung (SIGSTOPped) master fails every check type at its deadline', async () => {
    const checkers = (['CONNECT', 'SELECT', 'INSERT'] as const).map((t) => createHealthChecker(t, target(), { timeoutMs: 700, now }));
    // Persistent connections are open before the hang.
    for (const c of checkers) assert.equal((await c.check()).ok, true);
    await stopServer(master, 'SIGSTOP');
    try {
      for (const c of checkers) {
        const t0 = performance.now();
        const r = await c.check();
        const ms = performance.now() - t0;
        assert.equal(r.ok, false, `${c.type} should fail`);
        assert.equal(r.kind, 'timeout', `${c.type}: ${r.kind} ${r.message}`);
        assert.ok(ms < 700 + 500, `${c.type} took ${Math.round(ms)} ms for a 700 ms deadline`);
      }
    } finally {
      await stopServer(master, 'SIGCONT');
      for (const c of checkers) c.close();
    }
  });

  test('a dead master is refused at once', async () => {
    await stopServer(master, 'SIGKILL');
    try {
      const c = createHealthChecker('CONNECT', target(), { timeoutMs: 2000, now });
      const r = await c.check();
      c.close();
      // Refused, or reset if the connect raced the socket's teardown: a failure either way, never "alive".
      assert.equal(r.ok, false);
      assert.ok(r.kind === 'refused' || r.kind === 'protocol', `kind ${r.kind}: ${r.message}`);
      assert.equal(isAliveError(r.kind), false);
      assert.ok(r.latencyMs < 500, `took ${r.latencyMs} ms`);
    } finally {
      master = await startServer(master);
    }
  });
});
