/**
 * Promotion rules and locations on real mariadbd (one sandbox: a master and
 * four replicas, MariaDB GTID; `mhats failover` with no manager running — the
 * manager, /status and the dry run plan with the same code, planFailover):
 *
 *   db1  master                        datacenter fra1, region eu
 *   db2  promotion_rule must_not       fra1/eu, first in config order
 *   db3  candidate_master, delayed     fra1/eu, MASTER_DELAY=3600
 *   db4  promotion_rule prefer         nyc1/us
 *   db5  promotion_rule prefer         fra1/eu
 *
 * The sandbox's config sets candidate_master on every server, as MHA files
 * often do (db2's is cleared). All are equally up to date: MHA's order alone
 * would choose db3 (the first latest candidate_master); with the rules:
 *  - the dry run and the failover promote db5: prefer, in the dead master's
 *    datacenter, over the equally current prefer db4 in another region; db2
 *    (must_not) and db3 (delayed) are rejected with their codes; the plan in
 *    the journal ranks every eligible server with what placed it;
 *  - promotion_location same_region: when db5 dies, only db4 (another region)
 *    is left: the failover is refused and nothing changes; the operator's
 *    --new-master db4 crosses regions (a lost region). Before, check-repl
 *    says so: no promotable replica under same_region (an error naming each
 *    replica and its rule), only db4 under nearest (a warning);
 *  - mhats status shows each server's rule, labels and delay.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { detectFlavor, replicaStatus, rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { writeManagerConfig } from '../helpers/cluster.js';
import { cliArgs } from '../helpers/cli.js';

interface Choice {
  ok: boolean;
  chosen?: string;
  reason: string;
  rejected: Array<{ name: string; code?: string; reason: string }>;
  ranking?: Array<{ name: string; rule: string; place: string; why: string }>;
}
interface Plan {
  ok: boolean;
  newMaster?: { name: string };
  refusal?: { code: string; reason: string };
  choice?: Choice;
}

interface StatusNode {
  name: string;
  promotion: { rule: string; from: string; datacenter: string | null; region: string | null; backup: boolean; allowPromotion: boolean; delaySeconds: number };
  children: StatusNode[];
}
interface Finding {
  severity: string;
  code: string;
  server?: string;
  message: string;
  hint?: string;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa(process.execPath, [...cliArgs(), ...args], { reject: false, timeout: 120_000, stdin: 'ignore', env: { NO_COLOR: '1' } });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

async function status(s: SandboxServer, field: string): Promise<string | undefined> {
  return (await replicaStatus(await detectFlavor(), s)).get(field);
}

async function readOnly(s: SandboxServer): Promise<string> {
  return (await rootSql(s, 'SELECT @@read_only')).trim();
}

describe('promotion rules and locations (real mariadbd)', () => {
  let sb: SandboxInfo;
  let conf: string;
  const srv = (name: string): SandboxServer => sb.servers.find((s) => s.name === name)!;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'promotion', baseAddress: '127.0.72.11', replicas: 4, ssh: false, servers: { db3: { delay: 3600 } } });
    assert.deepEqual(sb.servers.map((s) => s.name), ['db1', 'db2', 'db3', 'db4', 'db5']);
    await rootSql(srv('db1'), 'CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO mhats_test.t VALUES (1),(2),(3)');
    conf = writeManagerConfig(sb, {
      file: 'promotion.yaml',
      cluster: { last_failover_minute: 0, connect_timeout: 1, query_timeout: 5 },
      servers: {
        db1: { datacenter: 'fra1', region: 'eu' },
        db2: { candidate_master: false, promotion_rule: 'must_not', datacenter: 'fra1', region: 'eu' },
        db3: { candidate_master: true, datacenter: 'fra1', region: 'eu' },
        db4: { promotion_rule: 'prefer', datacenter: 'nyc1', region: 'us' },
        db5: { promotion_rule: 'prefer', datacenter: 'fra1', region: 'eu' },
      },
    });
    // Every replica received everything (db3 holds it unapplied in its relay log: delayed).
    const end = Date.now() + 30_000;
    for (const name of ['db2', 'db4', 'db5']) {
      while ((await rootSql(srv(name), 'SELECT COUNT(*) FROM mhats_test.t').catch(() => '0')).trim() !== '3') {
        if (Date.now() > end) throw new Error(`${name} did not replicate the rows`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(await status(srv('db3'), 'SQL_Delay'), '3600');
  });

  test('status shows every server its promotion rule, labels and delay', async () => {
    const st = await cli(['status', '--conf', conf, '--json']);
    const models = JSON.parse(st.stdout) as Array<{ tree: StatusNode[] }>;
    const flat = (ns: StatusNode[]): StatusNode[] => ns.flatMap((n) => [n, ...flat(n.children)]);
    const by = new Map(flat(models[0]!.tree).map((n) => [n.name, n.promotion]));
    assert.deepEqual(by.get('db2'), { rule: 'must_not', from: 'promotion_rule', datacenter: 'fra1', region: 'eu', backup: false, allowPromotion: false, delaySeconds: 0 });
    assert.deepEqual([by.get('db3')?.rule, by.get('db3')?.from, by.get('db3')?.delaySeconds], ['prefer', 'candidate_master', 3600]);
    assert.deepEqual([by.get('db4')?.datacenter, by.get('db4')?.region], ['nyc1', 'us']);
    const text = await cli(['status', '--conf', conf]);
    assert.match(text.stdout, /db3 {2}\S+ {2}replica {2}rule:prefer \(candidate_master\) dc:fra1 region:eu delayed 3600s/);
  });

  test('dry run and failover: prefer in the master datacenter wins; must_not and the delayed replica are never promoted', async () => {
    const dry = await cli(['failover', '--conf', conf, '--dry-run', '--json']);
    assert.equal(dry.code, 0, `${dry.stdout}\n${dry.stderr}`);
    const p = JSON.parse(dry.stdout) as Plan;
    assert.equal(p.newMaster?.name, 'db5');
    assert.deepEqual(
      p.choice?.rejected.map((r) => [r.name, r.code]),
      [
        ['db2', 'must_not'],
        ['db3', 'delayed'],
      ],
    );
    assert.deepEqual(p.choice?.ranking?.map((r) => [r.name, r.rule, r.place]), [
      ['db5', 'prefer', 'same_datacenter'],
      ['db4', 'prefer', 'other_region'],
    ]);
    const text = await cli(['failover', '--conf', conf, '--dry-run']);
    assert.match(text.stdout, /new master: db5 \(latest_candidate: promotion_rule prefer, in the master's datacenter fra1, has the latest binlog events; db5 is in the master's datacenter fra1, db4 in another region/);

    await stopServer(srv('db1'), 'SIGKILL');
    const r = await cli(['failover', '--conf', conf, '--yes', '--json']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { outcome: string; newMaster: string; recovered: string[]; plan?: Plan };
    assert.equal(report.outcome, 'success');
    assert.equal(report.newMaster, 'db5');
    assert.equal(await readOnly(srv('db5')), '0');
    for (const name of ['db2', 'db3', 'db4']) {
      assert.equal(await readOnly(srv(name)), '1', `${name} stays read_only`);
      assert.equal(await status(srv(name), 'Master_Host'), srv('db5').address, `${name} replicates from db5`);
    }
    // The journal's plan states which rule decided, for every server.
    const journal = readFileSync(join(sb.dir, 'state', sb.clusterName, 'failovers.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; plan?: Plan });
    const planned = journal.filter((x) => x.type === 'plan').at(-1)?.plan;
    assert.equal(planned?.choice?.rejected.find((x) => x.name === 'db2')?.code, 'must_not');
    assert.match(planned?.choice?.ranking?.[1]?.why ?? '', /db5 is in the master's datacenter fra1, db4 in another region than the master's eu/);
  });

  test('promotion_location same_region: refused when only another region is left; --new-master crosses it', async () => {
    const doc = parse(readFileSync(conf, 'utf8')) as { clusters: Record<string, Record<string, unknown>> };
    doc.clusters[sb.clusterName]!.promotion_location = 'same_region';
    const sameRegion = join(sb.dir, 'same-region.yaml');
    writeFileSync(sameRegion, stringify(doc), { mode: 0o600 });

    // check-repl says so before the master dies: same_region leaves no promotable replica (an error naming each one and
    // its rule); nearest leaves only db4 (a warning).
    const cr = await cli(['check-repl', '--conf', sameRegion, '--json']);
    assert.notEqual(cr.code, 0, cr.stdout);
    const findings = (JSON.parse(cr.stdout) as Array<{ findings: Finding[] }>)[0]!.findings;
    const none = findings.find((f) => f.code === 'no_candidate');
    assert.equal(none?.severity, 'error', cr.stdout);
    assert.match(none.message, /db2 \(promotion_rule must_not: never promoted\); db3 \(delayed replica \(MASTER_DELAY=3600 s\).*; db4 \(in another region than the master's eu: promotion_location same_region/);
    assert.match(none.hint ?? '', /set the cluster's promotion_location to nearest \(db4 would then be promoted across regions\)/);
    const near = await cli(['check-repl', '--conf', conf]);
    assert.match(near.stdout, /WARN {2}db4: db4 is the only replica that can be promoted if the master dies .*: db2 \(promotion_rule must_not: never promoted\); db3 \(delayed replica/);
    assert.doesNotMatch(near.stdout, /no replica can be promoted/);

    await stopServer(srv('db5'), 'SIGKILL');
    const r = await cli(['failover', '--conf', sameRegion, '--dead-master', 'db5', '--yes', '--json']);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { outcome: string; reason: string };
    assert.equal(report.outcome, 'refused');
    assert.match(report.reason, /db4 \(in another region than the master's eu: promotion_location same_region never promotes across regions/);
    assert.match(report.reason, /db2 \(promotion_rule must_not: never promoted\)/);
    // Nothing changed: every replica still read_only, still pointing at db5.
    for (const name of ['db2', 'db3', 'db4']) {
      assert.equal(await readOnly(srv(name)), '1');
      assert.equal(await status(srv(name), 'Master_Host'), srv('db5').address);
    }
    const forced = await cli(['failover', '--conf', sameRegion, '--dead-master', 'db5', '--new-master', 'db4', '--yes', '--json']);
    assert.equal(forced.code, 0, `${forced.stdout}\n${forced.stderr}`);
    assert.equal((JSON.parse(forced.stdout) as { newMaster: string }).newMaster, 'db4');
    assert.equal(await readOnly(srv('db4')), '0');
    assert.equal(await status(srv('db2'), 'Master_Host'), srv('db4').address);
  });
});
