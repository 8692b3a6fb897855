/**
 * Dead-master failover: the executor. Phase names are MHA's, so operators can
 * map their runbooks. What happens to each server is decided by the pure plan
 * (src/domain/failover/: classifySurvivors, planFailover, onStepFailed); this
 * file runs it, phase by phase, each under a deadline that cancels its work.
 *
 *   Phase 1: Configuration Check Phase      observe, classify, plan; refuse with a reason
 *                                            (the plan is journaled before anything changes)
 *   Phase 2: Dead Master Shutdown Phase     stop IO threads (all, waited for); demote and fence
 *                                            the old master; stop hooks (src/engine/shutdown-phase.ts,
 *                                            decided by src/domain/failover/shutdown.ts)
 *   Phase 3: Master Recovery Phase
 *     3.1 Getting Latest Slaves Phase       survivors apply their relay logs (delayed and slow
 *                                            ones are not waited for); plan from exact positions
 *     3.2 Saving Dead Master's Binlog Phase  the dead master's binlog tail over SSH, read while
 *                                            3.3 and 3.4 run
 *     3.3 Determining New Master Phase
 *     3.4 New Master Recovery Phase          its own catch-up; a failure → the next complete
 *                                            candidate, or a refusal
 *     3.5 Promoting New Master Phase         start hooks alongside the saved binlog's apply; then
 *                                            the old master fenced again, read_only=OFF
 *   Phase 4: Slaves Recovery Phase          each replica brought level, repointed, verified
 *   Phase 5: New master cleanup phase       RESET SLAVE ALL, report hooks
 *
 * Refusals in Phase 1 change nothing. A failure before promotion restarts the
 * IO threads it stopped and leaves the old master fenced: outcome failed. The
 * old master is demoted from the moment fencing begins (a journal record), so
 * it stays fenced whatever happens next; a failure after promotion is partial.
 * From the end of Phase 2 until the failover ends (any outcome), the old master
 * is watched for its return: restarted writable, it is fenced about 100 ms
 * after it answers, beside whatever the failover does (src/engine/failover-return.ts);
 * the monitor's own watch takes over afterwards.
 */
import { inspectServer } from '../adapters/mysql/inspect.js';
import { phaseBudgetMs } from '../adapters/hooks/runner.js';
import { policyFor, startHooksBesidePreparation } from '../config/hooks.js';
import type { PhaseOutcome } from '../adapters/hooks/types.js';
import { formatCoord } from '../domain/binlog-coord.js';
import { lostWritesAdvice } from '../domain/semisync.js';
import { isoTime } from '../domain/time.js';
import { failedServers, guard, summarize } from '../domain/guard.js';
import { classifySurvivors, type Classification } from '../domain/failover/survivors.js';
import { stepsWhenLevel, verifyWhenLevel } from '../domain/failover/returned.js';
import { planFailover, relayReadsAhead, type AppliedPosition, type FailoverPlan, type PlanInput } from '../domain/failover/plan.js';
import type { BinlogCoord, ServerObservation } from '../domain/types.js';
import { saveDeadMasterBinlog } from './salvage-phase.js';
import { POWERED_OFF_RECHECK_MS, isShutdownScript, shutdownDeadMaster, type ShutdownState } from './shutdown-phase.js';
import { applyBinlogTo } from './ops/catch-up.js';
import { FailoverFailed, FailoverRefused, specOf, target } from './ops/admin.js';
import { probeSsh, recheckSshAfterNo } from './ops/ssh-reach.js';
import { takeFailoverLocks } from '../adapters/leader/failover-lock.js';
import { applyRelayLog, startIoThreads } from './ops/replica.js';
import { positionOf, resetReplication, setWritable, stopReplication } from './ops/master.js';
import { CATCH_UP_MS, MAX_CATCH_UPS, settleReturnedOldMaster } from './returned-master.js';
import { OldMasterReturnWatch } from './failover-return.js';
import { FailoverRun, StopPartial, type FailoverDeps, type FailoverReport, type FailoverRequest } from './failover-run.js';
import { ChooseAgain, prefetchRelayDiff, runSteps, type StepEnv } from './failover-steps.js';

