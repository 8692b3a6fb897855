/**
 * The failover plan (pure): what happens to every server if the master died
 * now, or, during a failover, from the positions the survivors stopped at.
 * The same function plans `mhats failover --dry-run`, the monitor's plan in
 * /status and the real failover; the executor (src/engine/failover.ts) only
 * runs its steps, and asks onStepFailed() (fallback.ts) when one fails.
 *
 * ---------------------------------------------------------------------------
 * FailoverPlan: the stable shape (version 1). Plain JSON data: the journal
 * stores it as one record ({type:'plan'}), /status serves it, the console,
 * `mhats drill` and the promotion rules read it. Fields are only ever added.
 *
 *   version       1
 *   cluster       cluster name
 *   deadMaster    the master that died (or would die)
 *   basis         'observed': projected from what the survivors received (dry run,
 *                 /status, Phase 1); 'applied': from where they stopped after applying
 *                 their relay logs (Phase 3.1 onwards)
 *   at            when the observations were made (ms since the epoch)
 *   mode          'gtid' | 'position'; flavor 'mariadb' | 'mysql'
 *   ok            false: the failover is refused; refusal {code, reason} says why
 *   survivors     the dead master's replicas that take part, config order
 *   excluded      [{server, code, reason, blocking, scope}] (codes: survivors.ts)
 *   choice        the new master and why, with every rejection ({name, reason, code?}):
 *                 {ok, chosen, rule, reason, latest, rejected, ranking, policy}
 *                 (domain/candidates.ts); ranking: the eligible, best first, each
 *                 {name, rule, place, latest, why}: the promotion rule and location
 *                 that placed it (domain/promotion.ts)
 *   latest        {names, coord, gtid}: the most advanced survivors and what they hold
 *   newMaster     {name, standing: 'equal'|'behind' (vs latest), holds, steps}: its
 *                 own catch-up before promotion; steps [] when it is level
 *   replicas      one per other survivor: {name, standing vs the new master as observed
 *                 ('ahead'|'equal'|'behind'), holds {coord, gtid}, delay, deferred, steps}
 *                 deferred: recovered after the new master is writable, never waited for
 *   steps         each {kind, ...}, run in order:
 *                   relay_diff          {source, from}: the events after `from` (dead master's
 *                                       coordinates), from source's relay logs over SSH
 *                   gtid_catch_up       {source}: replicate from source by GTID until level
 *                   apply_own_relay_log {liftDelay}: let its SQL thread apply what it received
 *                   gtid_then_positions (MariaDB, positions): catch up from the new master by
 *                                       GTID, then back to positions in its binlog
 *                   repoint_gtid        {keepDelay?}: CHANGE MASTER to the new master by GTID
 *                   repoint_position    CHANGE MASTER to the new master at its binlog position
 *                                       before the saved transactions
 *                   manual              {reason}: left out, named as not recovered
 *   salvage       {planned, reason}: the dead master's binlog after `latest` over SSH
 *   expectedLoss  {text, count?, exact, ifSalvageFails?}
 *   notes         sentences worth showing (log_slave_updates, relay_log_purge, ...)
 * ---------------------------------------------------------------------------
 */
import { compareCoords, formatCoord } from '../binlog-coord.js';
import { candidateInputs, chooseNewMaster, latestReplicas, type Choice } from '../candidates.js';
import type { MasterPosition } from '../detector.js';
import { mysqlGtidUnion, formatMysqlGtidSet, parseMysqlGtidSet } from '../gtid.js';
import { lostTransactions } from '../lost.js';
import type { LocationPolicy } from '../promotion.js';
import type { ServerSpec } from '../topology.js';
import type { BinlogCoord, Flavor } from '../types.js';
import { holdings, mariadbMaxPosition } from './positions.js';
import { blockingReason, type Classification, type Exclusion, type Survivor } from './survivors.js';

export const PLAN_VERSION = 1;

export type Standing = 'ahead' | 'equal' | 'behind';

export type Step =
  | { kind: 'relay_diff'; source: string; from: BinlogCoord }
  | { kind: 'gtid_catch_up'; source: string }
  | { kind: 'apply_own_relay_log'; liftDelay: boolean }
  | { kind: 'gtid_then_positions' }
  | { kind: 'repoint_gtid'; keepDelay?: number | undefined }
  | { kind: 'repoint_position'; keepDelay?: number | undefined }
  | { kind: 'manual'; reason: string };

