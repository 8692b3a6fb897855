/**
 * OpenSSH (the `ssh` binary, run through execa with argv arrays) for the
 * built-in hooks: rsync needs the binary anyway, and every hook then runs in
 * its own process group that is killed at its deadline, ssh included.
 *
 * Host keys are always verified (BatchMode, StrictHostKeyChecking=yes) against
 * the cluster's known_hosts when one is configured; the lab-only
 * insecure_skip_host_key_check turns that off, as it does for ssh2.
 */
import type { SshSettings } from '../../config/types.js';
import type { SshDest } from '../../config/hooks.js';
import { shellQuote } from '../ssh/client.js';
import { runProcess, type ScriptResult } from './run-script.js';

/**
 * ssh options (without the destination). MHA's ssh_options come as they are,
 * before mhats' own defaults: OpenSSH takes the first value of each option,
 * so the operator's -o/-i/-F win, as under MHA. The destination's -p/-l come
 * first for a host named in the hook's own config (an app server), and after
 * ssh_options for a database host (MHA puts ssh_options first there).
 */
export function sshOptions(ssh: SshSettings, dest: SshDest, opts: { dbHost?: boolean } = {}): string[] {
  const connect = Math.max(1, Math.ceil(ssh.connect_timeout));
  const destArgs = ['-p', String(dest.port), ...(dest.user ? ['-l', dest.user] : [])];
  const user = ssh.options ?? [];
  const out = [...(opts.dbHost ? [] : destArgs), ...user, '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${connect}`, '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2'];
  if (ssh.insecure_skip_host_key_check) out.push('-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR');
  else {
    out.push('-o', 'StrictHostKeyChecking=yes');
    if (ssh.known_hosts) out.push('-o', `UserKnownHostsFile=${ssh.known_hosts}`);
  }
  if (ssh.identity_file) out.push('-i', ssh.identity_file, '-o', 'IdentitiesOnly=yes');
  if (opts.dbHost) out.push(...destArgs);
  return out;
}

/** "user@host:port" for messages. */
export function destLabel(d: SshDest): string {
  return `${d.user ? `${d.user}@` : ''}${d.host}${d.port === 22 ? '' : `:${d.port}`}`;
}

/** rsync's -e value: rsync splits it on spaces and honours quotes, so quote what needs it. */
export function rsyncRsh(ssh: SshSettings, dest: SshDest): string {
  const words = ['ssh', ...sshOptions(ssh, dest)];
  for (const w of words) if (w.includes("'")) throw new Error(`cannot pass ${JSON.stringify(w)} to rsync -e (a single quote)`);
  return words.map((w) => (/^[A-Za-z0-9_\-.,:/@%+=]+$/.test(w) ? w : `'${w}'`)).join(' ');
}

export interface RemoteRun {
  ssh: SshSettings;
  dest: SshDest;
  /** Remote argv: quoted for the remote shell here. */
  argv: string[];
  timeoutMs: number;
  stdin?: string | undefined;
  signal?: AbortSignal | undefined;
  /** A database host (MHA's ssh_options rank before its ssh_port/ssh_user). */
  dbHost?: boolean | undefined;
}

/** Run argv on a host over ssh, in its own process group, killed at the deadline. */
export function sshRun(r: RemoteRun): Promise<ScriptResult> {
  return runProcess({ file: 'ssh', args: [...sshOptions(r.ssh, r.dest, { dbHost: r.dbHost }), '--', r.dest.host, shellQuote(r.argv)], timeoutMs: r.timeoutMs, stdin: r.stdin, killGraceMs: 1000, signal: r.signal });
}

/** Run a small sh script remotely with its values as positional parameters ("$1", ...), never interpolated. */
export function sshScript(r: Omit<RemoteRun, 'argv'> & { script: string; args: string[] }): Promise<ScriptResult> {
  return sshRun({ ...r, argv: ['sh', '-c', r.script, 'mhats', ...r.args] });
}

/** One line about a failed run. */
export function failure(r: ScriptResult): string {
  if (r.timedOut) return `timed out after ${r.durationMs} ms (killed with its children)`;
  if (r.exitCode === null) return `killed by ${r.signal ?? 'a signal'}`;
  const err = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ');
  return `exit ${r.exitCode}${err ? `: ${err}` : ''}`;
}
