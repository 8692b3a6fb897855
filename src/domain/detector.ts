/**
 * The failure detector: a pure reducer over health-check results and time.
 *
 *   (state, check result, now) -> { state, transition }
 *
 * A master is *suspected* after `failuresToSuspect` failed checks in a row.
 * Errors that prove the server is alive ("too many connections", "access
 * denied", as in MHA) do not count as failures, and do not clear them either.
 * A suspicion is only a suspicion: confirmation (the replicas' view, SSH,
 * secondary_check_script) decides whether the master is dead; see confirm().
 */
import type { BinlogCoord, ProbeFailureKind } from './types.js';

export interface CheckResult {
  /** When the check finished (ms, monotonic or wall; only differences matter). */
  at: number;
  ok: boolean;
  /** Why it failed, when it failed. */
  kind?: ProbeFailureKind | undefined;
  message?: string | undefined;
  latencyMs: number;
  /** The master's binlog position read right after a successful check (for the lost-transaction report). */
  position?: MasterPosition | undefined;
}

/** Where a master's binlog stood at an instant. */
export interface MasterPosition {
  coord?: BinlogCoord | undefined;
  gtid?: string | undefined;
  at: number;
}

export type DetectorPhase = 'healthy' | 'failing' | 'suspect';

export interface DetectorState {
  phase: DetectorPhase;
  consecutiveFailures: number;
  firstFailureAt?: number | undefined;
  lastOkAt?: number | undefined;
  lastFailure?: { kind: ProbeFailureKind; message: string } | undefined;
}

export type DetectorTransition = 'none' | 'first_failure' | 'failure' | 'suspect' | 'recovered' | 'alive_but_refusing';

export const initialDetectorState: DetectorState = { phase: 'healthy', consecutiveFailures: 0 };

/** Failure kinds that prove a MySQL server answered: it is alive. */
export function isAliveError(kind: ProbeFailureKind | undefined): boolean {
  return kind === 'auth' || kind === 'too_many_connections' || kind === 'read_only';
}

export function detect(state: DetectorState, r: CheckResult, failuresToSuspect: number): { state: DetectorState; transition: DetectorTransition } {
  if (r.ok) {
    const recovered = state.phase !== 'healthy';
    return { state: { phase: 'healthy', consecutiveFailures: 0, lastOkAt: r.at }, transition: recovered ? 'recovered' : 'none' };
  }
  if (isAliveError(r.kind)) {
    // Alive but refusing us: neither counts nor clears.
    return { state: { ...state, lastFailure: { kind: r.kind ?? 'other', message: r.message ?? '' } }, transition: 'alive_but_refusing' };
  }
  const n = state.consecutiveFailures + 1;
  const next: DetectorState = {
    phase: n >= failuresToSuspect ? 'suspect' : 'failing',
    consecutiveFailures: n,
    firstFailureAt: state.firstFailureAt ?? r.at,
    lastOkAt: state.lastOkAt,
    lastFailure: { kind: r.kind ?? 'other', message: r.message ?? '' },
  };
  let transition: DetectorTransition = 'failure';
  if (state.phase !== 'suspect' && next.phase === 'suspect') transition = 'suspect';
  else if (n === 1) transition = 'first_failure';
  return { state: next, transition };
}

/** What one replica says about its master, read from SHOW SLAVE STATUS. */
export interface ReplicaView {
  name: string;
  reachable: boolean;
  /** Is it a replica of the suspected master at all? */
  replicatesFromMaster: boolean;
  ioRunning?: 'Yes' | 'No' | 'Connecting' | undefined;
  lastIoErrno?: number | undefined;
}

export type SecondaryCheckOutcome =
  | { kind: 'unset' }
  | { kind: 'dead' } // exit 0: the master is unreachable from every secondary route
  | { kind: 'alive'; exitCode: number; detail: string } // exit 2/3 or other: do not fail over
  | { kind: 'error'; detail: string };

export type Verdict =
  /** The master is dead: fail over. */
  | { dead: true; code: 'DeadMaster'; reason: string; witnesses: string[] }
  /** Do not fail over (yet). */
  | { dead: false; code: 'UnreachableMaster' | 'NoWitness' | 'SecondaryCheckVeto'; reason: string };

/**
 * Confirmation before any failover. The replicas are the witnesses: if any
 * reachable replica's IO thread is still connected to the master, the master
 * is alive and only the manager's route is broken. SSH reachability of the
 * master's host decides the recovery path, not the verdict.
 */
export function confirm(master: string, views: ReplicaView[], secondary: SecondaryCheckOutcome): Verdict {
  const witnesses = views.filter((v) => v.reachable && v.replicatesFromMaster);
  const stillConnected = witnesses.filter((v) => v.ioRunning === 'Yes');
  if (stillConnected.length > 0) {
    return {
      dead: false,
      code: 'UnreachableMaster',
      reason: `the manager cannot reach ${master}, but ${stillConnected.map((v) => v.name).join(', ')} still receive${stillConnected.length === 1 ? 's' : ''} from it: only the manager's route is broken; not failing over`,
    };
  }
  if (witnesses.length === 0) {
    return { dead: false, code: 'NoWitness', reason: `no reachable replica of ${master} can confirm its death; not failing over` };
  }
  if (secondary.kind === 'alive') {
    return { dead: false, code: 'SecondaryCheckVeto', reason: `secondary_check_script says ${master} is reachable or the check host is down (exit ${secondary.exitCode}): ${secondary.detail}; not failing over` };
  }
  if (secondary.kind === 'error') {
    return { dead: false, code: 'SecondaryCheckVeto', reason: `secondary_check_script failed: ${secondary.detail}; not failing over` };
  }
  return {
    dead: true,
    code: 'DeadMaster',
    reason: `${master} fails its health checks and no replica receives from it (${witnesses.map((v) => `${v.name}: IO ${v.ioRunning ?? '?'}`).join(', ')})${secondary.kind === 'dead' ? '; secondary_check_script confirms' : ''}`,
    witnesses: witnesses.map((v) => v.name),
  };
}
