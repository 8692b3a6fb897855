/**
 * Two gray failures in the middle of a failover, decided here (pure); the
 * executor (src/engine/failover.ts) observes, asks, and does what it is told.
 *
 * 1. A survivor whose IO thread could not be stopped in Phase 2 (afterIoStop).
 *    - It no longer answers (killed, crashed, its host gone): it receives
 *      nothing from anyone now, so its position cannot move. It is left out,
 *      named as not recovered, and the failover goes on with the others (the
 *      next candidate, or a refusal when none is complete).
 *    - It answers and its IO thread is stopped after all (the stop raced an
 *      error): nothing to do.
 *    - It answers and its IO thread still runs: its position is not frozen.
 *      MHA aborts here unless the slave has ignore_fail; so do we.
 *    MHA's order is kept either way: the IO stops run, the old master is
 *    fenced and the stop hooks (master_ip_failover_script stop/stopssh,
 *    shutdown_script) run, and only then is the failover aborted: a failover
 *    that got into Phase 2 always ran the stop hooks it owes.
 *
 * 2. The old master answers again right before the new master takes writes
 *    (onOldMasterReturned). systemd restarts a crashed mysqld, possibly
 *    writable, and the applications (or a writer going to it directly) may
 *    have written to it. It has just been fenced again (read_only, sessions
 *    killed). Then:
 *    - it holds nothing the new master lacks: promote;
 *    - by GTID it holds more (writes acknowledged after its restart, or a
 *      tail nobody saved): those writes must not be lost, and the cluster must
 *      not be left without a master. The new master is brought level FROM the
 *      fenced old master (replicate from it by GTID until it holds what the old
 *      master holds, under a deadline), then the old master is checked again;
 *      at most `maxCatchUps` rounds, since a fenced server should not move;
 *    - without GTIDs (binlog positions) its binlog moved past where it ended
 *      for the failover: the writes cannot be matched to the new master's
 *      binlog automatically;
 *    - a catch-up failed (deadline, replication error) or the rounds ran out.
 *    The last two are refusals, before anything is writable: every server
 *    stays read-only, and the old master fenced (it is demoted). The reason
 *    says loudly what to run: the old master has the most complete data, so
 *    either make it writable again (the failover is abandoned; the replicas,
 *    whose IO threads are restarted, still follow it), or bring the chosen
 *    candidate level with it and fail over to it with --new-master.
 *    Never: promote a master that lacks acknowledged writes, or leave two
 *    writable masters.
 *
 * 3. After such a catch-up, the other replicas (othersAfterCatchUp). The new
 *    master took the old master's new writes by replication: with
 *    log_slave_updates=OFF (MariaDB's default) they are not in its binlog, so
 *    no replica could get them from it; and the catch-up discarded its relay
 *    logs, which the plan's relay-log diffs may read. The fenced old master
 *    holds everything any survivor holds, so each other replica is brought
 *    level from it the same way, then only repointed (at the new master's
 *    position once everything went in). Delayed replicas are not caught up
 *    there (their backlog would hold up the promotion): without log_slave_updates on the new
 *    master they would lack those writes, so they are left out (not repointed
 *    as if level), named as not recovered with what to run: outcome partial.
 */
import { compareCoords, binlogFileIndex, formatCoord } from '../binlog-coord.js';
import { gtidContains } from '../gtid.js';
import type { BinlogCoord, Flavor } from '../types.js';
import type { ReplicaPlan, Step } from './plan.js';

// ---------------------------------------------------------------- 1. Phase 2 IO stops

export interface IoStopFailure {
  server: string;
  /** Why the stop failed. */
  reason: string;
  /** Probed after the failure: did it answer SQL, and is its IO thread still running ('Yes' | 'No' | 'Connecting')? */
  answers: boolean;
  ioRunning?: string | undefined;
  /** MHA's ignore_fail for this server. */
  ignoreFail: boolean;
}

