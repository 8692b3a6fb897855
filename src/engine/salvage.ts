/**
 * Saving the dead master's binlog (MHA's Phase 3.2): when the master's mysqld
 * died but its host answers SSH, read its binlog files from the point the
 * most advanced survivor had applied, to the end, and cut the tail at the
 * last complete transaction. The result is one binlog file (the first file's
 * magic and format description event, then the events), ready for
 * `mariadb-binlog | mariadb` on the new master.
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { listRemoteBinlogs, readRemoteFile } from '../adapters/ssh/remote-binlog.js';
import { sshOptionsFor } from '../app/check-ssh.js';
import { formatCoord } from '../domain/binlog-coord.js';
import type { BinlogCoord } from '../domain/types.js';

import type { Cutter } from '../domain/binlog-cut.js';

export type { Cutter, CutResult } from '../domain/binlog-cut.js';

export type SalvageResult =
  | { ok: true; bytes: Uint8Array | undefined; transactions: number; gtids: string[]; from: BinlogCoord; files: string[]; partial: boolean }
  | { ok: false; reason: string };

const MAGIC = [0xfe, 0x62, 0x69, 0x6e];

/** Length of magic + format description event at the start of a binlog file. */
export function headerLength(head: Uint8Array): number {
  if (head.length < 4 + 19 || !MAGIC.every((b, i) => head[i] === b)) throw new Error('not a binlog file (bad magic)');
  const type = head[4 + 4];
  if (type !== 15) throw new Error(`the first event is not a format description event (type ${type})`);
  const size = (head[4 + 9]! | (head[4 + 10]! << 8) | (head[4 + 11]! << 16) | (head[4 + 12]! << 24)) >>> 0;
  if (size < 19 || 4 + size > head.length) throw new Error('truncated format description event');
  return 4 + size;
}

export interface SalvageOptions {
  timeoutMs: number;
  /** Largest binlog tail mhats will hold in memory. */
  maxBytes?: number | undefined;
}

export async function salvageBinlog(cluster: ClusterConfig, dead: ServerConfig, from: BinlogCoord, cut: Cutter, opts: SalvageOptions): Promise<SalvageResult> {
  const { target, options } = sshOptionsFor(cluster, dead);
  const maxBytes = opts.maxBytes ?? 1024 * 1024 * 1024;
  const dirs = dead.master_binlog_dir;
  let list;
  try {
    list = await listRemoteBinlogs(target, options, dirs, from.file, opts.timeoutMs);
  } catch (err) {
    return { ok: false, reason: `cannot list ${dirs.join(', ')} on ${dead.name} over SSH: ${(err as Error).message}` };
  }
  if (list === undefined) return { ok: false, reason: `${from.file} is in none of master_binlog_dir (${dirs.join(', ')}) on ${dead.name}` };
  const parts: Uint8Array[] = [];
  try {
    let total = 0;
    for (const [i, f] of list.files.entries()) {
      const path = `${list.dir.replace(/\/$/, '')}/${f}`;
      const head = await readRemoteFile(target, options, path, { head: 4096 }, opts.timeoutMs, 4096);
      const hl = headerLength(head);
      if (i === 0) {
        if (from.pos < hl) return { ok: false, reason: `position ${formatCoord(from)} is inside the file header` };
        parts.push(head.subarray(0, hl));
        const tail = await readRemoteFile(target, options, path, { start: from.pos }, opts.timeoutMs, maxBytes - total);
        parts.push(tail);
        total += tail.length;
      } else {
        const body = await readRemoteFile(target, options, path, { start: hl }, opts.timeoutMs, maxBytes - total);
        parts.push(body);
        total += body.length;
      }
    }
  } catch (err) {
    return { ok: false, reason: `reading ${dead.name}'s binlogs over SSH failed: ${(err as Error).message}` };
  }
  const size = parts.reduce((a, p) => a + p.length, 0);
  const bytes = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  const c = cut(bytes);
  if (c.error !== undefined && c.transactions === 0) return { ok: false, reason: `the binlog saved from ${dead.name} is unreadable: ${c.error}` };
  const headerLen = headerLength(bytes);
  if (c.transactions === 0 || c.cutAt <= headerLen) return { ok: true, bytes: undefined, transactions: 0, gtids: [], from, files: list.files, partial: c.partial };
  return { ok: true, bytes: bytes.subarray(0, c.cutAt), transactions: c.transactions, gtids: c.gtids, from, files: list.files, partial: c.partial };
}
