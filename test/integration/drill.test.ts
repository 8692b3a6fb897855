/**
 * mhats drill against a real netns sandbox (each host in its own network
 * namespace, a real manager started by the drill): the two cases of the fault
 * matrix that run in the default suite, on one sandbox.
 *
 *   refusal     a cluster without `drill: allowed` (and no sandbox), or no
 *               --yes: refused, exit 2, nothing touched (no schema, no manager)
 *   route cut   only the manager's route to the master is cut: no failover,
 *               every invariant holds
 *   crash       kill -9 of the master's mysqld over SSH: failover, 0 lost,
 *               every invariant holds
 * The whole matrix runs with `npm run drill:matrix` (test/matrix).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { readdirSync, writeFileSync } from 'node:fs';
import { rootSql } from '../../src/sandbox/index.js';
import { builtinFault } from '../../src/app/drill/faults.js';
import { drillOn, matrixSetup, routeCutFault, type MatrixSetup } from '../../src/app/drill/matrix.js';
import type { DrillReport } from '../../src/app/drill/run.js';
import { renderDrill } from '../../src/render/drill.js';
import { netnsAvailable } from '../helpers/netns.js';
import { CLI, drillEnv, guardCase } from '../helpers/drill.js';

const lines: string[] = [];
const env = drillEnv({ tag: 'mhats-t-xd', subnet: '10.213.54', sshPort: 2343 }, lines);

/**
 * Why a drill failed, the most telling part last (CI shows the end of a failure): the drill manager's own log
 * without the run of failed health checks (why it did or did not fail over), the drill's log, then its report.
 */
function explain(r: DrillReport, dir?: string): string {
  const logs = dir !== undefined && existsSync(dir) ? readdirSync(dir).filter((f) => /^manager-.*\.log$/.test(f)) : [];
  const mgr = logs.map((f) => {
    const all = readFileSync(join(dir!, f), 'utf8').trimEnd().split('\n');
    const telling = all.filter((l) => !/"msg":"health check of /.test(l)).slice(-40);
    return `--- ${f} (last 40 lines other than failed health checks; ${all.length} lines in all) ---\n${telling.join('\n')}`;
  });
  return `${mgr.join('\n')}\n--- drill log ---\n${lines.slice(-30).join('\n')}\n${renderDrill(r)}`;
}

describe('mhats drill on a netns sandbox: refusal, route cut, crash', { skip: !netnsAvailable() && 'needs root and iproute2', timeout: 300_000 }, () => {
  let setup: MatrixSetup;

  before(async () => {
    guardCase(env, 'default');
    setup = await matrixSetup(env, 'default');
  });

  after(async () => {
    await setup?.close();
  });

  test('refused without `drill: allowed` or without --yes; nothing touched', async () => {
    // The same cluster, but its configuration elsewhere: not recognisable as the sandbox.
    const elsewhere = join(setup.dir, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const conf = join(elsewhere, 'staging.yaml');
    copyFileSync(setup.conf, conf);
    const run = (c: string, extra: string[]): ReturnType<typeof spawnSync> => spawnSync(CLI[0]!, [...CLI.slice(1), 'drill', '--conf', c, '--fault', 'crash', '--with-manager', ...extra], { encoding: 'utf8', timeout: 60_000 });
    const r = run(conf, ['--yes']);
    assert.equal(r.status, 2, String(r.stderr));
    assert.match(String(r.stderr), /cluster sandbox is not marked for drills.*refuses a cluster without `drill: allowed`/);
    assert.match(String(r.stderr), /hint: only for a staging cluster: add `drill: allowed` to clusters\.sandbox/);
    // With the mark a staging cluster is allowed, but never without --yes (nothing touched either).
    const doc = parse(readFileSync(conf, 'utf8')) as { clusters: Record<string, Record<string, unknown>> };
    doc.clusters.sandbox!.drill = 'allowed';
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    const marked = run(conf, []);
    assert.equal(marked.status, 2, String(marked.stderr));
    assert.match(String(marked.stderr), /pass --yes to go ahead/);
    // Nothing was touched: no drill schema, no drill manager log.
    assert.equal(existsSync(join(setup.dir, 'work', 'drill')), false, 'no manager was started');
    const n = await rootSql(setup.sb.servers[0]!, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'mhats_drill'");
    assert.equal(n.trim(), '0');
  });

  test('route cut: only the manager loses the master; no failover, every invariant holds', async () => {
    const r = await drillOn(setup, env, routeCutFault);
    const run = r.results[0]!;
    assert.equal(r.ok, true, explain(r, setup.dir));
    assert.equal(run.outcome, 'none');
    assert.equal(run.newMaster, undefined);
    assert.deepEqual(run.verdicts.map((v) => v.name), ['outcome', 'one-writable-master', 'acked-writes-present', 'loss-reported-exactly', 'survivors-replicate', 'checksums-equal', 'manager-running']);
    assert.ok(run.acked > 100, `the application kept writing during the cut (${run.acked} acked)`);
    assert.match(renderDrill(r), /every invariant holds in 1 of 1 run/);
  });

  test('crash: failover, 0 lost, every invariant holds; the table has fault → detect → writable → done', async (tc) => {
    const r = await drillOn(setup, env, () => builtinFault('crash'));
    const run = r.results[0]!;
    tc.diagnostic(`crash: detect ${String(run.timings.detectMs ?? '-')} ms, writable ${String(run.timings.writableMs ?? '-')} ms, done ${String(run.timings.doneMs ?? '-')} ms`);
    assert.equal(r.ok, true, explain(r, setup.dir));
    assert.equal(run.outcome, 'success');
    assert.equal(run.oldMaster, 'db1');
    assert.ok(run.newMaster === 'db2' || run.newMaster === 'db3');
    assert.equal(run.missing, 0);
    assert.deepEqual(run.verdicts.map((v) => v.name), ['outcome', 'one-writable-master', 'acked-writes-present', 'loss-reported-exactly', 'survivors-replicate', 'checksums-equal', 'old-master-fenced', 'hooks-ran', 'manager-running']);
    const t = run.timings;
    assert.ok(t.detectMs !== undefined && t.writableMs !== undefined && t.doneMs !== undefined, JSON.stringify(t));
    assert.ok(t.detectMs <= t.writableMs && t.writableMs <= t.doneMs + 200, JSON.stringify(t));
    const text = renderDrill(r);
    assert.match(text, /RUN +FAULT +MASTER +DETECT +WRITABLE +DONE +WRITES +LOST +REPORTED LOST +VERDICT/);
    assert.match(text, new RegExp(`1 +crash +db1 → ${run.newMaster} +\\d+\\.\\d s +\\d+\\.\\d s +\\d+\\.\\d s`));
  });
});