export type StepKind = Step['kind'];

export interface Holds {
  /** Applied position in the dead master's binlog (projected: what it received). */
  coord: BinlogCoord;
  /** Everything it holds, as a GTID position/set ('' where there are no GTIDs). */
  gtid: string;
}

export interface NewMasterPlan {
  name: string;
  standing: 'equal' | 'behind';
  holds: Holds;
  steps: Step[];
  /** Its binlog holds the replicated history (log_bin and log_slave_updates): the others can catch up from it by GTID. */
  binlogHasHistory: boolean;
}

export interface ReplicaPlan {
  name: string;
  /** Against the new master as observed (before its own catch-up). */
  standing: Standing;
  holds: Holds;
  /** SQL_Delay, seconds (0: not delayed). */
  delay: number;
  /** Recovered after the new master is writable (its own relay log first); never waited for. */
  deferred: boolean;
  steps: Step[];
}

export type RefusalCode = 'blocked' | 'no_survivor' | 'no_candidate' | 'no_complete_candidate';

export interface FailoverPlan {
  version: 1;
  cluster: string;
  deadMaster: string;
  basis: 'observed' | 'applied';
  at: number;
  mode: 'gtid' | 'position' | undefined;
  flavor: Flavor | undefined;
  ok: boolean;
  refusal?: { code: RefusalCode; reason: string } | undefined;
  survivors: string[];
  excluded: Exclusion[];
  choice?: Choice | undefined;
  latest: { names: string[]; coord?: BinlogCoord | undefined; gtid?: string | undefined };
  /** Who can supply events a survivor lacks: most advanced survivors whose relay logs (best first), or binlog, hold them. */
  sources: { relay: string[]; gtid: string[] };
  newMaster?: NewMasterPlan | undefined;
  replicas: ReplicaPlan[];
  salvage: { planned: boolean; reason: string };
  expectedLoss: { text: string; count?: number | undefined; exact: boolean; ifSalvageFails?: string | undefined };
  notes: string[];
}

/** Where a survivor stands after applying its relay log (Phase 3.1). */
export interface AppliedPosition {
  exec: BinlogCoord;
  /** Everything it holds after applying (holdings(), GTID). */
  gtid: string;
  /** Did not finish applying within the deadline: recovered after promotion. */
  stillApplying?: boolean | undefined;
}

export interface PlanInput {
  cluster: string;
  deadMaster: string;
  /** Every configured server, config order. */
  servers: readonly ServerSpec[];
  classification: Classification;
  /** Phase 3.1's positions; without them, projected from what each survivor received. */
  applied?: ReadonlyMap<string, AppliedPosition> | undefined;
  options: {
    forced?: string | undefined;
    checkReplDelay: boolean;
    latestPriority: boolean;
    /** Delayed replicas that may be candidates anyway (besides allow_promotion in their config). */
    allowDelayed?: readonly string[] | undefined;
    /** The cluster's promotion_location (default nearest): the dead master's labels come from `servers`. */
    promotionLocation?: LocationPolicy | undefined;
  };
  /** Can the dead master's binlog be saved: its host's SSH (undefined: not known yet) and a binlog reader. */
  salvage: { sshReachable: boolean | undefined; reader: boolean };
  /** The dead master's last known position (the lost-transaction report). */
  lastMaster?: MasterPosition | undefined;
  /** Candidates that could not be brought level (onStepFailed → choose_again): name → why. */
  incomplete?: ReadonlyMap<string, string> | undefined;
  at: number;
}

interface Pos {
  s: Survivor;
  holds: Holds;
  /** Applies its relay log after the promotion (delayed, or still applying at the deadline). */
  deferred: boolean;
}

/** Does this survivor's binlog hold the replicated history (so others can catch up from it by GTID)? */
function binlogHasHistory(s: Survivor): boolean {
  return s.obs.logBin && s.obs.logSlaveUpdates;
}

