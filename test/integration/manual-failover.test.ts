/**
 * `mhats failover --yes` (MHA's masterha_master_switch --master_state=dead)
 * with no manager daemon running: after kill -9 of the master under
 * continuous writes, the end state is the automatic failover's: a new master
 * that is writable, the other replica replicating from it without error,
 * every acknowledged write present, checksums equal, and the failover in the
 * journal (so the guard and `mhats status` see it).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { detectFlavor, replicaStatus, rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';
import { Writer } from '../helpers/writer.js';
import { SEMI_SYNC } from '../helpers/semisync.js';
import { cliArgs } from '../helpers/cli.js';

async function checksum(s: SandboxServer): Promise<string> {
  return (await rootSql(s, 'CHECKSUM TABLE mhats_test.t')).trim().split('\t')[1] ?? '';
}

describe('mhats failover (manual, no manager running)', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let conf: string;
  let password: string;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'manual-failover', baseAddress: '127.0.11.21', replicas: 2, sshPort: 2282, extraServerOptions: SEMI_SYNC });
    db1 = sb.servers[0]!;
    password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    await rootSql(db1, 'CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB');
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; clusters: Record<string, Record<string, unknown>> };
    doc.state_dir = join(sb.dir, 'state');
    Object.assign(doc.clusters[sb.clusterName]!, { connect_timeout: 1, query_timeout: 5 });
    conf = join(sb.dir, 'manual.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
  });

  test('kill -9 of the master, then mhats failover --yes: same end state as the automatic failover', async () => {
    const w = new Writer();
    w.start({ host: db1.address, port: 3306, user: sb.adminUser, password });
    await w.waitFor(200);
    await stopServer(db1, 'SIGKILL');
    await w.stopped();

    const r = await execa(process.execPath, [...cliArgs(), 'failover', '--conf', conf, '--yes', '--json'], { reject: false, timeout: 120_000, stdin: 'ignore' });
    assert.equal(r.exitCode, 0, `${String(r.stdout)}\n${String(r.stderr)}`);
    const report = JSON.parse(String(r.stdout)) as { outcome: string; oldMaster: string; newMaster: string; recovered: string[]; notRecovered: unknown[] };
    assert.equal(report.outcome, 'success');
    assert.equal(report.oldMaster, 'db1');
    const nm = sb.servers.find((s) => s.name === report.newMaster)!;
    const other = sb.servers.find((s) => s.name !== 'db1' && s.name !== nm.name)!;
    assert.deepEqual(report.recovered, [other.name]);

    // The new master is writable and takes writes.
    assert.equal((await rootSql(nm, 'SELECT @@global.read_only')).trim(), '0');
    await rootSql(nm, "INSERT INTO mhats_test.t (val) VALUES ('after-failover')");
    // The other replica replicates from it, without error, and catches up.
    await until(`${other.name} caught up with ${nm.name}`, async () => (await checksum(other)) === (await checksum(nm)), 30_000, 100);
    const st = await replicaStatus(await detectFlavor(), other);
    assert.equal(st.get('Master_Host'), nm.address);
    assert.equal(st.get('Slave_IO_Running'), 'Yes');
    assert.equal(st.get('Slave_SQL_Running'), 'Yes');
    assert.equal(st.get('Last_SQL_Errno'), '0');
    // The new master has no replication settings left.
    assert.equal((await rootSql(nm, 'SHOW SLAVE STATUS')).trim(), '');
    // Every acknowledged write survived, on both.
    for (const s of [nm, other]) {
      const have = new Set((await rootSql(s, 'SELECT id FROM mhats_test.t')).split('\n').filter(Boolean).map(Number));
      assert.deepEqual(w.acked.filter((id) => !have.has(id)), [], `${s.name} lost acknowledged writes`);
    }
    // Journaled like an automatic one: status shows it, and the guard now blocks automatic failovers.
    const status = await execa(process.execPath, [...cliArgs(), 'status', '--conf', conf, '--json'], { reject: false, timeout: 60_000 });
    const [c] = JSON.parse(String(status.stdout)) as Array<{ master: string; lastFailover: { outcome: string; newMaster: string; oldMaster: string } }>;
    assert.equal(c!.master, nm.name);
    assert.equal(c!.lastFailover.outcome, 'success');
    assert.equal(c!.lastFailover.oldMaster, 'db1');
  });
});
