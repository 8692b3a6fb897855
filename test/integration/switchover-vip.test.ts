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
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { netnsPids, rootSql, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { DrillWriter } from '../../src/adapters/drill/writer.js';
import { withSandbox } from '../helpers/sandbox.js';
import { netnsAvailable } from '../helpers/netns.js';

const SUBNET = '10.213.45';
const VIP = `${SUBNET}.100`;

interface Report {
  outcome: string;
  reason: string;
  writeBlockedMs?: number;
  vipBlockedMs?: number;
  steps: Array<{ step: string; ok: boolean; durationMs: number; detail?: string }>;
  rollback?: { complete: boolean; actions: string[]; problems: string[] };
}

async function switchover(conf: string, ...args: string[]): Promise<{ code: number; stderr: string; report: Report }> {
  const r = await execa(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'switchover', '--conf', conf, '--json', '--yes', ...args], { reject: false, timeout: 90_000, env: { NO_COLOR: '1' }, stdin: 'ignore' });
  let report: Report;
  try {
    report = JSON.parse(String(r.stdout)) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${r.exitCode}):\n${String(r.stdout)}\n${String(r.stderr)}`);
  }
  return { code: r.exitCode ?? -1, stderr: String(r.stderr), report };
}

/** Which servers' namespaces hold the VIP now. */
function vipHolders(servers: SandboxServer[]): string[] {
  return servers.filter((s) => spawnSync('ip', ['-n', s.netns!.ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 }).stdout.includes(` ${VIP}/`)).map((s) => s.name);
}

/**
 * Watches every namespace's address events (ip -ts monitor: one wall clock for all) until stopped,
 * then replays them from the holders at the start: the most hosts the VIP was on at once.
 */
function watchVip(servers: SandboxServer[]): { stop: () => Promise<{ most: number; events: string[] }> } {
  const start = new Set(vipHolders(servers));
  const events: Array<{ at: string; host: string; added: boolean }> = [];
  const procs = servers.map((s) => {
    const p = spawn('ip', ['-n', s.netns!.ns, '-ts', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^\[([^\]]+)\] (Deleted )?.* inet (\S+) /.exec(l);
        if (m && m[3] === `${VIP}/32`) events.push({ at: m[1]!, host: s.name, added: m[2] === undefined });
      }
    });
    return p;
  });
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 300));
      for (const p of procs) p.kill();
      const on = new Set(start);
      let most = on.size;
      const sorted = [...events].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      for (const e of sorted) {
        if (e.added) on.add(e.host);
        else on.delete(e.host);
        most = Math.max(most, on.size);
      }
      return { most, events: sorted.map((e) => `${e.at} ${e.added ? 'added on' : 'deleted from'} ${e.host}`) };
    },
  };
}

async function until(what: string, fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('switchover with the built-in vip hook: the VIP moves inside the database switch', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let sb: SandboxInfo;
  let servers: SandboxServer[];
  let db1: SandboxServer;
  let db2: SandboxServer;
  let conf: string;
  let w: DrillWriter;
  const ids = new Map<string, string>();
  const runId = `swvip-${process.pid}`;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'switchover-vip', replicas: 2, sshPort: 2345, netns: { tag: 'i11s-sv', subnet: SUBNET }, extraServerOptions: ['bind_address=0.0.0.0'] });
    servers = sb.servers;
    [db1, db2] = servers as [SandboxServer, SandboxServer];
    await rootSql(db1, "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.w (id INT AUTO_INCREMENT PRIMARY KEY, run VARCHAR(64), seq INT, at DATETIME(6)) ENGINE=InnoDB; CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; GRANT SELECT, INSERT ON mhats_test.* TO 'app'@'%'");
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; clusters: Record<string, Record<string, unknown>> };
    doc.state_dir = join(sb.dir, 'state');
    Object.assign(doc.clusters[sb.clusterName]!, { connect_timeout: 2, query_timeout: 5 });
    doc.clusters[sb.clusterName]!.hooks = { environment: 't', sets: { t: [{ name: 'vip', type: 'vip', address: `${VIP}/32`, interface: 'eth0', arping_count: 2, verify: true, timeout: 10 }] } };
    conf = join(sb.dir, 'switchover-vip.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    const add = spawnSync('ip', ['-n', db1.netns!.ns, 'addr', 'add', `${VIP}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
    assert.equal(add.status, 0, add.stderr);
    for (const s of servers) ids.set(s.name, (await rootSql(s, 'SELECT @@server_id')).trim());
    w = new DrillWriter({ resolve: () => Promise.resolve({ host: VIP, port: 3306 }), user: 'app', password: 'app-pw', localAddress: sb.netns?.appAddress, rate: 200, table: 'mhats_test.w', run: runId, gtids: false, now: () => performance.now(), connectTimeoutMs: 1000, queryTimeoutMs: 2000 });
    w.start();
    await w.waitFor(50, 20_000);
  });

  after(async () => {
    await w?.stop();
  });

  const landsOn = async (s: SandboxServer, from: number): Promise<void> => until(`a write through ${VIP} on ${s.name}`, () => w.acked.slice(from).some((a) => a.by === ids.get(s.name)));

  test('--dry-run: the plan shows the VIP moved inside the switch; nothing changed', async () => {
    const r = await execa(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'switchover', '--conf', conf, '--dry-run', '--new-master', 'db2'], { reject: false, timeout: 60_000, env: { NO_COLOR: '1' }, stdin: 'ignore' });
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
    const realIp = join(sb.dir, 'real-ip');
    copyFileSync('/usr/bin/ip', realIp);
    chmodSync(realIp, 0o755);
    const fakeIp = join(sb.dir, 'fake-ip');
    writeFileSync(fakeIp, `#!/bin/sh\nif [ "$1 $2" = "addr add" ]; then echo "RTNETLINK answers: Operation not permitted" >&2; exit 2; fi\nexec ${realIp} "$@"\n`);
    chmodSync(fakeIp, 0o755);
    const sshd = netnsPids(db1.netns!.ns).find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd';
      } catch {
        return false;
      }
    });
    assert.ok(sshd !== undefined, `no sshd in ${db1.netns!.ns}`);
    const mount = spawnSync('nsenter', ['-t', String(sshd), '-m', '--', 'mount', '--bind', fakeIp, '/usr/bin/ip'], { encoding: 'utf8', timeout: 5000 });
    assert.equal(mount.status, 0, mount.stderr);
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
      spawnSync('nsenter', ['-t', String(sshd), '-m', '--', 'umount', '/usr/bin/ip'], { encoding: 'utf8', timeout: 5000 });
    }
    // Nothing acknowledged is lost.
    await w.stop();
    const have = new Set((await rootSql(db2, `SELECT seq FROM mhats_test.w WHERE run = '${runId}'`)).split('\n').filter(Boolean).map(Number));
    assert.deepEqual(w.acked.filter((a) => !have.has(a.seq)).map((a) => a.seq), []);
  });
});
