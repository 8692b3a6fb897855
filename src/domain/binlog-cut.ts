/**
 * Where to cut a binlog saved from a dead master (pure): after its last
 * complete transaction, so a transaction the master was writing when it died
 * (never committed, never acknowledged) is never applied.
 */
import { lastCompleteTransactionEnd } from './binlog/reader.js';

export interface CutResult {
  /** Byte offset just after the last complete transaction (the whole data when it ends cleanly). */
  cutAt: number;
  /** Complete transactions before cutAt. */
  transactions: number;
  /** Their GTIDs, where the flavour writes them. */
  gtids: string[];
  /** True when an incomplete transaction or a truncated event was cut off. */
  partial: boolean;
  /** Why the data stops being a binlog, if it does. */
  error?: string | undefined;
}

export type Cutter = (bytes: Uint8Array) => CutResult;

/** For a file assembled from a binlog's header and a tail of it (and of later files): end_log_pos is not checked. */
export const cutSavedBinlog: Cutter = (bytes) => {
  const gtids: string[] = [];
  const c = lastCompleteTransactionEnd(bytes, {
    checkLogPos: false,
    onTransaction: (t) => {
      if (t.gtid !== undefined && t.gtid !== 'ANONYMOUS') gtids.push(t.gtid);
    },
  });
  return { cutAt: c.offset, transactions: c.transactions, gtids, partial: c.partialFrom !== undefined, error: c.error?.message };
};
