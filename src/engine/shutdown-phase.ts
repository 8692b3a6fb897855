/**
 * Phase 2, Dead Master Shutdown: the executor. IO threads stopped on every
 * survivor (all waited for), the old master demoted and fenced (SQL, then a
 * kill over SSH or the shutdown_script), the stop hooks, and the early VIP.
 * What each report means (which reachability wins, whether to wait, abort, or
 * let the candidate take the VIP early) is decided by decideShutdown()
 * (src/domain/failover/shutdown.ts); this file starts the work, feeds it what
 * it asks for, and does what it says.
 */
import { hooksInPhase, type HookSpec, type VipHook } from '../config/hooks.js';
import type { PhaseOutcome } from '../adapters/hooks/types.js';
import type { ServerConfig } from '../config/types.js';
import type { ServerObservation } from '../domain/types.js';
import { afterIoStop } from '../domain/failover/returned.js';
import { decideShutdown, fenceBeforePowerOff, releaseVipAfterSql, type ShutdownFacts } from '../domain/failover/shutdown.js';
import { detectionSettings } from '../config/resolve.js';
import { FailoverFailed } from './ops/admin.js';
import { fenceHard, skipSqlFence, type HardFenceResult } from './ops/fencing.js';
import { refence, type Refence } from './ops/fence.js';
import { stopIoThreads } from './ops/replica.js';
import { EarlyVip, earlyVipHooks } from './failover-vip.js';
import type { FailoverRun } from './failover-run.js';

/**
 * After the shutdown_script reported the old master's host powered off (exit 0), the re-check before the
 * promotion connects to it with this deadline (ms) instead of connect_timeout: a powered-off host cannot
 * answer, and a host that is up answers a connection on its network well within it.
 */
export const POWERED_OFF_RECHECK_MS = 300;

/**
 * With a shutdown_script, the SQL fence's answer is waited for at most this long beyond its connect
 * timeout before the stop hooks run: a restarted old master answers and is fenced within it (then its
 * power-off waits until the new master is level with it), a hung or unreachable one is powered off
 * without waiting out more than its connection attempt.
 */
export const FENCE_BEFORE_POWER_OFF_MS = 2000;

/** Is this hook the MHA shutdown_script of the stop phase? */
export const isShutdownScript = (h: HookSpec): boolean => h.type === 'mha-script' && h.script === 'shutdown' && h.phases.includes('stop');

/** What Phase 2 leaves for the rest of the failover; filled as it goes (the failover's cleanup reads it after a throw). */
export interface ShutdownState {
  /** Survivors whose IO thread was stopped (restarted when the failover fails before promotion). */
  ioStopped: Set<string>;
  /** The old master's host answers SSH (decides the salvage). */
  sshReachable?: boolean | undefined;
  /** The shutdown_script powered the old master's host off (exit 0): the re-check before promotion is bounded tighter. */
  poweredOff: boolean;
  /** After a power-off: the first re-check of the old master, started at the end of Phase 2. */
  powerOffRecheck?: Promise<Refence> | undefined;
  /** The SQL fence, not waited for after a power-off: journaled when it ends, awaited before the failover ends. */
  fenceLate?: Promise<void> | undefined;
  /** Survivors lost in Phase 2 (they stopped answering): left out, the plan goes on without them. */
  gone: Map<string, string>;
  /** The built-in vip hook's address taken early by the candidate. */
  early?: EarlyVip | undefined;
  /** SQL fenced the old master (it answers: restarted) before its shutdown_script ran: the script runs before the promotion. */
  shutdownDeferred: boolean;
}

export interface ShutdownInput {
  dead: ServerConfig;
  survivors: ServerConfig[];
  /** The SSH reachability probe of the old master's host, started with Phase 1. */
  sshProbe: Promise<boolean>;
  /** The Phase 1 plan's candidate, and what Phase 1 saw of it. */
  candidate: string;
  candidateObs: ServerObservation | undefined;
}

