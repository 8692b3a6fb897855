/**
 * Phase 2, Dead Master Shutdown: what its reports decide (pure). The executor
 * (src/engine/shutdown-phase.ts) starts the SQL fence (with a kill over SSH
 * when SQL does not fence it), the SSH reachability probe and, when told to,
 * the stop hooks; after each report it asks decideShutdown() what comes next:
 * wait for the probe, wait for the fence, run the stop hooks, abort, or end
 * the phase. Nothing here does I/O; the facts are what has been reported so
 * far (undefined: not reported yet), so the order in which they arrived is
 * the input too.
 *
 * Without a shutdown_script (the built-in fence):
 *   1. the fence is waited for; when the old master answers SQL but could not
 *      be fenced (and its mysqld was not killed either), the failover aborts:
 *      never promote beside a master that may still take writes;
 *   2. its host's SSH reachability: the caller's value, else what the kill
 *      found (killed / not running: reachable; the SSH connection failed:
 *      unreachable), else the probe (waited for only then);
 *   3. the stop hooks run with it; the built-in vip hook's release may have
 *      run already, right after the SQL part of the fence (releaseVipAfterSql):
 *      it is not run twice, unless it ran as "unreachable" (or "reachable")
 *      and the kill then found otherwise: it is released again, with the value
 *      that won.
 * With a shutdown_script (MHA: it stops the old master whatever SQL says):
 *   1. reachability: the caller's value, else the probe;
 *   2. the SQL fence's answer is waited for, briefly (the executor bounds the
 *      wait: a hung or unreachable master must not hold up its power-off; and
 *      it does not wait at all after a verdict of timeouts or stalls,
 *      fenceBeforePowerOff).
 *      When it came in time and SQL fenced it (read_only verified ON, its
 *      client sessions killed: it answers, so it was restarted), the
 *      shutdown_script is deferred (deferShutdown): it can no longer commit,
 *      while writes it acknowledged after its restart are only in its binlog;
 *      the new master is brought level from it first (the salvage, then the
 *      re-check before promotion) and the shutdown_script runs right before
 *      the new master is made writable. Otherwise it runs now, as in MHA;
 *   3. the stop hooks run (the shutdown_script among them, unless deferred);
 *   4. exit 0 of the shutdown_script (power-off: its host is gone) ends the
 *      wait: the SQL fence, still running, is journaled when it ends, not
 *      waited for (lateFence). Any other outcome waits for the fence; an
 *      unfenced answer does not abort (the script stopped it).
 * Either way, the shutdown_script's exit code (0: powered off, SSH gone;
 * 10: SSH reachable, mysqld killed) wins over every other value, the caller's
 * included; a stop hook with verdict abort aborts, then an IO thread that
 * could not be stopped on a survivor that still answers (afterIoStop).
 * The early VIP (src/engine/failover-vip.ts) may be taken by the Phase 1
 * candidate only when the phase ends without an abort, the candidate was not
 * left out (it stopped answering) and it was seen read_only.
 */

/** What the SQL part of the fence found (src/engine/ops/fencing.ts SqlFence). */
export type SqlFenceReport = 'fenced' | 'unverified' | 'not_answering';

/** The fence of the old master, once it ended (src/engine/ops/fencing.ts HardFenceResult). */
export interface FenceReport {
  sql: SqlFenceReport;
  /** killed | not_running | not_needed | disabled | shutdown_script | no_ssh | failed */
  kill: string;
  /** It can no longer commit: read_only verified, or its mysqld is not running. */
  safe: boolean;
  detail: string;
}

/** The stop hooks, once they ran. */
export interface StopReport {
  /** The shutdown_script's exit code: 0 → false (powered off, SSH gone), 10 → true (mysqld killed, SSH up). */
  sshReachable?: boolean | undefined;
  /** The hook whose verdict was abort. */
  aborted?: { name: string; detail: string } | undefined;
  /** The shutdown_script was left out (deferred until the new master is level with the old one). */
  shutdownDeferred?: boolean | undefined;
}

export interface ShutdownFacts {
  oldMaster: string;
  /** A shutdown_script (MHA) runs in the stop phase. */
  shutdownHook: boolean;
  /** The caller's SSH reachability of the old master's host (a test, an operator). */
  given?: boolean | undefined;
  /** The fence, when it has ended. */
  fence?: FenceReport | undefined;
  /** With a shutdown_script: the bounded wait for the fence before the stop hooks ended without its answer. */
  fenceWaitOver?: boolean | undefined;
  /** The SSH reachability probe, when it has answered. */
  probe?: boolean | undefined;
  /** The built-in vip hook's release ran right after the SQL part of the fence, as reachable (true) or not. */
  vipReleasedAs?: boolean | undefined;
  /** The stop hooks, once they ran. */
  stop?: StopReport | undefined;
  /** afterIoStop(): a survivor's IO thread could not be stopped and it still answers. */
  ioAbort?: string | undefined;
  /** The Phase 1 candidate: left out in this phase (stopped answering), seen read_only. */
  candidate: { leftOut: boolean; readOnly: boolean | undefined };
}

