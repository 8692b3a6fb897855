/**
 * Rejoin of an old master, on real mariadbd in network namespaces (the netns
 * sandbox: network faults are real), binlog positions, one manager:
 *
 *  - crash: kill -9 of the master, failover (its binlog saved over SSH), the
 *    old master restarted (it comes back writable and is fenced), then
 *    `mhats rejoin` makes it a replica of the new master at the coordinate
 *    the failover recorded; read_only kept; checksums equal afterwards;
 *  - netdown: the new master's host is cut off while a client on the host
 *    itself (its unix socket) writes to it; the manager fails over; the host
 *    comes back and is fenced; auto_rejoin (turned on by a reload) refuses;
 *    `mhats rejoin` refuses, lists exactly the transactions written on the
 *    isolated side (GTIDs and binlog range), extracts them for review, and
 *    the server stays fenced.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { rootSql, sandboxCutHost, sandboxHealHost, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { ManagerProcess } from '../helpers/manager.js';
import { netnsAvailable } from '../helpers/netns.js';
import { checksum, until, writeManagerConfig } from '../helpers/cluster.js';
import { cliArgs } from '../helpers/cli.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa(process.execPath, [...cliArgs(), ...args], { reject: false, timeout: 90_000, env: { NO_COLOR: '1' } });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('rejoin of an old master', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let conf: string;
  let m: ManagerProcess | undefined;
  let nm: SandboxServer;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'rejoin', replicas: 2, sshPort: 2381, netns: { tag: 'mhats-t-orj', subnet: '10.213.70' } });
    db1 = sb.servers[0]!;
    conf = writeManagerConfig(sb, { cluster: { last_failover_minute: 0 } });
    await rootSql(db1, 'CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;');
    await rootSql(db1, `INSERT INTO app.t VALUES ${Array.from({ length: 50 }, (_, i) => `(${i + 1}, 'before the crash ${i + 1}')`).join(',')};`);
  });

  after(async () => {
    await m?.stop(10_000);
  });

  test('after a crash failover, mhats rejoin makes the restarted old master a replica; checksums equal', async () => {
    m = new ManagerProcess(conf, ['--http', 'off'], sb.dir);
    await m.waitFor(/^ready: every cluster inspected/, 30_000);
    await stopServer(db1, 'SIGKILL');
    const done = await m.waitFor(/^now watching the new master db[23]/, 60_000);
    nm = sb.servers.find((s) => s.name === done.newMaster)!;
    await rootSql(nm, "INSERT INTO app.t VALUES (1001, 'after the failover')");

    await startServer(db1);
    await m.waitFor(/^the failed old master db1 is back and WRITABLE( while [^:]*)?: fencing it/, 30_000);
    const dry = await cli(['rejoin', 'db1', '--conf', conf, '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.equal((JSON.parse(dry.stdout) as { outcome: string }).outcome, 'would_rejoin');

    const r = await cli(['rejoin', 'db1', '--conf', conf, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout) as { outcome: string; how: string; master: string; startAt: { file: string; pos: number }; failover: string };
    assert.equal(rep.outcome, 'rejoined', r.stdout);
    assert.equal(rep.master, nm.name);
    assert.equal(rep.how, 'position', 'binlog positions: mapped through the failover record');
    assert.ok(rep.startAt.file.startsWith('mysql-bin.'));
    assert.equal((await rootSql(db1, 'SELECT @@read_only')).trim(), '1', 'read_only kept');
    await rootSql(nm, "INSERT INTO app.t VALUES (1002, 'after the rejoin')");
    await until('db1 has every row', async () => (await rootSql(db1, 'SELECT COUNT(*) FROM app.t')).trim() === '52', 20_000);
    const sums = await Promise.all(sb.servers.map((s) => checksum(s, 'app.t')));
    assert.equal(new Set(sums).size, 1, `checksums: ${sums.join(' ')}`);
    // Journaled: the manager no longer counts db1 as failed.
    const journal = readFileSync(`${sb.dir}/state/sandbox/failovers.jsonl`, 'utf8');
    assert.match(journal, new RegExp(`"type":"rejoin","id":"${rep.failover}","at":\\d+,"server":"db1"`));
    assert.match(journal, /db1 rejoined as a replica of db[23] .* requested by /);
  });

  test('after a netdown with writes on the isolated old master, rejoin refuses and lists exactly those transactions', async () => {
    // auto_rejoin on, by a reload: the manager tries by itself when the old master comes back.
    const doc = parse(readFileSync(conf, 'utf8')) as { clusters: Record<string, Record<string, unknown>> };
    doc.clusters[sb.clusterName]!.auto_rejoin = true;
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    m!.child.kill('SIGHUP');
    await m!.waitFor(/^watching sandbox again with its new settings/, 30_000);
    await m!.waitFor(new RegExp(`^watching sandbox: master ${nm.name}`), 30_000);

    const isolated = nm;
    await sandboxCutHost(sb, isolated.name);
    // A client on the isolated host itself keeps writing (its unix socket: no network).
    const out = await rootSql(isolated, [2001, 2002, 2003].map((id) => `INSERT INTO app.t VALUES (${id}, 'isolated write ${id}'); SELECT @@last_gtid;`).join('\n'));
    const written = out.trim().split('\n').map((l) => l.trim());
    assert.equal(written.length, 3, out);
    const done = await m!.waitFor(new RegExp(`^now watching the new master (?!${isolated.name})db\\d`), 90_000);
    const newer = sb.servers.find((s) => s.name === done.newMaster)!;
    assert.notEqual(newer.name, isolated.name);

    await sandboxHealHost(sb, isolated.name);
    await m!.waitFor(new RegExp(`^the failed old master ${isolated.name} is back and WRITABLE( while [^:]*)?: fencing it`), 30_000);
    const auto = await m!.waitFor(new RegExp(`^auto_rejoin of ${isolated.name} REFUSED`), 30_000);
    assert.match(auto.msg, /DIVERGED/);

    const r = await cli(['rejoin', isolated.name, '--conf', conf, '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout) as { outcome: string; divergent: { count: number; gtids: string[]; range: { from: string; to: string } }; extractFile: string; reseed: string[] };
    assert.equal(rep.outcome, 'diverged');
    assert.deepEqual(rep.divergent.gtids, written, 'exactly the transactions written on the isolated side');
    assert.equal(rep.divergent.count, 3);
    assert.match(rep.divergent.range.from, /^mysql-bin\.\d+:\d+$/);
    assert.ok(existsSync(rep.extractFile), rep.extractFile);
    const extracted = readFileSync(rep.extractFile, 'utf8');
    for (const id of [2001, 2002, 2003]) assert.match(extracted, new RegExp(`isolated write ${id}`), `row ${id} is in the extract`);
    assert.doesNotMatch(extracted, /before the crash|after the rejoin/, 'only the divergent range');
    assert.ok(rep.reseed.some((l) => /mhats rejoin/.test(l) && /take a fresh copy/.test(l)));
    // Kept fenced, nothing discarded, not part of the cluster.
    assert.equal((await rootSql(isolated, 'SELECT @@read_only')).trim(), '1');
    assert.equal((await rootSql(isolated, 'SELECT COUNT(*) FROM app.t WHERE id > 2000')).trim(), '3');
    assert.equal((await rootSql(newer, 'SELECT COUNT(*) FROM app.t WHERE id > 2000')).trim(), '0');
    // The human report says the same.
    const h = await cli(['rejoin', isolated.name, '--conf', conf]);
    assert.equal(h.code, 1);
    assert.match(h.stdout, /REFUSED: DIVERGED/);
    for (const g of written) assert.match(h.stdout, new RegExp(`\\b${g}\\b`));
  });
});
