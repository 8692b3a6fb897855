/** Pure parts of the built-in hooks: hosts rendering, HAProxy parsing/rewriting, rsync -e quoting, MHA arguments, context. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHosts, renderTemplate, parseGetent, rsyncArgs } from '../../src/adapters/hooks/hosts.js';
import { parseServersState, renderBackend } from '../../src/adapters/hooks/haproxy.js';
import { rsyncRsh, sshOptions } from '../../src/adapters/hooks/openssh.js';
import { ipFailoverStartArgs, ipFailoverStopArgs, onlineChangeArgs, reportArgs, shutdownArgs } from '../../src/adapters/hooks/mha-args.js';
import { contextDocument, contextEnv, hookEnv, type HookEvent } from '../../src/adapters/hooks/context.js';
import { verdictOf } from '../../src/adapters/hooks/runner.js';
import type { HostsHook } from '../../src/config/hooks.js';
import type { ClusterConfig, ServerConfig, SshSettings } from '../../src/config/types.js';
import { Secret } from '../../src/domain/secret.js';

function srv(name: string, over: Partial<ServerConfig> = {}): ServerConfig {
  return {
    name, hostname: `${name}.example`, ip: `10.0.0.${name.slice(2)}`, port: 3306, user: 'mhats', password: new Secret('s3cret'), passwordSource: { kind: 'none' },
    ssh_host: `${name}.example`, ssh_port: 22, ssh_user: 'root', candidate_master: false, no_master: false, ignore_fail: false, skip_init_ssh_check: false,
    skip_reset_slave: false, master_binlog_dir: ['/var/lib/mysql'], remote_workdir: '/var/tmp', use_gtid_auto_pos: true, disable_log_bin: false, handle_raw_binlog: true, ...over,
  };
}
const ssh: SshSettings = { known_hosts: '/etc/mhats/known hosts', identity_file: '/etc/mhats/id', host_key_fingerprints: {}, insecure_skip_host_key_check: false, connect_timeout: 5 };

test('renderHosts: the service names move to the new master, everything else stays', () => {
  const before = '127.0.0.1\tlocalhost\n10.0.0.1\tdb-master db-write # old\n10.0.0.9 other db-master\n# comment\n';
  const out = renderHosts(before, ['db-master', 'db-write'], '10.0.0.2', 'c1 master db2');
  assert.equal(out, '127.0.0.1\tlocalhost\n10.0.0.9\tother\n# comment\n10.0.0.2\tdb-master db-write\t# mhats: c1 master db2\n');
  // Idempotent: a second run changes nothing.
  assert.equal(renderHosts(out, ['db-master', 'db-write'], '10.0.0.2', 'c1 master db2'), out);
  assert.equal(renderTemplate('{{new_master_ip}} {{names}} # {{cluster}}\n', { new_master_ip: '10.0.0.2', names: 'a b', cluster: 'c1' }), '10.0.0.2 a b # c1\n');
  assert.throws(() => renderTemplate('{{nope}}', {}), /unknown placeholder \{\{nope\}\}/);
  assert.deepEqual([...parseGetent('10.0.0.2      db-master db-write\n')], [['db-master', '10.0.0.2'], ['db-write', '10.0.0.2']]);
});

test('rsync: argv array, --inplace on request, -e quoted for rsync', () => {
  const h = { type: 'hosts', name: 'h', phases: ['start'], timeout: 30, on_failure: 'continue', names: ['db'], targets: [], path: '/etc/hosts', inplace: true, addresses: {}, verify: true } satisfies HostsHook;
  const a = rsyncArgs(h, ssh, { host: 'app1', port: 2222, user: 'deploy' }, '/tmp/x', 30);
  assert.deepEqual(a.slice(0, 4), ['-I', '-s', '--inplace', '--timeout=30']);
  assert.deepEqual(a.slice(-3), ['--', '/tmp/x', 'app1:/etc/hosts']);
  assert.match(a[5]!, /^ssh -p 2222 -l deploy -o BatchMode=yes .* -o StrictHostKeyChecking=yes -o 'UserKnownHostsFile=\/etc\/mhats\/known hosts' -i \/etc\/mhats\/id -o IdentitiesOnly=yes$/);
  assert.throws(() => rsyncRsh({ ...ssh, identity_file: "/it's" }, { host: 'a', port: 22 }), /single quote/);
  assert.ok(sshOptions({ ...ssh, insecure_skip_host_key_check: true }, { host: 'a', port: 22 }).includes('StrictHostKeyChecking=no'));
});

test('HAProxy: show servers state, and rewriting a backend', () => {
  const out = '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n3 mysql 1 db1 10.0.0.1 2 0 1 1\n3 mysql 2 db2 10.0.0.2 0 5 1 1\n4 other 1 x 10.0.0.9 2 0 1 1\n';
  assert.deepEqual(parseServersState(out, 'mysql'), [{ name: 'db1', addr: '10.0.0.1', opState: 2, adminState: 0 }, { name: 'db2', addr: '10.0.0.2', opState: 0, adminState: 5 }]);
  const cfg = 'frontend f\n  bind :3306\n  default_backend mysql\nbackend mysql\n  server db1 10.0.0.1:3306 check\n  server db2 10.0.0.2:3306 check disabled\nbackend other\n  server db1 10.0.0.1:3306\n';
  const r = renderBackend(cfg, 'mysql', (n) => (n === 'db2' ? 'enable' : 'disable'));
  assert.deepEqual(r.servers, ['db1', 'db2']);
  assert.equal(r.text, 'frontend f\n  bind :3306\n  default_backend mysql\nbackend mysql\n  server db1 10.0.0.1:3306 check disabled\n  server db2 10.0.0.2:3306 check\nbackend other\n  server db1 10.0.0.1:3306\n');
});

test("MHA's exact arguments; never a password", () => {
  const dead = srv('db1', { ssh_port: 2222 });
  const nm = srv('db2', { ssh_host: 'db2-mgmt' });
  assert.deepEqual(ipFailoverStopArgs(dead, true), ['--orig_master_host=db1.example', '--orig_master_ip=10.0.0.1', '--orig_master_port=3306', '--command=stopssh', '--ssh_user=root', '--orig_master_ssh_port=2222']);
  assert.deepEqual(ipFailoverStopArgs(dead, false), ['--orig_master_host=db1.example', '--orig_master_ip=10.0.0.1', '--orig_master_port=3306', '--command=stop', '--orig_master_ssh_port=2222']);
  assert.deepEqual(ipFailoverStartArgs(dead, nm), ['--command=start', '--ssh_user=root', '--orig_master_host=db1.example', '--orig_master_ip=10.0.0.1', '--orig_master_port=3306', '--new_master_host=db2.example', '--new_master_ip=10.0.0.2', '--new_master_port=3306', '--new_master_user=mhats', '--orig_master_ssh_port=2222', '--new_master_ssh_host=db2-mgmt', '--new_master_ssh_ip=db2-mgmt']);
  assert.deepEqual(shutdownArgs(srv('db1', { master_pid_file: '/run/mysqld.pid' }), true), ['--command=stopssh', '--ssh_user=root', '--host=db1.example', '--ip=10.0.0.1', '--port=3306', '--pid_file=/run/mysqld.pid']);
  assert.deepEqual(reportArgs(dead, nm, ['db3.example'], '/etc/app1.cnf', 'subj', 'body'), ['--orig_master_host=db1.example', '--new_master_host=db2.example', '--new_slave_hosts=db3.example', '--conf=/etc/app1.cnf', '--subject=subj', '--body=body']);
  assert.deepEqual(reportArgs(dead, undefined, [], undefined, 's', 'b'), ['--orig_master_host=db1.example', '--subject=s', '--body=b']);
  assert.deepEqual(onlineChangeArgs('stop', srv('db1'), srv('db2'), true).slice(0, 2), ['--command=stop', '--orig_master_host=db1.example']);
  assert.equal(onlineChangeArgs('stop', srv('db1'), srv('db2'), true).at(-1), '--orig_master_is_new_slave');
  for (const a of [ipFailoverStartArgs(dead, nm), onlineChangeArgs('start', dead, nm, false)]) assert.ok(!a.join(' ').includes('s3cret'));
});

test('context: MHATS_* variables and a JSON document; the password only in the environment, only where MHA passes it', () => {
  const cluster = { name: 'c1' } as ClusterConfig;
  const ev: HookEvent = { kind: 'failover', phase: 'stop', cluster, id: 'f1', origMaster: srv('db1'), origSshReachable: true, env: { MHATS_FENCING_TOKEN: '42' } };
  const e = contextEnv(ev, 'vip');
  assert.equal(e.MHATS_COMMAND, 'stopssh');
  assert.equal(e.MHATS_FENCING_TOKEN, '42');
  assert.equal(e.MHATS_NEW_MASTER_PASSWORD, undefined);
  const s = contextEnv({ ...ev, phase: 'start', newMaster: srv('db2') }, 'vip');
  assert.equal(s.MHATS_NEW_MASTER_PASSWORD, 's3cret');
  assert.equal(s.MHATS_COMMAND, 'start');
  // A failover passes its own variables as ev.env: they never bring the password back into a report hook.
  const fv = hookEnv(cluster, srv('db1'), srv('db2'), 'f1', '42');
  assert.equal(fv.MHATS_NEW_MASTER_PASSWORD, undefined);
  const r = contextEnv({ ...ev, phase: 'report', newMaster: srv('db2'), env: fv }, 'mail');
  assert.equal(r.MHATS_NEW_MASTER_PASSWORD, undefined);
  assert.equal(r.MHATS_FENCING_TOKEN, '42');
  assert.equal(contextEnv({ ...ev, phase: 'start', newMaster: srv('db2'), env: fv }, 'vip').MHATS_NEW_MASTER_PASSWORD, 's3cret');
  const doc = contextDocument({ ...ev, phase: 'start', newMaster: srv('db2') }, 'vip');
  assert.equal((doc.new_master as { name: string }).name, 'db2');
  assert.ok(!JSON.stringify(doc).includes('s3cret'));
});

test('failure policies', () => {
  assert.equal(verdictOf('mha', 'stop', false, 10, false), 'continue');
  assert.equal(verdictOf('mha', 'stop', false, 1, false), 'abort');
  assert.equal(verdictOf('mha', 'stop', false, 10, true), 'abort');
  assert.equal(verdictOf('mha', 'report', false, 1, false), 'continue');
  assert.equal(verdictOf('abort', 'start', false, undefined, true), 'abort');
  assert.equal(verdictOf('abort', 'report', false, undefined, false), 'continue');
  assert.equal(verdictOf('continue', 'stop', false, 1, false), 'continue');
  assert.equal(verdictOf('abort', 'stop', true, 0, false), 'ok');
});

test('vip hook: with kept SSH sessions the script runs on the pool (values as positional parameters), not through ssh', async () => {
  const { runVip, VIP_DEL, VIP_ADD } = await import('../../src/adapters/hooks/vip.js');
  const calls: Array<{ host: string; port: number; argv: readonly string[] }> = [];
  const pool = {
    run: (t: { host: string; port: number }, _o: unknown, argv: readonly string[]) => {
      calls.push({ host: t.host, port: t.port, argv });
      return Promise.resolve({ code: argv[2] === VIP_DEL ? 0 : 1, stdout: argv[2] === VIP_DEL ? 'removed\n' : '', stderr: argv[2] === VIP_DEL ? '' : 'RTNETLINK answers: Operation not permitted', elapsedMs: 3, via: 'shell' as const });
    },
  };
  const cluster = { name: 'c1', ssh } as ClusterConfig;
  const h = { type: 'vip', name: 'vip', phases: ['stop', 'start'], timeout: 5, on_failure: 'abort', address: '10.0.0.100/24', interface: 'eth0', arping_count: 2, verify: false } as const;
  const opts = { ssh, pool: pool as never };
  const stop = await runVip(h as never, { kind: 'failover', phase: 'stop', cluster, id: 'f1', origMaster: srv('db1'), origSshReachable: true }, opts);
  assert.deepEqual(stop, { ok: true, detail: '10.0.0.100/24 removed from db1 (eth0)' });
  assert.deepEqual(calls[0], { host: 'db1.example', port: 22, argv: ['sh', '-c', VIP_DEL, 'mhats', 'eth0', '10.0.0.100/24', '10.0.0.100'] });
  const start = await runVip(h as never, { kind: 'failover', phase: 'start', cluster, id: 'f1', origMaster: srv('db1'), newMaster: srv('db2') }, opts);
  assert.equal(start.ok, false);
  assert.match(start.detail, /ip addr add 10\.0\.0\.100\/24 dev eth0 on root@db2\.example: exit 1: RTNETLINK answers: Operation not permitted/);
  assert.deepEqual(calls[1]?.argv, ['sh', '-c', VIP_ADD, 'mhats', 'eth0', '10.0.0.100/24', '10.0.0.100', '2']);
  // An unreachable old master's host is not touched at all.
  const skipped = await runVip(h as never, { kind: 'failover', phase: 'stop', cluster, id: 'f1', origMaster: srv('db1'), origSshReachable: false }, opts);
  assert.equal(skipped.ok, true);
  assert.equal(calls.length, 2);
});
