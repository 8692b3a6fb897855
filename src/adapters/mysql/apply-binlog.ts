/**
 * Applies binlog events to a server with the client tools, as MHA does:
 * `mariadb-binlog FILE | mariadb --binary-mode` (or mysqlbinlog | mysql),
 * from MHA's client_bindir when configured. The password goes into a
 * --defaults-extra-file readable only by us, never into process arguments,
 * and every temporary file is removed afterwards.
 */
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DbTarget } from './connection.js';
import { cnfValue, findTool } from './client-tools.js';

export interface ApplyOptions {
  /** MHA's client_bindir: where mysqlbinlog/mariadb-binlog and mysql/mariadb are. */
  clientBindir?: string | undefined;
  timeoutMs: number;
  /** Aborting kills both processes: the client's connection drops and its open transaction rolls back. */
  signal?: AbortSignal | undefined;
}

export async function applyBinlog(bytes: Uint8Array, target: DbTarget, opts: ApplyOptions): Promise<{ stderr: string; durationMs: number }> {
  const t0 = performance.now();
  const binlogTool = await findTool(['mariadb-binlog', 'mysqlbinlog'], opts.clientBindir);
  const client = await findTool(['mariadb', 'mysql'], opts.clientBindir);
  const dir = await mkdtemp(join(tmpdir(), 'mhats-apply-'));
  try {
    const file = join(dir, 'salvaged.binlog');
    const cnf = join(dir, 'client.cnf');
    await writeFile(file, bytes, { mode: 0o600 });
    await writeFile(cnf, `[client]\nuser=${cnfValue(target.user)}\npassword=${cnfValue(target.password.reveal())}\nhost=${cnfValue(target.host)}\nport=${target.port}\n`, { mode: 0o600 });
    const cancel = opts.signal ? { cancelSignal: opts.signal } : {};
    const r = await execa(binlogTool, [file], { timeout: opts.timeoutMs, reject: false, stdin: 'ignore', stderr: 'pipe', ...cancel }).pipe(client, [`--defaults-extra-file=${cnf}`, '--binary-mode', '--batch'], { timeout: opts.timeoutMs, reject: false, stderr: 'pipe', ...cancel });
    opts.signal?.throwIfAborted();
    const stderr = [r.stderr, ...(r.pipedFrom.map((p) => p.stderr))].filter((x): x is string => typeof x === 'string' && x !== '').join('\n');
    const bad = r.timedOut || r.pipedFrom.some((p) => p.timedOut) || r.exitCode !== 0 || r.pipedFrom.some((p) => p.exitCode !== 0);
    if (bad) throw new Error(`applying the salvaged binlog to ${target.name} failed${r.timedOut ? ' (timed out)' : ''}: ${stderr.split('\n').slice(-3).join(' | ') || `exit ${r.exitCode ?? '?'}`}`);
    return { stderr, durationMs: Math.round(performance.now() - t0) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
