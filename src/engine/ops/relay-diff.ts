/**
 * Differential relay-log recovery (MHA's apply_diff_relay_logs), for
 * replication by binlog position: when survivors received different amounts
 * of the dead master's binlog, the events a lagging survivor lacks are taken
 * from the most advanced survivor's relay logs, by original master
 * coordinates, cut after the last complete transaction, and applied to the
 * lagging one. Then every survivor stands at the same logical point.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { listRemoteSeries, readRemoteFile } from '../../adapters/ssh/remote-binlog.js';
import { sshOptionsFor } from '../../adapters/ssh/targets.js';
import { formatCoord } from '../../domain/binlog-coord.js';
import { findMasterCoordInRelay, isRelayFindError } from '../../domain/binlog/relay.js';
import { lastCompleteTransactionEnd } from '../../domain/binlog/reader.js';
import type { BinlogCoord } from '../../domain/types.js';
import { concatBytes, dropGtidListEvents, headerLength } from './salvage.js';

export interface RelayDiff {
  /** A binlog file (magic, format description, the events), ready for mariadb-binlog | mariadb. */
  bytes: Uint8Array;
  transactions: number;
  gtids: string[];
}

export type RelayDiffResult = { ok: true; diff: RelayDiff | undefined } | { ok: false; reason: string };

/**
 * Reads `source`'s relay logs over SSH (from its datadir, or the directory of
 * relay_log when absolute) and builds the events after master coordinate
 * `from`, up to the last complete transaction.
 */
export async function relayDiff(cluster: ClusterConfig, source: ServerConfig, relay: { dir: string; currentFile: string }, from: BinlogCoord, opts: { timeoutMs: number; maxBytes?: number; signal?: AbortSignal | undefined }): Promise<RelayDiffResult> {
  const { target, options: sshOpts } = sshOptionsFor(cluster, source);
  const options = { ...sshOpts, signal: opts.signal };
  const maxBytes = opts.maxBytes ?? 1024 * 1024 * 1024;
  let names: string[];
  try {
    names = await listRemoteSeries(target, options, relay.dir, relay.currentFile.replace(/\.\d+$/, ''), opts.timeoutMs);
  } catch (err) {
    return { ok: false, reason: `cannot list ${source.name}'s relay logs in ${relay.dir}: ${(err as Error).message}` };
  }
  if (!names.includes(relay.currentFile)) return { ok: false, reason: `${source.name}'s relay log ${relay.currentFile} is not in ${relay.dir}` };
  const files: Array<{ name: string; bytes: Uint8Array }> = [];
  let total = 0;
  try {
    for (const f of names) {
      const b = await readRemoteFile(target, options, `${relay.dir.replace(/\/$/, '')}/${f}`, { start: 0 }, opts.timeoutMs, maxBytes - total);
      total += b.length;
      files.push({ name: f, bytes: b });
    }
  } catch (err) {
    return { ok: false, reason: `reading ${source.name}'s relay logs over SSH failed: ${(err as Error).message}` };
  }
  const at = findMasterCoordInRelay(files, from);
  if (isRelayFindError(at)) return { ok: false, reason: `${formatCoord(from)} in ${source.name}'s relay logs: ${at.error}` };
  if (at.atEnd) return { ok: true, diff: undefined };
  // The relay file's header, then the events after the coordinate, then the later relay files' events.
  const parts: Uint8Array[] = [];
  const firstFile = files[at.relayIndex]!;
  parts.push(firstFile.bytes.subarray(0, headerLength(firstFile.bytes)));
  parts.push(firstFile.bytes.subarray(at.offset));
  for (const f of files.slice(at.relayIndex + 1)) parts.push(dropGtidListEvents(f.bytes.subarray(headerLength(f.bytes))));
  const bytes = concatBytes(parts);
  const gtids: string[] = [];
  const cut = lastCompleteTransactionEnd(bytes, {
    kind: 'relay',
    checkLogPos: false,
    onTransaction: (t) => {
      if (t.gtid !== undefined && t.gtid !== 'ANONYMOUS') gtids.push(t.gtid);
    },
  });
  if (cut.error !== undefined && cut.transactions === 0) return { ok: false, reason: `${source.name}'s relay logs are unreadable after ${formatCoord(from)}: ${cut.error.message}` };
  if (cut.transactions === 0) return { ok: true, diff: undefined };
  return { ok: true, diff: { bytes: bytes.subarray(0, cut.offset), transactions: cut.transactions, gtids } };
}