function projectedGtid(flavor: Flavor, s: Survivor): string {
  const received = s.obs.replica?.retrievedGtidSet ?? '';
  if (flavor === 'mysql') {
    try {
      return formatMysqlGtidSet(mysqlGtidUnion(parseMysqlGtidSet(s.obs.gtid.executed), parseMysqlGtidSet(received)));
    } catch {
      return s.obs.gtid.executed;
    }
  }
  return mariadbMaxPosition([holdings(flavor, s.obs.gtid), received]);
}

function positionOf(flavor: Flavor, s: Survivor, applied: ReadonlyMap<string, AppliedPosition> | undefined): Pos {
  const a = applied?.get(s.name);
  const read = s.obs.replica!.read;
  if (s.delay > 0 || a?.stillApplying) return { s, holds: { coord: read, gtid: projectedGtid(flavor, s) }, deferred: true };
  if (a !== undefined) return { s, holds: { coord: a.exec, gtid: a.gtid }, deferred: false };
  return { s, holds: { coord: read, gtid: projectedGtid(flavor, s) }, deferred: false };
}

const cmp = (a: Pos, b: Holds): number => compareCoords(a.holds.coord, b.coord);

function refused(base: Omit<FailoverPlan, 'ok' | 'refusal'>, code: RefusalCode, reason: string): FailoverPlan {
  return { ...base, ok: false, refusal: { code, reason } };
}

