/**
 * check-repl and status against a real sandbox (real mariadbd processes).
 * Each case breaks the topology one way, checks that check-repl exits
 * non-zero naming the host and the problem, then repairs it.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { detectFlavor, replicaStatus, rootSql, stopServer, startServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';
import { cliArgs } from '../helpers/cli.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function mhats(...args: string[]): CliResult {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...cliArgs(), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

async function threadsRunning(s: SandboxServer): Promise<boolean> {
  const st = await replicaStatus(await detectFlavor(), s);
  return st.get('Slave_IO_Running') === 'Yes' && st.get('Slave_SQL_Running') === 'Yes';
}

describe('check-repl on a real sandbox', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let fastConf: string;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'check-repl', baseAddress: '127.0.1.11', replicas: 2, sshPort: 2231 });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    // The same cluster with short deadlines, for the hung-server case.
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { clusters: Record<string, Record<string, unknown>> };
    const c = doc.clusters[sb.clusterName]!;
    c.connect_timeout = 1;
    c.query_timeout = 2;
    fastConf = join(sb.dir, 'fast.yaml');
    writeFileSync(fastConf, stringify(doc), { mode: 0o600 });
  });

  test('healthy: exit 0 and MHA closing line', () => {
    const r = mhats('check-repl', '--conf', sb.configFile);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /MySQL Replication Health is OK\./);
    assert.match(r.stdout, /db1 .*master/);
  });

  test('status prints the tree and --json parses', () => {
    const r = mhats('status', '--conf', sb.configFile);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /db1 .*master/);
    assert.match(r.stdout, /└─ db3/);
    const j = mhats('status', '--conf', sb.configFile, '--json');
    const model = JSON.parse(j.stdout) as Array<{ master: string; tree: Array<{ name: string; children: Array<{ name: string; io: string }> }> }>;
    assert.equal(model[0]!.master, 'db1');
    assert.deepEqual(model[0]!.tree[0]!.children.map((c) => c.name), ['db2', 'db3']);
    assert.equal(model[0]!.tree[0]!.children[0]!.io, 'Yes');
  });

  test('an MHA app1.cnf listing the sandbox works with --conf', () => {
    const r = mhats('check-repl', '--conf', sb.mhaConfigFile);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /MySQL Replication Health is OK\./);
  });

  test("MHA's script status checks: master_ip_failover_script and shutdown_script get --command=status with MHA's arguments; a failing one is an ERROR, exit 1", () => {
    const calls = join(sb.dir, 'status-calls.log');
    const ok = join(sb.dir, 'ipfail-status.sh');
    writeFileSync(ok, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\nexit 0\n`, { mode: 0o755 });
    const bad = join(sb.dir, 'power-status.sh');
    writeFileSync(bad, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\necho "Can't locate MHA/DBHelper.pm in @INC" >&2\nexit 2\n`, { mode: 0o755 });
    const cnf = join(sb.dir, 'app1-scripts.cnf');
    const withScripts = (shutdown: string): void =>
      writeFileSync(cnf, readFileSync(sb.mhaConfigFile, 'utf8').replace('[server default]\n', `[server default]\nmaster_ip_failover_script=${ok} ipfail\nshutdown_script=${shutdown}\n`), { mode: 0o600 });
    withScripts(bad);
    const r = mhats('check-repl', '--conf', cnf);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /ERROR server1: shutdown_script --command=status \(.*power-status\.sh\) exited 2: Can't locate MHA\/DBHelper\.pm/);
    assert.match(r.stdout, /→ .*install mha4mysql-node/);
    assert.match(r.stdout, /info  server1: master_ip_failover_script --command=status \(.*ipfail-status\.sh ipfail\): OK/);
    assert.match(r.stdout, /MySQL Replication Health is NOT OK!/);
    const lines = readFileSync(calls, 'utf8').trim().split('\n');
    assert.deepEqual(lines, [`ipfail --command=status --ssh_user=${sb.ssh!.user} --orig_master_host=${db1.address} --orig_master_ip=${db1.address} --orig_master_port=3306 --orig_master_ssh_port=${sb.ssh!.port}`, `--command=status --ssh_user=${sb.ssh!.user} --host=${db1.address} --ip=${db1.address} --ssh_port=${sb.ssh!.port}`]);
    // Fixed: healthy again.
    withScripts(ok);
    const r2 = mhats('check-repl', '--conf', cnf);
    assert.equal(r2.code, 0, show(r2));
    assert.match(r2.stdout, /MySQL Replication Health is OK\./);
  });

  test("a replica's SQL thread stopped: exit 4 naming the replica", async () => {
    await rootSql(db2, 'STOP SLAVE SQL_THREAD');
    try {
      const r = mhats('check-repl', '--conf', sb.configFile);
      assert.equal(r.code, 4, show(r));
      assert.match(r.stdout, /ERROR db2: SQL thread is stopped/);
    } finally {
      await rootSql(db2, 'START SLAVE SQL_THREAD');
    }
  });

  test('a replica pointing elsewhere: exit 4 naming it and its source', async () => {
    // Changing MASTER_HOST resets the position in MariaDB: remember where db3 is, to restore it exactly.
    const st = await replicaStatus(await detectFlavor(), db3);
    const file = st.get('Relay_Master_Log_File')!;
    const pos = st.get('Exec_Master_Log_Pos')!;
    assert.match(file, /\.\d+$/);
    await rootSql(db3, `STOP SLAVE; CHANGE MASTER TO MASTER_HOST='${db2.address}', MASTER_USE_GTID=no, MASTER_LOG_FILE='${file}', MASTER_LOG_POS=4`);
    try {
      const r = mhats('check-repl', '--conf', sb.configFile);
      assert.equal(r.code, 4, show(r));
      assert.match(r.stdout, /ERROR db3: replicates from db2 .*not from the master db1/);
    } finally {
      await rootSql(db3, `STOP SLAVE; CHANGE MASTER TO MASTER_HOST='${db1.address}', MASTER_USE_GTID=no, MASTER_LOG_FILE='${file}', MASTER_LOG_POS=${pos}; START SLAVE`);
      await until('db3 replicating from db1 again', () => threadsRunning(db3), 20_000);
    }
  });

  test('duplicate server_id: exit 4 naming both servers', async () => {
    await rootSql(db3, `SET GLOBAL server_id=${db2.serverId}`);
    try {
      const r = mhats('check-repl', '--conf', sb.configFile);
      assert.equal(r.code, 4, show(r));
      assert.match(r.stdout, new RegExp(`ERROR db3: server_id ${db2.serverId} is also used by db2`));
      assert.match(r.stdout, new RegExp(`ERROR db2: server_id ${db2.serverId} is also used by db3`));
    } finally {
      await rootSql(db3, `SET GLOBAL server_id=${db3.serverId}`);
      await rootSql(db3, 'STOP SLAVE; START SLAVE');
      await rootSql(db2, 'STOP SLAVE; START SLAVE');
      await until('db2 and db3 replicating', async () => (await threadsRunning(db2)) && (await threadsRunning(db3)), 20_000);
    }
  });

  test('a writable replica: exit 4 naming it', async () => {
    await rootSql(db2, 'SET GLOBAL read_only=OFF');
    try {
      const r = mhats('check-repl', '--conf', sb.configFile);
      assert.equal(r.code, 4, show(r));
      assert.match(r.stdout, /ERROR db2: replica is writable/);
    } finally {
      await rootSql(db2, 'SET GLOBAL read_only=ON');
    }
  });

  test('a server that accepts TCP but never answers (SIGSTOP) is reported within the deadline', async () => {
    await stopServer(db3, 'SIGSTOP');
    try {
      const r = mhats('check-repl', '--conf', fastConf);
      assert.equal(r.code, 5, show(r));
      assert.match(r.stdout, /ERROR db3: cannot connect to 127\.0\.1\.13:3306: .*(no answer|timed out)/);
      // connect_timeout is 1 s: well under the 60 s a hang would take (margin for tsx start-up).
      assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    } finally {
      await stopServer(db3, 'SIGCONT');
    }
  });

  test('a server down (kill -9): exit 5 naming it; healthy again after restart', async () => {
    await stopServer(db3, 'SIGKILL');
    const r = mhats('check-repl', '--conf', sb.configFile);
    assert.equal(r.code, 5, show(r));
    assert.match(r.stdout, /ERROR db3: cannot connect to 127\.0\.1\.13:3306: connection refused/);
    db3 = await startServer(db3);
    await until('db3 replicating after restart', () => threadsRunning(db3), 30_000);
    const again = mhats('check-repl', '--conf', sb.configFile);
    assert.equal(again.code, 0, show(again));
  });
});
