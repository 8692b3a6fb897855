import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSsh, mapLimit, meshArgv, renderCheckSsh, sshOptionsFor, type ExecFn } from '../../../src/app/check-ssh.js';
import { remoteCommand, shellQuote, SshError, type ExecResult } from '../../../src/adapters/ssh/client.js';
import type { ClusterConfig, ServerConfig } from '../../../src/config/types.js';
import { painter } from '../../../src/render/colors.js';
import { clusterConfig, serverConfig } from '../../helpers/config.js';

const server = serverConfig;
const cluster = (servers: ServerConfig[]): ClusterConfig =>
  clusterConfig(servers, { known_hosts: '/etc/mhats/known_hosts', host_key_fingerprints: { db3: 'SHA256:x' }, identity_file: '/etc/mhats/id', insecure_skip_host_key_check: false, connect_timeout: 2.5 });

const okResult = (elapsedMs = 12): ExecResult => ({ code: 0, signal: null, stdout: '', stdoutBytes: Buffer.alloc(0), stderr: '', elapsedMs, connectMs: 10, hostKey: { type: 'ssh-ed25519', fingerprint: 'SHA256:abc', verifiedBy: 'known_hosts' } });

describe('shell quoting', () => {
  it('quotes every argument that needs it, safely', () => {
    assert.equal(shellQuote(['echo', 'hi']), 'echo hi');
    assert.equal(shellQuote(['printf', '%s', 'a b', "it's", '$(id)', '']), `printf %s 'a b' 'it'\\''s' '$(id)' ''`);
    assert.equal(remoteCommand(['sleep', '5'], 2.2), 'timeout --kill-after=2 3 sleep 5');
    assert.throws(() => remoteCommand([]));
  });
});

describe('sshOptionsFor', () => {
  it('maps cluster.ssh and the server to target and options', () => {
    const c = cluster([server('db1', '10.0.0.1', { ssh_port: 2222, ssh_user: 'mha' })]);
    const { target, options } = sshOptionsFor(c, c.servers[0]!);
    assert.deepEqual(target, { label: 'db1', host: '10.0.0.1', port: 2222, user: 'mha' });
    assert.equal(options.connectTimeoutMs, 2500);
    assert.equal(options.knownHostsFile, '/etc/mhats/known_hosts');
    assert.equal(options.identityFile, '/etc/mhats/id');
    assert.deepEqual(options.fingerprints, { db3: 'SHA256:x' });
    assert.equal(options.insecureSkipHostKeyCheck, false);
  });
});

describe('meshArgv', () => {
  it('runs the host OpenSSH strictly, user and host as separate arguments', () => {
    assert.deepEqual(meshArgv(server('db2', '10.0.0.2', { ssh_port: 2222 }), 2.5), [
      'ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=3', '-p', '2222', '-l', 'root', '--', '10.0.0.2', 'true',
    ]);
  });
});

describe('mapLimit', () => {
  it('keeps order and bounds concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 3, 2, 4, 0, 6], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return n * 2;
    });
    assert.deepEqual(out, [10, 2, 6, 4, 8, 0, 12]);
    assert.ok(peak <= 3);
  });
});

describe('checkSsh', () => {
  it('checks every server except skip_init_ssh_check; a failure makes the report fail', async () => {
    const c = cluster([server('db1', '10.0.0.1'), server('db2', '10.0.0.2'), server('db3', '10.0.0.3', { skip_init_ssh_check: true })]);
    const calls: string[] = [];
    const exec: ExecFn = async (t, argv) => {
      await Promise.resolve();
      calls.push(`${t.label}:${argv.join(' ')}`);
      if (t.label === 'db2') throw new SshError('refused', t, 'connection refused on port 22', { hint: 'start sshd' });
      return okResult();
    };
    const r = await checkSsh([c], { exec });
    assert.deepEqual(calls.sort(), ['db1:true', 'db2:true']);
    assert.equal(r.ok, false);
    assert.deepEqual(r.skipped, [{ cluster: 'app1', server: 'db3' }]);
    assert.deepEqual(
      r.hosts.map((h) => [h.server, h.ok, h.kind ?? null]),
      [
        ['db1', true, null],
        ['db2', false, 'refused'],
      ],
    );
    const text = renderCheckSsh(r, painter(false));
    assert.match(text, /^db1 +root@10\.0\.0\.1:22 +OK +12 ms +ssh-ed25519 SHA256:abc \(known_hosts\)$/m);
    assert.match(text, /^db2 +root@10\.0\.0\.2:22 +FAIL .*refused: connection refused on port 22 -> start sshd$/m);
    assert.match(text, /^db3 .*SKIP .*skip_init_ssh_check$/m);
    assert.match(text, /SSH check FAILED: 1\/2 hosts OK, 1 skipped/);
  });

  it('a non-zero exit of `true` is a failure', async () => {
    const c = cluster([server('db1', '10.0.0.1')]);
    const r = await checkSsh([c], { exec: () => Promise.resolve({ ...okResult(), code: 1, stderr: 'This account is currently not available.\n' }) });
    assert.equal(r.ok, false);
    assert.equal(r.hosts[0]?.kind, 'command');
    assert.match(r.hosts[0]?.error ?? '', /not available/);
  });

  it('--mesh runs every ordered pair from each host, skipping hosts the manager cannot reach', async () => {
    const c = cluster([server('db1', '10.0.0.1'), server('db2', '10.0.0.2'), server('db3', '10.0.0.3')]);
    const pairs: string[] = [];
    const exec: ExecFn = async (t, argv) => {
      await Promise.resolve();
      if (t.label === 'db3') throw new SshError('timeout', t, 'no SSH handshake');
      if (argv[0] !== 'ssh') return okResult();
      const to = argv[argv.length - 2];
      pairs.push(`${t.label}->${to}`);
      if (t.label === 'db2' && to === '10.0.0.1') return { ...okResult(), code: 255, stderr: 'Host key verification failed.\n' };
      return okResult();
    };
    const r = await checkSsh([c], { exec, mesh: true });
    assert.deepEqual(pairs.sort(), ['db1->10.0.0.2', 'db1->10.0.0.3', 'db2->10.0.0.1', 'db2->10.0.0.3']);
    assert.equal(r.pairs.length, 6);
    const byName = new Map(r.pairs.map((p) => [`${p.from}->${p.to}`, p]));
    assert.equal(byName.get('db1->db2')?.ok, true);
    assert.equal(byName.get('db2->db1')?.ok, false);
    assert.match(byName.get('db2->db1')?.hint ?? '', /known_hosts/);
    assert.equal(byName.get('db3->db1')?.skipped, true);
    const text = renderCheckSsh(r, painter(false));
    assert.match(text, /^db2 -> db1 +FAIL .*Host key verification failed/m);
    assert.match(text, /2\/3 hosts OK, 3\/6 host-to-host pairs OK/);
  });
});
