/**
 * Reading a whole binlog or relay-log file (or a chunked stream of one):
 * events, transactions, where it breaks, and where to cut it. Pure.
 */
import { BINLOG_MAGIC, decodeEvent, hasMagic, makeError, type DecodeContext } from './decode.js';
import { TransactionTracker, type OpenTransaction } from './transactions.js';
import type { BinlogError, EventInfo, FormatDescription, TransactionInfo } from './types.js';

export interface ReadOptions {
  /** Named in errors ('mysql-bin.000042 at offset 1234: ...'). */
  fileName?: string;
  /** Verify the CRC32 of every event when the binlog has checksums (default true). */
  verifyChecksums?: boolean;
  /**
   * 'binlog' (default): a server's own binlog, where every event's end_log_pos
   * must equal its end offset (a strong check against garbage when checksums
   * are off). 'relay': a relay log, whose events carry the MASTER's
   * end_log_pos, so it is not checked.
   */
  kind?: 'binlog' | 'relay';
  /** Override the end_log_pos check chosen by `kind` (e.g. false for spliced files). */
  checkLogPos?: boolean;
  /**
   * Read a slice of a file that starts at an event boundary past the header:
   * give the FDE in force (from reading the file's head) and the file offset of
   * the slice's first byte. Without `fde`, the data must start with the magic.
   */
  fde?: FormatDescription;
  startOffset?: number;
  /** Keep every EventInfo in the result (default true). Set false for big files. */
  keepEvents?: boolean;
  /** Called for every event, in order (also when keepEvents is false). */
  onEvent?: (ev: EventInfo) => void;
  /** Called for every complete transaction, in order. */
  onTransaction?: (trx: TransactionInfo) => void;
}

export interface BinlogReadResult {
  fileName: string | undefined;
  /** The file's own (first) Format_description event; undefined if it could not be read. */
  fde: FormatDescription | undefined;
  /** Every well-formed event, in order (empty when keepEvents is false). */
  events: EventInfo[];
  eventCount: number;
  /** Every complete transaction, in order. */
  transactions: TransactionInfo[];
  /** A transaction that started and did not end before the data (or the valid part of it) ran out. */
  openTransaction: OpenTransaction | undefined;
  /** Transactions cut short by a new GTID (a relay log after an IO-thread reconnect). */
  abandoned: OpenTransaction[];
  /** File offset just after the last well-formed event (after the magic if none). */
  validEnd: number;
  /** File offset just after the last byte given. */
  size: number;
  /** Where and why the data stops being a binlog. */
  error: BinlogError | undefined;
  /** True when there is no error: the data is whole events from start to end (it may still end inside a transaction). */
  complete: boolean;
}

/**
 * Incremental reader: push() chunks of a file in order, then finish(). Buffers
 * only the bytes of one incomplete event between pushes. Never throws.
 */
export class BinlogStreamReader {
  private readonly ctx: DecodeContext;
  private readonly keep: boolean;
  private readonly onEvent: ((ev: EventInfo) => void) | undefined;
  private readonly onTransaction: ((trx: TransactionInfo) => void) | undefined;
  private readonly tracker = new TransactionTracker();
  private chunks: Uint8Array[] = [];
  private pendingLen = 0;
  /** Bytes (from the first pending byte) needed before decoding can go on. */
  private need: number;
  /** File offset of the first pending byte. */
  private offset: number;
  private expectMagic: boolean;
  private failed: BinlogError | undefined;
  private firstFde: FormatDescription | undefined;
  private readonly events: EventInfo[] = [];
  private readonly transactions: TransactionInfo[] = [];
  private readonly abandoned: OpenTransaction[] = [];
  private eventCount = 0;
  private total = 0;

  constructor(private readonly opts: ReadOptions = {}) {
    const kind = opts.kind ?? 'binlog';
    this.ctx = {
      fde: opts.fde,
      verifyChecksums: opts.verifyChecksums ?? true,
      checkLogPos: opts.checkLogPos ?? kind === 'binlog',
      file: opts.fileName,
    };
    this.keep = opts.keepEvents ?? true;
    this.onEvent = opts.onEvent;
    this.onTransaction = opts.onTransaction;
    this.offset = opts.startOffset ?? 0;
    this.expectMagic = opts.fde === undefined;
    this.need = this.expectMagic ? BINLOG_MAGIC.length : 19;
    this.firstFde = opts.fde;
  }

  /** The error that stopped reading, if any. */
  get error(): BinlogError | undefined {
    return this.failed;
  }

  /** File offset just after the last well-formed event. */
  get validEnd(): number {
    return this.offset;
  }

  /** The FDE in force. */
  get formatDescription(): FormatDescription | undefined {
    return this.ctx.fde;
  }

