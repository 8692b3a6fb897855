/**
 * The sandbox's one sshd: its own host key, key-only root login with the
 * manager's key, listening on every sandbox address; plus the known_hosts
 * file clients verify host keys with.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors/errors.js';
import { findBinary } from './mysqld.js';
import { isAlive, pollUntil, spawnDetached } from './proc.js';
import type { SandboxSsh } from './types.js';

export interface SshBinaries {
  sshd: string;
  ssh: string;
  keygen: string;
}

export async function findSshBinaries(): Promise<SshBinaries> {
  const [sshd, ssh, keygen] = await Promise.all([findBinary(['sshd']), findBinary(['ssh']), findBinary(['ssh-keygen'])]);
  if (sshd === undefined || ssh === undefined || keygen === undefined) {
    throw new UserError('the sandbox needs sshd, ssh and ssh-keygen (OpenSSH)', {
      hint: 'install them (apt-get install -y openssh-server openssh-client), or run `mhats sandbox up --no-ssh`',
    });
  }
  return { sshd, ssh, keygen };
}

export function sshPaths(dir: string): { dir: string; hostKey: string; identityFile: string; knownHostsFile: string; configFile: string; logFile: string } {
  const d = join(dir, 'ssh');
  return {
    dir: d,
    hostKey: join(d, 'ssh_host_ed25519_key'),
    identityFile: join(d, 'id_ed25519'),
    knownHostsFile: join(d, 'known_hosts'),
    configFile: join(d, 'sshd_config'),
    logFile: join(d, 'sshd.log'),
  };
}

async function keygen(bin: string, file: string, comment: string): Promise<void> {
  await execa(bin, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { timeout: 20_000, stdin: 'ignore' });
}

/** Make the keys, sshd_config and known_hosts. Returns the ssh record with pid 0. */
export async function prepareSsh(bins: SshBinaries, dir: string, addresses: string[], port: number): Promise<SandboxSsh> {
  const p = sshPaths(dir);
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  await Promise.all([keygen(bins.keygen, p.hostKey, 'mhats-sandbox-host'), keygen(bins.keygen, p.identityFile, 'mhats-sandbox-manager')]);
  const hostPub = (await readFile(`${p.hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  await writeFile(p.knownHostsFile, addresses.map((a) => `[${a}]:${port} ${hostPub}\n`).join(''), { mode: 0o644 });
  const config = [
    '# written by mhats sandbox',
    ...addresses.map((a) => `ListenAddress ${a}:${port}`),
    `HostKey ${p.hostKey}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    `AuthorizedKeysFile ${p.identityFile}.pub`,
    'PermitRootLogin prohibit-password',
    'AllowUsers root',
    'MaxStartups 100:30:200',
    'MaxSessions 100',
    'LoginGraceTime 30',
    'ClientAliveInterval 5',
    'UseDNS no',
    // A session's bash must not run the test machine's ~/.bashrc (bash reads it
    // for commands from sshd only at SHLVL < 2): on these machines it runs
    // `pyenv init`, whose rehash lock serialises concurrent logins and can be
    // left behind by a killed session, stalling every later login for 60 s.
    'SetEnv SHLVL=1',
    'PrintMotd no',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
  await writeFile(p.configFile, config, { mode: 0o600 });
  await chmod(p.identityFile, 0o600);
  return {
    pid: 0,
    port,
    user: 'root',
    identityFile: p.identityFile,
    knownHostsFile: p.knownHostsFile,
    hostPublicKey: hostPub,
    configFile: p.configFile,
    logFile: p.logFile,
  };
}

/** Check the config, then start `sshd -D -e -f CONFIG` detached. Returns its PID. */
export async function startSshd(bins: SshBinaries, ssh: SandboxSsh): Promise<number> {
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const t = await execa(bins.sshd, ['-t', '-f', ssh.configFile], { timeout: 10_000, reject: false });
  if (t.failed) throw new UserError(`sshd rejects ${ssh.configFile}: ${`${t.stderr}`.trim() || t.shortMessage}`);
  return spawnDetached(bins.sshd, ['-D', '-e', '-f', ssh.configFile], ssh.logFile);
}

/**
 * A netns sandbox: the sshd of one host, in its namespace, listening on its
 * address only (same host key, same authorized key as the shared config).
 */
export async function hostSshdConfig(ssh: SandboxSsh, name: string, address: string): Promise<{ configFile: string; logFile: string }> {
  const base = await readFile(ssh.configFile, 'utf8');
  const rest = base.split('\n').filter((l) => !l.startsWith('ListenAddress '));
  const configFile = join(dirname(ssh.configFile), `sshd_config.${name}`);
  await writeFile(configFile, [rest[0] ?? '', `ListenAddress ${address}:${ssh.port}`, ...rest.slice(1)].join('\n'), { mode: 0o600 });
  return { configFile, logFile: join(dirname(ssh.logFile), `sshd.${name}.log`) };
}

/** Check a config file with `sshd -t`. */
export async function checkSshdConfig(bins: SshBinaries, configFile: string): Promise<void> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const t = await execa(bins.sshd, ['-t', '-f', configFile], { timeout: 10_000, reject: false });
  if (t.failed) throw new UserError(`sshd rejects ${configFile}: ${`${t.stderr}`.trim() || t.shortMessage}`);
}

/** ssh client arguments that verify the host key against the sandbox known_hosts. */
export function sshClientArgs(ssh: SandboxSsh, address: string): string[] {
  return [
    '-F', '/dev/null',
    '-i', ssh.identityFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${ssh.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=3',
    '-p', String(ssh.port),
    `${ssh.user}@${address}`,
  ];
}

/** Wait until a key login (host key verified) works on every address (`pidFor`: the sshd serving an address, default the shared one). */
export async function verifySsh(bins: SshBinaries, ssh: SandboxSsh, addresses: string[], timeoutMs = 20_000, daemonFor: (address: string) => { pid: number; logFile: string } = () => ssh): Promise<void> {
  await Promise.all(
    addresses.map(async (address) => {
      let last = '';
      let died = false;
      await pollUntil(
        timeoutMs,
        200,
        async () => {
          if (!isAlive(daemonFor(address).pid)) {
            died = true;
            return true;
          }
          const r = await execa(bins.ssh, [...sshClientArgs(ssh, address), 'true'], { timeout: 8_000, reject: false, stdin: 'ignore' });
          if (!r.failed) return true;
          last = `${r.stderr}`.trim() || (r.shortMessage ?? 'failed');
          return undefined;
        },
        () => new UserError(`sshd on ${address}:${ssh.port} did not accept a key login within ${timeoutMs / 1000}s: ${last}`, { hint: `see ${daemonFor(address).logFile}` }),
      );
      if (died) {
        const log = await readFile(daemonFor(address).logFile, 'utf8').catch(() => '');
        throw new UserError(`sshd for ${address}:${ssh.port} exited: ${log.trim().split('\n').slice(-3).join(' | ')}`, {
          hint: `is port ${ssh.port} in use on that address? see ${daemonFor(address).logFile}`,
        });
      }
    }),
  );
}
