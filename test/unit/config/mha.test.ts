import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors/errors.js';
import { clusterNameFromFile, defaultInitScriptRunner, detectFormat, loadConfig } from '../../../src/config/load.js';
import type { LoadOptions } from '../../../src/config/load.js';
import { layer, orderServerBlocks, stripQuotes } from '../../../src/config/mha.js';
import { configDir, configError } from '../../helpers/config.js';

const FIX = 'test/fixtures/config';

const tmp = (files: Record<string, string>): string => configDir('mhats-cnf-', files);

const loadErr = (opts: LoadOptions): Promise<ConfigError> => configError(loadConfig({ osUser: 't', env: {}, ...opts }));

test('MHA layering: global [server default] < app [server default] < [serverN]; numeric order', async () => {
  const cfg = await loadConfig({ conf: join(FIX, 'app1.cnf'), globalConf: join(FIX, 'masterha_default.cnf'), env: {}, osUser: 'me' });
  assert.equal(cfg.format, 'mha');
  const [c] = cfg.clusters;
  assert.ok(c);
  assert.equal(c.name, 'app1');
  assert.deepEqual(c.servers.map((s) => s.name), ['server1', 'server2', 'server10']);
  const [s1, s2] = c.servers;
  assert.ok(s1 && s2);
  assert.equal(s1.user, 'mhauser'); // app overrides global
  assert.equal(s1.password.reveal(), 'pa;ss#word'); // ";" and "#" inside a value are kept
  assert.equal(s1.repl_password?.reveal(), 'repl pw'); // quotes stripped, " ; comment" removed
  assert.equal(s1.ssh_user, 'admin'); // from the global file
  assert.equal(s1.remote_workdir, '/var/log/masterha');
  assert.deepEqual(s1.master_binlog_dir, ['/var/lib/mysql', '/var/log/mysql']);
  assert.equal(s1.ssh_port, 2222);
  assert.equal(s2.ssh_port, 22);
  assert.equal(s2.port, 3307);
  assert.equal(s2.no_master, true);
  assert.equal(s1.candidate_master, true);
  assert.equal(c.ping_interval, 2); // global
  assert.equal(c.ping_type, 'SELECT'); // case-insensitive
  assert.equal(c.ping_failures, 4); // MHA: 1 failed ping + 3 failed reconnects
  assert.equal(c.ping_timeout, 2);
  assert.equal(c.manager_workdir, '/var/log/masterha/app1');
  assert.equal(c.secondary_check_script, 'masterha_secondary_check -s remote_host1 -s remote_host2');
});

test('MHA defaults when nothing is set', async () => {
  const dir = tmp({ 'app9.cnf': '[server1]\nhostname=h1\n[server2]\nhostname=h2\n' });
  const cfg = await loadConfig({ conf: 'app9.cnf', cwd: dir, env: {}, osUser: 'me' });
  const c = cfg.clusters[0];
  assert.ok(c);
  assert.equal(c.name, 'app9');
  assert.equal(c.ping_interval, 3);
  assert.equal(c.ping_type, 'SELECT');
  assert.equal(c.servers[0]?.user, 'root');
  assert.equal(c.servers[0]?.ssh_user, 'me');
  assert.deepEqual(c.servers[0]?.passwordSource, { kind: 'none' });
});

test('Local keys are not inherited; an inherited empty port/user falls back to the default', async () => {
  const dir = tmp({
    'app.cnf': '[server default]\ncandidate_master=1\nport=0\nuser=\n[server1]\nhostname=h1\n[server2]\nhostname=h2\nport=3310\n',
  });
  const cfg = await loadConfig({ conf: 'app.cnf', cwd: dir, env: {}, osUser: 'me' });
  const [s1, s2] = cfg.clusters[0]?.servers ?? [];
  assert.equal(s1?.candidate_master, false);
  assert.equal(s1?.port, 3306);
  assert.equal(s1?.user, 'root');
  assert.equal(s2?.port, 3310);
  assert.ok(cfg.warnings.some((w) => /app\.cnf:2: candidate_master in \[server default\] is ignored/.test(w)));
});

test('quote stripping happens at every layer, as in MHA', () => {
  assert.equal(stripQuotes('"abc"'), 'abc');
  assert.equal(stripQuotes("'abc'"), 'abc');
  assert.equal(stripQuotes('abc"'), 'abc');
  assert.equal(stripQuotes('"abc'), '"abc');
  assert.equal(stripQuotes('0'), '0');
  const loc = { file: 'f', line: 1 };
  const sd = layer(new Map([['password', { value: `"'x'"`, loc }]]), undefined);
  assert.equal(sd.get('password')?.value, `'x'`);
  const server = layer(new Map([['hostname', { value: 'h', loc }]]), sd);
  assert.equal(server.get('password')?.value, 'x');
  const bl = layer(new Map([['master_binlog_dir', { value: ' /a , /b ', loc }]]), undefined);
  assert.equal(bl.get('master_binlog_dir')?.value, '/a,/b');
});

