/** MHA's commands (masterha_*): options, MHA's exit codes and sentences, without servers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mhaMain } from '../../src/cli/mha.js';
import { checkStatus, isZombie, mhaStatusOf, stopManager } from '../../src/app/mha-status.js';
import { spawn, spawnSync } from 'node:child_process';
import { loadConfig } from '../../src/config/load.js';
import { capture } from '../helpers/capture.js';
import { tempDir } from '../helpers/tmp.js';

function appConf(extra = ''): { dir: string; conf: string } {
  const dir = tempDir('mhats-mha-');
  const conf = join(dir, 'app1.cnf');
  // Nothing listens on these addresses (i13's range): connections are refused at once.
  writeFileSync(conf, `[server default]\nuser=m\npassword=p\nmanager_workdir=${dir}\n${extra}[server1]\nhostname=127.0.69.251\nport=3399\n[server2]\nhostname=127.0.69.252\nport=3399\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'mhats.yaml'), `state_dir: ${dir}/state\nhttp: { listen: "127.0.60.1:9" }\nclusters:\n  app1:\n    servers:\n      - { name: db1, hostname: 127.0.69.251 }\n`, { mode: 0o600 });
  return { dir, conf };
}

const mha = (name: Parameters<typeof mhaMain>[0], ...args: string[]) => capture(() => mhaMain(name, ['node', name, ...args]));

test("usage: MHA's exit 1 (never 2, which is check_status's NOT_RUNNING), one clear line, no stack", async () => {
  for (const [name, args] of [
    ['masterha_check_status', []],
    ['masterha_stop', ['--bogus']],
    ['masterha_master_switch', ['--conf', 'x.cnf', '--master_state=zombie']],
    ['masterha_master_switch', ['--conf', 'x.cnf', '--master_state=dead', '--interactive=2']],
    ['masterha_manager', ['--conf', 'x.cnf', '--skip_change_master']],
    ['masterha_check_repl', ['--conf', '/nonexistent/app1.cnf']],
  ] as const) {
    const r = await mha(name, ...args);
    assert.equal(r.value, 1, `${name} ${args.join(' ')}: ${r.err}`);
    assert.ok(!/\n\s+at /.test(r.err), r.err);
    assert.match(r.err, new RegExp(`^${name}: `));
  }
  const v = await mha('masterha_check_repl', '--version');
  assert.equal(v.value, 0);
  assert.match(v.out, /^masterha_check_repl version 0\.58 \(mhats /);
});

test('masterha_check_status: nothing runs -> 2, "app1 is stopped(2:NOT_RUNNING)."; --conf=FILE form', async () => {
  const { conf } = appConf();
  const r = await mha('masterha_check_status', `--conf=${conf}`);
  assert.equal(r.value, 2, r.err);
  assert.equal(r.out, 'app1 is stopped(2:NOT_RUNNING).\n');
  const s = await mha('masterha_stop', '--conf', conf);
  assert.equal(s.value, 0);
  assert.equal(s.out, 'MHA Manager is not running on app1(2:NOT_RUNNING).\n');
});

test("the monitor's state as MHA's status", () => {
  assert.equal(mhaStatusOf({ name: 'a', state: 'watching', detector: { consecutiveFailures: 0 } }), 'PING_OK');
  assert.equal(mhaStatusOf({ name: 'a', state: 'watching', detector: { consecutiveFailures: 2 } }), 'PING_FAILING');
  assert.equal(mhaStatusOf({ name: 'a', state: 'suspect', detector: { phase: 'suspect' } }), 'PING_FAILED');
  assert.equal(mhaStatusOf({ name: 'a', state: 'starting' }), 'INITIALIZING_MONITOR');
  assert.equal(mhaStatusOf({ name: 'a', state: 'broken' }), 'CONFIG_ERROR');
  assert.equal(mhaStatusOf({ name: 'a', state: 'watching', inFailover: true }), 'FAILOVER_RUNNING');
  assert.equal(mhaStatusOf({ name: 'a', state: 'blocked', lastFailover: { outcome: 'failed', acked: false }, detector: { phase: 'healthy' } }), 'FAILOVER_ERROR');
  assert.equal(mhaStatusOf({ name: 'a', state: 'blocked', lastFailover: { outcome: 'success' }, detector: { phase: 'healthy' } }), 'PING_OK');
});

test('masterha_check_status with a running manager: its /status decides; a silent endpoint is 32; stop sends SIGTERM', async () => {
  const { dir } = appConf();
  const cfg = await loadConfig({ conf: join(dir, 'mhats.yaml'), env: {}, osUser: 'me' });
  const c = cfg.clusters[0]!;
  writeFileSync(join(dir, 'state-pid'), '');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(cfg.state_dir, { recursive: true });
  writeFileSync(join(cfg.state_dir, 'manager.lock'), '4242\n');
  const status = (clusters: unknown[]) => () => Promise.resolve({ pid: 4242, clusters });
  const ok = await checkStatus(cfg, c, { isAlive: () => true, fetchStatus: status([{ name: 'app1', state: 'watching', master: 'db1', detector: { consecutiveFailures: 0 } }]) });
  assert.deepEqual([ok.code, ok.text], [0, 'app1 (pid:4242) is running(0:PING_OK), master:127.0.69.251']);
  const fo = await checkStatus(cfg, c, { isAlive: () => true, fetchStatus: status([{ name: 'app1', state: 'failing_over', master: 'db1', inFailover: true }]) });
  assert.deepEqual([fo.code, fo.status], [50, 'FAILOVER_RUNNING']);
  const other = await checkStatus(cfg, c, { isAlive: () => true, fetchStatus: status([{ name: 'other', state: 'watching' }]) });
  assert.equal(other.code, 2);
  const hung = await checkStatus(cfg, c, { isAlive: () => true, fetchStatus: () => Promise.reject(new Error('timeout')) });
  assert.equal(hung.code, 32);
  assert.match(hung.text, /\(32:TIMESTAMP_OLD\)\. Maybe process hangs\?$/);
  assert.equal((await checkStatus(cfg, c, { isAlive: () => false })).code, 2);

  // masterha_stop: not during a failover without --abort; else SIGTERM and wait.
  const refused = await stopManager(cfg, c, { abort: false, abortTimeoutS: 1 }, { isAlive: () => true, fetchStatus: status([{ name: 'app1', state: 'failing_over', inFailover: true }]) });
  assert.deepEqual(refused, { code: 1, text: 'Currently Failover is running on app1. Should not stop.' });
  const sent: string[] = [];
  let alive = true;
  const stopped = await stopManager(cfg, c, { abort: false, abortTimeoutS: 1 }, {
    isAlive: () => true,
    fetchStatus: status([{ name: 'app1', state: 'watching' }]),
    kill: (pid, sig) => {
      if (sig === 0) {
        if (!alive) throw Object.assign(new Error('ESRCH'), { code: 'ESRCH' });
        return;
      }
      sent.push(`${sig}:${pid}`);
      alive = false;
    },
    sleep: () => Promise.resolve(),
  });
  assert.deepEqual(stopped, { code: 0, text: 'Stopped app1 successfully.' });
  assert.deepEqual(sent, ['SIGTERM:4242']);
  const stubborn = await stopManager(cfg, c, { abort: true, abortTimeoutS: 0.3 }, { isAlive: () => true, fetchStatus: status([{ name: 'app1', state: 'watching' }]), kill: (_p, sig) => void sent.push(String(sig)), sleep: () => Promise.resolve() });
  assert.equal(stubborn.code, 0);
  assert.match(stubborn.text, /didn't stop in 0\.3 seconds\.[^]*Forced stopped app1\./);
});

test('failover without a findable master is an error (1), not a usage error (2); subcommand usage errors are 2', async () => {
  const { conf } = appConf();
  const { run } = await import('../../src/cli/main.js');
  const f = await capture(() => run(['node', 'mhats', 'failover', '--conf', conf, '--yes']));
  assert.equal(f.value, 1, f.err);
  assert.match(f.err, /cannot tell which server is the master of app1/);
  const sw = await mha('masterha_master_switch', '--conf', conf, '--master_state=dead', '--interactive=0');
  assert.equal(sw.value, 1);
  // status is not success when the cluster is unhealthy: 5 when servers cannot be reached (the table in its --help).
  const st = await capture(() => run(['node', 'mhats', 'status', '--conf', conf, '--json']));
  assert.equal(st.value, 5, st.err);
  assert.ok(Array.isArray(JSON.parse(st.out)));
  for (const args of [['status', '--bogus'], ['config', 'check', '--nope'], ['manager', '--log-level', 'loud'], ['manager', '--log-format', 'xml'], ['failover', '--dead_master_port', 'x', '--conf', conf]]) {
    const r = await capture(() => run(['node', 'mhats', ...args]));
    assert.equal(r.value, 2, `${args.join(' ')}: ${r.err}`);
  }
});

test('a manager that has exited but is not reaped yet (a zombie) counts as stopped', () => {
  const c = spawn('true');
  // The event loop is blocked: nobody reaps the child meanwhile.
  spawnSync('sleep', ['0.5']);
  assert.equal(isZombie(c.pid!), true);
  assert.equal(isZombie(process.pid), false);
});
