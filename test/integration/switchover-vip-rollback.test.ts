/**
 * `mhats switchover` with the VIP moved inside the switch (built-in vip
 * hook): the rollback paths switchover-vip.test.ts does not take, on a netns
 * sandbox with an application writing through the VIP only. Each ends with
 * the VIP on exactly one host, the old master, the old master writable and
 * the candidate read_only (never two writable masters), and at no sample the
 * VIP on two hosts:
 *  - db1 cannot be set read_only (another session's LOCK TABLES ... WRITE
 *    holds the global read lock off; --timeout 1): the VIP was already
 *    released on db1 and added on db2, so it comes off db2 first, then back
 *    on db1;
 *  - the release on db1's host fails (ip addr del fails in its sshd only):
 *    nothing was sent to db2, read_only never sent; the VIP stays on db1.
 * And the one that must NOT complete: the VIP cannot be taken off db2 in the
 * rollback (db2 cannot catch up, and ip addr del fails in db2's sshd): it is
 * NOT put back on db1 (it would be on two hosts), the rollback says so, db1
 * is writable again and db2 read_only.
 * Netns tag hswsv, 10.213.90.0/24 (VIP 10.213.90.100), ssh port 2640.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { detectFlavor, replicaStatus, rootSql, type SandboxServer } from '../../src/sandbox/index.js';
import { netnsAvailable } from '../helpers/netns.js';
import { eventNames, failIpInSshd, switchoverJson, vipHolders, vipLab, watchVip, type VipLab } from '../helpers/vip.js';

const SUBNET = '10.213.90';
const VIP = `${SUBNET}.100`;
const VIP_RE = VIP.replace(/\./g, '\\.');

describe('switchover through a VIP: the rollback paths', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let lab: VipLab;
  let servers: SandboxServer[];
  let db1: SandboxServer;
  let db2: SandboxServer;
  const runId = `hswvip-${process.pid}`;

  before(async () => {
    lab = await vipLab({ name: 'switchover-vip-rollback', tag: 'hswsv', subnet: SUBNET, sshPort: 2640, runId });
    servers = lab.servers;
    [db1, db2] = servers as [SandboxServer, SandboxServer];
    await rootSql(db1, 'CREATE TABLE mhats_test.blocker (id INT PRIMARY KEY) ENGINE=InnoDB');
  });

  after(async () => {
    await lab?.writer.stop();
  });

  const readOnly = async (s: SandboxServer): Promise<string> => (await rootSql(s, 'SELECT @@global.read_only')).trim();
  /** The end state every completed rollback must reach: db1 the only writable master, the VIP on db1 only, writes through it land on db1. */
  const backOnDb1 = async (): Promise<void> => {
    assert.deepEqual(vipHolders(servers, VIP), ['db1']);
    assert.equal(await readOnly(db1), '0', 'db1 writable again');
    assert.equal(await readOnly(db2), '1', 'db2 still read_only');
    assert.equal(await readOnly(servers[2]!), '1');
    const rs = await replicaStatus(await detectFlavor(), db2);
    const threads = `IO ${rs.get('Slave_IO_Running') ?? rs.get('Replica_IO_Running')}, SQL ${rs.get('Slave_SQL_Running') ?? rs.get('Replica_SQL_Running')}`;
    assert.equal(threads, 'IO Yes, SQL Yes', 'db2 still replicates from db1');
    await lab.landsOn(db1, lab.writer.acked.length);
  };

  test("rollback: db1 cannot be set read_only → the VIP comes off db2 first, then back on db1; db1 writable, db2 read_only; never on two hosts", async () => {
    assert.deepEqual(vipHolders(servers, VIP), ['db1']);
    const admin = readFileSync(lab.sb.adminPasswordFile, 'utf8').trim();
    const locker = await mysql.createConnection({ host: db1.address, port: 3306, user: lab.sb.adminUser, password: admin });
    try {
      // A table write lock in another session: SET GLOBAL read_only waits for it, up to lock_wait_timeout (--timeout).
      await locker.query('LOCK TABLES mhats_test.blocker WRITE');
      const watch = watchVip(servers, VIP);
      const r = await switchoverJson(lab.conf, '--orig-master-is-new-slave', '--new-master', 'db2', '--timeout', '1');
      const { most, events } = await watch.stop();
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.report.outcome, 'rolled_back', r.report.reason);
      const names = r.report.steps.map((s) => `${s.ok ? 'ok' : 'FAILED'} ${s.step}`);
      assert.ok(names.includes(`ok db1: release ${VIP}/32 (writes through it blocked)`), names.join('\n'));
      assert.ok(names.some((n) => /^FAILED db1: read_only.* = ON/.test(n)), names.join('\n'));
      assert.ok(names.includes(`ok db2: acquire ${VIP}/32 (beside the database switch)`), names.join('\n'));
      assert.ok(names.every((n) => !/db2: read_only = OFF/.test(n)), 'db2 was never made writable');
      assert.match(r.report.reason, /Lock wait timeout/);
      assert.equal(r.report.rollback?.complete, true, r.report.rollback?.problems.join('; '));
      const actions = r.report.rollback?.actions ?? [];
      const off = actions.findIndex((a) => new RegExp(`^db2: ${VIP_RE}/32 removed from db2`).test(a));
      const back = actions.findIndex((a) => new RegExp(`^db1: ${VIP_RE}/32 added on db1`).test(a));
      assert.ok(off >= 0 && back > off, actions.join('\n'));
      assert.deepEqual(eventNames(events), ['deleted from db1', 'added on db2', 'deleted from db2', 'added on db1']);
      assert.ok(most <= 1, `the VIP was on ${most} hosts at once: ${events.join('; ')}`);
    } finally {
      await locker.query('UNLOCK TABLES').catch(() => undefined);
      locker.destroy();
    }
    await backOnDb1();
  });

  test("rollback: the release on db1's host fails → nothing sent to db2, read_only never sent; the VIP stays on db1, db1 writable", async () => {
    assert.deepEqual(vipHolders(servers, VIP), ['db1']);
    const undo = failIpInSshd(lab.sb.dir, db1, 'del');
    try {
      const watch = watchVip(servers, VIP);
      const r = await switchoverJson(lab.conf, '--orig-master-is-new-slave', '--new-master', 'db2');
      const { most, events } = await watch.stop();
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.report.outcome, 'rolled_back', r.report.reason);
      assert.match(r.report.reason, new RegExp(`vip hook \\(online_change_stop\\): ip addr del ${VIP_RE}/32 dev eth0 on .*Operation not permitted`));
      const names = r.report.steps.map((s) => s.step);
      assert.ok(names.every((n) => !/acquire|read_only/.test(n)), names.join('\n'));
      assert.equal(r.report.rollback?.complete, true, r.report.rollback?.problems.join('; '));
      const actions = r.report.rollback?.actions ?? [];
      assert.equal(actions.length, 1, actions.join('\n'));
      assert.match(actions[0]!, new RegExp(`^db1: ${VIP_RE}/32 already on db1 \\(eth0\\)`));
      assert.deepEqual(eventNames(events), []);
      assert.ok(most <= 1, `the VIP was on ${most} hosts at once: ${events.join('; ')}`);
    } finally {
      undo();
    }
    await backOnDb1();
  });

  test('rollback that cannot complete: the VIP cannot be taken off db2 → NOT put back on db1 (never on two hosts); db1 writable, db2 read_only', async () => {
    assert.deepEqual(vipHolders(servers, VIP), ['db1']);
    const admin = readFileSync(lab.sb.adminPasswordFile, 'utf8').trim();
    const locker = await mysql.createConnection({ host: db2.address, port: 3306, user: lab.sb.adminUser, password: admin });
    const undo = failIpInSshd(lab.sb.dir, db2, 'del');
    try {
      // db2's SQL thread blocked by a table lock: it cannot catch up within --timeout 1.
      await locker.query('LOCK TABLES mhats_test.w READ');
      await new Promise((r) => setTimeout(r, 300));
      const watch = watchVip(servers, VIP);
      const r = await switchoverJson(lab.conf, '--orig-master-is-new-slave', '--new-master', 'db2', '--timeout', '1', '--max-lag', '600');
      const { most, events } = await watch.stop();
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.report.outcome, 'failed', r.report.reason);
      assert.match(r.report.reason, /db2 did not apply up to .* within 1 s.*ROLLBACK INCOMPLETE/);
      assert.equal(r.report.rollback?.complete, false);
      const problems = r.report.rollback?.problems ?? [];
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, new RegExp(`^${VIP_RE}/32 may still be on db2 \\(ip addr del .*Operation not permitted.*\\): NOT put back on db1, so that it is never on two hosts; remove it from db2, then add it on db1 by hand$`));
      assert.ok((r.report.rollback?.actions ?? []).includes('db1: read_only OFF, writable again'), r.report.rollback?.actions.join('\n'));
      assert.ok((r.report.rollback?.actions ?? []).every((a) => !a.startsWith(`db1: ${VIP}`)), 'nothing added on db1');
      assert.deepEqual(eventNames(events), ['deleted from db1', 'added on db2']);
      assert.ok(most <= 1, `the VIP was on ${most} hosts at once: ${events.join('; ')}`);
      assert.deepEqual(vipHolders(servers, VIP), ['db2']);
      assert.equal(await readOnly(db1), '0', 'db1 writable again');
      assert.equal(await readOnly(db2), '1', 'db2 read_only: clients through the VIP get errors, never a second writable master');
    } finally {
      undo();
      await locker.query('UNLOCK TABLES').catch(() => undefined);
      locker.destroy();
    }
    // What the operator is told to do by hand: off db2, then on db1.
    for (const [s, op] of [[db2, 'del'], [db1, 'add']] as const) {
      const ip = spawnSync('ip', ['-n', s.netns!.ns, 'addr', op, `${VIP}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
      assert.equal(ip.status, 0, ip.stderr);
    }
    // Added by hand, without the hook's gratuitous ARP: the application's neighbour entry still names db2.
    spawnSync('ip', ['neigh', 'flush', 'to', VIP], { encoding: 'utf8', timeout: 5000 });
    await backOnDb1();
    // Nothing acknowledged is lost.
    await lab.writer.stop();
    const have = new Set((await rootSql(db1, `SELECT seq FROM mhats_test.w WHERE run = '${runId}'`)).split('\n').filter(Boolean).map(Number));
    assert.deepEqual(lab.writer.acked.filter((a) => !have.has(a.seq)).map((a) => a.seq), []);
  });
});