export type { FailoverDeps, FailoverReport, FailoverRequest, PhaseRecord } from './failover-run.js';
export { FailoverFailed, FailoverRefused, withDeadline, waitUntil, Admin, target, hookTimeoutMs } from './ops/admin.js';
export { fenceOldMaster } from './ops/fence.js';
export { POWERED_OFF_RECHECK_MS } from './shutdown-phase.js';

const PHASE = {
  check: 'Phase 1: Configuration Check Phase',
  shutdown: 'Phase 2: Dead Master Shutdown Phase',
  latest: 'Phase 3.1: Getting Latest Slaves Phase',
  save: "Phase 3.2: Saving Dead Master's Binlog Phase",
  choose: 'Phase 3.3: Determining New Master Phase',
  recover: 'Phase 3.4: New Master Recovery Phase',
  promote: 'Phase 3.5: Promoting New Master Phase',
  slaves: 'Phase 4: Slaves Recovery Phase',
  cleanup: 'Phase 5: New master cleanup phase',
} as const;


/** A delayed or slow replica applying its own relay log after the failover: at most this long. */
const DEFERRED_APPLY_MS = 3_600_000;

/** The observations of a failover's survivors, classified and planned: the same code as the dry run and /status. */
export function planFrom(req: FailoverRequest, classification: Classification, at: number, extra: Partial<PlanInput> = {}): FailoverPlan {
  const c = req.cluster;
  return planFailover({
    cluster: c.name,
    deadMaster: req.deadMaster,
    servers: c.servers.map(specOf),
    classification,
    options: { forced: req.newMaster, checkReplDelay: c.check_repl_delay, latestPriority: c.latest_priority, promotionLocation: c.promotion_location },
    salvage: { sshReachable: req.sshReachable, reader: true },
    lastMaster: lastMasterPosition(req),
    at,
    ...extra,
  });
}

function lastMasterPosition(req: FailoverRequest): PlanInput['lastMaster'] {
  const o = req.lastMasterObs;
  return req.lastMasterPosition ?? (o?.binlog ? { coord: o.binlog, gtid: o.version.flavor === 'mariadb' ? o.gtid.binlogPos : o.gtid.executed, at: o.observedAt } : undefined);
}

/** Probes every server but the dead master and failed ones, and classifies them (Phase 1; the dry run). */
export async function observeSurvivors(req: FailoverRequest, failed: ReadonlySet<string>, now: () => number): Promise<Classification> {
  const c = req.cluster;
  const others = c.servers.filter((s) => s.name !== req.deadMaster && !failed.has(s.name));
  const probes = await Promise.all(others.map((s) => inspectServer(target(s), { connectTimeoutMs: c.connect_timeout * 1000, queryTimeoutMs: c.query_timeout * 1000, now })));
  const last = req.lastMasterObs;
  return classifySurvivors({ servers: c.servers.map(specOf), deadMaster: req.deadMaster, probes, failed, maintenance: req.maintenance, lastMaster: last ? { serverId: last.serverId, serverUuid: last.serverUuid, gtid: last.gtid } : undefined });
}

