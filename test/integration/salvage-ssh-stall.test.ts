/**
 * A quick SSH "no" is asked again (src/engine/ops/ssh-reach.ts recheckSshAfterNo): the dead master's
 * host is up, but the SSH session the manager keeps to it stalls (its sshd session processes are
 * SIGSTOPped, found by PID with ss: a loaded host whose sshd cannot answer one round trip in time),
 * while its MySQL port refuses (mariadbd SIGKILLed). The quick probe on the kept shell times out; the
 * verdict rests on refused connections (the host answered the manager), so the failover asks again
 * with a new session and the full connect_timeout: the sshd daemon accepts it, and the acknowledged
 * transactions no replica received are saved from the dead master's binlog and applied.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { checksum as tableChecksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';

/** PIDs of the sshd processes serving established connections on address:port (ss -p). */
function sshSessionPids(address: string, port: number): number[] {
  const r = spawnSync('ss', ['-Htnp', 'state', 'established', 'src', `${address}:${port}`], { encoding: 'utf8', timeout: 10_000 });
  const pids = [...(r.stdout ?? '').matchAll(/\("sshd",pid=(\d+),/g)].map((m) => Number(m[1]));
  return [...new Set(pids)];
}

const state = (pid: number): string => /^State:\s+(\S)/m.exec(spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '?';

describe("salvage when the dead master's kept SSH session stalls and its MySQL port refuses", () => {
  let sb: SandboxInfo;
  let mgr: ManagerProcess;
  /** The sshd session processes this test stopped: killed at the end whatever happens. */
  const stopped: number[] = [];

  before(async () => {
    sb = await withSandbox(undefined, { name: 'salvage-ssh-stall', baseAddress: '127.0.161.11', replicas: 2, gtid: true, sshPort: 2622 });
    const db1 = sb.servers[0]!;
    await rootSql(db1, 'CREATE DATABASE salvage; CREATE TABLE salvage.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB; INSERT INTO salvage.t VALUES (0, "before")');
    for (const o of sb.servers.slice(1)) await until(`${o.name} has the table`, async () => (await tableChecksum(o, 'salvage.t')) === (await tableChecksum(db1, 'salvage.t')));
    // The quick probe's deadline on a kept shell: second_route_timeout (1 s); the new session's: ssh connect_timeout (5 s) + 2 s.
    const conf = writeManagerConfig(sb, { cluster: { second_route_timeout: 1, ssh: { known_hosts: sb.ssh!.knownHostsFile, identity_file: sb.ssh!.identityFile, connect_timeout: 5 } } });
    mgr = new ManagerProcess(conf, ['--http', 'off'], sb.dir);
    await mgr.waitFor(/^watching sandbox: master db1/, 60_000);
    await mgr.waitFor(/^SSH shell ready on db1/, 60_000);
  });

  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await mgr?.stop();
  });

  test('the quick probe says no, the full re-probe finds the host; the acknowledged transactions are saved and applied', { timeout: 180_000 }, async (t) => {
    const [db1, ...others] = sb.servers as [SandboxServer, ...SandboxServer[]];
    for (const o of others) await rootSql(o, 'STOP SLAVE IO_THREAD');
    const n = 30;
    for (let i = 1; i <= n; i++) await rootSql(db1, `INSERT INTO salvage.t VALUES (${i}, REPEAT('y', ${i}))`);
    const masterSum = await tableChecksum(db1, 'salvage.t');
    const from = mgr.lines.length;
    // The manager's kept sessions to db1's host stall: every sshd process serving them stopped.
    const pids = sshSessionPids(db1.address, sb.ssh!.port);
    assert.ok(pids.length > 0, 'the manager keeps an SSH session to db1');
    assert.ok(!pids.includes(sb.ssh!.pid), 'never the sshd listener');
    for (const pid of pids) {
      stopped.push(pid);
      process.kill(pid, 'SIGSTOP');
    }
    for (const pid of pids) assert.equal(state(pid), 'T', `sshd session ${pid} stopped`);
    await stopServer(db1, 'SIGKILL');
    const done = await mgr.waitFor(/^now watching the new master/, 90_000, from).catch((err: unknown) => {
      throw new Error(`${(err as Error).message.split('\n')[0]}\n${mgr.lines.slice(from).filter((x) => !/health check of/.test(x.msg)).map((x) => x.msg).join('\n')}`);
    });
    const msgs = mgr.lines.slice(from).map((l) => l.msg);
    const trace = msgs.filter((m) => /SSH|ssh|salvage|saved|LOST|fence|reachable|Phase 3\.2/.test(m)).join('\n');
    // The salvage happened: every acknowledged transaction is on the new master.
    const nm = sb.servers.find((s) => done.msg.includes(`new master ${s.name};`))!;
    assert.equal((await rootSql(nm, 'SELECT COUNT(*) FROM salvage.t')).trim(), String(n + 1), trace);
    assert.equal(await tableChecksum(nm, 'salvage.t'), masterSum, 'the new master has exactly what the dead master had acknowledged');
    assert.ok(msgs.some((m) => new RegExp(`^saved ${n} transaction\\(s\\) from db1's binlog`).test(m)), trace);
    assert.ok(msgs.some((m) => new RegExp(`^applied ${n} saved transaction\\(s\\) to db\\d`).test(m)), trace);
    assert.ok(!msgs.some((m) => /LOST TRANSACTIONS/.test(m)), trace);
    // Through the path under test: the quick answer was no (the stalled session), asked again on a new session: yes.
    const quick = msgs.find((m) => /^db1's host did not answer SSH within \d+ ms .*: asked again with a new session and the full connect_timeout$/.test(m));
    assert.ok(quick !== undefined, `the quick probe said no and was asked again:\n${trace}`);
    assert.ok(msgs.includes("db1's host answered SSH on a new session"), trace);
    assert.ok(msgs.includes("db1's host is reachable over SSH"), trace);
    // The stalled sessions were still stopped throughout (the re-probe did not ride on them).
    for (const pid of pids) assert.equal(state(pid), 'T', `sshd session ${pid} still stopped`);
    t.diagnostic(`${quick}; failover ${typeof done.durationMs === 'number' ? done.durationMs : '?'} ms; ${pids.length} sshd session process(es) stopped`);
  });
});