export interface AfterIoStop {
  /** Left out of the failover, named as not recovered. */
  leaveOut: Array<{ server: string; reason: string }>;
  /** Abort the failover (after the stop hooks): why. */
  abort?: string | undefined;
}

export function afterIoStop(failures: readonly IoStopFailure[]): AfterIoStop {
  const leaveOut: AfterIoStop['leaveOut'] = [];
  const fatal: string[] = [];
  for (const f of failures) {
    if (!f.answers) leaveOut.push({ server: f.server, reason: `it stopped answering during the failover (${f.reason}): it receives nothing now; recover it by hand when it is back` });
    else if (f.ioRunning === 'No') continue;
    else if (f.ignoreFail) leaveOut.push({ server: f.server, reason: `its IO thread could not be stopped (${f.reason}; ignore_fail): left out` });
    else fatal.push(`${f.server}: ${f.reason} (IO thread ${f.ioRunning ?? '?'})`);
  }
  return fatal.length > 0 ? { leaveOut, abort: `could not stop the IO threads: ${fatal.join('; ')}` } : { leaveOut };
}

// ---------------------------------------------------------------- 2. the old master returns

export interface ReturnedInput {
  oldMaster: string;
  newMaster: string;
  flavor: Flavor | undefined;
  /** The old master's fence right now: it does not answer, or it answered and is fenced (read_only, sessions killed). */
  state: 'unreachable' | 'fenced';
  /** What the fenced old master holds (GTID position/set; '' without GTIDs), and its binlog position. */
  oldHolds: string;
  oldCoord?: BinlogCoord | undefined;
  /** What the new master holds now ('' without GTIDs). */
  newMasterHolds: string;
  /** Without GTIDs: where the old master's binlog ended for this failover (saved or replicated); undefined: not known. */
  knownEnd?: BinlogCoord | undefined;
  /** Catch-ups from the old master done so far, and the last one's failure. */
  catchUps: number;
  maxCatchUps: number;
  catchUpFailed?: string | undefined;
}

export type ReturnedVerdict =
  | { action: 'promote'; detail: string }
  | { action: 'catch_up'; source: string; upTo: string; detail: string }
  | { action: 'refuse'; reason: string };

/** A binlog file just opened by a restart holds only its header events (format description, previous GTIDs). */
export const FRESH_BINLOG_BYTES = 512;

function refusal(i: ReturnedInput, why: string): ReturnedVerdict {
  return {
    action: 'refuse',
    reason:
      `${i.oldMaster} came back during the failover ${why}: not promoting ${i.newMaster}. Every server stays read-only and ${i.oldMaster} fenced (read_only); ` +
      `${i.oldMaster} has the most complete data. Either make it the master again (SET GLOBAL read_only=OFF on ${i.oldMaster}; the replicas still follow it), ` +
      `or bring ${i.newMaster} level with it and run: mhats failover --new-master ${i.newMaster}`,
  };
}

