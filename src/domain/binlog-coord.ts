/**
 * Binlog coordinates (file, position). Pure.
 *
 * File names are ordered by their numeric suffix, never as strings: after
 * mysql-bin.999999 comes mysql-bin.1000000, which sorts lower as a string
 * (MHA's issue: it compared names with `gt`).
 */
import type { BinlogCoord } from './types.js';

/** 'mysql-bin.000123' → 123. Throws when the name has no numeric extension. */
export function binlogFileIndex(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  if (m?.[1] === undefined) throw new Error(`binlog file name ${JSON.stringify(file)} has no numeric suffix (expected e.g. mysql-bin.000123)`);
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n)) throw new Error(`binlog file index of ${JSON.stringify(file)} is too large`);
  return n;
}

/** 'mysql-bin.000123' → 'mysql-bin'. */
export function binlogBasename(file: string): string {
  const m = /^(.*)\.\d+$/.exec(file);
  if (m?.[1] === undefined) throw new Error(`binlog file name ${JSON.stringify(file)} has no numeric suffix`);
  return m[1];
}

/**
 * Orders by numeric file index, then position. Coordinates with different basenames (a server
 * whose log_bin name changed, or coordinates of two different servers) are still compared by
 * index and position only: the caller must only compare coordinates in the SAME server's binlog
 * (e.g. Read_Master_Log_Pos of replicas of one source) for the answer to mean anything.
 * An EMPTY file name (a replica that has read nothing yet: MariaDB shows Master_Log_File '' after
 * CHANGE MASTER in GTID mode) sorts before every named file. Other names without a numeric
 * suffix throw.
 */
export function compareCoords(a: BinlogCoord, b: BinlogCoord): -1 | 0 | 1 {
  const ia = a.file === '' ? -1 : binlogFileIndex(a.file);
  const ib = b.file === '' ? -1 : binlogFileIndex(b.file);
  if (ia !== ib) return ia < ib ? -1 : 1;
  if (a.pos !== b.pos) return a.pos < b.pos ? -1 : 1;
  return 0;
}

/** True when both coordinates name the same binlog basename (same series of files). */
export function sameBinlogSeries(a: BinlogCoord, b: BinlogCoord): boolean {
  return binlogBasename(a.file) === binlogBasename(b.file);
}

/** The most advanced coordinate; the first of equals. undefined for an empty list. */
export function maxCoord(coords: readonly BinlogCoord[]): BinlogCoord | undefined {
  let best: BinlogCoord | undefined;
  for (const c of coords) if (best === undefined || compareCoords(c, best) > 0) best = c;
  return best;
}

/** The least advanced coordinate; the first of equals. undefined for an empty list. */
export function minCoord(coords: readonly BinlogCoord[]): BinlogCoord | undefined {
  let best: BinlogCoord | undefined;
  for (const c of coords) if (best === undefined || compareCoords(c, best) < 0) best = c;
  return best;
}

/** 'mysql-bin.000123:4567'. Never throws (an empty file name prints as ':0'). */
export function formatCoord(c: BinlogCoord): string {
  return `${c.file}:${c.pos}`;
}

/** Inverse of formatCoord: 'mysql-bin.000123:4567'. Splits at the LAST colon. */
export function parseCoord(s: string): BinlogCoord {
  const t = s.trim();
  const i = t.lastIndexOf(':');
  if (i <= 0) throw new Error(`cannot parse binlog coordinate ${JSON.stringify(s)}: expected FILE:POS`);
  const file = t.slice(0, i);
  const posText = t.slice(i + 1);
  if (!/^\d+$/.test(posText)) throw new Error(`cannot parse binlog coordinate ${JSON.stringify(s)}: position is not a number`);
  const pos = Number(posText);
  if (!Number.isSafeInteger(pos)) throw new Error(`binlog position in ${JSON.stringify(s)} is too large`);
  binlogFileIndex(file);
  return { file, pos };
}
