/**
 * Reading a dead master's binlog files over SSH (its mysqld is gone, its host
 * is not). Binary-safe, every call with a deadline and a size cap.
 */
import { binlogBasename, binlogFileIndex } from '../../domain/binlog-coord.js';
import { sshExec, type SshClientOptions, type SshTarget } from './client.js';

export interface RemoteBinlogs {
  dir: string;
  /** Binlog files of the series, in index order. */
  files: string[];
}

/**
 * Finds the directory (first of `dirs` that has it, as MHA) holding `startFile`
 * and lists that series' files from startFile on.
 */
export async function listRemoteBinlogs(target: SshTarget, opts: SshClientOptions, dirs: string[], startFile: string, timeoutMs: number): Promise<RemoteBinlogs | undefined> {
  const base = binlogBasename(startFile);
  const startIdx = binlogFileIndex(startFile);
  for (const dir of dirs) {
    const r = await sshExec(target, ['ls', '-1', '--', dir], { ...opts, timeoutMs });
    if (r.code !== 0) continue;
    const names = r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`${base}.`) && /\.\d+$/.test(l));
    if (!names.includes(startFile)) continue;
    const files = names.filter((n) => binlogFileIndex(n) >= startIdx).sort((a, b) => binlogFileIndex(a) - binlogFileIndex(b));
    return { dir, files };
  }
  return undefined;
}

/** Bytes of a remote file from `start` to its end (tail -c +N), or the first `length` bytes from 0. */
export async function readRemoteFile(target: SshTarget, opts: SshClientOptions, path: string, range: { start: number } | { head: number }, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  const argv = 'start' in range ? ['tail', '-c', `+${range.start + 1}`, '--', path] : ['head', '-c', String(range.head), '--', path];
  const r = await sshExec(target, argv, { ...opts, timeoutMs, maxOutputBytes: maxBytes, remoteTimeoutSec: Math.ceil(timeoutMs / 1000) });
  if (r.code !== 0) throw new Error(`reading ${path} on ${target.host} failed (exit ${r.code ?? r.signal ?? '?'}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
  return r.stdoutBytes;
}

/** Every file of a binlog/relay-log series (basename.NNNNNN) in dir, oldest first. */
export async function listRemoteSeries(target: SshTarget, opts: SshClientOptions, dir: string, basename: string, timeoutMs: number): Promise<string[]> {
  const r = await sshExec(target, ['ls', '-1', '--', dir], { ...opts, timeoutMs });
  if (r.code !== 0) throw new Error(`ls ${dir} on ${target.host} failed (exit ${r.code ?? r.signal ?? '?'}): ${r.stderr.trim()}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${basename}.`) && /\.\d+$/.test(l))
    .sort((a, b) => binlogFileIndex(a) - binlogFileIndex(b));
}