  /** The transaction open after the last complete event. */
  get openTransaction(): OpenTransaction | undefined {
    return this.tracker.open;
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.pendingLen += chunk.length;
    if (this.pendingLen < this.need) return;
    const buf = this.chunks.length === 1 ? chunk : concat(this.chunks, this.pendingLen);
    let p = 0;
    if (this.expectMagic) {
      if (!hasMagic(buf)) {
        this.fail(makeError('bad-magic', this.offset, this.ctx.file, `not a binlog: the file starts with ${hexBytes(buf.subarray(0, 4))}, expected fe 62 69 6e ("\\xfebin")`));
        return;
      }
      p = 4;
      this.expectMagic = false;
    }
    for (;;) {
      const out = decodeEvent(buf, p, buf.length, this.offset + p, this.ctx);
      if (out.status === 'need-more') {
        this.need = out.need;
        break;
      }
      if (out.status === 'error') {
        this.offset += p;
        this.fail(out.error);
        return;
      }
      const ev = out.event;
      p += ev.header.eventSize;
      this.accept(ev);
    }
    this.offset += p;
    const rest = buf.length - p;
    this.chunks = rest > 0 ? [buf.slice(p)] : [];
    this.pendingLen = rest;
  }

  private accept(ev: EventInfo): void {
    if (ev.data.kind === 'format_description') {
      this.ctx.fde = ev.data.fde;
      this.firstFde ??= ev.data.fde;
    }
    this.eventCount++;
    if (this.keep) this.events.push(ev);
    this.onEvent?.(ev);
    const r = this.tracker.feed(ev);
    if (r.abandoned) this.abandoned.push(r.abandoned);
    if (r.completed) {
      this.transactions.push(r.completed);
      this.onTransaction?.(r.completed);
    }
  }

  private fail(e: BinlogError): void {
    this.failed = e;
    this.chunks = [];
  }

  /** No more data: report what was read and, if the data does not end at an event boundary, where it breaks. */
  finish(): BinlogReadResult {
    const size = (this.opts.startOffset ?? 0) + this.total;
    if (!this.failed) {
      const left = this.pendingLen;
      if (this.expectMagic) {
        this.fail(makeError('bad-magic', this.offset, this.ctx.file, left === 0 ? 'empty: no binlog magic' : `only ${left} bytes: too short for the binlog magic`));
      } else if (left > 0) {
        this.fail(
          left < 19
            ? makeError('truncated-header', this.offset, this.ctx.file, `data ends ${left} bytes into an event header (19 bytes): truncated file`)
            : makeError('truncated-event', this.offset, this.ctx.file, `event declares ${this.need} bytes but only ${left} remain: truncated file`),
        );
      } else if (this.ctx.fde === undefined) {
        this.fail(makeError('missing-format-description', this.offset, this.ctx.file, 'data ends after the magic: no Format_description event'));
      }
    }
    return {
      fileName: this.opts.fileName,
      fde: this.firstFde,
      events: this.events,
      eventCount: this.eventCount,
      transactions: this.transactions,
      openTransaction: this.tracker.open,
      abandoned: this.abandoned,
      validEnd: this.offset,
      size,
      error: this.failed,
      complete: this.failed === undefined,
    };
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

function hexBytes(b: Uint8Array): string {
  return b.length === 0 ? '(nothing)' : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Read a whole binlog or relay-log file held in memory. Never throws: a
 * truncated, garbage or corrupt file gives the events up to the break and an
 * `error` saying where (file, offset) and what.
 */
export function readBinlog(bytes: Uint8Array, opts: ReadOptions = {}): BinlogReadResult {
  const r = new BinlogStreamReader(opts);
  r.push(bytes);
  return r.finish();
}

export interface CutPoint {
  /**
   * Cut the data here: bytes [start, offset) are well-formed events and whole
   * transactions only. Equal to the end of the data when nothing is partial.
   */
  offset: number;
  /** Set when bytes after `offset` must be dropped (equal to `offset`). */
  partialFrom?: number;
  /** What lies after the cut: a partial transaction (with its GTID), a truncated event, corruption. */
  reason?: string;
  /** The last complete transaction before the cut. */
  lastTransaction?: TransactionInfo;
  /** Number of complete transactions before the cut. */
  transactions: number;
  /** The parse error behind the cut, if any. */
  error?: BinlogError;
}

/**
 * Where to cut a binlog that may end mid-event or mid-transaction (a master
 * that crashed during a write), so that a partial transaction is never
 * applied. Trailing neutral events (Rotate, Stop, ...) after the last
 * transaction are kept.
 */
export function lastCompleteTransactionEnd(bytes: Uint8Array, opts: Omit<ReadOptions, 'keepEvents'> = {}): CutPoint {
  let last: TransactionInfo | undefined;
  const r = readBinlog(bytes, {
    ...opts,
    keepEvents: false,
    onTransaction: (t) => {
      last = t;
      opts.onTransaction?.(t);
    },
  });
  const base = {
    transactions: r.transactions.length,
    ...(last ? { lastTransaction: last } : {}),
    ...(r.error ? { error: r.error } : {}),
  };
  const open = r.openTransaction;
  if (open) {
    const what = `a partial transaction${open.gtid !== undefined ? ` (GTID ${open.gtid})` : ''} starts at offset ${open.start} and never ends`;
    const why = r.error ? `${what}: ${r.error.message}` : `${what} (the data ends inside it)`;
    return { ...base, offset: open.start, partialFrom: open.start, reason: why };
  }
  if (r.error) {
    return { ...base, offset: r.validEnd, partialFrom: r.validEnd, reason: r.error.message };
  }
  return { ...base, offset: r.validEnd };
}