export async function shutdownDeadMaster(run: FailoverRun, input: ShutdownInput, st: ShutdownState, signal: AbortSignal): Promise<void> {
  const { cluster, deps, req } = run;
  const { dead, sshProbe } = input;
  // Freeze what each replica received; every stop is waited for, even when one fails. A failure is
  // decided by afterIoStop() only after the fence and the stop hooks (MHA's order: they always run).
  const ioStop = afterIoStop(await stopIoThreads(input.survivors, { cluster, signal }, (s) => st.ioStopped.add(s.name)));
  // Demoted from here on: whatever happens next, it is fenced when it answers.
  run.demoted(dead.name);
  // Fence the old master: read_only (verified) and every client session killed when it answers SQL; its
  // mysqld killed over SSH when SQL did not fence it (hung, storage hang), unless a shutdown_script does it
  // (or its host does not answer SSH: the probe, so the kill does not wait out its deadline).
  const shutdownHook = run.hooks.some(isShutdownScript);
  // A fresh verdict of timeouts (hung, storage hang, cut off) spares it the SQL attempt's connect timeout.
  const skipSql = skipSqlFence(req.verdict, deps.now(), detectionSettings(cluster).fence_hung_master);
  // The built-in vip hook's release does not wait for a kill over SSH: once SQL found the old master fenced
  // or not answering, the address leaves its host first (one round trip on the kept session), then the kill
  // runs. The sooner it leaves, the sooner the candidate can take it: a client that connects in between
  // sends a SYN no host answers, resent by its kernel only after a second.
  const isVip = (h: HookSpec): boolean => h.type === 'vip';
  const releaseVip = (reach: boolean): Promise<PhaseOutcome> => run.hooksIn('stop', { origMaster: dead, origSshReachable: reach }, signal, isVip);
  const vipInStop = run.hooks.some((h) => isVip(h) && h.phases.includes('stop'));
  // With a shutdown_script, a verdict of timeouts or stalls (cut off, hung: not a restarted master answering SQL)
  // does not wait for the SQL fence's answer before the power-off.
  const facts: ShutdownFacts = { oldMaster: dead.name, shutdownHook, given: req.sshReachable, fenceWaitOver: shutdownHook && !fenceBeforePowerOff(req.verdict) ? true : undefined, candidate: { leftOut: false, readOnly: input.candidateObs?.readOnly } };
  let vipStop: PhaseOutcome | undefined;
  const afterSql = async (sql: HardFenceResult['sql']): Promise<void> => {
    if (!releaseVipAfterSql(shutdownHook, vipInStop, sql)) return;
    const reach = await sshProbe;
    facts.vipReleasedAs = reach;
    vipStop = await releaseVip(reach);
  };
  const fencing = fenceHard(dead, cluster, { log: run.log, pool: deps.sshPool, shutdownHook, signal, sshUp: sshProbe, skipSql, afterSql });
  const journalFence = (fence: HardFenceResult): HardFenceResult => {
    if (fence.sql === 'fenced') deps.onFenced?.(dead);
    run.event(`fence ${dead.name}: ${fence.detail}`, { sql: fence.sql, readOnly: fence.readOnly, sessionsKilled: fence.sessionsKilled, kill: fence.kill, pids: fence.pids, safe: fence.safe });
    return fence;
  };
  let stopped: PhaseOutcome | undefined;
  for (;;) {
    const d = decideShutdown(facts);
    if (d.next === 'probe') facts.probe = await sshProbe;
    else if (d.next === 'fence') facts.fence = journalFence(await fencing);
    else if (d.next === 'fence-briefly') {
      let timer: NodeJS.Timeout | undefined;
      const within = Math.min(1000, cluster.connect_timeout * 1000) + FENCE_BEFORE_POWER_OFF_MS;
      const r = await Promise.race([fencing, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), within)))]).finally(() => clearTimeout(timer));
      if (r === undefined) facts.fenceWaitOver = true;
      else facts.fence = journalFence(r);
    }
    else if (d.next === 'abort') throw new FailoverFailed(d.reason);
    else if (d.next === 'stop-hooks') {
      st.sshReachable = d.sshReachable;
      run.event(d.sshReachable ? `${dead.name}'s host is reachable over SSH` : `${dead.name}'s host is unreachable over SSH: transactions no replica received cannot be saved`);
      // Stop hooks, MHA's order: master_ip_failover_script stop/stopssh, shutdown_script, then the hook set
      // (the built-in vip hook's release may have run already, right after the SQL fence). With a
      // shutdown_script they run beside the SQL fence, which is not waited for after a power-off.
      if (d.deferShutdown) run.event(`${dead.name} answers SQL and is fenced (read_only verified ON, its sessions killed): its shutdown_script runs once the new master holds everything it acknowledged, right before the promotion`);
      const only = d.skipVip ? (h: HookSpec): boolean => !isVip(h) : d.deferShutdown ? (h: HookSpec): boolean => !isShutdownScript(h) : undefined;
      let s = await run.hooksIn('stop', { origMaster: dead, origSshReachable: d.sshReachable }, signal, only);
      if (d.skipVip && vipStop !== undefined) {
        // Released as unreachable while the kill found the host after all (or the reverse): released again, with the value that won.
        const v = d.releaseVipAgain ? await releaseVip(d.sshReachable) : vipStop;
        s = { phase: 'stop', records: [...v.records, ...s.records], aborted: v.aborted ?? s.aborted, sshReachable: s.sshReachable };
      }
      stopped = s;
      facts.stop = { sshReachable: s.sshReachable, aborted: s.aborted ? { name: s.aborted.name, detail: s.aborted.detail } : undefined, shutdownDeferred: d.deferShutdown };
      facts.ioAbort = ioStop.abort;
      facts.candidate.leftOut = ioStop.leaveOut.some((l) => l.server === input.candidate);
    } else {
      st.sshReachable = d.sshReachable;
      st.shutdownDeferred = d.shutdownDeferred;
      if (d.poweredOff) {
        st.poweredOff = true;
        // The re-check before the promotion starts now, in the background: a powered-off host cannot answer,
        // and its 300 ms connection attempt then waits for nothing else (an answer still fences it, and the
        // promotion re-checks it again before going on).
        st.powerOffRecheck = run.step(dead.name, 'refence', () => refence(dead, cluster, run.log, undefined, deps.sshPool, POWERED_OFF_RECHECK_MS), (r) => r.detail);
        st.powerOffRecheck.catch(() => undefined);
      }
      if (d.lateFence) {
        st.fenceLate = fencing.then(journalFence).then(
          () => undefined,
          (err: unknown) => run.event(`fence ${dead.name}: ${(err as Error).message}`),
        );
      }
      if (d.abort !== undefined) throw new FailoverFailed(d.abort);
      for (const l of ioStop.leaveOut) {
        st.gone.set(l.server, l.reason);
        run.event(`${l.server} is left out: ${l.reason}`);
      }
      // The built-in vip hook's address, released (or its host powered off / unreachable): the candidate takes
      // it now, read_only, in the background (src/engine/failover-vip.ts).
      if (d.earlyVip) {
        const startVips = hooksInPhase(run.hooks, 'start').filter((h): h is VipHook => h.type === 'vip');
        st.early = EarlyVip.start(run, dead, run.server(input.candidate), earlyVipHooks(startVips, stopped?.records ?? [], input.candidateObs?.readOnly));
      }
      return;
    }
  }
}