export function planFailover(input: PlanInput): FailoverPlan {
  const c = input.classification;
  const flavor = c.flavor;
  const notes: string[] = [];
  const base: Omit<FailoverPlan, 'ok' | 'refusal'> = {
    version: PLAN_VERSION,
    cluster: input.cluster,
    deadMaster: input.deadMaster,
    basis: input.applied ? 'applied' : 'observed',
    at: input.at,
    mode: c.mode,
    flavor,
    survivors: c.survivors.map((s) => s.name),
    excluded: c.exclusions,
    latest: { names: [] },
    sources: { relay: [], gtid: [] },
    replicas: [],
    salvage: { planned: false, reason: 'no failover' },
    expectedLoss: { text: 'unknown', exact: false },
    notes,
  };
  if (c.blocking.length > 0) return refused(base, 'blocked', blockingReason(c.blocking));
  if (c.survivors.length === 0 || flavor === undefined || c.mode === undefined) return refused(base, 'no_survivor', `no surviving replica of ${input.deadMaster}`);
  const mode = c.mode;

  // --- Where each survivor stands (after applying what it received).
  const pos = c.survivors.map((s) => positionOf(flavor, s, input.applied));
  const posOf = new Map(pos.map((p) => [p.s.name, p]));
  const latestNames = latestReplicas(c.survivors.map((s) => ({ name: s.name, candidate_master: false, no_master: false, obs: s.obs })));
  let top = pos[0]!.holds;
  for (const p of pos) if (compareCoords(p.holds.coord, top.coord) > 0) top = p.holds;
  const latestGtid = flavor === 'mariadb' ? mariadbMaxPosition(pos.map((p) => p.holds.gtid)) : pos.find((p) => p.holds === top)?.holds.gtid;
  base.latest = { names: latestNames, coord: top.coord, gtid: latestGtid };

  // --- Salvage and the loss to expect.
  const lost = lostTransactions(flavor, input.lastMaster, pos.map((p) => ({ gtids: p.holds.gtid ? [p.holds.gtid] : [], exec: p.holds.coord })));
  const salvageReason =
    input.salvage.sshReachable === false
      ? `${input.deadMaster}'s host does not answer SSH: its binlog cannot be read`
      : !input.salvage.reader
        ? 'no binlog reader'
        : `${input.deadMaster}'s binlog after ${formatCoord(top.coord)} is read over SSH${input.salvage.sshReachable === undefined ? ' if its host answers' : ''} and applied to the new master before it takes writes`;
  base.salvage = { planned: input.salvage.sshReachable !== false && input.salvage.reader, reason: salvageReason };
  base.expectedLoss = base.salvage.planned
    ? { text: "none expected: every committed transaction in the dead master's binlog is saved", exact: false, ifSalvageFails: lost.text }
    : { text: lost.text, exact: lost.exact, ...(lost.count !== undefined ? { count: lost.count } : {}) };

  // --- The new master (MHA's rules), among survivors that can be level at promotion.
  const exclude = new Map<string, { code: string; reason: string }>();
  for (const p of pos) {
    if (input.applied?.get(p.s.name)?.stillApplying) exclude.set(p.s.name, { code: 'still_applying', reason: 'still applying its relay log at the deadline: recovered after the new master is writable' });
  }
  for (const [name, reason] of input.incomplete ?? []) exclude.set(name, { code: 'incomplete', reason: `cannot be brought level with ${latestNames.join(', ')}: ${reason}` });
  const maintenance = c.exclusions.filter((e) => e.code === 'in_maintenance').map((e) => e.server);
  // Promotion rules and locations (domain/promotion.ts): the dead master's labels come from the config, never from it.
  const policy = input.options.promotionLocation ?? 'nearest';
  const dm = input.servers.find((s) => s.name === input.deadMaster);
  const inputs = candidateInputs(input.servers, c.survivors.map((s) => ({ name: s.name, obs: withExec(s, posOf.get(s.name)!.holds.coord) })), { forced: input.options.forced, exclude, maintenance, allowDelayed: input.options.allowDelayed, promotion: { policy, master: input.deadMaster } });
  const choice = chooseNewMaster(inputs, { forced: input.options.forced, checkReplDelay: input.options.checkReplDelay, latestPriority: input.options.latestPriority, promotion: { policy, master: dm ? { datacenter: dm.datacenter, region: dm.region } : undefined } });
  base.choice = choice;
  if (!choice.ok) return refused(base, (input.incomplete?.size ?? 0) > 0 ? 'no_complete_candidate' : 'no_candidate', choice.reason);
  const nm = posOf.get(choice.chosen)!;
  const nmHistory = binlogHasHistory(nm.s);
  if (!nm.s.obs.logSlaveUpdates) notes.push(`${nm.s.name} has log_slave_updates=OFF: its binlog does not hold the replicated transactions, so the others are brought level before they replicate from it`);

  // --- Sources of the missing events: the most advanced survivors (their relay logs; their binlog if it holds the history).
  const tops = pos.filter((p) => compareCoords(p.holds.coord, top.coord) === 0);
  // Prefer a source that keeps its relay logs, and not the new master (its relay logs go at RESET SLAVE ALL).
  const rank = (p: Pos): number => (p.s.name === nm.s.name ? 2 : 0) + (p.s.obs.relayLogPurge ? 1 : 0);
  const relaySource = (not: string): Pos | undefined => [...tops].sort((a, b) => rank(a) - rank(b)).find((p) => p.s.name !== not);
  const gtidSource = (not: string): Pos | undefined => tops.find((p) => p.s.name !== not && !p.deferred && binlogHasHistory(p.s) && (mode === 'gtid' || flavor === 'mariadb'));
  base.sources = { relay: [...tops].sort((a, b) => rank(a) - rank(b)).map((p) => p.s.name), gtid: tops.filter((p) => !p.deferred && binlogHasHistory(p.s) && (mode === 'gtid' || flavor === 'mariadb')).map((p) => p.s.name) };
  for (const p of tops) if (p.s.obs.relayLogPurge && p.s.name !== nm.s.name) notes.push(`${p.s.name} has relay_log_purge=ON: relay logs it already applied may be gone, so a relay-log diff from it may fail`);

  // --- The new master's own catch-up.
  const nmBehind = cmp(nm, top) < 0;
  const nmSteps: Step[] = [];
  if (nm.deferred) nmSteps.push({ kind: 'apply_own_relay_log', liftDelay: nm.s.delay > 0 });
  if (nmBehind) {
    const g = gtidSource(nm.s.name);
    const r = relaySource(nm.s.name);
    if (mode === 'gtid' && g) nmSteps.push({ kind: 'gtid_catch_up', source: g.s.name });
    else if (r) nmSteps.push({ kind: 'relay_diff', source: r.s.name, from: nm.holds.coord });
    else if (g) nmSteps.push({ kind: 'gtid_catch_up', source: g.s.name });
  }
  base.newMaster = { name: nm.s.name, standing: nmBehind ? 'behind' : 'equal', holds: nm.holds, steps: nmSteps, binlogHasHistory: nmHistory };

  // --- Every other survivor.
  base.replicas = pos
    .filter((p) => p.s.name !== nm.s.name)
    .map((p) => {
      const standing: Standing = cmp(p, nm.holds) > 0 ? 'ahead' : cmp(p, nm.holds) < 0 ? 'behind' : 'equal';
      const behindTop = cmp(p, top) < 0;
      const keepDelay = p.s.delay > 0 ? { keepDelay: p.s.delay } : {};
      const repoint: Step = mode === 'gtid' ? { kind: 'repoint_gtid', ...keepDelay } : { kind: 'repoint_position', ...keepDelay };
      const steps: Step[] = [];
      let deferred = p.deferred;
      const failedCatchUp = input.incomplete?.get(p.s.name);
      if (failedCatchUp !== undefined) {
        // Its catch-up as the new master failed part-way: what it holds is no longer known for sure.
        steps.push({ kind: 'manual', reason: `its catch-up as the new master candidate failed (${failedCatchUp}): check it and recover it by hand` });
        deferred = false;
      } else if (mode === 'gtid' && nmHistory) {
        // The new master's binlog holds everything: replicating by GTID from its own position
        // brings it level (a delayed replica keeps its delay and applies later).
        steps.push({ kind: 'repoint_gtid', ...keepDelay });
        deferred = false;
      } else {
        if (p.deferred) steps.push({ kind: 'apply_own_relay_log', liftDelay: p.s.delay > 0 });
        if (behindTop) {
          // Recovered after the failover: from the new master's relay logs (kept until it is done) when they hold the events.
          const r = p.deferred && tops.some((t) => t.s.name === nm.s.name) ? nm : relaySource(p.s.name);
          if (r) steps.push({ kind: 'relay_diff', source: r.s.name, from: p.holds.coord });
          else if (mode === 'position' && flavor === 'mariadb' && nmHistory) steps.push({ kind: 'gtid_then_positions' });
          else steps.push({ kind: 'manual', reason: `lacks events up to ${formatCoord(top.coord)} that no other survivor's relay logs can supply` });
        }
        if (steps.at(-1)?.kind !== 'manual' && steps.at(-1)?.kind !== 'gtid_then_positions') steps.push(repoint);
      }
      return { name: p.s.name, standing, holds: p.holds, delay: p.s.delay, deferred, steps };
    });
  return { ...base, ok: true };
}

