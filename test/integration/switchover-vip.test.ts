/**
 * `mhats switchover` with a VIP moved by the built-in vip hook (issue 11 item
 * 7), on a netns sandbox (each server in its own namespace with its own sshd)
 * and an application that writes through the VIP only:
 *  - db1 → db2: the VIP is released on db1 before read_only, added on db2
 *    beside the database switch, and db2 becomes writable only with the VIP
 *    on its host; at no sample is the VIP on two hosts; the application's
 *    writes through the VIP land on db2; nothing acknowledged is lost;
 *  - no SSH session to the new master's host: refused before the write
 *    block, nothing changed, the VIP still on db1;
 *  - rollback (db1 cannot catch up: a table lock blocks its SQL thread): the
 *    VIP goes back from db1 to db2 (off db1 first), db2 writable again, the
 *    application writes through the VIP to db2 again, never on two hosts;
 *  - rollback (the VIP cannot be added on db1's host: a failing ip
 *    bind-mounted in that sshd's mount namespace): back on db2, db2 writable.
 * Netns tag i11s-sv, 10.213.45.0/24 (VIP 10.213.45.100), ssh port 2345.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { rootSql, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import type { DrillWriter } from '../../src/adapters/drill/writer.js';
import { netnsAvailable } from '../helpers/netns.js';
import { failIpInSshd, switchoverJson, vipHolders as holdersOf, vipLab, watchVip as watchVipOf, type VipLab } from '../helpers/vip.js';
import { cliArgs } from '../helpers/cli.js';

const SUBNET = '10.213.45';
const VIP = `${SUBNET}.100`;
const switchover = switchoverJson;
const vipHolders = (servers: SandboxServer[]): string[] => holdersOf(servers, VIP);
const watchVip = (servers: SandboxServer[]): ReturnType<typeof watchVipOf> => watchVipOf(servers, VIP);

describe('switchover with the built-in vip hook: the VIP moves inside the database switch', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let lab: VipLab;
  let sb: SandboxInfo;
  let servers: SandboxServer[];
  let db1: SandboxServer;
  let db2: SandboxServer;
  let conf: string;
  let w: DrillWriter;
  const runId = `swvip-${process.pid}`;

  before(async () => {
    lab = await vipLab({ name: 'switchover-vip', tag: 'i11s-sv', subnet: SUBNET, sshPort: 2345, runId });
    ({ sb, servers, conf, writer: w } = lab);
    [db1, db2] = servers as [SandboxServer, SandboxServer];
  });

  after(async () => {
    await w?.stop();
  });

  const landsOn = (s: SandboxServer, from: number): Promise<void> => lab.landsOn(s, from);

  test('--dry-run: the plan shows the VIP moved inside the switch; nothing changed', async () => {
    const r = await execa(process.execPath, [...cliArgs(), 'switchover', '--conf', conf, '--dry-run', '--new-master', 'db2'], { reject: false, timeout: 60_000, env: { NO_COLOR: '1' }, stdin: 'ignore' });
    const out = `${String(r.stdout)}${String(r.stderr)}`;
    assert.equal(r.exitCode, 0, out);
    assert.match(out, / 1\. db1's host: release 10\.213\.45\.100\/32 +\(writes through it blocked from here\)\n +2\. db1: set read_only = ON/);
    assert.match(out, /db2's host: add 10\.213\.45\.100\/32, gratuitous ARP/);
    assert.doesNotMatch(out, /clients must find the new master themselves/);
    assert.deepEqual(vipHolders(servers), ['db1']);
  });

  test("refused before the write block: no SSH session to the new master's host; nothing changed, the VIP stays on db1", async () => {
    const doc = parse(readFileSync(conf, 'utf8')) as { clusters: Record<string, { servers: Array<Record<string, unknown>> }> };
    doc.clusters[sb.clusterName]!.servers[1]!.ssh_port = 2359; // nothing listens there
    const bad = join(sb.dir, 'switchover-vip-nossh.yaml');
    writeFileSync(bad, stringify(doc), { mode: 0o600 });
    const from = w.acked.length;
    const r = await switchover(bad, '--orig-master-is-new-slave', '--new-master', 'db2');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.report.outcome, 'failed');
    assert.match(r.report.reason, /no SSH session to db2 .*: 10\.213\.45\.100\/32 cannot be moved inside the switch; nothing changed/);
    assert.ok(r.report.steps.every((s) => !/release|read_only/.test(s.step)), r.report.steps.map((s) => s.step).join('\n'));
    assert.deepEqual(vipHolders(servers), ['db1']);
    assert.equal((await rootSql(db1, 'SELECT @@global.read_only')).trim(), '0');
    await landsOn(db1, from);
  });

  test('db1 → db2: VIP released before read_only, on db2 before db2 is writable, never on two hosts; writes through it land on db2', async () => {
    assert.deepEqual(vipHolders(servers), ['db1']);
    const from = w.acked.length;
    const watch = watchVip(servers);
    const r = await switchover(conf, '--orig-master-is-new-slave', '--new-master', 'db2');
    const { most, events } = await watch.stop();
    assert.equal(r.code, 0, `${r.report.reason}\n${r.stderr}`);
    assert.equal(r.report.outcome, 'success');
    assert.deepEqual(vipHolders(servers), ['db2']);
    assert.deepEqual(events.map((e) => e.replace(/^\S+ /, '')), ['deleted from db1', 'added on db2']);
    assert.ok(most <= 1, `the VIP was on ${most} hosts at once: ${events.join('; ')}`);
    const names = r.report.steps.map((s) => s.step);
    const at = (re: RegExp): number => names.findIndex((n) => re.test(n));
    const release = at(/^db1: release 10\.213\.45\.100\/32/);
    const readOnly = at(/^db1: read_only.* = ON/);
    const acquire = at(/^db2: acquire 10\.213\.45\.100\/32/);
    const writable = at(/^db2: read_only = OFF/);
    const verify = at(/^verify: 10\.213\.45\.100\/32 reaches db2/);
    assert.ok(release >= 0 && readOnly > release && acquire > release && writable > acquire && verify > writable, names.join('\n'));
    assert.equal(r.report.steps[verify]?.ok, true, r.report.steps[verify]?.detail);
    assert.ok(names.every((n) => !/online-change hooks/.test(n)), 'no separate online-change hook phase');
    assert.equal(typeof r.report.vipBlockedMs, 'number');
    await landsOn(db2, from);
  });

  test('rollback: db1 cannot catch up → the VIP goes back to db2 (off db1 first), db2 writable, writes through the VIP on db2 again', async () => {
    const admin = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    const locker = await mysql.createConnection({ host: db1.address, port: 3306, user: sb.adminUser, password: admin });
    try {
      await locker.query('LOCK TABLES mhats_test.w READ');
      await new Promise((r) => setTimeout(r, 300));
      const watch = watchVip(servers);
      const r = await switchover(conf, '--orig-master-is-new-slave', '--new-master', 'db1', '--timeout', '1', '--max-lag', '600');
      const { most, events } = await watch.stop();
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.report.outcome, 'rolled_back', r.report.reason);
      assert.match(r.report.reason, /db1 did not apply up to .* within 1 s/);
      assert.equal(r.report.rollback?.complete, true, r.report.rollback?.problems.join('; '));
      const actions = r.report.rollback?.actions ?? [];
      const off = actions.findIndex((a) => /^db1: 10\.213\.45\.100\/32 removed from db1/.test(a));
      const back = actions.findIndex((a) => /^db2: 10\.213\.45\.100\/32 added on db2/.test(a));
      assert.ok(off >= 0 && back > off, actions.join('\n'));
      assert.deepEqual(events.map((e) => e.replace(/^\S+ /, '')), ['deleted from db2', 'added on db1', 'deleted from db1', 'added on db2']);
      assert.ok(most <= 1, `the VIP was on ${most} hosts at once: ${events.join('; ')}`);
      assert.deepEqual(vipHolders(servers), ['db2']);
      assert.equal((await rootSql(db2, 'SELECT @@global.read_only')).trim(), '0');
      assert.equal((await rootSql(db1, 'SELECT @@global.read_only')).trim(), '1');
      const from = w.acked.length;
      await landsOn(db2, from);
    } finally {
      await locker.query('UNLOCK TABLES').catch(() => undefined);
      locker.destroy();
    }
  });

  test("rollback: the VIP cannot be added on db1's host (ip fails there) → taken off db1 (it is not there), back on db2, db2 writable; nothing lost", async () => {
    // `ip addr add` fails in db1's sshd only: a fake ip bind-mounted over the real one in that sshd's mount namespace.
    const undo = failIpInSshd(sb.dir, db1, 'add');
    try {
      assert.deepEqual(vipHolders(servers), ['db2']);
      const watch = watchVip(servers);
      const r = await switchover(conf, '--orig-master-is-new-slave', '--new-master', 'db1');
      const { most, events } = await watch.stop();
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.report.outcome, 'rolled_back', r.report.reason);
      assert.match(r.report.reason, /vip hook \(online_change_start\): ip addr add 10\.213\.45\.100\/32 dev eth0 on .*Operation not permitted/);
      assert.equal(r.report.rollback?.complete, true, r.report.rollback?.problems.join('; '));
      assert.ok((r.report.rollback?.actions ?? []).some((a) => /^db2: 10\.213\.45\.100\/32 added on db2/.test(a)), r.report.rollback?.actions.join('\n'));
      assert.ok(r.report.steps.every((s) => !/^db1: read_only = OFF/.test(s.step)), 'db1 was never made writable');
      assert.deepEqual(events.map((e) => e.replace(/^\S+ /, '')), ['deleted from db2', 'added on db2']);
      assert.ok(most <= 1, `the VIP was on ${most} hosts at once: ${events.join('; ')}`);
      assert.deepEqual(vipHolders(servers), ['db2']);
      assert.equal((await rootSql(db2, 'SELECT @@global.read_only')).trim(), '0');
      assert.equal((await rootSql(db1, 'SELECT @@global.read_only')).trim(), '1');
      await landsOn(db2, w.acked.length);
    } finally {
      undo();
    }
    // Nothing acknowledged is lost.
    await w.stop();
    const have = new Set((await rootSql(db2, `SELECT seq FROM mhats_test.w WHERE run = '${runId}'`)).split('\n').filter(Boolean).map(Number));
    assert.deepEqual(w.acked.filter((a) => !have.has(a.seq)).map((a) => a.seq), []);
  });
});
