import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors/errors.js';
import { loadConfig, selectClusters } from '../../../src/config/load.js';
import { UserError } from '../../../src/errors/errors.js';
import { configDir, configError } from '../../helpers/config.js';

const tmp = (files: Record<string, string>, modes: Record<string, number> = {}): string => configDir('mhats-yaml-', files, modes);

const loadErr = (text: string, env: NodeJS.ProcessEnv = {}): Promise<ConfigError> =>
  configError(loadConfig({ conf: 'mhats.yaml', cwd: tmp({ 'mhats.yaml': text }), env, osUser: 'tester' }));

const MIN = `clusters:
  app1:
    servers:
      - hostname: 127.0.0.11
      - hostname: 127.0.0.12
`;

test('unknown key: file, line, path and a suggestion', async () => {
  const e = await loadErr(`clusters:
  app1:
    user: mhats
    servers:
      - name: db1
        hostname: 127.0.0.11
      - name: db2
        hostname: 127.0.0.12
        candiate_master: true
`);
  assert.equal(e.message, 'mhats.yaml:9: unknown key "candiate_master" in clusters.app1.servers[1] (did you mean "candidate_master"?)');
  assert.equal(e.line, 9);
  assert.equal(e.exitCode, 3);
});

test('unknown top-level key and misspelt cluster option', async () => {
  const e = await loadErr(`stat_dir: /x\nclusters:\n  app1:\n    ping_intervall: 2\n    servers:\n      - hostname: a\n`);
  assert.equal(
    e.message,
    'mhats.yaml:1: unknown key "stat_dir" in the top level (did you mean "state_dir"?)\nmhats.yaml:4: unknown key "ping_intervall" in clusters.app1 (did you mean "ping_interval"?)',
  );
});

test('type errors name the key and the bad value; all problems are reported', async () => {
  const e = await loadErr(`clusters:
  app1:
    ping_type: PING
    ping_interval: 0
    servers:
      - hostname: 127.0.0.11
        port: 99999
        candidate_master: yes
`);
  const lines = e.message.split('\n');
  assert.deepEqual(lines, [
    'mhats.yaml:3: ping_type must be one of CONNECT, SELECT, INSERT (got "PING")',
    'mhats.yaml:4: ping_interval must be a number of seconds > 0 (got 0)',
    'mhats.yaml:7: port must be a port number (1-65535) (got 99999)',
    'mhats.yaml:8: candidate_master must be true or false (or 1/0) (got "yes")',
  ]);
});

test('malformed YAML gives one line with file:line', async () => {
  const e = await loadErr(`clusters:\n  app1:\n    servers:\n      - hostname: a\n     port: 3306\n`);
  assert.equal(e.message.split('\n').length, 1);
  assert.match(e.message, /^mhats\.yaml:5: YAML syntax error: /);
});

test('duplicate keys are a syntax error at their line', async () => {
  const e = await loadErr(`clusters:\n  app1:\n    user: a\n    user: b\n    servers:\n      - hostname: a\n`);
  assert.match(e.message, /^mhats\.yaml:4: YAML syntax error: .*unique/);
});

test('a Local-only key at cluster level is rejected with a clear message', async () => {
  const e = await loadErr(`clusters:\n  app1:\n    candidate_master: true\n    servers:\n      - hostname: a\n`);
  assert.equal(e.message, 'mhats.yaml:3: candidate_master is a per-server option (MHA scope "Local") and cannot be set in clusters.app1; set it in each entry of servers');
  const e2 = await loadErr(`defaults:\n  hostname: x\n${MIN}`);
  assert.match(e2.message, /^mhats\.yaml:2: hostname is a per-server option/);
  const e3 = await loadErr(`clusters:\n  app1:\n    servers:\n      - hostname: a\n        ping_interval: 3\n`);
  assert.match(e3.message, /^mhats\.yaml:5: ping_interval is a cluster option/);
});

test('missing hostname, no servers, bad cluster name', async () => {
  const e = await loadErr(`clusters:\n  app1:\n    servers:\n      - port: 3306\n`);
  assert.equal(e.message, 'mhats.yaml:4: missing required key "hostname" in clusters.app1.servers[0]');
  const e2 = await loadErr(`clusters:\n  "app 1":\n    servers: []\n`);
  assert.match(e2.message, /mhats\.yaml:2: cluster name "app 1" is invalid/);
  assert.match(e2.message, /cluster app 1 has no servers/);
});

