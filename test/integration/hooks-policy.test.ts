/**
 * Hook deadlines and failure policies in real failovers (runFailover in
 * process, a real sandbox, kill -9 of the master):
 *  - a hook that hangs, with a child that also hangs, is killed at its
 *    timeout together with the child; with on_failure=abort the failover
 *    stops before promotion (nobody writable), with continue it goes on; the
 *    report says so;
 *  - an MHA-style master_ip_failover_script gets MHA's exact arguments
 *    (stopssh / start), and its exit codes mean what they mean to MHA:
 *    1 aborts, 10 "failed but continue", 0 ok; report_script gets --conf.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { loadConfig } from '../../src/config/load.js';
import { parseHooks } from '../../src/config/hooks.js';
import { runFailover, type FailoverReport } from '../../src/engine/failover.js';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';
import { createLogger } from '../../src/adapters/logging.js';
import { sshReachableFor } from '../../src/app/manager.js';
import { cutSavedBinlog } from '../../src/domain/binlog-cut.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { withSandbox } from '../helpers/sandbox.js';
import { isAlive } from '../../src/sandbox/proc.js';

/** Alive and not a zombie (an orphaned, killed grandchild may wait for init to reap it). */
const alive = (pid: number): boolean => isAlive(pid);

describe('hooks: timeouts kill the whole group; failure policies; MHA exit codes', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let db3: SandboxServer;
  let cluster: ClusterConfig;
  let conf: string;
  let calls: string;
  let hang: string;
  let lastNew = '';

  const setRc = (stop: number, start: number): void => {
    writeFileSync(join(sb.dir, 'rc-stop'), String(stop));
    writeFileSync(join(sb.dir, 'rc-start'), String(start));
  };
  const takeCalls = (): string[] => {
    const l = existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) : [];
    writeFileSync(calls, '');
    return l;
  };
  const failover = async (dead: string, hookSet: unknown): Promise<FailoverReport> => {
    const h = parseHooks({ environment: 'test', sets: { test: hookSet } });
    assert.ok(h.ok, JSON.stringify(h));
    cluster.hooks = h.value;
    const lines: string[] = [];
    const r = await runFailover(
      { cluster, deadMaster: dead, trigger: 'manual', reason: 'hooks-policy test' },
      { journal: new FileJournal(join(sb.dir, 'state'), cluster.name), log: createLogger({ format: 'json', write: (l) => void lines.push(l) }), now: Date.now, sshReachable: sshReachableFor(cluster), cutBinlog: cutSavedBinlog },
    );
    return r;
  };
  const hangHook = (policy: string, tag: string): Record<string, unknown> => ({ name: `hang-${tag}`, type: 'command', phases: ['stop'], timeout: 1.5, on_failure: policy, command: [hang, join(sb.dir, `hang-${tag}`)] });
  const pidsOf = (tag: string): number[] => ['parent', 'child'].map((w) => Number(readFileSync(join(sb.dir, `hang-${tag}.${w}`), 'utf8')));

  before(async () => {
    sb = await withSandbox(undefined, { name: 'hooks-policy', baseAddress: '127.0.24.11', replicas: 2, sshPort: 2278 });
    [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    await rootSql(db1, 'CREATE DATABASE t1; CREATE TABLE t1.x (id INT PRIMARY KEY)');
    calls = join(sb.dir, 'hook-calls.log');
    // An MHA-style script: records "$*", exits with the code the test chose for stop/start.
    const script = join(sb.dir, 'master_ip_failover');
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\ncase "$*" in *--command=start*) exit $(cat ${join(sb.dir, 'rc-start')});; *--command=stop*) exit $(cat ${join(sb.dir, 'rc-stop')});; esac\nexit 0\n`);
    chmodSync(script, 0o755);
    // A hook that hangs with a child that hangs too (and ignores SIGTERM).
    hang = join(sb.dir, 'hang.sh');
    writeFileSync(hang, `#!/bin/sh\ntrap '' TERM\nsh -c 'trap "" TERM; sleep 300' &\necho $! > "$1.child"\necho $$ > "$1.parent"\nsleep 300\n`);
    chmodSync(hang, 0o755);
    const report = join(sb.dir, 'report.sh');
    writeFileSync(report, `#!/bin/sh\nprintf '%s\\n' "$*" | head -c 300 | tr '\\n' ' ' >> ${calls}\necho >> ${calls}\nexit 3\n`);
    chmodSync(report, 0o755);
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; clusters: Record<string, Record<string, unknown>> };
    doc.state_dir = join(sb.dir, 'state');
    Object.assign(doc.clusters[sb.clusterName]!, { connect_timeout: 1, query_timeout: 3, master_ip_failover_script: `${script} ipfail`, report_script: `${report} report` });
    conf = join(sb.dir, 'manager.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    cluster = (await loadConfig({ conf })).clusters[0]!;
    await stopServer(db1, 'SIGKILL');
  });

  test('a hung hook with a hung child, on_failure=abort: both killed at the timeout, the failover aborts before promotion', async () => {
    setRc(0, 0);
    const t0 = Date.now();
    const r = await failover('db1', [hangHook('abort', 'a')]);
    assert.equal(r.outcome, 'failed', r.reason);
    assert.match(r.reason, /hook hang-a failed in the stop phase \(timed out after \d+ ms \(killed with its children\)\): aborting/);
    const rec = r.hooks?.find((h) => h.name === 'hang-a');
    assert.equal(rec?.timedOut, true);
    assert.equal(rec?.verdict, 'abort');
    assert.ok(Date.now() - t0 < 15_000, 'the failover must not wait for the hung hook');
    for (const pid of pidsOf('a')) assert.equal(alive(pid), false, `pid ${pid} of the hung hook must be killed`);
    // Nobody promoted.
    for (const s of [db2, db3]) assert.equal((await rootSql(s, 'SELECT @@read_only')).trim(), '1');
    // MHA: stopssh ran first (exit 0); report_script ran for the failed failover (no new master).
    const c = takeCalls();
    assert.equal(c[0], `ipfail --orig_master_host=${db1.address} --orig_master_ip=${db1.address} --orig_master_port=3306 --command=stopssh --ssh_user=root --orig_master_ssh_port=2278`);
    assert.ok(c.some((l) => l.startsWith(`report --orig_master_host=${db1.address} --conf=${conf} --subject=sandbox: MySQL Master failover db1 --body=`)), c.join('\n'));
  });

  test('MHA exit 1 from master_ip_failover_script --command=stopssh aborts the failover', async () => {
    setRc(1, 0);
    const r = await failover('db1', []);
    assert.equal(r.outcome, 'failed');
    assert.match(r.reason, /hook master_ip_failover_script failed in the stop phase \(exit 1\): aborting/);
    for (const s of [db2, db3]) assert.equal((await rootSql(s, 'SELECT @@read_only')).trim(), '1');
    const c = takeCalls();
    assert.equal(c.filter((l) => l.startsWith('ipfail')).length, 1, 'no start after an aborted stop');
  });

  test('MHA exit 1 from --command=start aborts before the new master is writable', async () => {
    setRc(0, 1);
    const r = await failover('db1', []);
    assert.equal(r.outcome, 'failed');
    assert.match(r.reason, /hook master_ip_failover_script failed in the start phase \(exit 1\): aborting before the new master takes writes/);
    for (const s of [db2, db3]) assert.equal((await rootSql(s, 'SELECT @@read_only')).trim(), '1');
    takeCalls();
  });

  test('MHA exit 10 on stop ("failed, continue") and a hung hook with on_failure=continue: the failover goes on and reports both', async () => {
    setRc(10, 0);
    const r = await failover('db1', [hangHook('continue', 'c')]);
    assert.equal(r.outcome, 'success', r.reason);
    const nm = r.newMaster!;
    lastNew = nm;
    const stop = r.hooks?.find((h) => h.name === 'master_ip_failover_script' && h.phase === 'stop');
    assert.equal(stop?.verdict, 'continue');
    assert.equal(stop?.exitCode, 10);
    assert.match(stop?.detail ?? '', /exit 10: failed, continuing \(MHA\)/);
    const hung = r.hooks?.find((h) => h.name === 'hang-c');
    assert.equal(hung?.timedOut, true);
    assert.equal(hung?.verdict, 'continue');
    for (const pid of pidsOf('c')) assert.equal(alive(pid), false, `pid ${pid} must be killed`);
    const nmS = sb.servers.find((s) => s.name === nm)!;
    assert.equal((await rootSql(nmS, 'SELECT @@read_only')).trim(), '0');
    const c = takeCalls();
    assert.equal(c[0], `ipfail --orig_master_host=${db1.address} --orig_master_ip=${db1.address} --orig_master_port=3306 --command=stopssh --ssh_user=root --orig_master_ssh_port=2278`);
    assert.equal(c[1], `ipfail --command=start --ssh_user=root --orig_master_host=${db1.address} --orig_master_ip=${db1.address} --orig_master_port=3306 --new_master_host=${nmS.address} --new_master_ip=${nmS.address} --new_master_port=3306 --new_master_user=mhats --orig_master_ssh_port=2278 --new_master_ssh_port=2278`);
    // report_script's non-zero exit is only reported (MHA).
    const rep = r.hooks?.find((h) => h.name === 'report_script');
    assert.equal(rep?.exitCode, 3);
    assert.equal(rep?.verdict, 'continue');
    assert.ok(!c.join('\n').includes(readFileSync(sb.adminPasswordFile, 'utf8').trim()), 'no password in hook arguments');
  });

  test('MHA exit 0 on stop and 10 on start: the failover completes', async () => {
    const old = sb.servers.find((s) => s.name === lastNew)!;
    await stopServer(old, 'SIGKILL');
    setRc(0, 10);
    const r = await failover(old.name, []);
    assert.equal(r.outcome, 'success', r.reason);
    const start = r.hooks?.find((h) => h.name === 'master_ip_failover_script' && h.phase === 'start');
    assert.equal(start?.verdict, 'continue');
    assert.equal(r.hooks?.find((h) => h.name === 'master_ip_failover_script' && h.phase === 'stop')?.verdict, 'ok');
    takeCalls();
  });
});
