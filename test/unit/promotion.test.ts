import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placeOf, rankCandidates, ruleExclusion, ruleOfChoice, traitsOf, whyAbove, type RankEntry } from '../../src/domain/promotion.js';
import { parseYamlConfig } from '../../src/config/yaml.js';
import { resolveCluster } from '../../src/config/resolve.js';

const master = { datacenter: 'fra1', region: 'eu' };

test('MHA flags keep their meaning: candidate_master → prefer, no_master → must_not', () => {
  assert.deepEqual([traitsOf({ candidate_master: true, no_master: false }).rule, traitsOf({ candidate_master: false, no_master: true }).rule, traitsOf({ candidate_master: false, no_master: false }).rule], ['prefer', 'must_not', 'neutral']);
  assert.equal(traitsOf({ candidate_master: false, no_master: true }).ruleFrom, 'no_master');
});

test('places from the configured labels', () => {
  assert.equal(placeOf(master, { datacenter: 'fra1', region: 'eu' }), 'same_datacenter');
  assert.equal(placeOf(master, { datacenter: 'ams1', region: 'eu' }), 'same_region');
  assert.equal(placeOf(master, { datacenter: 'nyc1', region: 'us' }), 'other_region');
  assert.equal(placeOf(master, {}), 'unknown');
  assert.equal(placeOf(undefined, { datacenter: 'fra1' }), 'unknown');
});

test('exclusions: must_not always; delayed and backup unless allowed; across regions with same_region', () => {
  const t = (o: Parameters<typeof traitsOf>[0]) => traitsOf(o);
  const base = { delaySeconds: 0, place: 'same_datacenter' as const, policy: 'nearest' as const, master };
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false, promotion_rule: 'must_not' }), { ...base, forced: true })?.code, 'must_not');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false, promotion_rule: 'prefer' }), { ...base, delaySeconds: 3600 })?.code, 'delayed');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false, allow_promotion: true }), { ...base, delaySeconds: 3600 }), undefined);
  assert.equal(ruleExclusion(t({ candidate_master: true, no_master: false }), { ...base, delaySeconds: 3600 })?.code, 'delayed', 'candidate_master alone does not (MHA files set it everywhere)');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false }), { ...base, delaySeconds: 3600, forced: true }), undefined, 'the operator chose it');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: true }), base)?.reason, 'no_master is set');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false, backup: true }), base)?.code, 'backup');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false, backup: true }), { ...base, forced: true }), undefined, 'the operator chose it');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false }), { ...base, place: 'other_region', policy: 'same_region' })?.code, 'other_region');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false }), { ...base, place: 'other_region', policy: 'nearest' }), undefined);
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false }), { ...base, place: 'other_region', policy: 'same_region', forced: true }), undefined, '--new-master may cross regions (a lost region)');
  assert.equal(ruleExclusion(t({ candidate_master: false, no_master: false }), { ...base, place: 'unknown', policy: 'same_region' })?.code, 'unknown_region');
});

function entry(name: string, index: number, rule: 'prefer' | 'neutral' | 'prefer_not', place: RankEntry['place'], latest: boolean): RankEntry {
  return { name, index, place, latest, traits: traitsOf({ candidate_master: false, no_master: false, promotion_rule: rule }) };
}

test("ranking: rule, then the master's datacenter, then latest, then config order", () => {
  const o = { policy: 'nearest' as const, latestPriority: true };
  // A prefer in the master's datacenter wins over an equally current prefer elsewhere, even listed first.
  const r = rankCandidates([entry('db4', 3, 'prefer', 'same_region', true), entry('db5', 4, 'prefer', 'same_datacenter', true), entry('db6', 5, 'neutral', 'same_datacenter', true)], o);
  assert.deepEqual(r.map((e) => e.name), ['db5', 'db4', 'db6']);
  assert.equal(whyAbove(r[0]!, r[1]!, o, master), "db5 is in the master's datacenter fra1, db4 in the master's region eu, another datacenter");
  assert.equal(whyAbove(r[1]!, r[2]!, o, master), 'db4 has promotion_rule prefer, db6 promotion_rule neutral');
  assert.equal(ruleOfChoice(r[0]!, o), 'latest_candidate');
  // prefer_not only when nothing better remains.
  assert.deepEqual(rankCandidates([entry('a', 0, 'prefer_not', 'same_datacenter', true), entry('b', 1, 'neutral', 'other_region', false)], o).map((e) => e.name), ['b', 'a']);
  // 'anywhere': locations do not matter; without labels the order is MHA's.
  assert.deepEqual(rankCandidates([entry('x', 0, 'neutral', 'other_region', true), entry('y', 1, 'neutral', 'same_datacenter', true)], { ...o, policy: 'anywhere' }).map((e) => e.name), ['x', 'y']);
  assert.deepEqual(rankCandidates([entry('x', 0, 'prefer', 'unknown', false), entry('y', 1, 'prefer', 'unknown', true)], o).map((e) => e.name), ['y', 'x']);
});

test('config: promotion_rule, labels, backup, allow_promotion, promotion_location; contradictions refused', () => {
  const yaml = `clusters:\n  app1:\n    promotion_location: same_region\n    servers:\n      - { hostname: db1, datacenter: fra1, region: eu }\n      - { hostname: db2, promotion_rule: prefer-not, backup: true, allow_promotion: true }\n      - { hostname: db3, no_master: true }\n      - { hostname: db4, candidate_master: true, promotion_rule: must_not }\n`;
  const p = parseYamlConfig(yaml, 'm.yaml');
  assert.deepEqual(p.problems, []);
  const ctx = { osUser: 'u', env: {}, resolvePath: (x: string) => x, readSecretFile: () => ({ ok: false as const, reason: 'none' }) };
  const r = resolveCluster(p.clusters[0]!, ctx);
  assert.match(r.problems.map((x) => `${x.line}: ${x.message}`).join('\n'), /^8: server db4: promotion_rule must_not contradicts candidate_master \(which means prefer\)/);
  const ok = resolveCluster(parseYamlConfig(yaml.replace(', promotion_rule: must_not', ''), 'm.yaml').clusters[0]!, ctx);
  const [db1, db2, db3, db4] = ok.cluster!.servers;
  assert.equal(ok.cluster!.promotion_location, 'same_region');
  assert.deepEqual([db1!.datacenter, db1!.region, db1!.promotion_rule, db1!.promotion_rule_from], ['fra1', 'eu', 'neutral', 'default']);
  assert.deepEqual([db2!.promotion_rule, db2!.backup, db2!.allow_promotion], ['prefer_not', true, true]);
  assert.deepEqual([db3!.promotion_rule, db3!.promotion_rule_from], ['must_not', 'no_master']);
  assert.deepEqual([db4!.promotion_rule, db4!.promotion_rule_from], ['prefer', 'candidate_master']);
  const bad = parseYamlConfig(yaml.replace('prefer-not', 'sometimes'), 'm.yaml');
  assert.match(bad.problems.map((x) => x.message).join('\n'), /promotion_rule must be one of prefer, neutral, prefer_not, must_not \(got "sometimes"\)/);
});
