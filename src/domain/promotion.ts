/**
 * Promotion rules and locations (orchestrator's promotion rules, MaxScale's
 * and replication-manager's preferences), pure.
 *
 *  - promotion_rule per server: prefer | neutral | prefer_not | must_not.
 *    MHA's flags keep their meaning: candidate_master → prefer, no_master →
 *    must_not (the config loader maps them).
 *  - datacenter / region labels from the configuration only: never queried
 *    from a server at failover time (the dead master cannot answer).
 *  - the cluster's promotion_location: 'nearest' ranks the dead master's
 *    datacenter first, then its region, then anywhere; 'same_region' never
 *    promotes across regions; 'anywhere' ignores locations.
 *  - never candidates unless explicitly allowed (allow_promotion, or the
 *    operator's --new-master): delayed replicas (SQL_Delay > 0) and backup:
 *    true servers. candidate_master alone does not allow a delayed replica
 *    (MHA files often set it on every server).
 *
 * Ranking of the eligible: rule (prefer, neutral, prefer_not), then location
 * (nearest), then the latest binlog events (latest_priority), then config
 * order. Without rules or labels this is MHA's order exactly (latest
 * candidate_master, any candidate_master, latest, any).
 */

export type PromotionRule = 'prefer' | 'neutral' | 'prefer_not' | 'must_not';
export type RuleSource = 'promotion_rule' | 'candidate_master' | 'no_master' | 'default';
export type LocationPolicy = 'nearest' | 'same_region' | 'anywhere';
export type Place = 'same_datacenter' | 'same_region' | 'other_region' | 'unknown';

export interface Labels {
  datacenter?: string | undefined;
  region?: string | undefined;
}

/** What the configuration says about a server's promotion. */
export interface PromotionTraits extends Labels {
  rule: PromotionRule;
  ruleFrom: RuleSource;
  backup: boolean;
  /** allow_promotion: a delayed replica or a backup server may be a candidate. */
  allowPromotion: boolean;
  /** candidate_master is set (MHA: it may be promoted; also lets a delayed replica be a candidate). */
  candidateMaster: boolean;
}

/** A server's promotion settings as the config holds them (hand-built configs: MHA's flags only). */
export interface PromotionConfig {
  candidate_master: boolean;
  no_master: boolean;
  promotion_rule?: PromotionRule | undefined;
  promotion_rule_from?: RuleSource | undefined;
  datacenter?: string | undefined;
  region?: string | undefined;
  backup?: boolean | undefined;
  allow_promotion?: boolean | undefined;
}

/** The traits of a server from its config fields. */
export function traitsOf(s: PromotionConfig): PromotionTraits {
  const implied: PromotionRule = s.no_master ? 'must_not' : s.candidate_master ? 'prefer' : 'neutral';
  const rule = s.promotion_rule ?? implied;
  const ruleFrom: RuleSource = s.promotion_rule_from ?? (s.promotion_rule !== undefined ? 'promotion_rule' : s.no_master ? 'no_master' : s.candidate_master ? 'candidate_master' : 'default');
  return { rule, ruleFrom, datacenter: s.datacenter, region: s.region, backup: s.backup ?? false, allowPromotion: s.allow_promotion ?? false, candidateMaster: s.candidate_master };
}

/** Where a server stands relative to the dead master, by the configured labels. */
export function placeOf(master: Labels | undefined, s: Labels): Place {
  if (!master) return 'unknown';
  if (master.datacenter !== undefined && s.datacenter !== undefined && master.datacenter === s.datacenter) {
    // Same datacenter name in another region would be a config mistake; the region decides then.
    if (master.region !== undefined && s.region !== undefined && master.region !== s.region) return 'other_region';
    return 'same_datacenter';
  }
  if (master.region !== undefined && s.region !== undefined) return master.region === s.region ? 'same_region' : 'other_region';
  return 'unknown';
}

function ruleText(t: PromotionTraits): string {
  return t.ruleFrom === 'promotion_rule' ? `promotion_rule ${t.rule}` : t.ruleFrom === 'default' ? `promotion_rule ${t.rule} (default)` : `${t.ruleFrom} (promotion_rule ${t.rule})`;
}

function placeText(p: Place, master: Labels | undefined): string {
  switch (p) {
    case 'same_datacenter':
      return `in the master's datacenter ${master?.datacenter ?? '?'}`;
    case 'same_region':
      return `in the master's region ${master?.region ?? '?'}, another datacenter`;
    case 'other_region':
      return `in another region than the master's ${master?.region ?? '?'}`;
    case 'unknown':
      return 'location unknown (no labels to compare)';
  }
}

/**
 * Why a server may not be promoted by the rules, or undefined. `forced`: the operator named it
 * (--new-master): must_not still holds; a delay, backup or location does not (the operator chose,
 * e.g. to recover in another region when a whole region is lost).
 */
