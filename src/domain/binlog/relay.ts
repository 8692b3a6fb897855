/**
 * Relay logs: map a master coordinate (master binlog file, position) to the
 * place in the relay logs from which the master's events after that
 * coordinate start (MHA's `apply_diff_relay_logs --command=find`). Pure.
 *
 * A relay log holds, per file: the replica's own Format_description (at
 * offset 4, with the replica's server_id), then what the IO thread received
 * from the master: a Rotate naming the master's file (artificial, end_log_pos
 * 0, when the IO thread (re)connects; real, with the master's end_log_pos, when
 * the master rotated), the master's Format_description, and the master's
 * events with the MASTER's end_log_pos in their header. The replica closes a
 * relay file with its own Rotate naming the next relay file.
 *
 * Events with the replica's own server_id (that of the file's first FDE) are
 * the replica's; every other event is the master's (or, in a chain, relayed by
 * it: what matters is that its end_log_pos is in the master's file). The
 * "current master file" comes from master Rotate events; a master coordinate
 * (F, P) is "just after" the master event in F whose end_log_pos is P, or just
 * after a master Rotate to F at position P. When the same coordinate occurs
 * more than once (the IO thread re-fetched after a reconnect), the LAST
 * occurrence wins: the events after it are the stream that continues. A
 * transaction left partial by a reconnect is dropped when the new stream
 * (artificial Rotate) starts at or before its start, and continues when the
 * stream resumes where it stopped (position-based reconnect).
 */
import { readBinlog } from './reader.js';
import { TransactionTracker } from './transactions.js';
import { EventType, type BinlogError, type EventInfo } from './types.js';

export interface RelayLogFile {
  /** e.g. 'relay-bin.000004'. */
  name: string;
  bytes: Uint8Array;
}

export interface MasterCoord {
  file: string;
  pos: number;
}

export interface RelayPosition {
  /** Relay file holding the point. */
  relayFile: string;
  /** Index of that file in the list given. */
  relayIndex: number;
  /**
   * Offset in relayFile just after the master event ending at the coordinate:
   * the master's later events are everything from here to the end of the
   * relay-log sequence (minus the replica's own FDE/Rotate events).
   */
  offset: number;
  /** True when no master event follows (the replica had read nothing after the coordinate). */
  atEnd: boolean;
  /** Master events after the coordinate, across all given relay files. */
  eventsAfter: number;
}

export type RelayFindError = {
  error: string;
  code: 'no-relay-logs' | 'parse-error' | 'mid-transaction' | 'inside-event' | 'not-an-event-boundary' | 'not-reached' | 'purged' | 'file-not-found';
  /** The parse error behind code 'parse-error'. */
  parseError?: BinlogError;
};

export type RelayFindResult = RelayPosition | RelayFindError;

export function isRelayFindError(r: RelayFindResult): r is RelayFindError {
  return 'error' in r;
}

interface Candidate {
  relayIndex: number;
  offset: number;
  midTransaction: boolean;
  eventIndex: number;
}

/**
 * Find where the master's events after `master` start in the relay logs
 * (given oldest first). The coordinate must be a transaction boundary (as
 * Exec_Master_Log_Pos / Read_Master_Log_Pos of a replica between transactions
 * are); one inside a transaction, inside an event, or at no event gives a
 * clear error, as do relay logs that do not reach it or no longer hold it.
 *
 * Relay files with a parse error stop the search at the error: the part before
 * it is used if it holds the coordinate, else the error is returned.
 */
