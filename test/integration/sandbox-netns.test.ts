/**
 * The sandbox with its hosts in network namespaces: each mariadbd and its own
 * sshd in a namespace of its own, on a bridge; the manager in the root
 * namespace. Network faults are real: a host cut off times out (connects are
 * not refused), a manager-only route cut leaves replication and the
 * application address alone. `down` removes every namespace, link and
 * process, a server restarted under a new PID too; a failed `up` leaves
 * nothing either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import {
  detectFlavor,
  readSandbox,
  replicaStatus,
  rootSql,
  sandboxCutHost,
  sandboxCutManagerRoute,
  sandboxDown,
  sandboxHealHost,
  sandboxHostFaults,
  sandboxUp,
  sshClientArgs,
  stopServer,
  type SandboxInfo,
} from '../../src/sandbox/index.js';
import { spawnInNetns } from '../../src/sandbox/netns.js';
import { TEST_ROOT, withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';
import { netnsAvailable } from '../helpers/netns.js';

const TAG = 'mhats-t-xa';
const SUBNET = '10.213.50';

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}
function links(): string[] {
  return spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '').filter(Boolean);
}
function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
function nsOf(pid: number): string {
  return spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).stdout.trim();
}

/** One connection attempt as the manager's account; its outcome and how long it took. */
async function tryConnect(info: SandboxInfo, host: string, localAddress?: string): Promise<{ ok: boolean; ms: number; who?: string; error?: string }> {
  const password = readFileSync(info.adminPasswordFile, 'utf8').trim();
  const t0 = performance.now();
  let c: mysql.Connection | undefined;
  try {
    // mysql2 ignores localAddress: give it the socket, bound to the source address.
    c = await mysql.createConnection({ host, port: 3306, user: info.adminUser, password, connectTimeout: 1500, ...(localAddress ? { stream: () => connect({ host, port: 3306, localAddress }) } : {}) });
    const [rows] = await c.query({ sql: 'SELECT USER() AS who', timeout: 1500 });
    return { ok: true, ms: performance.now() - t0, who: String((rows as Array<{ who: string }>)[0]?.who) };
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  } finally {
    c?.destroy();
  }
}