export function ruleExclusion(t: PromotionTraits, o: { delaySeconds: number; place: Place; policy: LocationPolicy; master?: Labels | undefined; forced?: boolean | undefined }): { code: string; reason: string } | undefined {
  if (t.rule === 'must_not') return { code: 'must_not', reason: t.ruleFrom === 'no_master' ? 'no_master is set' : `${ruleText(t)}: never promoted` };
  if (o.forced) return undefined;
  if (t.backup && !t.allowPromotion) return { code: 'backup', reason: 'backup: true: never a candidate unless allow_promotion is set for it (or --new-master names it)' };
  if (o.delaySeconds > 0 && !t.allowPromotion) return { code: 'delayed', reason: `delayed replica (MASTER_DELAY=${o.delaySeconds} s): never a candidate unless allow_promotion is set for it (or --new-master names it)` };
  if (o.policy === 'same_region') {
    if (o.place === 'other_region') return { code: 'other_region', reason: `${placeText(o.place, o.master)}: promotion_location same_region never promotes across regions (--new-master can)` };
    if (o.place === 'unknown' && o.master?.region !== undefined) return { code: 'unknown_region', reason: "no region label: promotion_location same_region cannot tell whether it is in the master's region" };
  }
  return undefined;
}

const RULE_ORDER: Record<PromotionRule, number> = { prefer: 0, neutral: 1, prefer_not: 2, must_not: 3 };
const PLACE_ORDER: Record<Place, number> = { same_datacenter: 0, same_region: 1, unknown: 2, other_region: 3 };

export interface RankEntry {
  name: string;
  traits: PromotionTraits;
  place: Place;
  latest: boolean;
  /** Config order (MHA's priority). */
  index: number;
}

export interface RankOptions {
  policy: LocationPolicy;
  latestPriority: boolean;
}

/** Sort key: lower is better. */
function key(e: RankEntry, o: RankOptions): number[] {
  return [RULE_ORDER[e.traits.rule], o.policy === 'anywhere' ? 0 : PLACE_ORDER[e.place], o.latestPriority && !e.latest ? 1 : 0, e.index];
}

/** The eligible, best first. */
export function rankCandidates(entries: readonly RankEntry[], o: RankOptions): RankEntry[] {
  return [...entries].sort((a, b) => {
    const ka = key(a, o);
    const kb = key(b, o);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  });
}

/** Why `winner` ranks above `other`: the first criterion that differs, in words. */
export function whyAbove(winner: RankEntry, other: RankEntry, o: RankOptions, master?: Labels): string {
  if (RULE_ORDER[winner.traits.rule] !== RULE_ORDER[other.traits.rule]) return `${winner.name} has ${ruleText(winner.traits)}, ${other.name} ${ruleText(other.traits)}`;
  if (o.policy !== 'anywhere' && PLACE_ORDER[winner.place] !== PLACE_ORDER[other.place]) return `${winner.name} is ${placeText(winner.place, master)}, ${other.name} ${placeText(other.place, master)}`;
  if (o.latestPriority && winner.latest !== other.latest) return `${winner.name} has the latest binlog events, ${other.name} less`;
  return `${winner.name} comes first in config order`;
}

/** The rule name of a choice (the plan's `rule`): MHA's names where they apply. */
export function ruleOfChoice(e: RankEntry, o: RankOptions): 'latest_candidate' | 'candidate' | 'latest' | 'any' | 'prefer_not' {
  if (e.traits.rule === 'prefer') return o.latestPriority && e.latest ? 'latest_candidate' : 'candidate';
  if (e.traits.rule === 'prefer_not') return 'prefer_not';
  return o.latestPriority && e.latest ? 'latest' : 'any';
}

/** One sentence: why this one was chosen (and, given the runner-up, what put it above). */
export function chosenReason(e: RankEntry, o: RankOptions, master?: Labels, runnerUp?: RankEntry): string {
  const parts = [ruleText(e.traits)];
  if (o.policy !== 'anywhere' && e.place !== 'unknown') parts.push(placeText(e.place, master));
  if (o.latestPriority && e.latest) parts.push('has the latest binlog events');
  const why = runnerUp ? `; ${whyAbove(e, runnerUp, o, master)}` : '; the only eligible candidate';
  return parts.join(', ') + why;
}

/** The labels and rules of one server, for a line in a plan or /status (e.g. "prefer, fra1/eu"). */
export function describeTraits(t: PromotionTraits): string {
  const where = [t.datacenter, t.region].filter((x) => x !== undefined).join('/');
  return [t.rule, where, t.backup ? 'backup' : '', t.allowPromotion ? 'allow_promotion' : ''].filter((x) => x !== '').join(', ');
}