test('server block order: alphabetical, numeric when every block has a number', () => {
  assert.deepEqual(orderServerBlocks(['server10', 'server2', 'server1']), ['server1', 'server2', 'server10']);
  assert.deepEqual(orderServerBlocks(['server_b', 'server_a2']), ['server_a2', 'server_b']);
  assert.deepEqual(orderServerBlocks(['server.2', 'serverx1']), ['serverx1', 'server.2']);
});

test('unknown parameter: file:line and a suggestion', async () => {
  const e = await loadErr({ conf: join(FIX, 'bad-key.cnf') });
  assert.equal(e.message, `${join(FIX, 'bad-key.cnf')}:6: unknown parameter "candiate_master" in [server1] (did you mean "candidate_master"?)`);
});

test('malformed line: file:line: syntax error', async () => {
  const e = await loadErr({ conf: join(FIX, 'tiny-syntax-error.cnf') });
  assert.equal(e.message, `${join(FIX, 'tiny-syntax-error.cnf')}:3: syntax error: 'this line has no equals sign' (expected name=value or [section])`);
  const dir = tmp({ 'a.cnf': '[server1]\nhostname=h\npassword hunter2\n' });
  const e2 = await loadErr({ conf: 'a.cnf', cwd: dir });
  assert.match(e2.message, /^a\.cnf:3: syntax error \(line not shown/);
  assert.doesNotMatch(e2.message, /hunter2/);
});

test('invalid block, parameters before any block, missing hostname, bad values: all reported', async () => {
  const dir = tmp({ 'a.cnf': 'user=x\n[server default]\n[client]\n[server1]\nport=1\n' });
  const e = await loadErr({ conf: 'a.cnf', cwd: dir });
  assert.deepEqual(e.message.split('\n'), [
    'a.cnf:1: parameters before the first [section]: put them under [server default] or a [serverN] block',
    'a.cnf:3: block name "client" is invalid: it must be "server default" or start with "server" or "binlog"',
  ]);
  const dir2 = tmp({ 'a.cnf': '[server default]\nping_type=ping\nping_interval=-1\n[server1]\nport=1\n[server2]\nhostname=h\ncandidate_master=2\n' });
  const e2 = await loadErr({ conf: 'a.cnf', cwd: dir2 });
  assert.deepEqual(e2.message.split('\n'), [
    'a.cnf:2: ping_type must be one of CONNECT, SELECT, INSERT (got "PING")',
    'a.cnf:3: ping_interval must be a number of seconds > 0 (got "-1")',
    'a.cnf:4: server server1 has no hostname (set hostname=... in [server1])',
    'a.cnf:8: candidate_master must be 0 or 1 (got "2")',
  ]);
});

test('duplicate ip:port is fatal, as in MHA', async () => {
  const dir = tmp({ 'a.cnf': '[server1]\nhostname=h1\nip=10.0.0.1\n[server2]\nhostname=h2\nip=10.0.0.1\n' });
  const e = await loadErr({ conf: 'a.cnf', cwd: dir });
  assert.equal(e.message, 'a.cnf:4: servers server1 (hostname h1) and server2 (hostname h2) have the same ip:port 10.0.0.1:3306');
});

test('binlog blocks are kept aside with a warning; yes/no warned', async () => {
  const dir = tmp({ 'a.cnf': '[server default]\nssh_options="-o LogLevel=ERROR"\n[server1]\nhostname=h1\nno_master=no\n[binlog1]\nhostname=b1\n' });
  const cfg = await loadConfig({ conf: 'a.cnf', cwd: dir, env: {}, osUser: 'me' });
  assert.equal(cfg.clusters[0]?.servers.length, 1);
  assert.equal(cfg.clusters[0]?.servers[0]?.no_master, false);
  const w = cfg.warnings.join('\n');
  assert.match(w, /a\.cnf:6: \[binlog1\] ignored: binlog servers are not yet supported/);
  assert.deepEqual(cfg.clusters[0]?.ssh.options, ['-o', 'LogLevel=ERROR']);
  assert.match(w, /a\.cnf:5: no_master: "no" is read as false by mhats, but MHA reads/);
});

test('mhats extensions in a cnf: secrets from env/file, ssh settings, timeouts', async () => {
  const dir = tmp({
    'a.cnf': [
      '[server default]',
      'password_env=APP_PW',
      'repl_password_file=repl.pw',
      'ssh_known_hosts=/kh',
      'ssh_identity_file=/id',
      'ssh_connection_timeout=7',
      'ping_failures=5',
      'ping_timeout=1.5',
      'connect_timeout=3',
      'query_timeout=4',
      'seconds_behind_master=60',
      '[server1]',
      'hostname=h1',
      'ssh_host_key_fingerprint=SHA256:one',
      '[server2]',
      'hostname=h2',
      'ssh_port=2222',
      'password=own',
      'ssh_host_key_fingerprint=SHA256:two',
      '',
    ].join('\n'),
    'repl.pw': 'r\n',
  });
  const cfg = await loadConfig({ conf: 'a.cnf', cwd: dir, env: { APP_PW: 'p' }, osUser: 'me' });
  const c = cfg.clusters[0];
  assert.ok(c);
  assert.equal(c.servers[0]?.password.reveal(), 'p');
  assert.deepEqual(c.servers[0]?.passwordSource, { kind: 'env', name: 'APP_PW' });
  assert.equal(c.servers[1]?.password.reveal(), 'own'); // a server's password hides the inherited password_env
  assert.equal(c.servers[1]?.repl_password?.reveal(), 'r');
  assert.deepEqual(c.ssh, { known_hosts: '/kh', identity_file: '/id', host_key_fingerprints: { h1: 'SHA256:one', 'h2:2222': 'SHA256:two' }, insecure_skip_host_key_check: false, connect_timeout: 7 });
  assert.deepEqual([c.ping_failures, c.ping_timeout, c.connect_timeout, c.query_timeout, c.seconds_behind_master], [5, 1.5, 3, 4, 60]);
  const e = await loadErr({ conf: 'a.cnf', cwd: dir });
  assert.equal(e.message, 'a.cnf:2: password: environment variable APP_PW is not set');
});

test('init_conf_load_script output overrides the app defaults; its values are never shown', async () => {
  const dir = tmp({ 'a.cnf': '[server default]\nuser=u\npassword=fromfile\ninit_conf_load_script=echo password=fr0m-scr1pt; echo port=3399; echo user=\n[server1]\nhostname=h1\n' });
  const cfg = await loadConfig({ conf: 'a.cnf', cwd: dir, env: { PATH: process.env.PATH }, osUser: 'me' });
  const s = cfg.clusters[0]?.servers[0];
  assert.equal(s?.password.reveal(), 'fr0m-scr1pt');
  assert.equal(s?.port, 3399);
  assert.equal(s?.user, 'root'); // an inherited empty user falls back to root, as in MHA
  const dir2 = tmp({ 'a.cnf': '[server default]\ninit_conf_load_script=echo port=n0tanumber; echo bogus=1\n[server1]\nhostname=h1\n' });
  const e = await loadErr({ conf: 'a.cnf', cwd: dir2, env: { PATH: process.env.PATH } });
  assert.deepEqual(e.message.split('\n'), ['init_conf_load_script output:1: port must be a port number (1-65535)', 'init_conf_load_script output:2: unknown parameter "bogus"']);
});

test('init_conf_load_script is killed after its deadline', async () => {
  const run = defaultInitScriptRunner(process.cwd(), process.env, 300);
  const t0 = Date.now();
  const r = await run('sleep 5; echo x=1');
  assert.equal(r.ok, false);
  assert.ok(Date.now() - t0 < 3000);
  const ok = await run('echo a=b; exit 3');
  assert.deepEqual(ok, { ok: true, stdout: 'a=b\n', status: 3 });
});

test('format detection and cluster name', () => {
  assert.equal(detectFormat('x.yaml', '[server1]'), 'yaml');
  assert.equal(detectFormat('x.cnf', 'a: b'), 'mha');
  assert.equal(detectFormat('x', '# c\n; c\n\n[server default]\n'), 'mha');
  assert.equal(detectFormat('x', '# c\nclusters: {}\n'), 'yaml');
  assert.equal(clusterNameFromFile('/etc/masterha/app1.cnf'), 'app1');
  assert.equal(clusterNameFromFile('app.prod.cnf'), 'app.prod');
});

test('a missing --global_conf is skipped with a warning, as in MHA; --global_conf with YAML is an error', async () => {
  const dir = tmp({ 'a.cnf': '[server1]\nhostname=h1\n', 'm.yaml': 'clusters:\n  a:\n    servers:\n      - hostname: h\n' });
  const cfg = await loadConfig({ conf: 'a.cnf', globalConf: 'nope.cnf', cwd: dir, env: {}, osUser: 'me' });
  assert.deepEqual(cfg.warnings, ['global configuration file nope.cnf not found; skipping it (as MHA does)']);
  const e = await loadErr({ conf: 'm.yaml', globalConf: 'x.cnf', cwd: dir });
  assert.match(e.message, /--global_conf applies only to an MHA \.cnf file/);
});

test('the example cnf parses', async () => {
  const e = await loadErr({ conf: 'config/app1.example.cnf', env: { REPL_PW: 'x' } });
  // only the password file under /etc/mhats is missing here
  assert.equal(e.message, 'config/app1.example.cnf:8: password: cannot read password file /etc/mhats/app1.password: no such file');
});
