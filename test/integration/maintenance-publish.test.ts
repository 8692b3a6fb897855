/**
 * Maintenance and publishing the master, on real mariadbd, a real etcd
 * (started here, loopback) and a Consul KV stand-in (Consul is not packaged
 * for Debian here: test/helpers/consul-stub.ts implements the KV endpoints
 * mhats uses, PUT/GET/DELETE /v1/kv/KEY). One sandbox, one manager with
 * manager HA on etcd (so the maintenance entries live in etcd):
 *
 *  - the master is published at start (etcd and Consul, orchestrator's keys);
 *  - `mhats maintenance start --cluster`: the master is killed, the manager
 *    says loudly what it would do and does not fail over; /status and the
 *    metrics show the maintenance;
 *  - `mhats maintenance stop`: the failover runs; etcd holds the new master's
 *    keys within a second of its promotion (read_only=OFF);
 *  - the old master comes back writable and is fenced: no key ever names it
 *    (a stale key naming it is retracted when it is fenced);
 *  - a maintenance that expires by itself: held, then failed over.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { EtcdClient } from '../../src/adapters/leader/etcd-client.js';
import { withSandbox } from '../helpers/sandbox.js';
import { ManagerProcess } from '../helpers/manager.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { ConsulStub } from '../helpers/consul-stub.js';
import { listMaintenance, startMaintenance } from '../../src/app/maintenance.js';
import { loadConfig } from '../../src/config/load.js';
import { until, writeManagerConfig } from '../helpers/cluster.js';
import { cliArgs } from '../helpers/cli.js';

const ETCD_HOST = '127.0.71.1';
const ETCD = `http://${ETCD_HOST}:2379`;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa(process.execPath, [...cliArgs(), ...args], { reject: false, timeout: 60_000, env: { NO_COLOR: '1' } });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('maintenance and publishing the master', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let etcd: TestEtcd | undefined;
  let client: EtcdClient;
  let stub: ConsulStub;
  let conf: string;
  let m: ManagerProcess | undefined;
  let url = '';
  const prefix = `/i14-${process.pid}`;
  const key = `${prefix}/svc/mysql/master/sandbox`;
  /** Every value the main etcd key took, with when it was seen (polled every 25 ms). */
  const seen: Array<{ at: number; value: string | undefined }> = [];
  let polling = true;
  let poller: Promise<void> | undefined;
  const addr = (s: SandboxServer): string => `${s.address}:${s.port}`;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'maint-publish', baseAddress: '127.0.70.11', replicas: 2, ssh: false });
    db1 = sb.servers[0]!;
    etcd = await startEtcd('i14', ETCD_HOST, sb.dir);
    client = etcd.client;
    stub = new ConsulStub('127.0.70.1');
    await stub.listen();
    const base = writeManagerConfig(sb, { cluster: { last_failover_minute: 0 } });
    const doc = parse(readFileSync(base, 'utf8')) as Record<string, unknown>;
    doc.etcd = { endpoints: [ETCD], prefix, lease_ttl: 3, request_timeout: 1 };
    doc.publish = { prefix: `${prefix}/svc`, interval: 1, etcd: true, consul: { address: stub.url, token: 'consul-token' } };
    conf = join(sb.dir, 'mp.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    poller = (async () => {
      const c = new EtcdClient({ endpoints: [ETCD], timeoutMs: 500 });
      while (polling) {
        const v = (await c.get(key).catch(() => ({ value: 'ERR' })))?.value;
        if (seen.at(-1)?.value !== v || seen.length === 0) seen.push({ at: Date.now(), value: v });
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
  });

  after(async () => {
    polling = false;
    await poller;
    await m?.stop(10_000);
    await stub?.close();
    await etcd?.stop();
  });

  const status = async (): Promise<{ clusters: Array<Record<string, unknown> & { maintenance: { automaticFailover: string; heldDeadMaster: boolean }; publish: unknown }> }> =>
    (await (await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) })).json()) as never;
  const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();

  test('the master is published at start, to etcd and to Consul, in orchestrator\'s layout', async () => {
    m = new ManagerProcess(conf, ['--http', '127.0.70.1:0'], sb.dir);
    await m.waitFor(/^ready: every cluster inspected/, 30_000);
    url = String((await m.waitFor(/^HTTP endpoint on/)).url);
    await until('etcd to hold db1', async () => (await client.get(key))?.value === addr(db1), 10_000);
    assert.equal((await client.get(`${key}/hostname`))?.value, db1.address);
    assert.equal((await client.get(`${key}/port`))?.value, String(db1.port));
    assert.equal((await client.get(`${key}/ipv4`))?.value, db1.address);
    const ck = key.replace(/^\//, '');
    await until('consul to hold db1', () => Promise.resolve(stub.kv.get(ck) === addr(db1)), 10_000);
    assert.equal(stub.kv.get(`${ck}/port`), String(db1.port));
    assert.ok(stub.requests.every((r) => r.token === 'consul-token'));
  });

  test('a cluster in maintenance is watched, reported, and not failed over when its master dies', async () => {
    const r = await cli(['maintenance', 'start', '--conf', conf, '--cluster', 'sandbox', '--reason', 'kernel upgrade on db1', '--for', '10m']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /maintenance started: cluster sandbox until .* owner .*, reason "kernel upgrade on db1"/);
    await m!.waitFor(/^MAINTENANCE in force: cluster sandbox by .* \("kernel upgrade on db1"\)/, 10_000);
    const st = await status();
    assert.equal(st.clusters[0]!.maintenance.automaticFailover, 'held');
    assert.match(await metrics(), /mhats_maintenance\{cluster="sandbox"\} 1/);
    // What the API (and mhats maintenance list) reads: the entry, in etcd.
    const listed = await listMaintenance({ config: await loadConfig({ conf }) });
    assert.deepEqual(listed.active.map((e) => [e.scope, e.cluster, e.reason]), [['cluster', 'sandbox', 'kernel upgrade on db1']]);

    await stopServer(db1, 'SIGKILL');
    const held = await m!.waitFor(/^MASTER db1 IS DEAD .* but cluster sandbox is in maintenance/, 20_000);
    assert.match(held.msg, /NOT failing over automatically\. Without the maintenance mhats would now promote db[23] /);
    assert.match(held.msg, /mhats maintenance stop --cluster sandbox/);
    // Watched, not acted on: a few more seconds, no failover, both replicas still read_only.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(m!.has(/Phase 1: Configuration Check Phase started/), false, m!.tail());
    for (const s of sb.servers.slice(1)) assert.equal((await rootSql(s, 'SELECT @@read_only')).trim(), '1');
    const st2 = await status();
    assert.equal(st2.clusters[0]!.maintenance.heldDeadMaster, true);
    assert.equal(st2.clusters[0]!.state, 'blocked');
    // Never publish a dead master as such: the keys still name db1 (nobody else is the master), unchanged.
    assert.equal((await client.get(key))?.value, addr(db1));
  });

  let nm: SandboxServer;

  test('after maintenance stop it fails over; etcd holds the new master within a second of its promotion', async () => {
    const r = await cli(['maintenance', 'stop', '--conf', conf, '--cluster', 'sandbox']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /maintenance ended: cluster sandbox/);
    const done = await m!.waitFor(/^now watching the new master db[23]/, 30_000);
    nm = sb.servers.find((s) => s.name === done.newMaster)!;
    const promoted = m!.lines.find((l) => new RegExp(`${nm.name} is the new master, writable`).test(l.msg))!;
    const promotedAt = Number(promoted.time);
    await until('etcd to hold the new master', async () => (await client.get(key))?.value === addr(nm), 5000);
    const firstSeen = seen.find((x) => x.value === addr(nm))!.at;
    assert.ok(firstSeen - promotedAt < 1000, `etcd held ${nm.name} ${firstSeen - promotedAt} ms after its promotion`);
    assert.equal((await client.get(`${key}/hostname`))?.value, nm.address);
    await until('consul to hold the new master', () => Promise.resolve(stub.kv.get(key.replace(/^\//, '')) === addr(nm)), 5000);
    // The key named db1, then the new master: nothing in between, never another server.
    const values = seen.map((x) => x.value);
    while (values[0] === undefined && values.length > 0) values.shift();
    assert.deepEqual([...new Set(values)], [addr(db1), addr(nm)]);
  });

  test('the old master comes back writable and is fenced: no key ever names it again', async () => {
    // A stale key naming db1 (someone else's write): it must go when db1 is fenced.
    await client.put(key, addr(db1));
    await startServer(db1);
    await m!.waitFor(/^the failed old master db1 is back and WRITABLE( while [^:]*)?: fencing it/, 30_000);
    await until('the key no longer names db1', async () => (await client.get(key))?.value !== addr(db1), 3000);
    assert.equal((await rootSql(db1, 'SELECT @@read_only')).trim(), '1');
    // Reconciliation (every second here) puts the master back, never db1.
    await until('the master published again', async () => (await client.get(key))?.value === addr(nm), 5000);
    const fencedAt = Number(m!.lines.find((l) => /^fenced db1/.test(l.msg))?.time ?? Date.now());
    await new Promise((r) => setTimeout(r, 2500));
    const after = seen.filter((x) => x.at > fencedAt + 1000).map((x) => x.value);
    assert.ok(after.every((v) => v !== addr(db1)), JSON.stringify(after));
  });

  test('a maintenance that expires by itself: held while it lasts, failed over when it ends', async () => {
    // Through the app function the HTTP API calls (an API caller as owner).
    const e = await startMaintenance({ config: await loadConfig({ conf }) }, { scope: 'cluster', cluster: 'sandbox', owner: 'api:test', reason: 'short', duration: '8s' });
    assert.equal(e.owner, 'api:test');
    await m!.waitFor(/^MAINTENANCE in force: cluster sandbox by .* \("short"\)/, 10_000);
    const last = sb.servers.find((s) => s !== db1 && s !== nm)!;
    await stopServer(nm, 'SIGKILL');
    const heldAt = Date.now();
    await m!.waitFor(new RegExp(`^MASTER ${nm.name} IS DEAD .* but cluster sandbox is in maintenance`), 20_000);
    await m!.waitFor(new RegExp(`^now watching the new master ${last.name}`), 30_000);
    const warned = m!.lines.find((l) => /^maintenance of sandbox is over \(stopped or expired\)/.test(l.msg));
    assert.ok(warned, m!.tail());
    const phase1 = m!.lines.filter((l) => /Phase 1: Configuration Check Phase started/.test(l.msg)).at(-1)!;
    assert.ok(Number(phase1.time) > heldAt + 2000, 'not failed over while the maintenance lasted');
    await until('etcd to hold the last master', async () => (await client.get(key))?.value === addr(last), 5000);
  });
});
