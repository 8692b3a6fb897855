/**
 * `mhats status`: every server's promotion rule (and the setting it came
 * from), datacenter/region labels, backup/delay and maintenance, in the text
 * and in --json (statusModel is what --json prints). Pure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTopology } from '../../src/domain/topology.js';
import { renderStatus, statusModel } from '../../src/render/status.js';
import { painter } from '../../src/render/colors.js';
import { healthy } from '../helpers/observations.js';

test('status shows each server its promotion rule, labels, delay and maintenance (text and model)', () => {
  const h = healthy();
  const specs = [
    { ...h.specs[0]!, datacenter: 'fra1', region: 'eu' },
    { ...h.specs[1]!, candidate_master: true, promotion_rule_from: 'candidate_master' as const, datacenter: 'fra1', region: 'eu' },
    { ...h.specs[2]!, promotion_rule: 'must_not' as const, backup: true, datacenter: 'nyc1', region: 'us' },
  ];
  const probes = h.probes.map((p) => (p.ok && p.obs.name === 'db3' ? { ok: true as const, obs: { ...p.obs, replica: { ...p.obs.replica!, sqlDelay: 600 } } } : p));
  const analysis = analyzeTopology(specs, probes, { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false });
  const m = statusModel({ cluster: 'app1', specs, analysis }, undefined, { db3: ['server app1/db3 by alice ("disk swap"), until 2026-12-01T02:00:00Z, 1h left [mnt-1]'] });
  const flat = [m.tree[0]!, ...m.tree[0]!.children];
  const byName = new Map(flat.map((n) => [n.name, n]));
  assert.deepEqual(byName.get('db1')?.promotion, { rule: 'neutral', from: 'default', datacenter: 'fra1', region: 'eu', backup: false, allowPromotion: false, delaySeconds: 0 });
  assert.deepEqual(byName.get('db2')?.promotion, { rule: 'prefer', from: 'candidate_master', datacenter: 'fra1', region: 'eu', backup: false, allowPromotion: false, delaySeconds: 0 });
  assert.deepEqual(byName.get('db3')?.promotion, { rule: 'must_not', from: 'promotion_rule', datacenter: 'nyc1', region: 'us', backup: true, allowPromotion: false, delaySeconds: 600 });
  assert.deepEqual(byName.get('db2')?.maintenance, []);
  assert.match(byName.get('db3')?.maintenance[0] ?? '', /by alice \("disk swap"\)/);
  // JSON round trip keeps them (what --json prints).
  const json = JSON.parse(JSON.stringify(m)) as typeof m;
  assert.equal(json.tree[0]!.children.find((c) => c.name === 'db3')?.promotion.region, 'us');

  const text = renderStatus([m], painter(false));
  const lineOf = (n: string): string => text.split('\n').find((l) => new RegExp(`\\b${n}  `).test(l)) ?? '';
  assert.match(lineOf('db1'), /master {2}rule:neutral dc:fra1 region:eu {2}/);
  assert.match(lineOf('db2'), /replica {2}rule:prefer \(candidate_master\) dc:fra1 region:eu {2}/);
  assert.match(lineOf('db3'), /replica {2}rule:must_not dc:nyc1 region:us backup delayed 600s {2}IN MAINTENANCE {2}/);
  assert.doesNotMatch(lineOf('db2'), /MAINTENANCE/);
});
