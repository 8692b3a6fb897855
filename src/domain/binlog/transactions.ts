/**
 * Transaction boundaries in an event stream. Pure state machine: feed it
 * events in order, it reports each transaction when its last event arrives.
 *
 * Rules (MySQL and MariaDB, row or statement format):
 * - A transaction starts at a GTID event (MariaDB GTID; MySQL Gtid or
 *   Anonymous_gtid), at a `BEGIN`/`XA START` Query, or at the first event of a
 *   statement group outside any transaction (Intvar/Rand/User_var before a
 *   statement, or a lone statement).
 * - MariaDB GTID without FL_STANDALONE replaces BEGIN: the group runs until
 *   Xid, a `COMMIT`/`ROLLBACK`/`XA COMMIT`/`XA ROLLBACK` Query, or XA_PREPARE.
 * - MariaDB GTID with FL_STANDALONE, and MySQL Gtid/Anonymous_gtid not followed
 *   by BEGIN: the group is one statement (DDL): it ends at that Query.
 * - `ROLLBACK TO SAVEPOINT` and `SAVEPOINT` are ordinary statements inside a
 *   transaction (they do not end it).
 * - A new GTID while a group is still open abandons the open group (a relay
 *   log after an IO-thread reconnect mid-transaction; never in a healthy
 *   binlog): it is reported, not counted.
 * - Format_description, Rotate, Stop, Heartbeat, Gtid_list, Binlog_checkpoint,
 *   Previous_gtids, Incident (and unknown types outside a transaction) are neutral: they neither start nor end a
 *   transaction (a relay log can have its own Rotate/FDE inside a
 *   transaction).
 */
import type { EventInfo, TransactionInfo } from './types.js';

export interface OpenTransaction {
  start: number;
  gtid: string | undefined;
  /** 'trx': runs until an explicit end; 'pending': one statement ends it, unless BEGIN follows. */
  mode: 'trx' | 'pending';
  standalone: boolean;
  startLogPos: number | undefined;
  eventCount: number;
}

type Role = 'gtid' | 'begin' | 'end' | 'statement' | 'body' | 'neutral' | 'unknown';

function roleOf(ev: EventInfo): Role {
  const d = ev.data;
  switch (d.kind) {
    case 'mariadb_gtid':
    case 'mysql_gtid':
      return 'gtid';
    case 'query':
      switch (d.role) {
        case 'begin':
        case 'xa_start':
          return 'begin';
        case 'commit':
        case 'rollback':
        case 'xa_commit':
        case 'xa_rollback':
          return 'end';
        case 'xa_end':
          return 'body';
        case 'statement':
          return 'statement';
      }
      return 'statement';
    case 'xid':
    case 'xa_prepare':
    case 'transaction_payload':
      return 'end';
    case 'table_map':
    case 'rows':
    case 'annotate_rows':
    case 'rows_query':
    case 'intvar':
    case 'rand':
    case 'user_var':
      return 'body';
    case 'opaque':
      // Execute_load_query is a statement; other types this reader does not know ride along
      // inside a transaction and are neutral outside one.
      return ev.header.typeCode === 18 ? 'statement' : 'unknown';
    case 'format_description':
    case 'rotate':
    case 'stop':
    case 'heartbeat':
    case 'gtid_list':
    case 'binlog_checkpoint':
    case 'previous_gtids':
    case 'incident':
      return 'neutral';
  }
}

/** The coordinate where an event starts, from its end_log_pos (undefined for artificial events). */
function startLogPosOf(ev: EventInfo): number | undefined {
  const { logPos, eventSize } = ev.header;
  return logPos !== 0 && logPos >= eventSize ? logPos - eventSize : undefined;
}

export interface TrackResult {
  completed?: TransactionInfo;
  abandoned?: OpenTransaction;
}

export class TransactionTracker {
  private cur: OpenTransaction | undefined;

  /** The transaction open after the last event fed (started, not ended). */
  get open(): OpenTransaction | undefined {
    return this.cur;
  }

  /** Drop the open transaction (its events will not be completed: e.g. re-sent after a reconnect). */
  abandon(): OpenTransaction | undefined {
    const cur = this.cur;
    this.cur = undefined;
    return cur;
  }

  feed(ev: EventInfo): TrackResult {
    const role = roleOf(ev);
    const cur = this.cur;
    switch (role) {
      case 'neutral':
        return {};
      case 'unknown':
        if (cur) cur.eventCount++;
        return {};
      case 'gtid': {
        const d = ev.data;
        const standalone = d.kind === 'mariadb_gtid' ? d.standalone : false;
        const mode = d.kind === 'mariadb_gtid' && !d.standalone ? 'trx' : 'pending';
        const gtid = d.kind === 'mariadb_gtid' || d.kind === 'mysql_gtid' ? d.gtid : undefined;
        this.cur = { start: ev.offset, gtid, mode, standalone, startLogPos: startLogPosOf(ev), eventCount: 1 };
        return cur ? { abandoned: cur } : {};
      }
      case 'begin':
        if (cur) {
          cur.eventCount++;
          cur.mode = 'trx';
        } else {
          this.cur = { start: ev.offset, gtid: undefined, mode: 'trx', standalone: false, startLogPos: startLogPosOf(ev), eventCount: 1 };
        }
        return {};
      case 'end':
        return { completed: this.close(ev, 'transaction') };
      case 'statement':
        if (cur && cur.mode === 'trx') {
          cur.eventCount++;
          return {};
        }
        return { completed: this.close(ev, 'ddl') };
      case 'body':
        if (cur) cur.eventCount++;
        else this.cur = { start: ev.offset, gtid: undefined, mode: 'pending', standalone: false, startLogPos: startLogPosOf(ev), eventCount: 1 };
        return {};
    }
  }

  /** End the open transaction (or a one-event one) with `ev`. */
  private close(ev: EventInfo, kindIfPending: 'transaction' | 'ddl'): TransactionInfo {
    const cur = this.cur ?? { start: ev.offset, gtid: undefined, mode: 'pending' as const, standalone: false, startLogPos: startLogPosOf(ev), eventCount: 0 };
    this.cur = undefined;
    const kind = cur.standalone ? 'ddl' : cur.mode === 'pending' ? kindIfPending : 'transaction';
    return {
      start: cur.start,
      end: ev.end,
      gtid: cur.gtid,
      endLogPos: ev.header.logPos,
      startLogPos: cur.startLogPos,
      kind,
      endedBy: ev.type,
      eventCount: cur.eventCount + 1,
    };
  }
}
