/**
 * Choosing the new master. Pure: replicas' observations and config in, a
 * choice with every rejected host and its reason, and the ranking of the
 * eligible with what decided each place, out.
 *
 * Order (MHA's ServerManager::select_new_master, extended by the promotion
 * rules of src/domain/promotion.ts):
 *   1. a forced host (--new-master), if eligible;
 *   2. by promotion rule: prefer (candidate_master), neutral, prefer_not;
 *   3. by location (promotion_location nearest): the dead master's
 *      datacenter, then its region, then unlabelled, then other regions;
 *   4. the latest binlog events first (latest_priority);
 *   5. config order.
 * Without rules or labels this is MHA's order exactly: the latest
 * candidate_master, any candidate_master, the latest replica, any replica.
 * Exclusions: must_not / no_master; backup and delayed replicas unless
 * allow_promotion; another region with promotion_location same_region; log_bin
 * off; a newer major version than the oldest replica; lag beyond
 * check_repl_delay's limit; maintenance; and whatever the caller excludes (one
 * still applying its relay log, one that could not be brought level), each
 * with its reason and code. Coordinates are compared numerically (MHA compared
 * file names as strings: issue #143).
 *
 * candidateInputs() builds the inputs, the same way for the failover, the
 * monitor's plan (/status) and the switchover.
 */
import { binlogFileIndex, compareCoords } from './binlog-coord.js';
import type { BinlogCoord, ServerObservation } from './types.js';
import { chosenReason, placeOf, rankCandidates, ruleExclusion, ruleOfChoice, traitsOf, whyAbove, type Labels, type LocationPolicy, type Place, type PromotionConfig, type PromotionRule, type PromotionTraits, type RankEntry } from './promotion.js';

export interface CandidateInput {
  name: string;
  candidate_master: boolean;
  no_master: boolean;
  /** In maintenance: never a candidate. */
  inMaintenance?: boolean | undefined;
  obs: ServerObservation;
  /** Not a candidate, for this reason (it still counts for "latest"). */
  exclude?: { code: string; reason: string } | undefined;
  /** Its promotion rule and labels (default: from candidate_master / no_master). */
  traits?: PromotionTraits | undefined;
  /** Where it is relative to the master, by the configured labels (default unknown). */
  place?: Place | undefined;
}

/** The config of a server that the choice needs: MHA's flags and the promotion rules. */
export interface CandidateServer extends PromotionConfig {
  name: string;
}

/** The promotion policy of a choice: the cluster's promotion_location, and the master whose labels count. */
export interface PromotionContext {
  policy: LocationPolicy;
  /** The (dead, or switched-over) master: its datacenter and region. */
  master?: Labels | undefined;
}

export interface ChooseOptions {
  forced?: string | undefined;
  checkReplDelay: boolean;
  latestPriority: boolean;
  /** MHA: 100,000,000 bytes of unapplied binlog. */
  maxDelayBytes?: number | undefined;
  /** Used to estimate byte distance across a binlog rotation. Default 1 GiB. */
  maxBinlogSize?: number | undefined;
  /** promotion_location and the master's labels (default: nearest, no labels). */
  promotion?: PromotionContext | undefined;
}

export interface Rejection {
  name: string;
  reason: string;
  /** Machine-readable cause where the caller gave one (e.g. 'delayed'). */
  code?: string | undefined;
}

/**
 * The candidate inputs, in config order (MHA's priority order): every server
 * of `servers` that is among `replicas`, with its promotion traits, its place
 * relative to the master (`promotion.master`, a config name) and the rules'
 * exclusion (must_not; backup and delayed replicas unless allow_promotion or
 * forced; other regions under same_region). `allowDelayed` also lets these
 * delayed replicas be candidates; `exclude` adds the caller's own exclusions
 * (they win: they say why now).
 */
export function candidateInputs(
  servers: readonly CandidateServer[],
  replicas: ReadonlyArray<{ name: string; obs: ServerObservation }>,
  opts: {
    forced?: string | undefined;
    exclude?: ReadonlyMap<string, { code: string; reason: string }> | undefined;
    maintenance?: readonly string[] | undefined;
    allowDelayed?: readonly string[] | undefined;
    promotion?: { policy: LocationPolicy; master?: string | undefined } | undefined;
  } = {},
): CandidateInput[] {
  const policy = opts.promotion?.policy ?? 'nearest';
  const m = opts.promotion?.master !== undefined ? servers.find((s) => s.name === opts.promotion!.master) : undefined;
  const master = m !== undefined ? { datacenter: m.datacenter, region: m.region } : undefined;
  return servers.flatMap((s) => {
    const r = replicas.find((x) => x.name === s.name);
    if (r === undefined) return [];
    const delay = r.obs.replica?.sqlDelay ?? 0;
    const traits = traitsOf(s);
    const allowed = opts.allowDelayed?.includes(s.name) ?? false;
    const place = placeOf(master, s);
    const exclude = opts.exclude?.get(s.name) ?? ruleExclusion(allowed ? { ...traits, allowPromotion: true } : traits, { delaySeconds: delay, place, policy, master, forced: opts.forced === s.name });
    const inMaintenance = opts.maintenance?.includes(s.name) ?? false;
    return [{ name: s.name, candidate_master: s.candidate_master, no_master: s.no_master, obs: r.obs, traits, place, ...(inMaintenance ? { inMaintenance } : {}), ...(exclude ? { exclude } : {}) }];
  });
}