export type ShutdownNext =
  /** Wait for the SSH probe. */
  | { next: 'probe' }
  /** Wait for the fence. */
  | { next: 'fence' }
  /** With a shutdown_script: wait for the fence, within a bound, before the stop hooks (then fenceWaitOver). */
  | { next: 'fence-briefly' }
  /**
   * Run the stop hooks with this reachability. skipVip: the vip hook already ran (after SQL);
   * releaseVipAgain: it ran with the other reachability and runs again, with this one.
   */
  | { next: 'stop-hooks'; sshReachable: boolean; skipVip: boolean; releaseVipAgain: boolean; deferShutdown: boolean }
  /** Abort before the stop hooks (nothing else to do). */
  | { next: 'abort'; reason: string }
  /**
   * The phase ends. abort: the failover fails (the stop hooks ran). poweredOff: the shutdown_script
   * powered the host off. lateFence: the fence is still running, not waited for (journaled when it
   * ends). earlyVip: the candidate may take the vip hooks' address now. shutdownDeferred: the
   * shutdown_script runs before the promotion, once the new master is level with the old master.
   */
  | { next: 'end'; sshReachable: boolean; poweredOff: boolean; lateFence: boolean; abort?: string | undefined; earlyVip: boolean; shutdownDeferred: boolean };

/** The old master's host reachability the kill reported: undefined when it says nothing about it. */
export function reachFromKill(kill: string): boolean | undefined {
  if (kill === 'killed' || kill === 'not_running') return true;
  if (kill === 'no_ssh') return false;
  return undefined;
}

/**
 * Does the built-in vip hook's release run right after the SQL part of the fence (before any kill
 * over SSH)? Only without a shutdown_script (MHA's order keeps the hooks together then), when a vip
 * hook has a stop step, and once SQL found the old master fenced or not answering (an unverified
 * answer: the address stays until the kill has stopped it).
 */
export function releaseVipAfterSql(shutdownHook: boolean, vipInStop: boolean, sql: SqlFenceReport): boolean {
  return !shutdownHook && vipInStop && sql !== 'unverified';
}

/**
 * With a shutdown_script, is the SQL fence's answer worth waiting for (briefly) before the power-off?
 * Only when the old master may have been restarted and answer SQL: its host answered the manager
 * (connections refused: mysqld down, the host up; systemd may bring it back) or nothing is known (a
 * manual failover). Not when the verdict rested on timeouts or stalled statements (a host cut off, a
 * hung mysqld, a storage hang): the SQL attempt would only wait out its connect timeout (or a lock)
 * and the power-off would come that much later.
 */
export function fenceBeforePowerOff(verdict: { basis?: string | undefined; failure?: string | undefined } | undefined): boolean {
  if (verdict === undefined) return true;
  return verdict.basis === 'refused' || verdict.failure === 'refused';
}

/** What Phase 2 does next, given what has been reported so far. */
export function decideShutdown(f: ShutdownFacts): ShutdownNext {
  let reach: boolean | undefined;
  if (f.shutdownHook) {
    reach = f.given ?? f.probe;
    if (reach === undefined) return { next: 'probe' };
    if (f.stop === undefined) {
      if (f.fence === undefined && f.fenceWaitOver !== true) return { next: 'fence-briefly' };
      return { next: 'stop-hooks', sshReachable: reach, skipVip: false, releaseVipAgain: false, deferShutdown: f.fence?.sql === 'fenced' };
    }
  } else {
    if (f.fence === undefined) return { next: 'fence' };
    if (f.fence.sql === 'unverified' && !f.fence.safe) return { next: 'abort', reason: `${f.oldMaster} answers SQL but could not be fenced (${f.fence.detail}): not promoting another master while it may still take writes` };
    reach = f.given ?? reachFromKill(f.fence.kill) ?? f.probe;
    if (reach === undefined) return { next: 'probe' };
    if (f.stop === undefined) return { next: 'stop-hooks', sshReachable: reach, skipVip: f.vipReleasedAs !== undefined, releaseVipAgain: f.vipReleasedAs !== undefined && f.vipReleasedAs !== reach, deferShutdown: false };
  }
  const shutdownDeferred = f.shutdownHook && f.stop.shutdownDeferred === true;
  const poweredOff = f.shutdownHook && !shutdownDeferred && f.stop.sshReachable === false && f.stop.aborted === undefined;
  if (!poweredOff && f.fence === undefined) return { next: 'fence' };
  const sshReachable = f.stop.sshReachable ?? reach;
  const abort = f.stop.aborted !== undefined ? `hook ${f.stop.aborted.name} failed in the stop phase (${f.stop.aborted.detail}): aborting` : f.ioAbort;
  return { next: 'end', sshReachable, poweredOff, lateFence: f.fence === undefined, abort, earlyVip: abort === undefined && !f.candidate.leftOut && f.candidate.readOnly === true, shutdownDeferred };
}
