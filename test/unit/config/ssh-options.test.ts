/** MHA's ssh_options: parsing, the -F ssh_config with Host matching, precedence, and what cannot be honoured. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { ConfigError } from '../../../src/errors/errors.js';
import { loadConfig } from '../../../src/config/load.js';
import { evaluateSshConfig, expandTokens, parseSshConfigFile, parseSshOptions, resolveHost } from '../../../src/config/ssh-options.js';
import { sshOptionsFor } from '../../../src/adapters/ssh/targets.js';
import { hostKeyWarnings } from '../../../src/app/check-ssh.js';
import { sshOptions } from '../../../src/adapters/hooks/openssh.js';
import { verifyHostKey } from '../../../src/adapters/ssh/client.js';
import { parseKnownHosts } from '../../../src/adapters/ssh/known-hosts.js';
import { configDir, configError } from '../../helpers/config.js';

const loc = { file: 'app1.cnf', line: 7 };

const tmp = (files: Record<string, string>): string => configDir('mhats-sshopt-', files);

async function loadErr(dir: string): Promise<string> {
  const err = await configError(loadConfig({ conf: join(dir, 'app1.cnf'), env: {}, osUser: 'me' }));
  assert.ok(!String(err.stack).includes('\n    at ') || err instanceof ConfigError);
  return err.message;
}

test('the command line: quotes removed as MHA does, -i/-p/-l/-F/-o in every getopt form', () => {
  const r = parseSshOptions(`-i /k1 -p2360 -lmha -F /etc/mha/ssh_config -o "UserKnownHostsFile=/kh" -oConnectTimeout=4 -qT -C -4 -o 'IdentitiesOnly=yes'`, loc);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.words, ['-i', '/k1', '-p2360', '-lmha', '-F', '/etc/mha/ssh_config', '-o', 'UserKnownHostsFile=/kh', '-oConnectTimeout=4', '-qT', '-C', '-4', '-o', 'IdentitiesOnly=yes']);
  assert.equal(r.configFile, '/etc/mha/ssh_config');
  assert.deepEqual(r.cli.identityFiles.map((x) => x.value), ['/k1']);
  assert.equal(r.cli.port?.value, 2360);
  assert.equal(r.cli.user?.value, 'mha');
  assert.deepEqual(r.cli.userKnownHosts?.value, ['/kh']);
  assert.equal(r.cli.connectTimeout?.value, 4);
  assert.equal(r.cli.identitiesOnly?.value, true);
  assert.equal(r.cli.compression?.value, true);
  assert.equal(r.cli.addressFamily?.value, 'inet');
  assert.equal(r.cli.port?.where, 'app1.cnf:7 (ssh_options)');
  // First value wins, as in OpenSSH.
  assert.equal(parseSshOptions('-p 1 -o Port=2', loc).cli.port?.value, 1);
});

test('what cannot be honoured is a config error at file:line, never dropped', () => {
  const msgs = (v: string): string[] => parseSshOptions(v, loc).problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
  assert.match(msgs('-J bastion')[0]!, /^app1\.cnf:7: ssh_options: -J \(ProxyJump.*cannot be honoured/);
  assert.match(msgs('-o ProxyCommand=nc')[0]!, /ProxyCommand cannot be honoured/);
  assert.match(msgs('-o Foo=bar')[0]!, /Foo cannot be honoured/);
  assert.match(msgs('-A')[0]!, /-A \(agent forwarding\) cannot be honoured/);
  assert.match(msgs('-o Port=99999')[0]!, /Port must be 1-65535/);
  assert.match(msgs('-i')[0]!, /-i needs a value/);
  assert.match(msgs('-i relative/key')[0]!, /write an absolute path/);
  assert.match(msgs('-i $HOME/key')[0]!, /shell syntax/);
  assert.match(msgs('db1')[0]!, /"db1" is not an ssh option/);
  assert.match(msgs('-o StrictHostKeyChecking=maybe')[0]!, /StrictHostKeyChecking must be/);
  // No effect on a one-shot command: accepted.
  assert.deepEqual(msgs('-o LogLevel=ERROR -o BatchMode=yes -o ControlMaster=auto -o PasswordAuthentication=no -o ServerAliveInterval=10 -v -E /tmp/ssh.log'), []);
});

const CONFIG = `# MHA's ssh_config
Host db1 127.0.60.*
  IdentityFile ~/.ssh/mha_%h
  User mha
  Port 2360

Host db1
  ProxyJump nowhere-for-db1

Host 127.0.60.*
  IdentityFile /etc/mha/second
  UserKnownHostsFile /etc/mha/known_hosts /etc/mha/known_hosts2
  StrictHostKeyChecking yes

Host db9
  ProxyCommand this-never-matches

Match host app*
  ForwardAgent yes

Host *
  ConnectTimeout 3
  User ignored
  IdentitiesOnly yes
`;

test('the ssh_config: Host matching, first value wins, IdentityFile accumulates, line numbers', () => {
  const { file, problems } = parseSshConfigFile('/etc/mha/ssh_config', CONFIG);
  assert.deepEqual(problems, []);
  assert.ok(file);
  const r = evaluateSshConfig(file, '127.0.60.11', 'root', 'root');
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.params.identityFiles.map((x) => [x.value, x.where]), [['~/.ssh/mha_%h', '/etc/mha/ssh_config:3'], ['/etc/mha/second', '/etc/mha/ssh_config:11']]);
  assert.equal(r.params.user?.value, 'mha');
  assert.equal(r.params.port?.value, 2360);
  assert.deepEqual(r.params.userKnownHosts?.value, ['/etc/mha/known_hosts', '/etc/mha/known_hosts2']);
  assert.equal(r.params.connectTimeout?.value, 3);
  assert.equal(r.params.identitiesOnly?.value, true);
  // The same values as the package's own compute() for that host.
  const c = SSHConfig.parse(CONFIG).compute('127.0.60.11', { matchExec: false });
  assert.equal(c.User, 'mha');
  assert.equal(c.Port, '2360');
  assert.deepEqual(c.IdentityFile, ['~/.ssh/mha_%h', '/etc/mha/second']);
  // A directive that cannot be honoured, in a block that matches: an error at its line.
  const db1 = evaluateSshConfig(file, 'db1', 'root', 'root');
  assert.deepEqual(db1.problems.map((p) => `${p.file}:${p.line}`), ['/etc/mha/ssh_config:8']);
  assert.match(db1.problems[0]!.message, /ProxyJump cannot be honoured/);
  // Match blocks are evaluated (host), and Match exec refused.
  assert.match(evaluateSshConfig(file, 'app1', 'root', 'root').problems[0]!.message, /ForwardAgent yes/);
  const ex = parseSshConfigFile('/c', 'Match exec "true"\n  User x\n').file!;
  assert.match(evaluateSshConfig(ex, 'h', 'root', 'root').problems[0]!.message, /^Match exec true: only/);
  assert.match(parseSshConfigFile('/c', 'Host a\n  IdentityFile "unterminated\n').problems[0]!.message, /cannot parse this ssh_config/);
});

test('precedence: ssh_options > ssh_port/ssh_user and mhats keys > the file > defaults; ssh_connection_timeout first', () => {
  const { file } = parseSshConfigFile('/f', CONFIG);
  const fileParams = evaluateSshConfig(file!, '127.0.60.11', 'root', 'root').params;
  const base = { sshHost: '127.0.60.11', osUser: 'root', home: '/root', loc, defaultConnectTimeout: 5, file: fileParams };
  const none = resolveHost({ ...base, explicit: {}, cli: parseSshOptions('-o LogLevel=ERROR', loc).cli }).settings;
  assert.equal(none.port, 2360);
  assert.equal(none.user, 'mha');
  assert.deepEqual(none.identity_files, ['/root/.ssh/mha_127.0.60.11', '/etc/mha/second']);
  assert.deepEqual(none.known_hosts, ['/etc/mha/known_hosts', '/etc/mha/known_hosts2', '/etc/ssh/ssh_known_hosts']);
  assert.equal(none.connect_timeout, 3);
  assert.equal(none.strict_host_key_checking, 'yes');
  const explicit = resolveHost({ ...base, explicit: { port: 22, user: 'root', connect_timeout: 9, known_hosts: '/mine' }, cli: parseSshOptions('-i /k0', loc).cli }).settings;
  assert.equal(explicit.port, 22);
  assert.equal(explicit.user, 'root');
  assert.equal(explicit.connect_timeout, 9);
  assert.deepEqual(explicit.known_hosts, ['/mine', '/etc/ssh/ssh_known_hosts']);
  assert.deepEqual(explicit.identity_files, ['/k0', '/root/.ssh/mha_127.0.60.11', '/etc/mha/second']);
  const cli = resolveHost({ ...base, explicit: { port: 22, user: 'root' }, cli: parseSshOptions('-p 2361 -l admin -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null', loc).cli }).settings;
  assert.equal(cli.port, 2361);
  assert.equal(cli.user, 'admin');
  assert.equal(cli.strict_host_key_checking, 'no');
  assert.equal(cli.strict_source, 'app1.cnf:7 (ssh_options)');
  assert.deepEqual(cli.known_hosts, ['/dev/null', '/etc/ssh/ssh_known_hosts']);
});

test('tokens: ~ %d %h %p %r %u %%, anything else refused', () => {
  const t = { home: '/home/m', host: 'h1', original: 'h1', port: 2360, user: 'r', localUser: 'l' };
  assert.deepEqual(expandTokens('~/.ssh/%h-%p-%r-%u-%d-%%', t), { ok: true, value: '/home/m/.ssh/h1-2360-r-l-/home/m-%' });
  assert.deepEqual(expandTokens('/x/%C', t), { ok: false, token: '%C' });
});

test('an app1.cnf with ssh_options=-F and no mhats-specific key: per-server settings; errors name the file and line', async () => {
  const sshConfig = 'Host 127.0.60.*\n  IdentityFile /etc/mha/id_mha\n  UserKnownHostsFile /etc/mha/known_hosts\n  Port 2360\n';
  const dir = tmp({ ssh_config: sshConfig });
  writeFileSync(join(dir, 'app1.cnf'), `[server default]\nuser=m\npassword=p\nssh_user=root\nssh_options="-F ${dir}/ssh_config"\n[server1]\nhostname=127.0.60.11\n[server2]\nhostname=127.0.60.12\n[server3]\nhostname=db3\nssh_port=2222\n`);
  const cfg = await loadConfig({ conf: join(dir, 'app1.cnf'), env: {}, osUser: 'me' });
  const c = cfg.clusters[0]!;
  assert.deepEqual(c.ssh.options, ['-F', `${dir}/ssh_config`]);
  const s1 = sshOptionsFor(c, c.servers[0]!);
  assert.deepEqual(s1.target, { label: 'server1', host: '127.0.60.11', port: 2360, user: 'root' });
  assert.deepEqual(s1.options.identityFiles, ['/etc/mha/id_mha']);
  assert.deepEqual(s1.options.knownHostsFiles, ['/etc/mha/known_hosts', '/etc/ssh/ssh_known_hosts']);
  assert.equal(s1.options.insecureSkipHostKeyCheck, false);
  // db3 matches no Host block: its own ssh_port, the default known_hosts.
  const s3 = sshOptionsFor(c, c.servers[2]!);
  assert.equal(s3.target.port, 2222);
  assert.deepEqual(s3.options.identityFiles, []);
  // OpenSSH hooks get the words as they are, before mhats' defaults.
  assert.deepEqual(sshOptions(c.ssh, { host: 'app1', port: 22 }).slice(0, 4), ['-p', '22', '-F', `${dir}/ssh_config`]);
  assert.deepEqual(sshOptions(c.ssh, { host: '127.0.60.11', port: 22, user: 'root' }, { dbHost: true }).slice(0, 2), ['-F', `${dir}/ssh_config`]);

  writeFileSync(join(dir, 'ssh_config'), `${sshConfig}  ProxyJump bastion\n`);
  assert.match(await loadErr(dir), new RegExp(`^${dir}/ssh_config:5: ProxyJump cannot be honoured`));
  writeFileSync(join(dir, 'app1.cnf'), `[server default]\nssh_options=-F ${dir}/missing\n[server1]\nhostname=h1\n`);
  assert.match(await loadErr(dir), /app1\.cnf:2: ssh_options -F .*missing: cannot read it: no such file/);
  // MHA: the last block parsed wins for every server (blocks sorted by name).
  writeFileSync(join(dir, 'app1.cnf'), `[server default]\nssh_options=-o ConnectTimeout=3\n[server1]\nhostname=h1\nssh_options=-o ConnectTimeout=4\n[server2]\nhostname=h2\n`);
  const cfg2 = await loadConfig({ conf: join(dir, 'app1.cnf'), env: {}, osUser: 'me' });
  assert.deepEqual(cfg2.clusters[0]!.ssh.options, ['-o', 'ConnectTimeout=4']);
  assert.match(cfg2.warnings.join('\n'), /ssh_options is set differently .* the last one parsed applies to every server/);
});

test('StrictHostKeyChecking=no: honoured, and check-ssh warns', async () => {
  const dir = tmp({});
  writeFileSync(join(dir, 'app1.cnf'), '[server default]\nssh_options=-o StrictHostKeyChecking=no -i /k\n[server1]\nhostname=h1\n');
  const cfg = await loadConfig({ conf: join(dir, 'app1.cnf'), env: {}, osUser: 'me' });
  const c = cfg.clusters[0]!;
  assert.equal(sshOptionsFor(c, c.servers[0]!).options.insecureSkipHostKeyCheck, true);
  const w = hostKeyWarnings(cfg.clusters);
  assert.equal(w.length, 1);
  assert.match(w[0]!, /host keys are NOT verified for server1 \(StrictHostKeyChecking=no, from .*app1\.cnf:2 \(ssh_options\)\)/);
});

test('accept-new: an unknown host key is accepted, a changed one is not', () => {
  const target = { label: 'db1', host: 'h', port: 22, user: 'u' };
  // ssh-ed25519 blob: type string + 32-byte key
  const blob = (fill: number): Buffer => {
    const t = Buffer.from('ssh-ed25519');
    const k = Buffer.alloc(32, fill);
    const len = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    return Buffer.concat([len(t.length), t, len(k.length), k]);
  };
  const empty = { entries: [], files: ['/dev/null'], notes: [], pin: undefined };
  assert.equal(verifyHostKey(target, blob(1), empty, false, { acceptNew: true }).ok, true);
  assert.equal(verifyHostKey(target, blob(1), empty, false, {}).ok, false);
  const known = { ...empty, entries: parseKnownHosts(`h ssh-ed25519 ${blob(2).toString('base64')}\n`).entries.map((e) => ({ ...e, file: '/kh' })) };
  const v = verifyHostKey(target, blob(1), known, false, { acceptNew: true });
  assert.equal(v.ok, false);
});