/** One eligible server in rank order: its rule, place, and what put it below the chosen one. */
export interface Ranked {
  name: string;
  rule: PromotionRule;
  place: Place;
  latest: boolean;
  /** The chosen one: why it was chosen; the others: what put the chosen one above it. */
  why: string;
}

export type Choice =
  | { ok: true; chosen: string; rule: 'forced' | 'latest_candidate' | 'candidate' | 'latest' | 'any' | 'prefer_not'; reason: string; latest: string[]; rejected: Rejection[]; ranking?: Ranked[] | undefined; policy?: LocationPolicy | undefined }
  | { ok: false; reason: string; latest: string[]; rejected: Rejection[]; ranking?: Ranked[] | undefined; policy?: LocationPolicy | undefined };

function versionKey(o: ServerObservation): number {
  return o.version.major * 100 + o.version.minor;
}

/** Bytes between a replica's applied position and the latest received one. */
export function delayBytes(latestRead: BinlogCoord, targetExec: BinlogCoord, maxBinlogSize: number): number {
  const a = binlogFileIndex(latestRead.file);
  const b = binlogFileIndex(targetExec.file);
  if (a === b) return Math.max(0, latestRead.pos - targetExec.pos);
  if (a < b) return 0;
  return latestRead.pos + Math.max(0, maxBinlogSize - targetExec.pos) + (a - b - 1) * maxBinlogSize;
}

/** The replicas that received the most of the old master's binlog. */
export function latestReplicas(replicas: CandidateInput[]): string[] {
  const withStatus = replicas.filter((r) => r.obs.replica !== undefined);
  if (withStatus.length === 0) return [];
  let best = withStatus[0]!.obs.replica!.read;
  for (const r of withStatus) if (compareCoords(r.obs.replica!.read, best) > 0) best = r.obs.replica!.read;
  return withStatus.filter((r) => compareCoords(r.obs.replica!.read, best) === 0).map((r) => r.name);
}

export function chooseNewMaster(replicas: CandidateInput[], opts: ChooseOptions): Choice {
  const maxDelay = opts.maxDelayBytes ?? 100_000_000;
  const maxBinlogSize = opts.maxBinlogSize ?? 1024 * 1024 * 1024;
  const latest = latestReplicas(replicas);
  const latestRead = replicas.find((r) => r.name === latest[0])?.obs.replica?.read;
  const oldest = Math.min(...replicas.map((r) => versionKey(r.obs)));
  const rejected: Rejection[] = [];
  const eligible = new Set<string>();
  for (const r of replicas) {
    const o = r.obs;
    let reason: string | undefined;
    if (r.exclude) {
      rejected.push({ name: r.name, reason: r.exclude.reason, code: r.exclude.code });
      continue;
    }
    if (r.inMaintenance) {
      rejected.push({ name: r.name, reason: 'in maintenance (mhats maintenance list)', code: 'in_maintenance' });
      continue;
    }
    if (r.no_master) reason = 'no_master is set';
    else if (!o.logBin) reason = 'log_bin is OFF: it has no binlog for the others to replicate from';
    else if (versionKey(o) > oldest) reason = `newer version (${o.version.raw}) than the oldest replica: the others could not replicate from it`;
    else if (opts.checkReplDelay && latestRead !== undefined && o.replica !== undefined) {
      const d = delayBytes(latestRead, o.replica.exec, maxBinlogSize);
      if (d > maxDelay) reason = `too far behind: ${d} bytes of binlog not yet applied (check_repl_delay limit ${maxDelay})`;
    }
    if (reason === undefined) eligible.add(r.name);
    else rejected.push({ name: r.name, reason });
  }
  const ro = { policy: opts.promotion?.policy ?? 'nearest', latestPriority: opts.latestPriority } as const;
  const master = opts.promotion?.master;
  const ranked = rankCandidates(
    replicas.flatMap((r, index): RankEntry[] => (eligible.has(r.name) ? [{ name: r.name, traits: r.traits ?? traitsOf(r), place: r.place ?? 'unknown', latest: latest.includes(r.name), index }] : [])),
    ro,
  );
  const top = ranked[0];
  const ranking: Ranked[] = ranked.map((e, i) => ({ name: e.name, rule: e.traits.rule, place: e.place, latest: e.latest, why: i === 0 ? chosenReason(e, ro, master, ranked[1]) : whyAbove(top!, e, ro, master) }));
  const result = (chosen: string, rule: Extract<Choice, { ok: true }>['rule'], reason: string): Choice => ({ ok: true, chosen, rule, reason, latest, rejected, ranking, policy: ro.policy });

  if (opts.forced !== undefined) {
    const f = replicas.find((r) => r.name === opts.forced);
    if (f === undefined) return { ok: false, reason: `the forced new master ${opts.forced} is not a surviving replica (known: ${replicas.map((r) => r.name).join(', ') || 'none'})`, latest, rejected, ranking, policy: ro.policy };
    if (!eligible.has(f.name)) return { ok: false, reason: `the forced new master ${f.name} is not eligible: ${rejected.find((x) => x.name === f.name)?.reason ?? '?'}`, latest, rejected, ranking, policy: ro.policy };
    return result(f.name, 'forced', 'forced by the operator');
  }
  if (top !== undefined) return result(top.name, ruleOfChoice(top, ro), chosenReason(top, ro, master, ranked[1]));
  return { ok: false, reason: `no eligible new master: ${rejected.map((r) => `${r.name} (${r.reason})`).join('; ') || 'no surviving replica'}`, latest, rejected, ranking, policy: ro.policy };
}
