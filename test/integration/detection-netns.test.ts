/**
 * Network faults on a master host, in network namespaces, with production
 * replication timing (slave_net_timeout=60, MASTER_HEARTBEAT_PERIOD=30: the
 * replicas' IO threads keep saying Yes for up to a minute after the master's
 * host goes silent):
 *  - only the manager's route to the master's host cut (the replicas and the
 *    second route still reach it): no failover;
 *  - the master's host cut off from everything (no MySQL, no SSH): failed over
 *    without waiting for slave_net_timeout (the second route from the
 *    replicas' hosts finds no server, the replicas' Yes is stale), and when
 *    the host comes back, its writable mysqld is fenced (never two writable
 *    masters).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rootSql, sandboxCutHost, sandboxCutManagerRoute, sandboxHealHost, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess, type LogLine } from '../helpers/manager.js';
import { netnsAvailable } from '../helpers/netns.js';
import { SEMI_SYNC } from '../helpers/semisync.js';

const SSH_PORT = 2322;

describe('network faults on the master host (netns, slave_net_timeout=60)', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let mgr: ManagerProcess;

  const waitAfter = (from: number, re: RegExp, timeoutMs: number): Promise<LogLine> => mgr.waitFor(re, timeoutMs, from);

  before(async () => {
    sb = await withSandbox(undefined, { name: 'detection-netns', baseAddress: '127.0.45.11', replicas: 2, sshPort: SSH_PORT, netns: { tag: 'mhats-t-d', subnet: '10.213.40' }, extraServerOptions: ['slave_net_timeout=60', ...SEMI_SYNC] });
    db1 = sb.servers[0]!;
    // The heartbeat period a replica gets by default: slave_net_timeout / 2.
    for (const r of sb.servers.slice(1)) await rootSql(r, 'STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=30; START SLAVE;');
    await rootSql(db1, 'CREATE DATABASE app; CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;');
    const conf = writeManagerConfig(sb, { cluster: { ping_interval: 1, ping_timeout: 1, ping_failures: 3, connect_timeout: 1, query_timeout: 3, second_route_timeout: 1, last_failover_minute: 0 } });
    mgr = new ManagerProcess(conf, ['--http', 'off'], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/, 60_000);
    await mgr.waitFor(/^SSH shell ready on db2/, 60_000);
    await mgr.waitFor(/^SSH shell ready on db3/, 60_000);
  });

  after(async () => {
    await mgr?.stop();
  });

  test("only the manager's route to the master's host cut: no failover", async () => {
    const from = mgr.lines.length;
    await sandboxCutManagerRoute(sb, 'db1');
    try {
      const line = await waitAfter(from, /only the manager's route is broken; not failing over/, 20_000);
      const routes = line.routes as Array<{ via: string; kind: string }>;
      assert.ok(routes.some((r) => r.kind === 'greeting'), JSON.stringify(line));
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(mgr.lines.slice(from).some((l) => /Phase 1: Configuration Check Phase started|IS DEAD/.test(l.msg)), false, mgr.tail());
      assert.equal((await rootSql(db1, 'SELECT @@read_only')).trim(), '0');
    } finally {
      await sandboxHealHost(sb, 'db1');
    }
    await waitAfter(from, /db1 answers health checks again/, 15_000);
  });

  test('the master host cut off from everything: failed over without waiting for slave_net_timeout; fenced when it comes back', async () => {
    const from = mgr.lines.length;
    await rootSql(db1, "INSERT INTO app.t (v) VALUES ('before the cut')");
    const t0 = Date.now();
    await sandboxCutHost(sb, 'db1');
    let healed = false;
    try {
      const dead = await waitAfter(from, /^MASTER db1 IS DEAD/, 40_000);
      const detectMs = Date.now() - t0;
      // No refusal to see: the manager's checks time out, and the second route finds no server either.
      assert.equal(dead.basis, 'unreachable', JSON.stringify(dead));
      // Far below slave_net_timeout: the replicas' IO threads still say Yes, and that proves nothing (stale).
      assert.ok(detectMs < 30_000, `detected after ${detectMs} ms`);
      const witnesses = dead.witnesses as Array<{ name: string; class: string; io?: string }>;
      assert.ok(witnesses.every((w) => w.class !== 'fresh' && w.class !== 'alive_error'), JSON.stringify(dead));
      const done = await waitAfter(from, /^now watching the new master db[23]/, 60_000);
      const nm = sb.servers.find((s) => s.name === done.newMaster)!;
      assert.ok(nm, JSON.stringify(done));
      // Its host did not answer SSH: the fence could not kill it, and said so.
      const fence = mgr.lines.slice(from).find((l) => /^fence db1: /.test(l.msg));
      assert.ok(fence, mgr.tail());
      assert.match(fence.msg, /does not answer SQL.*SSH to db1 failed/, JSON.stringify(fence));
      await rootSql(nm, "INSERT INTO app.t (v) VALUES ('after the failover')");
      // The host comes back: its mysqld never stopped and is still writable. The manager fences it.
      await sandboxHealHost(sb, 'db1');
      healed = true;
      await waitAfter(from, /^the failed old master db1 is back and WRITABLE\b.*: fencing it/, 40_000);
      await until('db1 read_only', async () => (await rootSql(db1, 'SELECT @@read_only')).trim() === '1', 15_000);
    } finally {
      if (!healed) await sandboxHealHost(sb, 'db1').catch(() => undefined);
    }
  });
});
