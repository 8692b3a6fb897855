/**
 * Manager HA on a real etcd (started by this test) and a real sandbox:
 *  - without etcd: a second manager on the same state_dir refuses to start
 *    (naming the PID), and one on another state_dir sees MHA's monitor lock
 *    held on the master and does not fail over automatically;
 *  - two managers with the same config: one leads, the other follows (ready);
 *  - kill -9 the leader: the follower takes over within the lease TTL;
 *  - kill -9 the master: exactly one failover (one begin/end in the journal
 *    in etcd, one promotion); the follower adopts the new master;
 *  - both managers killed (SIGKILL) in the middle of a failover (a slow
 *    master_ip_failover_script) and restarted: no second promotion; the
 *    unfinished failover is reported.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import type { EtcdClient } from '../../src/adapters/leader/etcd-client.js';
import type { JournalRecord } from '../../src/domain/guard.js';
import { withSandbox } from '../helpers/sandbox.js';
import { ManagerProcess } from '../helpers/manager.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { until } from '../helpers/cluster.js';

const ETCD_HOST = '127.0.21.1';
const ETCD_CLIENT = `http://${ETCD_HOST}:2379`;
const TTL = 3;

async function killHard(m: ManagerProcess): Promise<void> {
  if (m.exited) return;
  m.child.kill('SIGKILL');
  await until('the manager to die', () => m.exited !== undefined, 10_000, 100);
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
}

describe('manager HA', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let etcd: TestEtcd | undefined;
  let doc: { state_dir: string; clusters: Record<string, { servers: Array<Record<string, unknown>> } & Record<string, unknown>> } & Record<string, unknown>;
  let haConf: string;
  let plainConf: string;
  const prefix = `/mhats-test-${process.pid}`;
  const managers: ManagerProcess[] = [];
  let client: EtcdClient;
  let hookPidFile: string;

  const start = (conf: string, extra: string[] = ['--http', '127.0.0.1:0']): ManagerProcess => {
    const m = new ManagerProcess(conf, extra, sb.dir);
    managers.push(m);
    return m;
  };
  const journal = async (): Promise<JournalRecord[]> => (await client.range(`${prefix}/journal/${sb.clusterName}/`)).map((kv) => JSON.parse(kv.value) as JournalRecord);
  const leaderOf = (ms: ManagerProcess[]): ManagerProcess | undefined => ms.find((m) => !m.exited && m.has(/^elected manager leader/) && !m.has(/^LOST manager leadership/));

  before(async () => {
    sb = await withSandbox(undefined, { name: 'manager-ha', baseAddress: '127.0.22.11', replicas: 2, sshPort: 2283 });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    etcd = await startEtcd('mhats-test', ETCD_HOST, sb.dir);
    client = etcd.client;

    doc = parse(readFileSync(sb.configFile, 'utf8')) as typeof doc;
    doc.state_dir = join(sb.dir, 'state');
    const c = doc.clusters[sb.clusterName]!;
    // last_failover_minute 0: the second failover below is not held back by the flapping guard.
    Object.assign(c, { ping_interval: 0.3, ping_failures: 3, ping_timeout: 0.3, connect_timeout: 1, query_timeout: 3, last_failover_minute: 0 });
    // A master_ip_failover_script that is slow when told so: "the middle of a failover", deterministically.
    hookPidFile = join(sb.dir, 'hook.pid');
    const hook = join(sb.dir, 'ipfail.sh');
    writeFileSync(hook, `#!/bin/sh\nif [ -f ${join(sb.dir, 'slow')} ]; then echo $$ > ${hookPidFile}; exec sleep 30; fi\necho "$MHATS_FENCING_TOKEN" >> ${join(sb.dir, 'tokens.log')}\nexit 0\n`);
    chmodSync(hook, 0o755);
    c.master_ip_failover_script = hook;
    plainConf = join(sb.dir, 'plain.yaml');
    writeFileSync(plainConf, stringify(doc), { mode: 0o600 });
    haConf = join(sb.dir, 'ha.yaml');
    writeFileSync(haConf, stringify({ ...doc, etcd: { endpoints: [ETCD_CLIENT], prefix, lease_ttl: TTL, request_timeout: 1 } }), { mode: 0o600 });
  });

  after(async () => {
    await Promise.all(managers.map((m) => m.stop(5000)));
    if (existsSync(hookPidFile)) {
      try {
        process.kill(Number(readFileSync(hookPidFile, 'utf8').trim()), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await etcd?.stop();
  });

  test('without etcd: a second manager on the same state_dir refuses to start; one elsewhere sees MHA\'s monitor lock held', async () => {
    const first = start(plainConf, ['--http', 'off']);
    await first.waitFor(/^holding MHA's monitor lock on db1/);
    // Another state_dir: the lock file does not stop it, MHA's lock on the master does (for failover).
    // Started with the second one: both only need the first to hold its locks.
    const other = join(sb.dir, 'other.yaml');
    writeFileSync(other, stringify({ ...doc, state_dir: join(sb.dir, 'state-other') }), { mode: 0o600 });
    const second = start(plainConf, ['--http', 'off']);
    const third = start(other, ['--http', 'off']);
    const code = await exitOf(second.child);
    assert.notEqual(code, 0);
    const out = second.raw.join('\n');
    assert.match(out, new RegExp(`another mhats manager \\(PID ${first.child.pid}\\) already runs on state directory`), out);
    await third.waitFor(/^A SECOND MANAGER .* WATCHES master db1 of sandbox: MHA_Master_High_Availability_Monitor is held by connection \d+/);
    await Promise.all([first.stop(), third.stop()]);
    assert.equal(existsSync(join(doc.state_dir, 'manager.lock')), false, 'the lock file goes with a clean stop');
  });

  let a: ManagerProcess;
  let b: ManagerProcess;

  test('two managers: one leader, one ready follower', async () => {
    a = start(haConf);
    await a.waitFor(/^elected manager leader/, 15_000);
    b = start(haConf);
    await b.waitFor(/^following: .* is the leader/, 15_000);
    await b.waitFor(/^ready: every cluster inspected/, 15_000);
    const url = String((await b.waitFor(/^HTTP endpoint on/)).url);
    const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { ready: boolean; leader: boolean };
    assert.equal(r.status, 200);
    assert.deepEqual(body, { ready: true, leader: false });
    const st = (await (await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) })).json()) as { ha: { mode: string; state: string } };
    assert.equal(st.ha.mode, 'etcd');
    assert.equal(st.ha.state, 'follower');
  });

  test('kill -9 of the leader: the follower takes over within the lease TTL', async () => {
    const t0 = Date.now();
    await killHard(a);
    await b.waitFor(/^elected manager leader/, (TTL + 3) * 1000);
    const took = Date.now() - t0;
    assert.ok(took <= TTL * 1000 + 1500, `took ${took} ms (TTL ${TTL} s)`);
    a = start(haConf); // a new follower for what follows
    await a.waitFor(/^following: .* is the leader/, 15_000);
    await a.waitFor(/^ready: every cluster inspected/, 15_000);
  });

  test('kill -9 of the master: exactly one failover, by the leader', async () => {
    await stopServer(db1, 'SIGKILL');
    await b.waitFor(/^now watching the new master (db2|db3)/, 60_000);
    const nm = String(b.lines.find((l) => /^now watching the new master/.test(l.msg))!.newMaster);
    await a.waitFor(new RegExp(`watching ${nm}`), 20_000);
    assert.ok(a.has(/This manager is not the leader: the leader fails it over/), a.tail());
    assert.equal(a.has(/Phase 1: Configuration Check Phase started/), false, 'the follower never fails over');
    assert.equal(b.lines.filter((l) => /Phase 1: Configuration Check Phase started/.test(l.msg)).length, 1);
    // The journal write to etcd completes just after the log line: wait for it.
    await until('the failover end record in etcd', async () => (await journal()).some((r) => r.type === 'end'), 10_000);
    const recs = await journal();
    assert.equal(recs.filter((r) => r.type === 'begin').length, 1, JSON.stringify(recs));
    const ends = recs.filter((r) => r.type === 'end');
    assert.equal(ends.length, 1);
    assert.equal(ends[0]!.type === 'end' && ends[0]!.outcome, 'success');
    // One promotion: exactly one writable server among the survivors.
    const ro = await Promise.all([db2, db3].map(async (s) => (await rootSql(s, 'SELECT @@read_only')).trim()));
    assert.deepEqual(ro.filter((x) => x === '0').length, 1, `read_only: ${ro.join(',')}`);
    // The hooks got the leader's fencing token.
    const tokens = readFileSync(join(sb.dir, 'tokens.log'), 'utf8').trim().split('\n');
    assert.ok(tokens.length >= 1 && tokens.every((t) => /^\d+$/.test(t)), tokens.join(','));
  });

  test('both managers killed in the middle of a failover and restarted: no second promotion', async () => {
    const nm = String(b.lines.find((l) => /^now watching the new master/.test(l.msg))!.newMaster);
    const [master, last] = nm === 'db2' ? [db2, db3] : [db3, db2];
    writeFileSync(join(sb.dir, 'slow'), '');
    await stopServer(master, 'SIGKILL');
    await until('the slow master_ip_failover_script to run', () => existsSync(hookPidFile), 30_000);
    await Promise.all([killHard(a), killHard(b)]);
    process.kill(Number(readFileSync(hookPidFile, 'utf8').trim()), 'SIGKILL');
    const before = await journal();
    assert.equal(before.filter((r) => r.type === 'begin').length, 2);
    assert.equal(before.filter((r) => r.type === 'end').length, 1);
    const c = start(haConf);
    const d = start(haConf);
    await c.waitFor(/an unfinished failover was found in the journal/, 15_000);
    await d.waitFor(/an unfinished failover was found in the journal/, 15_000);
    const leader = await (async () => {
      await until('a new leader', () => leaderOf([c, d]) !== undefined, (TTL + 5) * 1000);
      return leaderOf([c, d])!;
    })();
    await leader.waitFor(/^new leader: failover .* never finished/, 5000);
    // Give it time to (wrongly) act: nothing may happen.
    await new Promise((r) => setTimeout(r, 3000));
    for (const m of [c, d]) assert.equal(m.has(/Phase 1: Configuration Check Phase started/), false, m.tail());
    assert.equal((await rootSql(last, 'SELECT @@read_only')).trim(), '1', `${last.name} must not have been promoted`);
    const recs = await journal();
    assert.equal(recs.filter((r) => r.type === 'begin').length, 2);
    assert.equal(recs.filter((r) => r.type === 'end').length, 1);
  });
});
