/**
 * Reading a dead master's binlog files over SSH (its mysqld is gone, its host
 * is not). Binary-safe, every call with a deadline and a size cap.
 */
import { binlogBasename, binlogFileIndex } from '../../domain/binlog-coord.js';
import { sshExec, type ExecResult, type SshClientOptions, type SshTarget } from './client.js';

/** Runs a command on target (default: a new SSH connection, sshExec); e.g. a kept session's exec channel (SshPool.exec). */
export type RemoteExec = (target: SshTarget, argv: string[], o: { timeoutMs: number; maxOutputBytes: number; remoteTimeoutSec: number; signal?: AbortSignal | undefined }) => Promise<ExecResult>;

export interface RemoteBinlogs {
  dir: string;
  /** Binlog files of the series, in index order. */
  files: string[];
}

/**
 * Finds the directory (first of `dirs` that has it, as MHA) holding `startFile`
 * and lists that series' files from startFile on.
 */
export async function listRemoteBinlogs(target: SshTarget, opts: SshClientOptions & { signal?: AbortSignal | undefined }, dirs: string[], startFile: string, timeoutMs: number): Promise<RemoteBinlogs | undefined> {
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
export async function readRemoteFile(target: SshTarget, opts: SshClientOptions & { signal?: AbortSignal | undefined }, path: string, range: { start: number } | { head: number }, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  const argv = 'start' in range ? ['tail', '-c', `+${range.start + 1}`, '--', path] : ['head', '-c', String(range.head), '--', path];
  const r = await sshExec(target, argv, { ...opts, timeoutMs, maxOutputBytes: maxBytes, remoteTimeoutSec: Math.ceil(timeoutMs / 1000) });
  if (r.code !== 0) throw new Error(`reading ${path} on ${target.host} failed (exit ${r.code ?? r.signal ?? '?'}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
  return r.stdoutBytes;
}

/** Every file of a binlog/relay-log series (basename.NNNNNN) in dir, oldest first. */
export async function listRemoteSeries(target: SshTarget, opts: SshClientOptions & { signal?: AbortSignal | undefined }, dir: string, basename: string, timeoutMs: number): Promise<string[]> {
  const r = await sshExec(target, ['ls', '-1', '--', dir], { ...opts, timeoutMs });
  if (r.code !== 0) throw new Error(`ls ${dir} on ${target.host} failed (exit ${r.code ?? r.signal ?? '?'}): ${r.stderr.trim()}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${basename}.`) && /\.\d+$/.test(l))
    .sort((a, b) => binlogFileIndex(a) - binlogFileIndex(b));
}

export interface RemoteTail {
  dir: string;
  /** The series' files from the start file on, with their sizes. */
  files: Array<{ name: string; size: number }>;
  /** The start file's first bytes (up to 4096: magic and format description event). */
  head: Buffer;
  /** The start file from `startPos` to its end. */
  tail: Buffer;
  /** The later files, whole. */
  rest: Buffer[];
}

/**
 * Everything salvage needs from a dead master's host in ONE SSH command (an
 * SSH handshake costs hundreds of ms during a failover): finds the first of
 * `dirs` holding `startFile`, lists the series' files from it on with their
 * sizes, then streams the start file's head, its tail from `startPos`, and
 * the later files. Paths and names go in as positional parameters. exec: on
 * a kept session (no handshake at all) when the caller has one.
 */
export async function readRemoteTail(target: SshTarget, opts: SshClientOptions & { signal?: AbortSignal | undefined }, dirs: string[], startFile: string, startPos: number, timeoutMs: number, maxBytes: number, exec?: RemoteExec): Promise<RemoteTail | undefined> {
  const base = binlogBasename(startFile);
  const script = [
    'start=$1; pos=$2; base=$3; shift 3',
    'for d in "$@"; do [ -f "$d/$start" ] && { dir=$d; break; }; done',
    '[ -n "$dir" ] || exit 4',
    'cd "$dir" || exit 5',
    'sidx=${start##*.}',
    // POSIX sh (dash): awk compares the numeric suffixes.
    'files=$(ls -1 | awk -v b="$base" -v s="$sidx" \'{ n = substr($0, length(b) + 2) } index($0, b ".") == 1 && n ~ /^[0-9]+$/ && n + 0 >= s + 0 { print n + 0, $0 }\' | sort -n | cut -d" " -f2)',
    'printf "D %s\\n" "$dir"',
    'for f in $files; do printf "F %s %s\\n" "$f" "$(wc -c < "$f" | tr -d " ")"; done',
    'printf "\\n"',
    'head -c 4096 "$start"',
    'tail -c +$((pos + 1)) "$start"',
    'for f in $files; do [ "$f" = "$start" ] || cat "$f"; done',
  ].join('\n');
  const argv = ['sh', '-c', script, 'mhats-salvage', startFile, String(startPos), base, ...dirs];
  const eo = { timeoutMs, maxOutputBytes: maxBytes, remoteTimeoutSec: Math.ceil(timeoutMs / 1000), signal: opts.signal };
  const r = exec ? await exec(target, argv, eo) : await sshExec(target, argv, { ...opts, ...eo });
  if (r.code === 4) return undefined;
  if (r.code !== 0) throw new Error(`reading binlogs on ${target.host} failed (exit ${r.code ?? r.signal ?? '?'}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
  const out = r.stdoutBytes;
  const end = out.indexOf('\n\n');
  if (end < 0) throw new Error(`unexpected output from ${target.host} while reading binlogs`);
  let dir = '';
  const files: Array<{ name: string; size: number }> = [];
  for (const line of out.subarray(0, end).toString('utf8').split('\n')) {
    if (line.startsWith('D ')) dir = line.slice(2);
    else if (line.startsWith('F ')) {
      const [, name, size] = line.split(' ');
      files.push({ name: name!, size: Number(size) });
    }
  }
  const first = files.find((f) => f.name === startFile);
  if (first === undefined) throw new Error(`${startFile} vanished from ${dir} on ${target.host} while reading it`);
  let o = end + 2;
  const take = (n: number): Buffer => {
    if (o + n > out.length) throw new Error(`short read from ${target.host}: expected ${n} more bytes`);
    const b = out.subarray(o, o + n);
    o += n;
    return b;
  };
  const head = take(Math.min(4096, first.size));
  const tail = take(Math.max(0, first.size - startPos));
  const rest = files.filter((f) => f.name !== startFile).map((f) => take(f.size));
  return { dir, files, head, tail, rest };
}
