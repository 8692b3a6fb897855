/**
 * Saving the dead master's binlog (MHA's Phase 3.2): when the master's mysqld
 * died but its host answers SSH, read its binlog files from the point the
 * most advanced survivor had applied, to the end, and cut the tail at the
 * last complete transaction. The result is one binlog file (the first file's
 * magic and format description event, then the events), ready for
 * `mariadb-binlog | mariadb` on the new master.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { readRemoteTail, type RemoteExec } from '../../adapters/ssh/remote-binlog.js';
import type { SshPool } from '../../adapters/ssh/session.js';
import { sshOptionsFor } from '../../adapters/ssh/targets.js';
import { formatCoord } from '../../domain/binlog-coord.js';
import type { BinlogCoord } from '../../domain/types.js';

import type { Cutter } from '../../domain/binlog-cut.js';

export type { Cutter, CutResult } from '../../domain/binlog-cut.js';

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

const GTID_LIST_EVENT = 163;

/** The parts one after the other, in a new array of their own. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Drops MariaDB Gtid_list events (they declare the GTID state at the head of
 * each binlog file and carry no transaction) from a run of whole events.
 * Spliced files need this: mariadb-binlog checks the declared state against
 * what came before and refuses a tail that starts mid-history. A truncated
 * last event is kept as it is (the cut happens later).
 */
export function dropGtidListEvents(events: Uint8Array): Uint8Array {
  const keep: Array<[number, number]> = [];
  let p = 0;
  while (p + 19 <= events.length) {
    const size = (events[p + 9]! | (events[p + 10]! << 8) | (events[p + 11]! << 16) | (events[p + 12]! << 24)) >>> 0;
    if (size < 19 || p + size > events.length) break;
    if (events[p + 4] !== GTID_LIST_EVENT) keep.push([p, p + size]);
    p += size;
  }
  if (p < events.length) keep.push([p, events.length]);
  const out = new Uint8Array(keep.reduce((a, [x, y]) => a + (y - x), 0));
  let o = 0;
  for (const [x, y] of keep) {
    out.set(events.subarray(x, y), o);
    o += y - x;
  }
  return out;
}

export interface SalvageOptions {
  timeoutMs: number;
  /** Largest binlog tail mhats will hold in memory. */
  maxBytes?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The manager's kept SSH sessions: the read runs on a new channel of the host's session, with no handshake. */
  pool?: SshPool | undefined;
}

export async function salvageBinlog(cluster: ClusterConfig, dead: ServerConfig, from: BinlogCoord, cut: Cutter, opts: SalvageOptions): Promise<SalvageResult> {
  const { target, options: sshOpts } = sshOptionsFor(cluster, dead);
  const options = { ...sshOpts, signal: opts.signal };
  const maxBytes = opts.maxBytes ?? 1024 * 1024 * 1024;
  const dirs = dead.master_binlog_dir;
  let remote;
  try {
    const pool = opts.pool;
    const exec: RemoteExec | undefined = pool && pool.has(target) ? (t, argv, o) => pool.exec(t, sshOpts, argv, o) : undefined;
    remote = await readRemoteTail(target, options, dirs, from.file, from.pos, opts.timeoutMs, maxBytes, exec);
  } catch (err) {
    return { ok: false, reason: `reading ${dead.name}'s binlogs over SSH failed: ${(err as Error).message}` };
  }
  if (remote === undefined) return { ok: false, reason: `${from.file} is in none of master_binlog_dir (${dirs.join(', ')}) on ${dead.name}` };
  const parts: Uint8Array[] = [];
  try {
    const hl = headerLength(remote.head);
    if (from.pos < hl) return { ok: false, reason: `position ${formatCoord(from)} is inside the file header` };
    parts.push(remote.head.subarray(0, hl), remote.tail);
    for (const body of remote.rest) parts.push(dropGtidListEvents(body.subarray(headerLength(body.subarray(0, 4096)))));
  } catch (err) {
    return { ok: false, reason: `${dead.name}'s binlog files are not readable binlogs: ${(err as Error).message}` };
  }
  const list = { files: remote.files.map((f) => f.name) };
  const bytes = concatBytes(parts);
  const c = cut(bytes);
  if (c.error !== undefined && c.transactions === 0) return { ok: false, reason: `the binlog saved from ${dead.name} is unreadable: ${c.error}` };
  const headerLen = headerLength(bytes);
  if (c.transactions === 0 || c.cutAt <= headerLen) return { ok: true, bytes: undefined, transactions: 0, gtids: [], from, files: list.files, partial: c.partial };
  return { ok: true, bytes: bytes.subarray(0, c.cutAt), transactions: c.transactions, gtids: c.gtids, from, files: list.files, partial: c.partial };
}
