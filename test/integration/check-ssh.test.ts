/**
 * The SSH adapter and `mhats check-ssh` against a real OpenSSH sshd started
 * by this test (its own host key, key-only root login, 127.0.3.1:2232).
 * Host-key checking stays on, as users must never need to turn it off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sshExec, SshError, type SshClientOptions, type SshTarget } from '../../src/adapters/ssh/client.js';
import { checkSsh, renderCheckSsh } from '../../src/app/check-ssh.js';
import type { ServerConfig } from '../../src/config/types.js';
import { painter } from '../../src/render/colors.js';
import { clusterConfig, serverConfig } from '../helpers/config.js';
import { cliArgs } from '../helpers/cli.js';

const ADDR = '127.0.3.1';
const PORT = 2232;
const SILENT_ADDR = '127.0.3.2';
const CLOSED_ADDR = '127.0.3.9';
const DIR = `/var/tmp/mhats-test-ssh-${process.pid}`;
const SSHD = '/usr/sbin/sshd';

const haveOpenSsh = existsSync(SSHD) && spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
const skip = haveOpenSsh ? false : `OpenSSH server not installed (${SSHD}, ssh-keygen)`;

const target: SshTarget = { label: 'db1', host: ADDR, port: PORT, user: 'root' };
const paths = {
  hostKey: join(DIR, 'ssh_host_ed25519_key'),
  clientKey: join(DIR, 'id_ed25519'),
  wrongKey: join(DIR, 'id_wrong'),
  authorized: join(DIR, 'authorized_keys'),
  knownHosts: join(DIR, 'known_hosts'),
  hashedKnownHosts: join(DIR, 'known_hosts_hashed'),
  emptyKnownHosts: join(DIR, 'known_hosts_empty'),
  config: join(DIR, 'sshd_config'),
};

let sshd: ChildProcess | undefined;
let sshdLog = '';
let hostFingerprint = '';

function keygen(file: string, comment: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function opts(over: Partial<SshClientOptions> = {}): SshClientOptions {
  return {
    identityFile: paths.clientKey,
    knownHostsFile: paths.knownHosts,
    fingerprints: {},
    insecureSkipHostKeyCheck: false,
    connectTimeoutMs: 5000,
    agentSocket: null,
    homeDir: DIR, // never the real ~/.ssh
    ...over,
  };
}

async function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s: Socket = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function expectSshError(p: Promise<unknown>, kind: string): Promise<SshError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SshError, `expected SshError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`expected SshError ${kind}, but it succeeded`);
}

/** Our established TCP connections to ADDR:PORT (client side), from /proc/net/tcp. */
function establishedTo(addr: string, port: number): number {
  const hex = addr
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
  const want = `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[2] === want && f[3] === '01').length;
}

/** Processes whose argv contains `needle` (as separate words). */
function processesWith(needle: string[]): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      for (let i = 0; i + needle.length <= argv.length; i++)
        if (needle.every((w, j) => argv[i + j] === w)) {
          pids.push(Number(d));
          break;
        }
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe('SSH adapter and check-ssh against a real sshd', { skip }, () => {
  before(async () => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true, mode: 0o700 });
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    keygen(paths.hostKey, 'mhats-test-host');
    keygen(paths.clientKey, 'mhats-test-manager');
    keygen(paths.wrongKey, 'mhats-test-wrong');
    writeFileSync(paths.authorized, readFileSync(`${paths.clientKey}.pub`));
    const hostPub = readFileSync(`${paths.hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(paths.knownHosts, `# test known_hosts\n[${ADDR}]:${PORT} ${hostPub}\n`);
    writeFileSync(paths.hashedKnownHosts, `[${ADDR}]:${PORT} ${hostPub}\n`);
    const h = spawnSync('ssh-keygen', ['-H', '-f', paths.hashedKnownHosts], { encoding: 'utf8' });
    assert.equal(h.status, 0, h.stderr);
    writeFileSync(paths.emptyKnownHosts, '');
    const lf = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${paths.hostKey}.pub`], { encoding: 'utf8' });
    hostFingerprint = lf.stdout.split(/\s+/)[1] ?? '';
    assert.match(hostFingerprint, /^SHA256:/);
    writeFileSync(
      paths.config,
      [
        `ListenAddress ${ADDR}:${PORT}`,
        `HostKey ${paths.hostKey}`,
        'PidFile none',
        'UsePAM no',
        'StrictModes no',
        `AuthorizedKeysFile ${paths.authorized}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'MaxStartups 50',
        'LogLevel VERBOSE',
        'SetEnv SHLVL=1', // no ~/.bashrc in sessions (see src/sandbox/sshd.ts)
        '',
      ].join('\n'),
    );
    sshd = spawn(SSHD, ['-D', '-e', '-f', paths.config], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    sshd.stderr?.on('data', (d: Buffer) => {
      sshdLog += d.toString();
    });
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(ADDR, PORT))) {
      if (sshd.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start (exit ${sshd.exitCode}):\n${sshdLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(() => {
    if (sshd?.pid !== undefined && sshd.exitCode === null) {
      try {
        process.kill(sshd.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    sshd?.stderr?.destroy();
    sshd?.unref();
    rmSync(DIR, { recursive: true, force: true });
  });

  test('known host: exec works, exit code, stdout, stderr, stdin, quoting', async () => {
    const r = await sshExec(target, ['echo', 'hi'], { ...opts(), timeoutMs: 10_000 });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.hostKey.fingerprint, hostFingerprint);
    assert.equal(r.hostKey.type, 'ssh-ed25519');
    assert.equal(r.hostKey.verifiedBy, 'known_hosts');

    const q = await sshExec(target, ['printf', '%s|', 'a b', "it's", '$HOME', '`id`', ';exit 9', ''], { ...opts(), timeoutMs: 10_000 });
    assert.equal(q.stdout, "a b|it's|$HOME|`id`|;exit 9||");

    const c = await sshExec(target, ['sh', '-c', 'echo oops >&2; exit 3'], { ...opts(), timeoutMs: 10_000 });
    assert.equal(c.code, 3);
    assert.equal(c.stderr, 'oops\n');

    const s = await sshExec(target, ['cat'], { ...opts(), timeoutMs: 10_000, stdin: 'from stdin\n' });
    assert.equal(s.stdout, 'from stdin\n');
  });

  test('hashed known_hosts (ssh-keygen -H) and a correct pin both verify', async () => {
    const r = await sshExec(target, ['true'], { ...opts({ knownHostsFile: paths.hashedKnownHosts }), timeoutMs: 10_000 });
    assert.equal(r.code, 0);
    const p = await sshExec(target, ['true'], { ...opts({ knownHostsFile: undefined, fingerprints: { [`${ADDR}:${PORT}`]: hostFingerprint } }), timeoutMs: 10_000 });
    assert.equal(p.hostKey.verifiedBy, 'pinned');
  });

  test('unknown host key: host_key_unknown naming the fingerprint and the fix', async () => {
    const e = await expectSshError(sshExec(target, ['true'], { ...opts({ knownHostsFile: paths.emptyKnownHosts }), timeoutMs: 10_000 }), 'host_key_unknown');
    assert.ok(e.message.includes(hostFingerprint), e.message);
    assert.match(e.message, /^db1 \(root@127\.0\.3\.1:2232\): host key not known/);
    if (process.env.MHATS_TEST_SHOW) process.stdout.write(`# ${e.message}\n`);
    assert.match(e.message, /ssh-keyscan -p 2232 127\.0\.3\.1/);
  });

  test('nothing configured: default ~/.ssh/known_hosts (injected home) is used', async () => {
    const home = join(DIR, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'id_ed25519'), readFileSync(paths.clientKey), { mode: 0o600 });
    const o = opts({ knownHostsFile: undefined, identityFile: undefined, homeDir: home, systemKnownHostsFile: join(DIR, 'none') });
    await expectSshError(sshExec(target, ['true'], { ...o, timeoutMs: 10_000 }), 'host_key_unknown');
    writeFileSync(join(home, '.ssh', 'known_hosts'), readFileSync(paths.hashedKnownHosts));
    const r = await sshExec(target, ['true'], { ...o, timeoutMs: 10_000 });
    assert.equal(r.code, 0);
  });

  test('wrong pinned fingerprint: host_key_mismatch, loudly', async () => {
    const wrong = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const e = await expectSshError(sshExec(target, ['true'], { ...opts({ fingerprints: { [ADDR]: wrong } }), timeoutMs: 10_000 }), 'host_key_mismatch');
    assert.match(e.message, /HOST KEY MISMATCH/);
    if (process.env.MHATS_TEST_SHOW) process.stdout.write(`# ${e.message}\n`);
    assert.match(e.message, /MAN-IN-THE-MIDDLE/);
    assert.ok(e.message.includes(hostFingerprint));
  });

  test('wrong client key: auth', async () => {
    const e = await expectSshError(sshExec(target, ['true'], { ...opts({ identityFile: paths.wrongKey }), timeoutMs: 10_000 }), 'auth');
    assert.match(e.message, /authentication failed for root/);
    assert.ok(e.message.includes(paths.wrongKey));
    assert.doesNotMatch(e.message, /PRIVATE KEY/);
  });

  test('missing identity file: clear error naming the file', async () => {
    const e = await expectSshError(sshExec(target, ['true'], { ...opts({ identityFile: join(DIR, 'nope') }), timeoutMs: 10_000 }), 'auth');
    assert.ok(e.message.includes(join(DIR, 'nope')));
  });

  test('nothing listening: refused, quickly', async () => {
    const t0 = performance.now();
    await expectSshError(sshExec({ ...target, host: CLOSED_ADDR }, ['true'], { ...opts(), timeoutMs: 10_000 }), 'refused');
    assert.ok(performance.now() - t0 < 1000);
  });

  test('a listener that never speaks: timeout within connectTimeoutMs, not a hang', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(PORT, SILENT_ADDR, r));
    try {
      const t0 = performance.now();
      await expectSshError(sshExec({ ...target, host: SILENT_ADDR }, ['true'], { ...opts(), connectTimeoutMs: 1500, timeoutMs: 10_000 }), 'timeout');
      const ms = performance.now() - t0;
      assert.ok(ms >= 1400 && ms < 2500, `took ${ms} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  test('exec deadline: sleep 29.5 with timeoutMs 1000 rejects in ~1 s and the connection is destroyed', async () => {
    const argv = ['sleep', '29.5'];
    const t0 = performance.now();
    const e = await expectSshError(sshExec(target, argv, { ...opts(), timeoutMs: 1000, remoteTimeoutSec: 2 }), 'timeout');
    const ms = performance.now() - t0;
    assert.ok(ms >= 900 && ms < 1800, `took ${ms} ms`);
    assert.match(e.message, /did not finish within 1000 ms/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(establishedTo(ADDR, PORT), 0, 'no established connection to sshd remains');
    // The remote side dies too (timeout --kill-after=2 2 ...).
    const end = Date.now() + 8000;
    while (processesWith(argv).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(processesWith(argv), []);
  });

  test('abort signal: rejects at once with the reason', async () => {
    const ac = new AbortController();
    const p = sshExec(target, ['sleep', '1.5'], { ...opts(), timeoutMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop now')), 300);
    const t0 = performance.now();
    await assert.rejects(p, /stop now/);
    assert.ok(performance.now() - t0 < 1000);
  });

  test('checkSsh (app layer) with --mesh: manager logins verified; the hosts\' own OpenSSH is run strictly', async () => {
    const srv = (name: string, host: string, skip = false): ServerConfig => serverConfig(name, host, { ssh_port: PORT, skip_init_ssh_check: skip, master_binlog_dir: [] });
    const cluster = clusterConfig(
      [srv('db1', ADDR), srv('db2', CLOSED_ADDR), srv('db3', '127.0.3.8', true)],
      { known_hosts: paths.knownHosts, identity_file: paths.clientKey, host_key_fingerprints: {}, insecure_skip_host_key_check: false, connect_timeout: 2 },
      { manager_workdir: DIR },
    );
    const r = await checkSsh([cluster], { mesh: true });
    const text = renderCheckSsh(r, painter(false));
    assert.equal(r.ok, false, text);
    if (process.env.MHATS_TEST_SHOW) process.stdout.write(`# ${text.replace(/\n/g, '\n# ')}\n`);
    assert.deepEqual(r.hosts.map((h) => [h.server, h.ok, h.kind ?? null]), [['db1', true, null], ['db2', false, 'refused']], text);
    assert.equal(r.hosts[0]?.fingerprint, hostFingerprint);
    assert.deepEqual(r.skipped, [{ cluster: 'app1', server: 'db3' }]);
    // db1 -> db2 ran on db1 with its own OpenSSH: db2's port is closed there too.
    const p12 = r.pairs.find((p) => p.from === 'db1' && p.to === 'db2');
    assert.ok(p12 && !p12.ok && !p12.skipped, text);
    assert.match(p12.error ?? '', /Connection refused/i, text);
    const p21 = r.pairs.find((p) => p.from === 'db2' && p.to === 'db1');
    assert.ok(p21?.skipped, text);
    assert.match(text, /^db1 -> db2 +FAIL /m);
  });

  describe('mhats check-ssh', () => {
    function writeConfig(name: string, hosts: string[]): string {
      const pw = join(DIR, 'pw');
      writeFileSync(pw, 'secret\n', { mode: 0o600 });
      const doc = {
        state_dir: join(DIR, 'state'),
        clusters: {
          app1: {
            user: 'mhats',
            password: { file: pw },
            ssh_user: 'root',
            ssh_port: PORT,
            manager_workdir: join(DIR, 'work'),
            ssh: { known_hosts: paths.knownHosts, identity_file: paths.clientKey, connect_timeout: 3 },
            servers: hosts.map((h, i) => ({ name: `db${i + 1}`, hostname: h, port: 3306 + i })),
          },
        },
      };
      const file = join(DIR, name);
      writeFileSync(file, stringify(doc), { mode: 0o600 });
      return file;
    }

    function mhats(...args: string[]) {
      const r = spawnSync(process.execPath, [...cliArgs(), ...args], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NO_COLOR: '1', SSH_AUTH_SOCK: '' },
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr, text: `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}` };
    }

    test('all reachable: exit 0, one line per host with the fingerprint', () => {
      const conf = writeConfig('ok.yaml', [ADDR, ADDR]);
      const r = mhats('check-ssh', '--conf', conf);
      assert.equal(r.code, 0, r.text);
      assert.match(r.stdout, /^db1 +root@127\.0\.3\.1:2232 +OK /m);
      assert.match(r.stdout, /^db2 +root@127\.0\.3\.1:2232 +OK /m);
      assert.ok(r.stdout.includes(hostFingerprint), r.text);
      const j = mhats('check-ssh', '--conf', conf, '--json');
      assert.equal(j.code, 0, j.text);
      const report = JSON.parse(j.stdout) as { ok: boolean; hosts: { server: string; ok: boolean; fingerprint: string }[] };
      assert.equal(report.ok, true);
      assert.deepEqual(
        report.hosts.map((h) => [h.server, h.ok, h.fingerprint]),
        [
          ['db1', true, hostFingerprint],
          ['db2', true, hostFingerprint],
        ],
      );
    });

    test('a server whose ssh port is closed: exit 5 naming it', () => {
      const conf = writeConfig('bad.yaml', [ADDR, CLOSED_ADDR]);
      const r = mhats('check-ssh', '--conf', conf);
      assert.equal(r.code, 5, r.text);
      assert.match(r.stdout, /^db1 .* OK /m);
      assert.match(r.stdout, /^db2 +root@127\.0\.3\.9:2232 +FAIL .*refused/m);
    });

    test('a bad config: exit 3', () => {
      const r = mhats('check-ssh', '--conf', join(DIR, 'missing.yaml'));
      assert.equal(r.code, 3, r.text);
    });
  });
});
