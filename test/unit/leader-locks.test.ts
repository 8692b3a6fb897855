/** Single-manager guards: the lock file in state_dir, and the SQL of MHA's monitor lock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLock, LockHeldError } from '../../src/adapters/leader/local-lock.js';
import { Dialect, parseVersion } from '../../src/adapters/mysql/dialect.js';

describe('manager lock file', () => {
  const dir = (): string => mkdtempSync(join(tmpdir(), 'mhats-lock-'));
  it('takes a free lock, writes its PID, releases it', () => {
    const d = dir();
    try {
      const l = new LocalLock(d, { pid: 4242 });
      l.acquire();
      assert.equal(readFileSync(join(d, 'manager.lock'), 'utf8').trim(), '4242');
      l.release();
      assert.equal(existsSync(join(d, 'manager.lock')), false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it('refuses while another live manager holds it, naming its PID', () => {
    const d = dir();
    try {
      new LocalLock(d, { pid: 111, isManager: () => true }).acquire();
      const second = new LocalLock(d, { pid: 222, isManager: (p) => p === 111 });
      assert.throws(() => second.acquire(), (e: unknown) => e instanceof LockHeldError && e.pid === 111 && /another mhats manager \(PID 111\)/.test(e.message));
      // Releasing someone else's lock does nothing.
      second.release();
      assert.equal(readFileSync(join(d, 'manager.lock'), 'utf8').trim(), '111');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it('takes over a stale lock (dead or reused PID, garbage)', () => {
    const d = dir();
    try {
      writeFileSync(join(d, 'manager.lock'), '999999\n');
      const l = new LocalLock(d, { pid: 333, isManager: () => false });
      l.acquire();
      assert.equal(readFileSync(join(d, 'manager.lock'), 'utf8').trim(), '333');
      writeFileSync(join(d, 'manager.lock'), 'garbage');
      new LocalLock(d, { pid: 444, isManager: () => true }).acquire();
      assert.equal(readFileSync(join(d, 'manager.lock'), 'utf8').trim(), '444');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it('the real liveness check: our own process is a live PID, but not a manager', () => {
    const d = dir();
    try {
      writeFileSync(join(d, 'manager.lock'), `${process.ppid}\n`);
      const l = new LocalLock(d, { pid: 555 });
      l.acquire(); // the parent (the test runner) is not `... manager ...`
      assert.equal(l.held, true);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("MHA's monitor advisory lock SQL", () => {
  for (const [name, d] of [['MariaDB 10.11', new Dialect(parseVersion('10.11.6-MariaDB-0+deb12u1'))], ['MySQL 8.4', new Dialect(parseVersion('8.4.3'))]] as const) {
    it(`${name}: MHA's lock name, no waiting`, () => {
      assert.deepEqual(d.getMonitorLock(0), { sql: "SELECT GET_LOCK('MHA_Master_High_Availability_Monitor', 0) AS Value" });
      assert.equal(d.releaseMonitorLock(), "SELECT RELEASE_LOCK('MHA_Master_High_Availability_Monitor') AS Value");
      assert.equal(d.monitorLockHolderQuery(), "SELECT IS_USED_LOCK('MHA_Master_High_Availability_Monitor') AS Value");
      assert.equal(d.connectionHostQuery(42), 'SELECT HOST AS host FROM information_schema.PROCESSLIST WHERE ID = 42');
      assert.throws(() => d.connectionHostQuery(0), /connection id/);
    });
  }
  const d = new Dialect(parseVersion('10.11.6-MariaDB'));
  it('timeout is an integer, never text', () => {
    assert.throws(() => d.getMonitorLock(1.5), /lock timeout/);
    assert.throws(() => d.getMonitorLock(-1), /lock timeout/);
  });
  it('parses the holder connection id', () => {
    assert.equal(d.parseLockHolder(17), 17);
    assert.equal(d.parseLockHolder('17'), 17);
    assert.equal(d.parseLockHolder(17n), 17);
    assert.equal(d.parseLockHolder(null), null);
    assert.equal(d.parseLockHolder(0), null);
  });
});