export function onOldMasterReturned(i: ReturnedInput): ReturnedVerdict {
  if (i.state === 'unreachable') return { action: 'promote', detail: `${i.oldMaster} still does not answer` };
  if (i.catchUpFailed !== undefined) return refusal(i, `holding transactions ${i.newMaster} lacks, and ${i.newMaster} could not be brought level with it (${i.catchUpFailed})`);
  if (i.oldHolds !== '' && i.newMasterHolds !== '' && i.flavor !== undefined) {
    if (gtidContains(i.flavor, i.newMasterHolds, i.oldHolds)) return { action: 'promote', detail: `${i.oldMaster} answered again and is fenced; it holds nothing ${i.newMaster} lacks (${i.oldHolds})` };
    if (i.catchUps >= i.maxCatchUps) return refusal(i, `and still took transactions after ${i.catchUps} catch-up(s) while fenced (it holds ${i.oldHolds}; ${i.newMaster} ${i.newMasterHolds})`);
    return { action: 'catch_up', source: i.oldMaster, upTo: i.oldHolds, detail: `${i.oldMaster} came back during the failover holding transactions ${i.newMaster} lacks (it holds ${i.oldHolds}; ${i.newMaster} ${i.newMasterHolds}), writes it acknowledged after its restart: it is fenced; bringing ${i.newMaster} level from it by GTID before promoting` };
  }
  if (i.oldCoord !== undefined && i.knownEnd !== undefined && compareCoords(i.oldCoord, i.knownEnd) > 0) {
    const fresh = i.oldCoord.file !== i.knownEnd.file && binlogFileIndex(i.oldCoord.file) === binlogFileIndex(i.knownEnd.file) + 1 && i.oldCoord.pos <= FRESH_BINLOG_BYTES;
    if (!fresh) return refusal(i, `and its binlog moved past ${formatCoord(i.knownEnd)} to ${formatCoord(i.oldCoord)} (binlog positions, no GTIDs: the new transactions cannot be matched automatically)`);
  }
  return { action: 'promote', detail: `${i.oldMaster} answered again and is fenced; its binlog holds nothing ${i.newMaster} lacks` };
}

// ---------------------------------------------------------------- 3. the other replicas after a catch-up

export interface OthersAfterCatchUp {
  /** Brought level from the old master, like the new master. */
  catchUp: string[];
  /** Delayed replicas that would lack the old master's new writes: left out, not recovered, with this reason. */
  leaveOut: string[];
  reason?: string | undefined;
}

export function othersAfterCatchUp(i: { oldMaster: string; newMaster: string; newMasterLogsReplicated: boolean; upTo: string; replicas: readonly Pick<ReplicaPlan, 'name' | 'deferred' | 'delay'>[] }): OthersAfterCatchUp {
  const catchUp = i.replicas.filter((r) => !r.deferred && r.delay === 0).map((r) => r.name);
  const delayed = i.replicas.filter((r) => r.deferred || r.delay > 0).map((r) => r.name);
  if (delayed.length === 0 || i.newMasterLogsReplicated) return { catchUp, leaveOut: [] };
  return {
    catchUp,
    leaveOut: delayed,
    reason:
      `delayed, it cannot get the writes ${i.oldMaster} took after its restart (up to ${i.upTo}) from ${i.newMaster}, which has log_slave_updates=OFF (they are not in its binlog): ` +
      `left out, not repointed. Bring it level from ${i.oldMaster} by hand (CHANGE MASTER TO ${i.oldMaster} with MASTER_USE_GTID=slave_pos until it holds ${i.upTo}, then to ${i.newMaster}), or rebuild it`,
  };
}

/** The steps left to a replica brought level from the returned old master: only the repoint (its delay kept). */
export function stepsWhenLevel(mode: 'gtid' | 'position', steps: readonly Step[]): Step[] {
  let keepDelay: number | undefined;
  for (const x of steps) if ((x.kind === 'repoint_gtid' || x.kind === 'repoint_position') && x.keepDelay) keepDelay = x.keepDelay;
  const d = keepDelay ? { keepDelay } : {};
  return [mode === 'gtid' ? { kind: 'repoint_gtid', ...d } : { kind: 'repoint_position', ...d }];
}

/**
 * What such a replica is verified against after its repoint. By GTID in GTID
 * mode. In binlog-position mode by the new master's coordinates: a MariaDB
 * replica repointed by position takes its gtid_slave_pos from the new master's
 * binlog (its Gtid_list), which lacks what the new master took by replication
 * with log_slave_updates=OFF, so a GTID check would fail a replica that holds
 * everything (the catch-up verified that by GTID, against the old master).
 */
export function verifyWhenLevel<T extends { gtid: string; coord?: unknown }>(mode: 'gtid' | 'position', target: T): T {
  return mode === 'gtid' || target.coord === undefined ? target : { ...target, gtid: '' };
}
