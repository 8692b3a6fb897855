/** The hook runner with real processes: process groups killed at the deadline, context on stdin and in a file, policies, MHA shutdown_script codes. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHookPhase, describePhase } from '../../src/adapters/hooks/runner.js';
import { runProcess, runningHookGroups } from '../../src/adapters/hooks/run-script.js';
import { parseHooks, type HookSpec } from '../../src/config/hooks.js';
import type { HookEvent } from '../../src/adapters/hooks/context.js';
import type { ClusterConfig, ServerConfig, SshSettings } from '../../src/config/types.js';
import { Secret } from '../../src/domain/secret.js';
import { isAlive } from '../../src/sandbox/proc.js';

const dir = mkdtempSync(join(tmpdir(), 'mhats-hook-runner-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ssh: SshSettings = { host_key_fingerprints: {}, insecure_skip_host_key_check: false, connect_timeout: 2 };
function srv(name: string): ServerConfig {
  return {
    name, hostname: `${name}.example`, ip: '127.0.0.1', port: 3306, user: 'mhats', password: new Secret('pw-in-env'), passwordSource: { kind: 'none' },
    ssh_host: `${name}.example`, ssh_port: 22, ssh_user: 'root', candidate_master: false, no_master: false, ignore_fail: false, skip_init_ssh_check: false,
    skip_reset_slave: false, master_binlog_dir: [], remote_workdir: '/var/tmp', use_gtid_auto_pos: true, disable_log_bin: false, handle_raw_binlog: true,
  };
}
const cluster = { name: 'c1', ssh } as ClusterConfig;
const ev = (phase: HookEvent['phase'], over: Partial<HookEvent> = {}): HookEvent => ({ kind: 'failover', phase, cluster, id: 'f1', origMaster: srv('db1'), origSshReachable: true, ...(phase === 'stop' ? {} : { newMaster: srv('db2') }), ...over });
function hooks(list: unknown[]): HookSpec[] {
  const r = parseHooks({ sets: { t: list } });
  assert.ok(r.ok, JSON.stringify(r));
  return r.value.sets.t!;
}
function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

test('a hung hook and its hung child (both ignoring SIGTERM) are killed at the deadline', async () => {
  const s = script('hang.sh', `trap '' TERM\nsh -c 'trap "" TERM; sleep 300' &\necho $! > ${dir}/child\necho $$ > ${dir}/parent\nsleep 300`);
  const t0 = performance.now();
  const r = await runProcess({ file: s, args: [], timeoutMs: 300, killGraceMs: 300 });
  assert.equal(r.timedOut, true);
  assert.ok(performance.now() - t0 < 3000, 'must not wait for the grandchild');
  for (const f of ['parent', 'child']) {
    const pid = Number(readFileSync(join(dir, f), 'utf8'));
    const end = Date.now() + 2000;
    while (isAlive(pid) && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
    assert.equal(isAlive(pid), false, `${f} ${pid} must be gone`);
  }
  assert.deepEqual(runningHookGroups(), []);
});

test('a command hook gets MHATS_* variables, the JSON on stdin and in MHATS_CONTEXT_FILE; no secret in the JSON', async () => {
  const out = join(dir, 'ctx');
  const s = script('ctx.sh', `cat > ${out}.stdin\ncp "$MHATS_CONTEXT_FILE" ${out}.file\nenv | grep ^MHATS_ | sort > ${out}.env`);
  const r = await runHookPhase(hooks([{ name: 'ctx', type: 'command', phases: ['start'], command: [s] }]), ev('start'), ssh);
  assert.equal(r.records[0]?.verdict, 'ok', JSON.stringify(r));
  const doc = JSON.parse(readFileSync(`${out}.stdin`, 'utf8')) as Record<string, unknown>;
  assert.equal(doc.phase, 'start');
  assert.equal(doc.command, 'start');
  assert.deepEqual(JSON.parse(readFileSync(`${out}.file`, 'utf8')), doc);
  assert.ok(!readFileSync(`${out}.stdin`, 'utf8').includes('pw-in-env'));
  const env = readFileSync(`${out}.env`, 'utf8');
  assert.match(env, /^MHATS_NEW_MASTER_PASSWORD=pw-in-env$/m);
  assert.match(env, /^MHATS_HOOK=ctx$/m);
  assert.match(env, /^MHATS_PHASE=start$/m);
  assert.equal(existsSync(readFileSync(`${out}.env`, 'utf8').match(/^MHATS_CONTEXT_FILE=(.*)$/m)![1]!), false, 'the context file is removed afterwards');
});

test('policies: abort stops the phase; continue goes on; mha exit 10 continues; a report hook never aborts', async () => {
  const fail = script('fail.sh', 'exit 1');
  const ten = script('ten.sh', 'exit 10');
  const mark = join(dir, 'ran');
  const ok = script('ok.sh', `touch ${mark}`);
  const r1 = await runHookPhase(hooks([{ name: 'a', type: 'command', phases: 'stop', command: fail, on_failure: 'continue' }, { name: 'b', type: 'command', phases: 'stop', command: ten, on_failure: 'mha' }, { name: 'c', type: 'command', phases: 'stop', command: fail, on_failure: 'abort' }, { name: 'd', type: 'command', phases: 'stop', command: ok }]), ev('stop'), ssh);
  assert.deepEqual(r1.records.map((x) => [x.name, x.verdict]), [['a', 'continue'], ['b', 'continue'], ['c', 'abort']]);
  assert.equal(r1.aborted?.name, 'c');
  assert.equal(existsSync(mark), false, 'nothing runs after an abort');
  const r2 = await runHookPhase(hooks([{ name: 'r', type: 'command', phases: 'report', command: fail, on_failure: 'mha' }, { name: 'd', type: 'command', phases: 'report', command: ok }]), ev('report'), ssh);
  assert.deepEqual(r2.records.map((x) => x.verdict), ['continue', 'ok']);
});

test('MHA shutdown_script: 0 = powered off (SSH gone for the next hooks), 10 = SSH reachable, else abort', async () => {
  const calls = join(dir, 'sd-calls');
  const sd = script('sd.sh', `printf '%s\\n' "$*" >> ${calls}\nexit $(cat ${dir}/sd-rc)`);
  const ipf = script('ipf.sh', `printf '%s\\n' "$*" >> ${calls}\nexit 0`);
  const set = [{ type: 'mha-script', script: 'shutdown', command: sd }, { type: 'mha-script', script: 'master_ip_failover', command: `${ipf} after` }];
  for (const [rc, reach, verdict, cmd] of [['0', false, 'ok', '--command=stop'], ['10', true, 'continue', '--command=stopssh'], ['2', undefined, 'abort', undefined]] as const) {
    writeFileSync(join(dir, 'sd-rc'), rc);
    writeFileSync(calls, '');
    const r = await runHookPhase(hooks(set), ev('stop'), ssh);
    assert.equal(r.sshReachable, reach);
    assert.equal(r.records[0]?.verdict, verdict);
    const lines = readFileSync(calls, 'utf8').trim().split('\n');
    assert.equal(lines[0], '--command=stopssh --ssh_user=root --host=db1.example --ip=127.0.0.1 --port=3306');
    if (cmd) assert.match(lines[1]!, new RegExp(`^after --orig_master_host=db1.example --orig_master_ip=127.0.0.1 --orig_master_port=3306 ${cmd}`));
    else assert.equal(lines.length, 1);
  }
});

test('haproxy rewrite mode: validated with the real haproxy -c, renamed into place, reloaded', { skip: !existsSync('/usr/sbin/haproxy') && 'no haproxy' }, async () => {
  const cfg = join(dir, 'haproxy.cfg');
  const text = 'defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\nfrontend f\n  bind 127.0.0.1:39998\n  default_backend mysql\nbackend mysql\n  server db1 127.0.0.1:3306\n  server db2 127.0.0.2:3306 disabled\n';
  writeFileSync(cfg, text);
  const reloaded = join(dir, 'reloaded');
  const set = hooks([{ name: 'lb', type: 'haproxy', mode: 'rewrite', config_file: cfg, backend: 'mysql', reload: ['/bin/sh', '-c', `touch ${reloaded}`], haproxy_bin: '/usr/sbin/haproxy' }]);
  const s = await runHookPhase(set, ev('stop'), ssh);
  assert.equal(s.records[0]?.verdict, 'ok', JSON.stringify(s.records));
  assert.match(readFileSync(cfg, 'utf8'), /server db1 127\.0\.0\.1:3306 disabled/);
  const r = await runHookPhase(set, ev('start'), ssh);
  assert.equal(r.records[0]?.verdict, 'ok', JSON.stringify(r.records));
  assert.match(readFileSync(cfg, 'utf8'), /server db1 127\.0\.0\.1:3306 disabled\n {2}server db2 127\.0\.0\.2:3306\n/);
  assert.ok(existsSync(reloaded));
  // A config haproxy rejects is never put in place.
  writeFileSync(cfg, `${text}  bogus-keyword here\n`);
  const bad = await runHookPhase(set, ev('start'), ssh);
  assert.equal(bad.records[0]?.ok, false);
  assert.match(bad.records[0].detail, /haproxy -c rejects the rewritten config/);
  assert.match(readFileSync(cfg, 'utf8'), /server db2 127\.0\.0\.2:3306 disabled/);
});

test('dry run describes, runs nothing', () => {
  const lines = describePhase(hooks([{ type: 'vip', address: '10.0.0.100/24', interface: 'eth0' }, { type: 'mha-script', script: 'master_ip_failover', command: '/x --vip=1' }]), ev('start'), ssh);
  assert.equal(lines[0], 'vip (vip; timeout 30 s; on_failure continue)');
  assert.match(lines[1]!, /ssh root@db2\.example \(db2\): ip addr add 10\.0\.0\.100\/24 dev eth0; arping -U -S 10\.0\.0\.100 -c 3 10\.0\.0\.100/);
  assert.match(lines.join('\n'), /\/bin\/sh -c '\/x --vip=1 "\$@"' "--command=start" "--ssh_user=root"/);
});