export async function runFailover(req: FailoverRequest, deps: FailoverDeps): Promise<FailoverReport> {
  const run = new FailoverRun(req, deps);
  const { cluster, report } = run;
  const dead = run.byName.get(req.deadMaster);
  let deferred: Promise<void> | undefined;
  /** Phase 3.2 runs beside 3.3–3.4: a failure there waits for it, so its journal records come before the end. */
  let background: Promise<unknown> | undefined;
  /** What Phase 2 did (IO threads stopped, the late SQL fence, the early VIP): read by the cleanup after a failure too. */
  const p2: ShutdownState = { ioStopped: new Set<string>(), poweredOff: false, gone: new Map<string, string>(), shutdownDeferred: false };
  /** From the end of Phase 2 to the end: the old master fenced at once if it comes back writable (src/engine/failover-return.ts). */
  let returnWatch: OldMasterReturnWatch | undefined;
  const stopReturnWatch = async (): Promise<void> => {
    const w = returnWatch;
    returnWatch = undefined;
    await w?.stop();
  };
  try {
    if (dead === undefined) throw new FailoverRefused(`${req.deadMaster} is not a server of cluster ${cluster.name}`);
    if (run.hookProblem !== undefined) throw new FailoverRefused(run.hookProblem);
    const g = guard(summarize(deps.journal.read()), deps.now(), cluster.last_failover_minute, req.trigger, cluster.name);
    if (!g.allowed) throw new FailoverRefused(g.reason);
    await run.begin(dead.name).catch((err: unknown) => Promise.reject(new FailoverRefused(`cannot record the failover in the journal (${deps.journal.path}): ${(err as Error).message}`)));
    // SSH reachability of the dead master's host decides the salvage; probed alongside Phase 1–2. Over the kept
    // sessions, the probe the suspicion started is reused, or joined while it runs (src/engine/ops/ssh-reach.ts).
    // A quick "no" from a host that answered the manager (refused, stalled) is asked again with the full
    // connect_timeout: a loaded host must not cost the salvage of what only its binlog holds.
    const fullProbe = (): Promise<boolean> => deps.sshReachable(dead).catch(() => false);
    const sshProbe: Promise<boolean> =
      req.sshReachable !== undefined
        ? Promise.resolve(req.sshReachable)
        : deps.sshPool !== undefined
          ? probeSsh(deps.sshPool, cluster, dead).then(async (r) => {
              if (r.ok) return true;
              if (!recheckSshAfterNo(req.verdict)) return false;
              run.event(`${dead.name}'s host did not answer SSH within ${r.ms} ms (${r.detail}): asked again with a new session and the full connect_timeout`);
              const ok = await fullProbe();
              run.event(`${dead.name}'s host ${ok ? 'answered' : 'did not answer'} SSH on a new session`);
              return ok;
            })
          : fullProbe();
    const failed = new Set(failedServers(summarize(deps.journal.read())));
    const salvageReader = deps.cutBinlog !== undefined;

    // ---------------------------------------------------------------- Phase 1
    const first = await run.phase(PHASE.check, 15_000 + cluster.connect_timeout * 1000 + cluster.query_timeout * 6000, async () => {
      // One failover at a time: a manager, mhats failover/switchover and MHA all take this lock first.
      run.locks = await takeFailoverLocks(cluster.servers.filter((s) => s.name !== dead.name && !failed.has(s.name)), cluster, { waitSec: 2 });
      if (!run.locks.ok) throw new FailoverRefused(`${run.locks.message}; not failing over`);
      // MHA's double check: a dead master must not answer SQL (a hung one does not). Not for a storage hang
      // (it answers, its writes hang: MHA has no double check with ping_type INSERT), and not when the
      // detector's verdict is under a second old (its last checks were the double check); run alongside.
      const fresh = req.verdict !== undefined && deps.now() - req.verdict.at < 1000;
      const doubleCheck = req.trigger === 'auto' && req.verdict?.code !== 'StorageHang' && !fresh ? inspectServer(target(dead), { connectTimeoutMs: Math.min(1000, cluster.connect_timeout * 1000), queryTimeoutMs: 1000, now: deps.now }) : undefined;
      const [alive, classification] = await Promise.all([doubleCheck, observeSurvivors(req, failed, deps.now)]);
      if (alive?.ok) throw new FailoverRefused(`${dead.name} answers SQL again: it is not dead; stopping the failover`);
      for (const e of classification.exclusions.filter((x) => !x.blocking)) run.event(`${e.server} (${e.code}): ${e.reason}`);
      const plan = planFrom(req, classification, deps.now(), { salvage: { sshReachable: req.sshReachable, reader: salvageReader } });
      if (!plan.ok) throw new FailoverRefused(plan.refusal!.reason);
      return { classification, plan };
    });
    run.journalPlan(first.plan, 'before anything changes');
    run.event(`replication mode: ${first.plan.mode === 'gtid' ? 'GTID' : 'binlog positions'}; survivors: ${first.plan.survivors.join(', ')}; plan: ${first.plan.newMaster!.name} (${first.plan.choice?.ok ? first.plan.choice.reason : ''})`);
    const survivors = first.classification.survivors.map((s) => run.server(s.name));
    const obs = new Map<string, ServerObservation>(first.classification.survivors.map((s) => [s.name, s.obs]));

    // ---------------------------------------------------------------- Phase 2
    const cand = first.plan.newMaster!.name;
    await run.phase(PHASE.shutdown, 30_000 + phaseBudgetMs(run.hooks, 'stop'), (signal) => shutdownDeadMaster(run, { dead, survivors, sshProbe, candidate: cand, candidateObs: obs.get(cand) }, p2, signal));
    const sshReachable = p2.sshReachable;
    const { gone, poweredOff, powerOffRecheck } = p2;
    // Dead or fenced, and demoted: from here until the failover ends, a return writable (a restart by systemd,
    // without read_only in its my.cnf) is fenced about 100 ms after it answers, beside whatever the failover does.
    // Its own work on the old master (the late fence, the re-checks before the promotion) is never disturbed.
    returnWatch = OldMasterReturnWatch.start(run, dead);
    returnWatch.track(p2.fenceLate);
    returnWatch.track(powerOffRecheck);
    const rw = returnWatch;

    // ---------------------------------------------------------------- Phase 3.1
    const applyMs = Math.max(10, cluster.seconds_behind_master * 2) * 1000;
    let classification = first.classification;
    const applied = new Map<string, AppliedPosition>();
    const basePlan = (extra: Partial<PlanInput> = {}): FailoverPlan => planFrom(req, classification, deps.now(), { applied, salvage: { sshReachable, reader: salvageReader }, ...extra });
    let plan = await run.phase(PHASE.latest, applyMs + 20_000, async (signal) => {
      // Every survivor applies what it received, with a deadline; delayed ones are not waited for.
      const waited = classification.survivors.filter((s) => s.delay === 0 && !gone.has(s.name));
      const results = await Promise.allSettled(waited.map((s) => applyRelayLog(run.server(s.name), { cluster, signal }, applyMs)));
      const broken = new Map<string, string>(gone);
      results.forEach((r, i) => {
        const name = waited[i]!.name;
        if (r.status === 'rejected') broken.set(name, (r.reason as Error).message);
        else {
          applied.set(name, { exec: r.value.exec, gtid: r.value.gtid, stillApplying: r.value.stillApplying });
          const o = obs.get(name)!;
          obs.set(name, { ...o, replica: { ...o.replica!, read: r.value.read, exec: r.value.exec } });
          if (r.value.stillApplying) run.event(`${name} is still applying its relay log after ${applyMs} ms: it is recovered after the new master is writable`);
          else if (r.value.partial) run.event(`${name}: relay log applied up to ${formatCoord(r.value.exec)}; the rest, up to ${formatCoord(r.value.read)}, is an incomplete transaction`);
        }
      });
      for (const [name, why] of broken) {
        report.notRecovered.push({ name, reason: why });
        if (!gone.has(name)) run.event(`${name} could not apply its relay log and is left out: ${why}`);
      }
      classification = { ...classification, survivors: classification.survivors.filter((s) => !broken.has(s.name)).map((s) => ({ ...s, obs: obs.get(s.name)! })) };
      const p = basePlan();
      if (!p.ok) throw new FailoverFailed(`refusing to promote: ${p.refusal!.reason}`);
      return p;
    });
    if (JSON.stringify([plan.newMaster, plan.replicas]) !== JSON.stringify([first.plan.newMaster, first.plan.replicas])) run.journalPlan(plan, 'from the positions the survivors stopped at');
    run.event(`latest replicas: ${plan.latest.names.join(', ')} at ${plan.latest.coord ? formatCoord(plan.latest.coord) : '?'}${plan.latest.gtid ? ` (${plan.latest.gtid})` : ''}`);

    // ---------------------------------------------------------------- Phase 3.2
    // The dead master's binlog is read (over SSH) while the new master is chosen and brought level (3.3, 3.4),
    // and applied while the start hooks move the VIP (3.5): none of them waits for the others; read_only is
    // cleared only after all of them.
    const sp = plan; // the plan as of 3.1: 3.4 may revise `plan` while this runs
    const salvageRead = run.phase(PHASE.save, 60_000, (signal) => saveDeadMasterBinlog(run, dead, sp, deps.cutBinlog, signal));
    background = salvageRead.catch(() => undefined); // awaited in Phase 3.5; a failure there stops the failover before promotion

    // ---------------------------------------------------------------- Phase 3.3 and 3.4
    const env: StepEnv = { run, plan, obs, newMaster: run.server(plan.newMaster!.name), relay: new Map(), applyMs, verifyMs: 30_000 };
    const incomplete = new Map<string, string>();
    for (;;) {
      const choice = plan.choice!;
      await run.phase(PHASE.choose, 1000, () => {
        report.rejected = choice.rejected.map((r) => ({ name: r.name, reason: r.reason }));
        for (const r of choice.rejected) run.event(`not choosing ${r.name}: ${r.reason}`);
        run.event(`new master: ${plan.newMaster!.name} (${choice.ok ? choice.reason : ''})`, { rule: choice.ok ? choice.rule : undefined, latest: choice.latest, rejected: choice.rejected });
        return Promise.resolve();
      });
      env.plan = plan;
      env.newMaster = run.server(plan.newMaster!.name);
      report.newMaster = env.newMaster.name;
      try {
        await run.phase(PHASE.recover, applyMs + 30_000, async (signal) => {
          const r = await runSteps(env, env.newMaster.name, plan.newMaster!.steps, signal);
          if (!r.ok) throw new ChooseAgain(env.newMaster.name, r.reason);
        });
        break;
      } catch (err) {
        if (!(err instanceof ChooseAgain)) throw err;
        incomplete.set(err.exclude, err.message);
        run.event(`${err.exclude} cannot be brought level (${err.message}): choosing again`);
        plan = basePlan({ incomplete });
        run.journalPlan(plan, `${err.exclude} could not be brought level`);
        if (!plan.ok) throw new FailoverFailed(`refusing to promote: ${plan.refusal!.reason}. Every server stays read-only and ${dead.name} fenced`);
      }
    }
    const nm = env.newMaster;

    // ---------------------------------------------------------------- Phase 3.5
    const now = plan.replicas.filter((r) => !r.deferred);
    const later = plan.replicas.filter((r) => r.deferred);
    /** Replicas brought level from the returned old master (with the new master): only their repoint steps are left. */
    const fromOld = new Set<string>();
    /** The new master's binlog position before anything of the returned old master went in (for the deferred replicas). */
    let preCatchUpCoord: BinlogCoord | undefined;
    // Built-in traffic hooks (vip, haproxy, hosts) start as soon as the new master is chosen for good, beside
    // the salvage read and apply: they never make it writable. A user's start script may (MHA's sample
    // master_ip_failover_script does): then the start phase runs once the saved transactions are in, as in MHA.
    const hooksBeside = startHooksBesidePreparation(run.hooks);
    let salvage: Awaited<typeof salvageRead> | undefined;
    await run.phase(PHASE.promote, 20_000 + (MAX_CATCH_UPS + 1) * (CATCH_UP_MS + 5000) + phaseBudgetMs(run.hooks, 'start') + (p2.shutdownDeferred ? phaseBudgetMs(run.hooks, 'stop') : 0) + (sp.salvage.planned ? 180_000 : 0), async (signal) => {
      // Start hooks (MHA: master_ip_failover_script start) run before the new master is writable: an abort still
      // leaves no writable master. read_only is cleared only after both the hooks and the preparation.
      const startHooks = async (): Promise<PhaseOutcome> => {
        // The address taken early by another candidate leaves it first; one that cannot leave is not added here.
        const early = p2.early;
        const stuck = early ? await early.handOver(nm, 10_000) : [];
        const abort = stuck.find((h) => policyFor(h, 'start') === 'abort');
        if (abort) throw new FailoverFailed(`hook ${abort.name}: ${abort.address} could not be removed from ${early!.holder.name}, which took it early: not adding it on ${nm.name} (never on two hosts); aborting before the new master takes writes`);
        return run.hooksIn('start', { origMaster: dead, origSshReachable: sshReachable, newMaster: nm }, signal, stuck.length ? (h) => !stuck.some((x) => x.name === h.name) : undefined);
      };
      const hooksDone = hooksBeside ? startHooks() : undefined;
      const prepared = (async () => {
        await stopReplication(nm, cluster, signal);
        env.repointCoord = (await positionOf(nm, cluster, signal)).coord;
        salvage = await salvageRead;
        if (salvage?.bytes) {
          // The saved transactions go in before the new master takes any write.
          const sv = salvage;
          const ms = await run.step(nm.name, 'apply_saved_binlog', () => applyBinlogTo(cluster, nm, sv.bytes!, sv.gtids, signal));
          run.event(`applied ${sv.transactions} saved transaction(s) to ${nm.name} in ${ms} ms${sv.gtids.length ? ` (up to ${sv.gtids.at(-1) ?? ''}, verified)` : ''}`);
          report.lost = `none: every transaction in ${dead.name}'s binlog was saved and applied`;
        }
      })();
      // The old master again, once the saved transactions are in: still down, or fenced with nothing the new
      // master lacks. If it came back holding more (writes acknowledged after a restart), the new master is
      // brought level from it first (src/engine/returned-master.ts). After a power-off it cannot answer: the
      // connection attempt is bounded tighter. With built-in start hooks only, this runs beside them.
      const settle = async (): Promise<Awaited<ReturnType<typeof settleReturnedOldMaster>>> => {
        const knownEnd = salvage?.bytes !== undefined || salvage?.transactions === 0 ? undefined : plan.latest.coord;
        return settleReturnedOldMaster({ run, dead, newMaster: nm, plan, obs, knownEnd, at: await positionOf(nm, cluster, signal), sshPool: deps.sshPool, onFenced: deps.onFenced, signal, recheckConnectMs: poweredOff ? POWERED_OFF_RECHECK_MS : undefined, firstRefence: powerOffRecheck, exclusive: (fn) => rw.own(fn) });
      };
      let hooks: PhaseOutcome;
      let settled: Awaited<ReturnType<typeof settleReturnedOldMaster>>;
      if (hooksDone !== undefined) {
        const [h, p] = await Promise.allSettled([hooksDone, prepared.then(settle)]);
        if (h.status === 'rejected') throw h.reason;
        hooks = h.value;
        if (hooks.aborted) throw new FailoverFailed(`hook ${hooks.aborted.name} failed in the start phase (${hooks.aborted.detail}): aborting before the new master takes writes`);
        if (p.status === 'rejected') throw p.reason;
        settled = p.value;
      } else {
        await prepared;
        hooks = await startHooks();
        if (hooks.aborted) throw new FailoverFailed(`hook ${hooks.aborted.name} failed in the start phase (${hooks.aborted.detail}): aborting before the new master takes writes`);
        settled = await settle();
      }
      const { at, oldEnd } = settled;
      if (p2.shutdownDeferred) {
        // SQL fenced the old master in Phase 2 (it answered: restarted); everything it acknowledged is on the new
        // master now. Its shutdown_script (MHA: the power-off) runs before the new master takes writes.
        const off = await run.hooksIn('stop', { origMaster: dead, origSshReachable: sshReachable ?? true }, signal, isShutdownScript);
        if (off.aborted) throw new FailoverFailed(`hook ${off.aborted.name} failed in the stop phase (${off.aborted.detail}): aborting before the new master takes writes`);
      }
      for (const name of settled.fromOld) fromOld.add(name);
      env.target = { gtid: at.gtid, coord: at.coord };
      // The replicas that took the old master's new writes from it already hold what the new master's binlog has up to here.
      if (fromOld.size > 0) {
        preCatchUpCoord = env.repointCoord;
        env.repointCoord = at.coord;
      }
      report.newMasterCoord = at.coord;
      report.newMasterGtid = at.gtid || undefined;
      if (at.coord && plan.latest.coord) report.rejoinMap = { oldMaster: dead.name, oldMasterApplied: oldEnd ?? plan.latest.coord, salvagedTransactions: salvage?.bytes && !oldEnd ? salvage.transactions : 0, salvagedGtids: salvage?.bytes && !oldEnd ? salvage.gtids : [], newMaster: nm.name, newMasterCoord: at.coord };
      await setWritable(nm, cluster, signal);
      run.markPromoted(nm.name);
      deps.onPromoted?.(nm);
      run.event(`${nm.name} is the new master, writable, at ${at.coord ? formatCoord(at.coord) : '?'}${at.gtid ? ` gtid ${at.gtid}` : ''}`);
    });

    // ---------------------------------------------------------------- Phase 4
    const left = now.filter((r) => fromOld.has(r.name) || !report.notRecovered.some((n) => n.name === r.name));
    await run.phase(PHASE.slaves, 60_000 + applyMs, async (signal) => {
      // A survivor others take relay-log events from is repointed (its relay logs discarded) only after they all have.
      const ready = new Map<string, () => void>();
      const allLevel = Promise.all(left.map((r) => new Promise<void>((res) => ready.set(r.name, res))));
      // The delayed replicas recovered after the failover take theirs later: read them now, before their source is
      // repointed (the new master's relay logs are kept for them instead, until they are done).
      const ahead = relayReadsAhead(later, nm.name);
      const readAhead = new Map<string, Promise<unknown>>();
      for (const a of ahead) {
        const p = prefetchRelayDiff(env, a.source, a.from, signal).then((res) => {
          if (!res.ok) run.event(`could not read ahead ${a.source}'s relay logs after ${formatCoord(a.from)} for ${a.replica} (recovered after the failover): ${res.reason ?? '?'}`);
        });
        readAhead.set(a.source, Promise.all([readAhead.get(a.source), p]));
      }
      env.levelDone = (name) => ready.get(name)?.();
      env.beforeRepoint = async (name) => {
        ready.get(name)?.();
        if (plan.sources.relay.includes(name)) await allLevel;
        await readAhead.get(name);
      };
      // Those brought level from the returned old master are only repointed.
      const mode = plan.mode ?? 'position';
      const results = await Promise.allSettled(left.map((r) => (fromOld.has(r.name) ? runSteps({ ...env, target: env.target && verifyWhenLevel(mode, env.target) }, r.name, stepsWhenLevel(mode, r.steps), signal) : runSteps(env, r.name, r.steps, signal))));
      env.levelDone = undefined;
      env.beforeRepoint = undefined;
      results.forEach((r, i) => {
        const name = left[i]!.name;
        if (r.status === 'fulfilled' && r.value.ok) report.recovered.push(name);
        else {
          if (r.status === 'rejected' && r.reason instanceof StopPartial) throw r.reason;
          const reason = r.status === 'fulfilled' ? (r.value as { reason: string }).reason : (r.reason as Error).message;
          report.notRecovered.push({ name, reason });
          run.log.error({ replica: name }, `${name} NOT recovered: ${reason}`);
        }
      });
      run.event(`recovered: ${report.recovered.join(', ') || 'none'}${report.notRecovered.length ? `; NOT recovered: ${report.notRecovered.map((n) => `${n.name} (${n.reason})`).join('; ')}` : ''}`);
    });
    /** Delayed replicas recovered later may take events from the new master's relay logs: its RESET SLAVE ALL waits for them. */
    const laterLeft = later.filter((r) => !report.notRecovered.some((n) => n.name === r.name));
    const nmRelayNeeded = laterLeft.some((r) => r.steps.some((x) => 'source' in x && x.source === nm.name));
    if (laterLeft.length > 0) {
      report.deferred = laterLeft.map((r) => r.name);
      run.event(`recovered after the failover, in the background (they apply their own relay logs first): ${report.deferred.join(', ')}`);
      deferred = Promise.all(
        laterLeft.map(async (r) => {
          const res = await runSteps({ ...env, applyMs: DEFERRED_APPLY_MS, repointCoord: preCatchUpCoord ?? env.repointCoord }, r.name, r.steps).catch((err: unknown) => ({ ok: false as const, reason: (err as Error).message }));
          if (res.ok) run.event(`${r.name} recovered after the failover: ${res.detail}`);
          else run.event(`${r.name} NOT recovered after the failover: ${res.reason}`);
        }),
      ).then(async () => {
        if (nmRelayNeeded && !nm.skip_reset_slave) await resetReplication(nm, cluster).catch((err: unknown) => run.event(`RESET SLAVE ALL on ${nm.name} failed: ${(err as Error).message}`));
      });
    }

    // ---------------------------------------------------------------- Phase 5
    if (p2.fenceLate !== undefined) await p2.fenceLate;
    const outcome = report.notRecovered.length === 0 ? 'success' : 'partial';
    // Writes lost with asynchronous replication: the report (CLI, report_script, journal) says what semi-sync would have done.
    const advice = lostWritesAdvice({ id: run.id, lost: report.lost, at: isoTime(run.t0) }, req.lastMasterObs);
    if (advice) {
      report.semiSyncAdvice = `${advice.message}. To enable it: ${advice.hint ?? ''}`;
      run.event(report.semiSyncAdvice);
    }
    await run.phase(PHASE.cleanup, phaseBudgetMs(run.hooks, 'report') + 10_000, async (signal) => {
      if (!nm.skip_reset_slave && !nmRelayNeeded) {
        await run.step(nm.name, 'reset_slave_all', () => resetReplication(nm, cluster, signal)).catch((err: unknown) => run.event(`RESET SLAVE ALL on ${nm.name} failed: ${(err as Error).message}`));
      }
      const subject = `${cluster.name}: MySQL Master failover ${dead.name} to ${nm.name}${outcome === 'success' ? ' succeeded' : ''}`;
      const body = [`Master ${dead.name} is down!`, `Selected ${nm.name} as a new master.`, `Recovered: ${report.recovered.join(', ') || 'none'}`, ...report.notRecovered.map((n) => `NOT recovered: ${n.name}: ${n.reason}`), ...report.deferred.map((n) => `Recovering in the background: ${n}`), `Lost: ${report.lost ?? 'none known'}`, ...(report.semiSyncAdvice ? [report.semiSyncAdvice] : [])].join('\n');
      await run.hooksIn('report', { origMaster: dead, newMaster: nm, newSlaves: report.recovered.map((n) => run.server(n)), outcome, subject, body }, signal);
    });
    const summary = outcome === 'success' ? `Master failover to ${nm.name} completed successfully.` : `Master failover to ${nm.name} done, but recovery on slave partially failed.`;
    run.log.info({ outcome, durationMs: deps.now() - run.t0 }, summary);
    await stopReturnWatch();
    return run.finish(outcome, summary);
  } catch (err) {
    if (background !== undefined) await background;
    if (p2.fenceLate !== undefined) await p2.fenceLate;
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof FailoverRefused) {
      run.log.warn({ reason: msg }, `failover of ${req.deadMaster} refused: ${msg}`);
      await stopReturnWatch();
      return run.finish('refused', msg);
    }
    // Leadership is checked again before touching anything: another manager may act now.
    const leader = await run.stillLeader();
    if (!leader) run.log.error({}, 'this manager lost leadership: the cleanup is left to the leader');
    // Nothing promoted: the address the candidate took early leaves it too (no master holds it, as after the stop phase).
    if (p2.early !== undefined && !run.promoted && leader) await p2.early.giveBack(10_000);
    if (run.promoted) {
      run.log.error({ reason: msg }, `failover of ${req.deadMaster} stopped after ${report.newMaster ?? '?'} was promoted: ${msg}`);
      for (const r of report.plan?.replicas ?? []) if (!report.recovered.includes(r.name) && !report.notRecovered.some((n) => n.name === r.name)) report.notRecovered.push({ name: r.name, reason: `not recovered: the failover stopped (${msg})` });
    } else {
      run.log.error({ reason: msg }, `failover of ${req.deadMaster} FAILED: ${msg}`);
      if (p2.ioStopped.size > 0 && leader) {
        // Undo what is safe to undo: let the replicas reconnect. The old master stays fenced.
        const problems = await startIoThreads([...p2.ioStopped].map((n) => run.server(n)), cluster);
        if (problems.length > 0) run.event(`could not restart every IO thread: ${problems.join('; ')}`);
      }
    }
    if (run.stopHooksRan && dead !== undefined && leader) {
      // MHA: report_script runs at the end of any failover that reached Phase 2, failed ones too.
      const nmServer = run.promoted && report.newMaster ? run.byName.get(report.newMaster) : undefined;
      const outcome = run.promoted ? 'partial' : 'failed';
      await run.hooksIn('report', { origMaster: dead, newMaster: nmServer, newSlaves: nmServer ? report.recovered.map((n) => run.server(n)) : undefined, outcome, subject: `${cluster.name}: MySQL Master failover ${dead.name}${nmServer ? ` to ${nmServer.name}` : ''}`, body: [`Master ${dead.name} is down!`, `Failover ${outcome === 'partial' ? 'stopped after the promotion' : 'FAILED'}: ${msg}`].join('\n') }).catch((e: unknown) => run.log.warn({ err: (e as Error).message }, 'report hooks failed'));
    }
    // The old master stays fenced (demoted: the monitor's watch fences it when it answers) whether or not a new master was promoted.
    await stopReturnWatch();
    return run.finish(run.promoted ? 'partial' : 'failed', msg);
  } finally {
    await stopReturnWatch();
    if (deferred !== undefined) {
      if (deps.onDeferred) deps.onDeferred(deferred);
      else await deferred;
    }
  }
}
