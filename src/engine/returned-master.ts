/**
 * Phase 3.5's last word before the new master takes writes: the old master is
 * fenced again, and if it came back holding writes the new master lacks (a
 * crashed mysqld restarted writable, by systemd or by hand, and written to),
 * the new master, then every other replica, is brought level from it first.
 * The decisions are pure (src/domain/failover/returned.ts); this runs them.
 */
import type { ServerConfig } from '../config/types.js';
import type { SshPool } from '../adapters/ssh/session.js';
import { onOldMasterReturned, othersAfterCatchUp } from '../domain/failover/returned.js';
import type { FailoverPlan } from '../domain/failover/plan.js';
import type { BinlogCoord, ServerObservation } from '../domain/types.js';
import { checkSignal, FailoverFailed, replUser } from './ops/admin.js';
import { refence, type Refence } from './ops/fence.js';
import { gtidCatchUp } from './ops/replica.js';
import { positionOf, stopReplication } from './ops/master.js';
import type { FailoverRun } from './failover-run.js';

/** The new master brought level from an old master that came back holding more: each round at most this long, at most this many rounds. */
export const CATCH_UP_MS = 20_000;
export const MAX_CATCH_UPS = 2;

export interface ReturnedMasterInput {
  run: FailoverRun;
  dead: ServerConfig;
  newMaster: ServerConfig;
  plan: FailoverPlan;
  obs: ReadonlyMap<string, ServerObservation>;
  /** Without GTIDs: where the old master's binlog ended for this failover (undefined: not known, or saved to its end). */
  knownEnd: BinlogCoord | undefined;
  /** The new master's position now (after the saved transactions). */
  at: { coord: BinlogCoord | undefined; gtid: string };
  sshPool?: SshPool | undefined;
  onFenced?: ((s: ServerConfig) => void) | undefined;
  signal: AbortSignal;
  /** The re-check's connection deadline (ms) when not the usual one (the host was powered off). */
  recheckConnectMs?: number | undefined;
  /** The first re-check, already started (after a power-off it need not wait for the promotion's eve). */
  firstRefence?: Promise<Refence> | undefined;
  /** Runs each re-check as the failover's own work on the old master: the return watch's probe or fence is not beside it (failover-return.ts). */
  exclusive?: (<T>(fn: () => Promise<T>) => Promise<T>) | undefined;
}

export interface ReturnedMasterOutcome {
  /** The new master's position once settled (moved when it caught up from the old master). */
  at: { coord: BinlogCoord | undefined; gtid: string };
  /** Where the fenced old master's binlog ended, when the new master caught up from it. */
  oldEnd?: BinlogCoord | undefined;
  /** Replicas brought level from the returned old master too: only their repoint steps are left. */
  fromOld: Set<string>;
}

/** Fences the old master again and settles what it holds (promote, catch up from it, or refuse: FailoverFailed). */
export async function settleReturnedOldMaster(i: ReturnedMasterInput): Promise<ReturnedMasterOutcome> {
  const { run, dead, newMaster: nm, plan, obs, signal } = i;
  const { cluster, report } = run;
  const fromOld = new Set<string>();
  let at = i.at;
  let oldEnd: BinlogCoord | undefined;
  const own = i.exclusive ?? (<T,>(fn: () => Promise<T>): Promise<T> => fn());
  /** The new master took the old master's new writes: the others too, from it (othersAfterCatchUp, returned.ts). */
  const othersFromOldMaster = async (upTo: string): Promise<void> => {
    const o = othersAfterCatchUp({ oldMaster: dead.name, newMaster: nm.name, newMasterLogsReplicated: obs.get(nm.name)!.logSlaveUpdates, upTo, replicas: plan.replicas });
    const results = await Promise.allSettled(
      o.catchUp.map((name) => run.step(name, 'catch_up_from_old_master', () => gtidCatchUp(run.server(name), dead, { cluster, signal }, replUser(cluster, obs.get(name)!), CATCH_UP_MS), (u) => `caught up from ${dead.name} by GTID to ${u}`)),
    );
    checkSignal(signal);
    results.forEach((res, k) => {
      const name = o.catchUp[k]!;
      if (res.status === 'fulfilled') {
        fromOld.add(name);
        run.event(`${name} caught up from the fenced ${dead.name} by GTID to ${res.value}, like ${nm.name}: it holds the writes ${dead.name} took after its restart`);
      } else {
        const why = `could not be brought level from ${dead.name}, which holds writes it took after its restart (${(res.reason as Error).message})`;
        report.notRecovered.push({ name, reason: why });
        run.log.error({ replica: name }, `${name} NOT recovered: ${why}`);
      }
    });
    for (const name of o.leaveOut) {
      report.notRecovered.push({ name, reason: o.reason! });
      run.log.error({ replica: name }, `${name} NOT recovered: ${o.reason!}`);
    }
  };
  for (let catchUps = 0, catchUpFailed: string | undefined; ; ) {
    const rf = catchUps === 0 && i.firstRefence !== undefined ? await i.firstRefence : await run.step(dead.name, 'refence', () => own(() => refence(dead, cluster, run.log, signal, i.sshPool, i.recheckConnectMs)), (r) => r.detail);
    if (rf.state === 'fenced') i.onFenced?.(dead);
    const v = onOldMasterReturned({ oldMaster: dead.name, newMaster: nm.name, flavor: plan.flavor, state: rf.state, oldHolds: rf.state === 'fenced' ? rf.holds : '', oldCoord: rf.state === 'fenced' ? rf.coord : undefined, newMasterHolds: at.gtid, knownEnd: i.knownEnd, catchUps, maxCatchUps: MAX_CATCH_UPS, catchUpFailed });
    if (v.action === 'promote') {
      run.event(`before ${nm.name} takes writes: ${rf.detail}; ${v.detail}`);
      if (catchUps > 0 && rf.state === 'fenced') oldEnd = rf.coord;
      if (catchUps > 0) await othersFromOldMaster(rf.state === 'fenced' ? rf.holds : '');
      return { at, oldEnd, fromOld };
    }
    if (v.action === 'refuse') {
      run.log.error({ oldMaster: dead.name }, v.reason);
      throw new FailoverFailed(v.reason);
    }
    run.log.warn({ oldMaster: dead.name, holds: v.upTo, newMaster: at.gtid }, v.detail);
    run.event(v.detail, { source: v.source, upTo: v.upTo, newMasterHeld: at.gtid });
    catchUps++;
    try {
      const upTo = await run.step(nm.name, 'catch_up_from_old_master', () => gtidCatchUp(nm, dead, { cluster, signal }, replUser(cluster, obs.get(nm.name)!), CATCH_UP_MS), (u) => `caught up from ${dead.name} by GTID to ${u}`);
      run.event(`${nm.name} caught up from the fenced ${dead.name} by GTID to ${upTo}: the writes ${dead.name} took after its restart are kept`);
      await stopReplication(nm, cluster, signal);
    } catch (err) {
      checkSignal(signal);
      catchUpFailed = (err as Error).message;
    }
    at = await positionOf(nm, cluster, signal);
  }
}