test('netns sandbox: hosts in their own namespaces, real network faults, down removes everything', { skip: !netnsAvailable() && 'needs root and iproute2', timeout: 180_000 }, async (t) => {
  const info = await withSandbox(t, { name: 'sandbox-netns', replicas: 2, sshPort: 2340, netns: { tag: TAG, subnet: SUBNET } });
  const [db1, db2, db3] = info.servers;
  assert.ok(db1 && db2 && db3);
  const flavor = await detectFlavor();

  // Layout: names from the tag (≤ 15 chars), addresses on the subnet, every daemon in its namespace.
  assert.deepEqual(info.netns && { bridge: info.netns.bridge, gateway: info.netns.gateway, app: info.netns.appAddress }, { bridge: `${TAG}br`, gateway: `${SUBNET}.1`, app: `${SUBNET}.2` });
  assert.deepEqual(info.servers.map((s) => [s.address, s.netns?.ns]), [[`${SUBNET}.11`, `${TAG}1`], [`${SUBNET}.12`, `${TAG}2`], [`${SUBNET}.13`, `${TAG}3`]]);
  for (const n of [...info.netns!.links]) assert.ok(n.length <= 15, `${n} fits a link name`);
  for (const s of info.servers) {
    assert.ok(namespaces().includes(s.netns!.ns));
    assert.equal(nsOf(s.pid), s.netns!.ns, `${s.name}'s mariadbd runs in its namespace`);
    assert.equal(nsOf(s.sshd!.pid), s.netns!.ns, `${s.name}'s sshd runs in its namespace`);
  }
  assert.equal(info.ssh?.pid, 0, 'no shared sshd');

  // Replication goes over the bridge; the manager's account connects from the root namespace's address.
  for (const r of [db2, db3]) {
    const st = await replicaStatus(flavor, r);
    assert.equal(st.get('Master_Host'), db1.address);
    assert.equal(st.get('Slave_IO_Running'), 'Yes');
  }
  const fromManager = await tryConnect(info, db1.address);
  assert.ok(fromManager.ok, fromManager.error);
  assert.equal(fromManager.who, `mhats@${SUBNET}.1`);
  const fromApp = await tryConnect(info, db1.address, info.netns!.appAddress);
  assert.equal(fromApp.who, `mhats@${SUBNET}.2`);

  // SSH to each address lands in that host's namespace.
  await Promise.all(
    info.servers.map(async (s) => {
      const r = await execa('ssh', [...sshClientArgs(info.ssh!, s.address), 'ip -o -4 addr show dev eth0'], { timeout: 30_000, stdin: 'ignore' });
      assert.match(r.stdout, new RegExp(` ${s.address.replace(/\./g, '\\.')}/24 `));
    }),
  );

  await rootSql(db1, 'CREATE DATABASE t; CREATE TABLE t.x (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO t.x VALUES (1);');

  // Manager-only route cut: the manager times out (not refused); the application address and the replicas still reach db1.
  await sandboxCutManagerRoute(info, 'db1');
  assert.deepEqual(await sandboxHostFaults(info, 'db1'), { cut: false, managerRouteCut: true, innerLinkDown: false });
  const cutManager = await tryConnect(info, db1.address);
  assert.equal(cutManager.ok, false);
  assert.ok(cutManager.ms >= 1400, `the connect timed out (${Math.round(cutManager.ms)} ms, ${cutManager.error})`);
  assert.ok((await tryConnect(info, db1.address, info.netns!.appAddress)).ok, 'the application still reaches db1');
  await rootSql(db1, 'INSERT INTO t.x VALUES (2)');
  for (const r of [db2, db3]) await until(`${r.name} replicates during the route cut`, async () => (await rootSql(r, 'SELECT COUNT(*) FROM t.x')).trim() === '2', 20_000, 100);
  assert.equal((await replicaStatus(flavor, db2)).get('Slave_IO_Running'), 'Yes');
  assert.ok((await tryConnect(info, db2.address)).ok, 'the manager still reaches db2');
  await sandboxHealHost(info, 'db1');
  assert.ok((await tryConnect(info, db1.address)).ok, 'healed');

  // Host cut off: nobody reaches it, connects time out; the replicas lose it; heal brings it all back.
  await sandboxCutHost(info, 'db1');
  assert.deepEqual(await sandboxHostFaults(info, 'db1'), { cut: true, managerRouteCut: false, innerLinkDown: false });
  const cutAll = await tryConnect(info, db1.address, info.netns!.appAddress);
  assert.equal(cutAll.ok, false);
  assert.ok(cutAll.ms >= 1400, `timed out, not refused (${Math.round(cutAll.ms)} ms, ${cutAll.error})`);
  const ssh = await execa('ssh', [...sshClientArgs(info.ssh, db1.address), 'true'], { timeout: 15_000, reject: false, stdin: 'ignore' });
  assert.notEqual(ssh.exitCode, 0, 'no SSH to a cut host');
  await sandboxHealHost(info, 'db1');
  await rootSql(db1, 'INSERT INTO t.x VALUES (3)');
  for (const r of [db2, db3]) await until(`${r.name} replicates after the heal`, async () => (await rootSql(r, 'SELECT COUNT(*) FROM t.x')).trim() === '3', 30_000, 100);

  // A server restarted under a PID sandbox.json does not know (as a drill does over SSH), in its namespace.
  await stopServer(db3, 'SIGKILL');
  const stray = spawnInNetns(db3.netns!.ns, info.serverBinary, [`--defaults-file=${db3.cnf}`]);
  await until('db3 answers again', async () => (await rootSql(db3, 'SELECT 1')).trim() === '1', 20_000, 100);
  assert.equal((await readSandbox(info.dir))?.servers[2]?.pid, db3.pid, 'sandbox.json still has the old PID');

  const pids = [...info.servers.flatMap((s) => [s.pid, s.sshd!.pid]), stray];
  await sandboxDown(info.dir);
  for (const pid of pids) assert.ok(!alive(pid), `PID ${pid} stopped by down`);
  assert.deepEqual(namespaces().filter((n) => n.startsWith(TAG)), [], 'no namespace left');
  assert.deepEqual(links().filter((n) => n.startsWith(TAG)), [], 'no link left');
  assert.ok(!existsSync(info.dir));
});

test('netns sandbox: a name in use is refused touching nothing; a failed up removes its network', { skip: !netnsAvailable() && 'needs root and iproute2', timeout: 60_000 }, async (t) => {
  // Someone else's link named like our bridge.
  const tag = 'mhats-t-xb';
  assert.equal(spawnSync('ip', ['link', 'add', `${tag}br`, 'type', 'bridge']).status, 0);
  t.after(() => void spawnSync('ip', ['link', 'del', `${tag}br`]));
  const dir = join(TEST_ROOT, `netns-clash-${process.pid}`);
  await assert.rejects(sandboxUp({ dir, replicas: 0, ssh: false, netns: { tag, subnet: '10.213.51' } }), /netns names already in use: mhats-t-xbbr/);
  assert.ok(links().includes(`${tag}br`), 'the other link is untouched');
  assert.ok(!existsSync(dir));
  await assert.rejects(sandboxUp({ dir, replicas: 0, ssh: false, netns: { tag: 'this-tag-is-too-long' } }), /at most 15 characters|1 to 11 characters/);

  // A server that cannot start: up fails, and its namespaces and bridge are gone.
  const bad = join(TEST_ROOT, `netns-broken-${process.pid}`);
  t.after(() => sandboxDown(bad));
  await assert.rejects(sandboxUp({ dir: bad, replicas: 1, sshPort: 2341, netns: { tag: 'mhats-t-xc', subnet: '10.213.52' }, extraServerOptions: ['no_such_option_at_all=1'] }), /no_such_option_at_all/);
  assert.deepEqual(namespaces().filter((n) => n.startsWith('mhats-t-xc')), []);
  assert.deepEqual(links().filter((n) => n.startsWith('mhats-t-xc')), []);
  assert.ok(!existsSync(bad));
});