test('duplicate ip:port and duplicate names are errors', async () => {
  const e = await loadErr(`clusters:
  app1:
    servers:
      - name: a
        hostname: h1
        ip: 10.0.0.1
      - name: b
        hostname: h2
        ip: 10.0.0.1
`);
  assert.match(e.message, /^mhats\.yaml:7: servers a \(hostname h1\) and b \(hostname h2\) have the same ip:port 10\.0\.0\.1:3306$/);
  const e2 = await loadErr(`clusters:\n  app1:\n    servers:\n      - name: a\n        hostname: h1\n      - name: a\n        hostname: h2\n`);
  assert.match(e2.message, /^mhats\.yaml:6: duplicate server name "a" \(also at mhats\.yaml:4\)$/);
});

test('defaults are applied: MHA-compatible server defaults, fast native detection defaults', async () => {
  const dir = tmp({ 'mhats.yaml': MIN });
  const cfg = await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 'tester' });
  assert.equal(cfg.format, 'yaml');
  assert.equal(cfg.state_dir, '/var/lib/mhats');
  assert.deepEqual(cfg.warnings, []);
  const [c] = cfg.clusters;
  assert.ok(c);
  assert.equal(c.name, 'app1');
  assert.equal(c.ping_interval, 1);
  assert.equal(c.ping_type, 'CONNECT');
  assert.equal(c.ping_failures, 3);
  assert.equal(c.ping_timeout, 1);
  assert.equal(c.connect_timeout, 2);
  assert.equal(c.query_timeout, 5);
  assert.equal(c.seconds_behind_master, 30);
  assert.equal(c.last_failover_minute, 480);
  assert.equal(c.manager_workdir, '/var/tmp');
  assert.deepEqual(c.ssh, { known_hosts: undefined, identity_file: undefined, host_key_fingerprints: {}, insecure_skip_host_key_check: false, connect_timeout: 5 });
  const s = c.servers[0];
  assert.ok(s);
  assert.equal(s.name, '127.0.0.11');
  assert.equal(s.ip, '127.0.0.11');
  assert.equal(s.ssh_host, '127.0.0.11');
  assert.equal(s.port, 3306);
  assert.equal(s.user, 'root');
  assert.equal(s.ssh_user, 'tester');
  assert.equal(s.ssh_port, 22);
  assert.deepEqual(s.master_binlog_dir, ['/var/lib/mysql', '/var/log/mysql']);
  assert.equal(s.remote_workdir, '/var/tmp');
  assert.equal(s.use_gtid_auto_pos, true);
  assert.equal(s.handle_raw_binlog, true);
  assert.equal(s.disable_log_bin, false);
  assert.equal(s.candidate_master, false);
  assert.equal(s.password.reveal(), '');
  assert.deepEqual(s.passwordSource, { kind: 'none' });
  assert.equal(s.repl_password, undefined);
});

test('layering: defaults < cluster < server; ssh settings merged', async () => {
  const dir = tmp({
    'mhats.yaml': `defaults:
  user: fromdefaults
  ssh_port: 2200
  ping_interval: 0.5
  ssh: { known_hosts: /kh, host_key_fingerprints: { a: "SHA256:a" } }
clusters:
  app1:
    ssh_port: 2201
    ssh: { host_key_fingerprints: { b: "SHA256:b" } }
    master_binlog_dir: /d1, /d2
    servers:
      - hostname: h1
        ssh_port: 2202
        candidate_master: 1
      - hostname: h2
  app2:
    servers:
      - hostname: h3
`,
  });
  const cfg = await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 'tester' });
  const [a1, a2] = cfg.clusters;
  assert.ok(a1 && a2);
  assert.deepEqual(a1.servers.map((s) => [s.user, s.ssh_port, s.candidate_master]), [['fromdefaults', 2202, true], ['fromdefaults', 2201, false]]);
  assert.deepEqual(a1.servers[0]?.master_binlog_dir, ['/d1', '/d2']);
  assert.equal(a1.ping_interval, 0.5);
  assert.equal(a1.ping_timeout, 0.5);
  assert.deepEqual(a1.ssh.host_key_fingerprints, { a: 'SHA256:a', b: 'SHA256:b' });
  assert.equal(a1.ssh.known_hosts, '/kh');
  assert.equal(a2.servers[0]?.ssh_port, 2200);
  assert.deepEqual(selectClusters(cfg, 'app2').map((c) => c.name), ['app2']);
  assert.equal(selectClusters(cfg).length, 2);
  assert.throws(() => selectClusters(cfg, 'nope'), (e: unknown) => e instanceof UserError && /unknown cluster "nope".*app1, app2/.test(e.message));
});