export function findMasterCoordInRelay(relay: readonly RelayLogFile[], master: MasterCoord, opts: { verifyChecksums?: boolean } = {}): RelayFindResult {
  if (relay.length === 0) return { error: 'no relay log files given', code: 'no-relay-logs' };
  const tracker = new TransactionTracker();
  let masterFile: string | undefined;
  let found: Candidate | undefined;
  let inside: { relayFile: string; start: number; end: number; type: string } | undefined;
  let masterEventIndex = 0;
  let parseError: BinlogError | undefined;
  /** Lowest and highest master coordinate seen in the target file. */
  let minInFile: number | undefined;
  let maxInFile: number | undefined;
  const filesSeen: string[] = [];

  for (let i = 0; i < relay.length && parseError === undefined; i++) {
    const f = relay[i]!;
    let ownServerId: number | undefined;
    const res = readBinlog(f.bytes, {
      fileName: f.name,
      kind: 'relay',
      keepEvents: false,
      ...(opts.verifyChecksums !== undefined ? { verifyChecksums: opts.verifyChecksums } : {}),
      onEvent: (ev: EventInfo) => {
        const own = ownServerId === undefined ? true : ev.header.serverId === ownServerId;
        if (ownServerId === undefined) ownServerId = ev.header.serverId; // the relay's own FDE at offset 4
        if (!own && ev.data.kind === 'rotate' && ev.header.logPos === 0) {
          // A new dump stream (IO thread (re)connected). If it starts at or before the open
          // transaction's start, the master re-sends that transaction: the partial copy is dropped
          // (as the SQL thread does). If it starts where the stream stopped, the transaction goes on.
          const open = tracker.open;
          if (open && (ev.data.nextFile !== masterFile || open.startLogPos === undefined || ev.data.position <= open.startLogPos)) tracker.abandon();
        }
        tracker.feed(ev);
        if (own) return;
        masterEventIndex++;
        const { logPos, eventSize } = ev.header;
        const mid = tracker.open !== undefined;
        if (masterFile === master.file && logPos !== 0) {
          if (logPos === master.pos) found = { relayIndex: i, offset: ev.end, midTransaction: mid, eventIndex: masterEventIndex };
          else if (logPos > master.pos && logPos - eventSize < master.pos) inside = { relayFile: f.name, start: logPos - eventSize, end: logPos, type: ev.type };
          const start = logPos >= eventSize ? logPos - eventSize : logPos;
          minInFile = Math.min(minInFile ?? start, start);
          maxInFile = Math.max(maxInFile ?? logPos, logPos);
        }
        if (ev.header.typeCode === EventType.ROTATE && ev.data.kind === 'rotate') {
          masterFile = ev.data.nextFile;
          if (!filesSeen.includes(masterFile)) filesSeen.push(masterFile);
          if (masterFile === master.file) {
            if (ev.data.position === master.pos) found = { relayIndex: i, offset: ev.end, midTransaction: mid, eventIndex: masterEventIndex };
            minInFile = Math.min(minInFile ?? ev.data.position, ev.data.position);
            maxInFile = Math.max(maxInFile ?? ev.data.position, ev.data.position);
          }
        }
      },
    });
    if (res.error) parseError = res.error;
  }

  const where = `${master.file}:${master.pos}`;
  if (found) {
    const f = found;
    const relayFile = relay[f.relayIndex]!.name;
    if (f.midTransaction) {
      return {
        error: `master coordinate ${where} is inside a transaction in the relay logs (${relayFile} offset ${f.offset}): it must be a transaction boundary`,
        code: 'mid-transaction',
      };
    }
    const eventsAfter = masterEventIndex - f.eventIndex;
    return { relayFile, relayIndex: f.relayIndex, offset: f.offset, atEnd: eventsAfter === 0, eventsAfter };
  }
  if (parseError) return { error: `relay logs unreadable before ${where} was found: ${parseError.message}`, code: 'parse-error', parseError };
  if (inside) {
    return {
      error: `master coordinate ${where} points inside a ${inside.type} event (master ${master.file} ${inside.start}..${inside.end}, in ${inside.relayFile}): not an event boundary`,
      code: 'inside-event',
    };
  }
  if (!filesSeen.includes(master.file)) {
    const seen = filesSeen.length > 0 ? `they hold master files ${filesSeen.join(', ')}` : 'they name no master file';
    return { error: `relay logs do not contain master file ${master.file} (${seen})`, code: 'file-not-found' };
  }
  if (maxInFile !== undefined && master.pos > maxInFile) {
    return { error: `relay logs do not reach ${where}: they end at ${master.file}:${maxInFile}`, code: 'not-reached' };
  }
  if (minInFile !== undefined && master.pos < minInFile) {
    return { error: `relay logs no longer hold ${where}: they start at ${master.file}:${minInFile} (purged, or the replica started replicating after it)`, code: 'purged' };
  }
  return { error: `master coordinate ${where} is not an event boundary in the relay logs (no master event ends there)`, code: 'not-an-event-boundary' };
}
