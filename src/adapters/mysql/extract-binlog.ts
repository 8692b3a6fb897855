/**
 * Extracts a range of a server's binlog into a file a DBA can review (and
 * re-apply by hand): `mariadb-binlog --read-from-remote-server --verbose`
 * (or mysqlbinlog), from MHA's client_bindir when set. The output holds the
 * events as BINLOG statements plus their rows decoded as comments (### INSERT
 * INTO ...). The password goes into a private --defaults-extra-file, never
 * into process arguments; the temporary directory is removed afterwards.
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DbTarget } from './connection.js';
import { cnfValue, findTool } from './client-tools.js';
import type { BinlogCoord } from '../../domain/types.js';

export interface ExtractOptions {
  clientBindir?: string | undefined;
  timeoutMs: number;
}

/**
 * Writes the events from `from` to `to` (files in between read whole; `files` lists them in order,
 * the first being from.file and the last to.file) into `out` (mode 0600). Returns its size.
 */
export async function extractBinlogRange(source: DbTarget, files: string[], from: BinlogCoord, to: BinlogCoord, out: string, opts: ExtractOptions): Promise<{ bytes: number; tool: string }> {
  if (files[0] !== from.file || files[files.length - 1] !== to.file) throw new Error(`the file list (${files.join(', ')}) must run from ${from.file} to ${to.file}`);
  const tool = await findTool(['mariadb-binlog', 'mysqlbinlog'], opts.clientBindir);
  const dir = await mkdtemp(join(tmpdir(), 'mhats-extract-'));
  try {
    const cnf = join(dir, 'client.cnf');
    await writeFile(cnf, `[client]\nuser=${cnfValue(source.user)}\npassword=${cnfValue(source.password.reveal())}\nhost=${cnfValue(source.host)}\nport=${source.port}\n`, { mode: 0o600 });
    await mkdir(dirname(out), { recursive: true, mode: 0o750 });
    await writeFile(out, '', { mode: 0o600 });
    await chmod(out, 0o600);
    const r = await execa(tool, [`--defaults-extra-file=${cnf}`, '--read-from-remote-server', '--verbose', `--start-position=${from.pos}`, `--stop-position=${to.pos}`, ...files], {
      timeout: opts.timeoutMs,
      reject: false,
      stdin: 'ignore',
      stdout: { file: out },
      stderr: 'pipe',
    });
    if (r.timedOut || r.exitCode !== 0) throw new Error(`${tool} failed${r.timedOut ? ` (no end within ${opts.timeoutMs} ms)` : ''}: ${String(r.stderr).split('\n').slice(-3).join(' | ') || `exit ${r.exitCode ?? '?'}`}`);
    return { bytes: (await stat(out)).size, tool };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