test('secrets: inline, env and file; sources recorded; values never printed', async () => {
  const dir = tmp(
    {
      'mhats.yaml': `clusters:\n  app1:\n    password: { env: PW }\n    repl_password: { file: repl.pw }\n    servers:\n      - hostname: a\n        password: inl1ne-s3cret\n      - hostname: b\n`,
      'repl.pw': 'file-s3cret\n',
    },
    { 'mhats.yaml': 0o600, 'repl.pw': 0o600 },
  );
  const cfg = await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: { PW: 'env-s3cret' }, osUser: 't' });
  const [a, b] = cfg.clusters[0]?.servers ?? [];
  assert.ok(a && b);
  assert.equal(a.password.reveal(), 'inl1ne-s3cret');
  assert.deepEqual(a.passwordSource, { kind: 'inline', file: 'mhats.yaml' });
  assert.equal(b.password.reveal(), 'env-s3cret');
  assert.deepEqual(b.passwordSource, { kind: 'env', name: 'PW' });
  assert.equal(b.repl_password?.reveal(), 'file-s3cret');
  assert.deepEqual(b.repl_passwordSource, { kind: 'file', path: join(dir, 'repl.pw') });
  assert.deepEqual(cfg.warnings, []);
  assert.doesNotMatch(JSON.stringify(cfg), /s3cret/);
});

test('missing env var and missing password file are clear errors naming the key', async () => {
  const e = await loadErr(`clusters:\n  app1:\n    password: { env: MHATS_NOPE }\n    repl_password: { file: /nonexistent/pw }\n    servers:\n      - hostname: a\n`);
  assert.deepEqual(e.message.split('\n'), [
    'mhats.yaml:3: password: environment variable MHATS_NOPE is not set',
    'mhats.yaml:4: repl_password: cannot read password file /nonexistent/pw: no such file',
  ]);
});

test('a bad secret shape is reported without its value', async () => {
  const e = await loadErr(`clusters:\n  app1:\n    password: { vault: t0ps3cret }\n    servers:\n      - hostname: a\n`);
  assert.equal(e.message, 'mhats.yaml:3: password must be a string (quote it if it looks like a number), { env: NAME } or { file: PATH }');
  const e2 = await loadErr(`clusters:\n  app1:\n    password: 12345\n    servers:\n      - hostname: a\n`);
  assert.doesNotMatch(e2.message, /12345/);
});

test('world-readable password file and config file with inline password: warnings with chmod 600', async () => {
  const dir = tmp(
    {
      'mhats.yaml': `clusters:\n  app1:\n    password: inline\n    repl_password: { file: repl.pw }\n    servers:\n      - hostname: a\n`,
      'repl.pw': 'x\n',
    },
    { 'mhats.yaml': 0o644, 'repl.pw': 0o640 },
  );
  const cfg = await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 't' });
  assert.deepEqual(cfg.warnings, [
    `${join(dir, 'repl.pw')}: password file holds a password but is readable by group/others (mode 0640); run: chmod 600 ${join(dir, 'repl.pw')}`,
    'mhats.yaml: config file holds a password but is readable by group/others (mode 0644); run: chmod 600 mhats.yaml',
  ]);
  assert.doesNotMatch(cfg.warnings.join('\n'), /inline\b(?! password)/);
});

test('missing config file', async () => {
  await assert.rejects(loadConfig({ conf: '/nonexistent/mhats.yaml' }), (e: unknown) => e instanceof ConfigError && e.message === '/nonexistent/mhats.yaml: cannot read config file: no such file' && e.hint !== undefined);
});

test('the example configuration loads', async () => {
  const cfg = await loadConfig({ conf: 'config/mhats.example.yaml', env: { MHATS_APP1_PASSWORD: 'x', REPL_PW: 'y' }, osUser: 't' }).catch((e: unknown) => e);
  // The example points at /etc/mhats/... files that do not exist here: only those may fail.
  if (cfg instanceof ConfigError) {
    for (const line of cfg.message.split('\n')) assert.match(line, /cannot read password file \/etc\/mhats\//);
  } else assert.ok(cfg);
});

test('drill: allowed marks a cluster for mhats drill; anything else is an error naming the line', async () => {
  const dir = tmp({ 'mhats.yaml': MIN.replace('  app1:\n', '  app1:\n    drill: allowed\n') });
  const c = await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 'tester' });
  assert.equal(c.clusters[0]?.drill, 'allowed');
  const plain = await loadConfig({ conf: 'mhats.yaml', cwd: tmp({ 'mhats.yaml': MIN }), env: {}, osUser: 'tester' });
  assert.equal(plain.clusters[0]?.drill, undefined);
  const e = await loadErr(MIN.replace('  app1:\n', '  app1:\n    drill: yes\n'));
  assert.match(e.message, /mhats\.yaml:3: .*drill.*must be "allowed"/);
});