/** The observation with its applied position replaced (the choice's delay check reads obs.replica.exec). */
function withExec(s: Survivor, exec: BinlogCoord): Survivor['obs'] {
  return { ...s.obs, replica: { ...s.obs.replica!, exec } };
}

/** One line per step, for logs and the dry run. */
/**
 * The relay-log reads a deferred replica (recovered after the failover) needs from another survivor than the new
 * master: Phase 4 discards that survivor's relay logs when it repoints it, so they are read before (the new
 * master's own relay logs are kept until the deferred replicas are done).
 */
export function relayReadsAhead(replicas: readonly ReplicaPlan[], newMaster: string): Array<{ replica: string; source: string; from: BinlogCoord }> {
  return replicas.filter((r) => r.deferred).flatMap((r) => r.steps.flatMap((x) => (x.kind === 'relay_diff' && x.source !== newMaster ? [{ replica: r.name, source: x.source, from: x.from }] : [])));
}

export function describeStep(s: Step, newMaster: string): string {
  switch (s.kind) {
    case 'relay_diff':
      return `apply the events after ${formatCoord(s.from)} from ${s.source}'s relay logs`;
    case 'gtid_catch_up':
      return `catch up from ${s.source} by GTID`;
    case 'apply_own_relay_log':
      return `apply its own relay log${s.liftDelay ? ' (its delay lifted meanwhile)' : ''}`;
    case 'gtid_then_positions':
      return `catch up from ${newMaster} by GTID, then back to binlog positions`;
    case 'repoint_gtid':
      return `replicate from ${newMaster} by GTID${s.keepDelay ? ` (with no delay until level with it, then MASTER_DELAY=${s.keepDelay} restored)` : ''}`;
    case 'repoint_position':
      return `replicate from ${newMaster} at its binlog position before the saved transactions${s.keepDelay ? ` (with no delay until level with it, then MASTER_DELAY=${s.keepDelay} restored)` : ''}`;
    case 'manual':
      return `NOT recovered: ${s.reason}`;
  }
}
