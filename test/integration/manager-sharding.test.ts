/**
 * Clusters spread over three managers (etcd.sharding) on a real etcd
 * (started here) and six small real clusters (a master and one replica each):
 *  - every cluster has exactly one owner, and every manager's /status and
 *    `mhats status` say which;
 *  - SIGKILL of one manager: its clusters get new owners within the lease
 *    TTL (plus one ownership round), and a master killed afterwards is failed
 *    over exactly once;
 *  - a manager restarted during a failover (a slow master_ip_failover_script)
 *    does not take that cluster, though it is in its share, until the
 *    failover's end record is written; then it does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopServer, type SandboxInfo } from '../../src/sandbox/index.js';
import type { EtcdClient } from '../../src/adapters/leader/etcd-client.js';
import { assignClusters } from '../../src/domain/shard.js';
import type { JournalRecord } from '../../src/domain/guard.js';
import { ManagerProcess } from '../helpers/manager.js';
import { until } from '../helpers/cluster.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { clusterSandboxes, etcdJournal, ownerNames, writeShardedConfigs } from '../helpers/sharding.js';
import { cliArgs } from '../helpers/cli.js';

const ETCD_HOST = '127.0.81.1';
const ETCD_CLIENT = `http://${ETCD_HOST}:2379`;
const TTL = 3;
const NAMES = ['m1', 'm2', 'm3'];

describe('clusters spread over three managers (etcd sharding)', () => {
  const sbs: SandboxInfo[] = [];
  let etcd: TestEtcd | undefined;
  let client: EtcdClient;
  const prefix = `/mhats-shard-${process.pid}`;
  const confs = new Map<string, string>();
  const running = new Map<string, ManagerProcess>();
  const all: ManagerProcess[] = [];
  const clusterNames = Array.from({ length: 6 }, (_, i) => `shard${i + 1}`);

  const start = (name: string): ManagerProcess => {
    const m = new ManagerProcess(confs.get(name)!, ['--http', '127.0.80.1:0'], sbs[0]!.dir);
    running.set(name, m);
    all.push(m);
    return m;
  };
  const owners = (): Promise<Map<string, string>> => ownerNames(client, prefix);
  const journal = (cluster: string): Promise<JournalRecord[]> => etcdJournal(client, prefix, cluster);
  const statusOf = async (m: ManagerProcess): Promise<{ ha: { owned: string[]; owners: Record<string, string | null>; managers: string[] } }> => {
    const url = (await m.waitFor(/^HTTP endpoint on/)).url as string;
    const r = await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) });
    return (await r.json()) as { ha: { owned: string[]; owners: Record<string, string | null>; managers: string[] } };
  };

  before(async () => {
    // Six small clusters (a master and one replica each), two at a time.
    sbs.push(...(await clusterSandboxes('shard', clusterNames, 84, 2401)));
    etcd = await startEtcd('mhats-shard', ETCD_HOST, sbs[0]!.dir);
    client = etcd.client;
    // One configuration with the six clusters; each has a master_ip_failover_script that waits while its flag file
    // exists (20 s at the most), so a test holds a failover in its middle exactly as long as it needs to.
    const hook = (sb: SandboxInfo): string => `#!/bin/sh\ni=0\nwhile [ -f ${join(sb.dir, 'slow')} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done\nexit 0\n`;
    for (const [name, file] of writeShardedConfigs(sbs, NAMES, { endpoint: ETCD_CLIENT, prefix, leaseTtl: TTL }, hook)) confs.set(name, file);
  });

  after(async () => {
    await Promise.all(all.map((m) => m.stop(5000)));
    await etcd?.stop();
  });

  test('three managers share six clusters: each cluster has exactly one owner, shown by every manager and by mhats status', async () => {
    for (const n of NAMES) start(n);
    await until('every cluster owned, two per manager', async () => {
      const o = await owners();
      return clusterNames.every((c) => o.has(c)) && NAMES.every((n) => [...o.values()].filter((x) => x === n).length === 2);
    }, 60_000);
    const o = await owners();
    assert.deepEqual(new Map(o), assignClusters(clusterNames, NAMES), 'the fair share: rendezvous hashing over the three managers');
    const expected = Object.fromEntries(clusterNames.map((c) => [c, o.get(c)!]));
    // Each manager's view of the owners is at most one ownership round (about a second) old.
    let statuses: Awaited<ReturnType<typeof statusOf>>[] = [];
    await until('every manager showing every owner', async () => {
      statuses = await Promise.all(NAMES.map((n) => statusOf(running.get(n)!)));
      return statuses.every((s) => JSON.stringify(s.ha.owners) === JSON.stringify(expected));
    }, 10_000);
    const owned = statuses.flatMap((s) => s.ha.owned).sort();
    assert.deepEqual(owned, [...clusterNames].sort(), 'every cluster owned by exactly one manager');
    for (const s of statuses) assert.deepEqual(s.ha.owners, expected, 'every manager shows every owner');
    const cli = spawnSync(process.execPath, [...cliArgs(), 'status', '--conf', confs.get('m1')!, '--json'], { encoding: 'utf8', timeout: 60_000 });
    const models = JSON.parse(cli.stdout) as Array<{ cluster: string; owner: string | null }>;
    assert.deepEqual(Object.fromEntries(models.map((m) => [m.cluster, m.owner])), Object.fromEntries(clusterNames.map((c) => [c, o.get(c)!])), cli.stderr);
  });

  const share3 = (): string[] => [...assignClusters(clusterNames, NAMES)].filter(([, m]) => m === 'm3').map(([c]) => c);

  test('SIGKILL of a manager: its clusters get new owners within the lease TTL; a master killed then is failed over exactly once', async () => {
    const m3 = running.get('m3')!;
    const gone = share3();
    m3.child.kill('SIGKILL');
    await until('m3 dead', () => Promise.resolve(m3.exited !== undefined), 10_000);
    const t0 = Date.now();
    await until('new owners for the clusters of m3', async () => {
      const o = await owners();
      return gone.every((c) => o.has(c) && o.get(c) !== 'm3');
    }, 20_000);
    const took = Date.now() - t0;
    assert.ok(took <= TTL * 1000 + 1500, `new owners after ${took} ms (lease TTL ${TTL} s plus one ownership round)`);
    // Kill the master of one of them: its new owner fails it over, once. Here the new owner watches it first
    // (its first inspection done): the steady state. A master killed as the lease changes hands, dead at the new
    // owner's first look, is manager-sharding-handover.test.ts.
    const c = gone[0]!;
    const sb = sbs[clusterNames.indexOf(c)]!;
    const newOwner = (await owners()).get(c)!;
    await until(`${newOwner} watching ${c}`, () => Promise.resolve(running.get(newOwner)!.lines.some((l) => l.cluster === c && new RegExp(`^watching ${c}: master ${sb.servers[0]!.name}`).test(l.msg))), 20_000);
    await stopServer(sb.servers[0]!, 'SIGKILL');
    try {
      await until(`the failover of ${c} to end`, async () => (await journal(c)).some((r) => r.type === 'end'), 60_000);
    } catch (err) {
      // What each surviving manager said about that cluster, and its journal: the failure then says where it stopped.
      const said = ['m1', 'm2'].map((n) => `--- ${n} on ${c} ---\n${running.get(n)!.lines.filter((l) => l.cluster === c).slice(-40).map((l) => JSON.stringify(l)).join('\n')}`).join('\n');
      throw new Error(`${(err as Error).message}\n${said}\n--- journal of ${c} ---\n${JSON.stringify(await journal(c).catch(() => []))}`);
    }
    await new Promise((r) => setTimeout(r, 3000));
    const recs = await journal(c);
    assert.equal(recs.filter((r) => r.type === 'begin').length, 1, JSON.stringify(recs));
    const end = recs.find((r) => r.type === 'end');
    assert.equal(end?.type === 'end' ? end.outcome : undefined, 'success', JSON.stringify(end));
    const owner = (await owners()).get(c)!;
    assert.ok(running.get(owner)!.has(new RegExp(`^MASTER ${sb.servers[0]!.name} IS DEAD`)));
    for (const n of ['m1', 'm2'].filter((x) => x !== owner)) assert.ok(!running.get(n)!.has(/^Phase 1: Configuration Check Phase started/) || !running.get(n)!.lines.some((l) => l.cluster === c && /Phase 1/.test(l.msg)), `${n} did not fail ${c} over`);
  });

  test('a manager restarted during a failover does not take that cluster until the failover record ends', async () => {
    const c = share3()[1]!;
    const sb = sbs[clusterNames.indexOf(c)]!;
    const holder = (await owners()).get(c)!;
    assert.notEqual(holder, 'm3');
    writeFileSync(join(sb.dir, 'slow'), '');
    await stopServer(sb.servers[0]!, 'SIGKILL');
    await until(`the failover of ${c} to begin`, async () => (await journal(c)).some((r) => r.type === 'begin'), 30_000);
    const m3 = start('m3');
    await m3.waitFor(new RegExp(`^${c} is in this manager's share; ${holder} still owns it`), 20_000);
    assert.equal((await owners()).get(c), holder, 'the owner keeps the cluster during its failover');
    assert.ok(!(await journal(c)).some((r) => r.type === 'end'), 'the failover is still running (the test would prove nothing otherwise)');
    rmSync(join(sb.dir, 'slow'));
    await until(`the failover of ${c} to end`, async () => (await journal(c)).some((r) => r.type === 'end'), 60_000);
    await until(`${c} to move to m3`, async () => (await owners()).get(c) === 'm3', 15_000);
    const recs = await journal(c);
    assert.equal(recs.filter((r) => r.type === 'begin').length, 1, 'one failover only');
    // The etcd key is written before the monitor is opened and the line logged: wait for the line.
    await m3.waitFor(new RegExp(`^now the owner of ${c}`), 20_000);
  });
});
