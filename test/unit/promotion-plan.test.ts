/**
 * Promotion rules and locations wired into the decisions: the failover plan
 * (planFailover: failover, dry run, /status), the switchover's choice, and
 * check-repl's "no promotable replica". Pure; the integration test
 * test/integration/promotion-rules.test.ts runs them on real servers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySurvivors } from '../../src/domain/failover/survivors.js';
import { planFailover, type FailoverPlan, type PlanInput } from '../../src/domain/failover/plan.js';
import { analyzeTopology, type ServerSpec } from '../../src/domain/topology.js';
import { decideSwitchover } from '../../src/domain/switchover.js';
import { renderPlan } from '../../src/render/failover-plan.js';
import type { ServerProbe } from '../../src/domain/types.js';
import { healthy, obs, replicaStatus, spec } from '../helpers/observations.js';

const ip = (i: number): string => `10.0.0.${11 + i}`;
const coord = (n: number): { file: string; pos: number } => ({ file: 'mariadb-bin.000007', pos: 1000 + n * 100 });

interface S extends Partial<ServerSpec> {
  name: string;
  /** Transactions received and applied. */
  read: number;
  delay?: number;
}

/** db1 (fra1/eu unless given) is the dead master; MariaDB, GTID replication. */
function plan(servers: S[], options: Partial<PlanInput['options']> = {}, master: Partial<ServerSpec> = { datacenter: 'fra1', region: 'eu' }): FailoverPlan {
  const specs = [spec('db1', ip(0), master), ...servers.map(({ read: _r, delay: _d, ...s }, i) => spec(s.name, ip(i + 1), s))];
  const probes: ServerProbe[] = servers.map((s, i) => {
    const g = `0-1-${s.read}`;
    return {
      ok: true,
      obs: obs(s.name, ip(i + 1), i + 2, {
        gtid: { enabled: true, executed: g, binlogPos: g, slavePos: g, binlogState: g },
        replica: replicaStatus(ip(0), { read: coord(s.read), exec: coord(s.read), gtidAutoPosition: true, retrievedGtidSet: g, sqlDelay: s.delay ?? 0 }),
      }),
    };
  });
  const classification = classifySurvivors({ servers: specs, deadMaster: 'db1', probes, lastMaster: { serverId: 1 } });
  return planFailover({
    cluster: 'c1',
    deadMaster: 'db1',
    servers: specs,
    classification,
    options: { checkReplDelay: true, latestPriority: true, ...options },
    salvage: { sshReachable: false, reader: true },
    at: 1_700_000_000_000,
  });
}

const rejected = (p: FailoverPlan, name: string): { code?: string | undefined; reason: string } | undefined => p.choice?.rejected.find((r) => r.name === name);

describe('failover plan: promotion rules', () => {
  test('must_not is never promoted, even as the only up-to-date one; forcing it is refused', () => {
    const p = plan([{ name: 'db2', read: 10 }, { name: 'db3', read: 20, promotion_rule: 'must_not' }]);
    assert.equal(p.ok, true);
    assert.equal(p.newMaster?.name, 'db2');
    assert.equal(rejected(p, 'db3')?.code, 'must_not');
    assert.match(rejected(p, 'db3')!.reason, /promotion_rule must_not: never promoted/);
    // It still supplies the events db2 lacks (it is the most advanced).
    assert.deepEqual(p.newMaster?.steps, [{ kind: 'gtid_catch_up', source: 'db3' }]);
    const f = plan([{ name: 'db2', read: 10 }, { name: 'db3', read: 20, promotion_rule: 'must_not' }], { forced: 'db3' });
    assert.equal(f.ok, false);
    assert.match(f.refusal!.reason, /forced new master db3 is not eligible: promotion_rule must_not/);
    const none = plan([{ name: 'db2', read: 20, no_master: true }, { name: 'db3', read: 20, promotion_rule: 'must_not' }]);
    assert.equal(none.ok, false);
    assert.equal(none.refusal?.code, 'no_candidate');
  });

  test("prefer wins; among equally current prefer servers, the one in the dead master's datacenter", () => {
    const servers: S[] = [
      { name: 'db2', read: 20, promotion_rule: 'prefer', datacenter: 'ams1', region: 'eu' },
      { name: 'db3', read: 20, promotion_rule: 'prefer', datacenter: 'fra1', region: 'eu' },
      { name: 'db4', read: 20, datacenter: 'fra1', region: 'eu' },
    ];
    const p = plan(servers);
    assert.equal(p.newMaster?.name, 'db3');
    assert.equal(p.choice?.ok && p.choice.rule, 'latest_candidate');
    assert.match(p.choice?.ok ? p.choice.reason : '', /^promotion_rule prefer, in the master's datacenter fra1, has the latest binlog events; db3 is in the master's datacenter fra1, db2 in the master's region eu, another datacenter$/);
    // Every eligible server is ranked with what placed it.
    assert.deepEqual(
      p.choice?.ranking?.map((r) => [r.name, r.rule, r.place]),
      [
        ['db3', 'prefer', 'same_datacenter'],
        ['db2', 'prefer', 'same_region'],
        ['db4', 'neutral', 'same_datacenter'],
      ],
    );
    assert.equal(p.choice?.ranking?.[2]?.why, 'db3 has promotion_rule prefer, db4 promotion_rule neutral (default)');
    // The dry run / confirmation shows the ranking.
    const text = renderPlan(p).join('\n');
    assert.match(text, /ranking \(promotion_location nearest\):\n {4}1\. db3 \(prefer, same datacenter, latest\)\n {4}2\. db2 \(prefer, same region, latest\): below because db3 is in the master's datacenter fra1/);
    // promotion_location anywhere: config order decides among the equal.
    assert.equal(plan(servers, { promotionLocation: 'anywhere' }).newMaster?.name, 'db2');
    // Without labels or rules the order is MHA's: the latest, then config order.
    assert.equal(plan([{ name: 'db2', read: 10 }, { name: 'db3', read: 20 }], {}, {}).newMaster?.name, 'db3');
  });

  test('prefer beats a more current neutral one (it is brought level first); prefer_not only as a last resort', () => {
    const p = plan([{ name: 'db2', read: 20 }, { name: 'db3', read: 10, candidate_master: true }]);
    assert.equal(p.newMaster?.name, 'db3');
    assert.equal(p.choice?.ok && p.choice.rule, 'candidate');
    assert.deepEqual(p.newMaster?.steps, [{ kind: 'gtid_catch_up', source: 'db2' }]);
    const q = plan([{ name: 'db2', read: 20, promotion_rule: 'prefer_not' }, { name: 'db3', read: 10 }]);
    assert.equal(q.newMaster?.name, 'db3');
    const only = plan([{ name: 'db2', read: 20, promotion_rule: 'prefer_not' }, { name: 'db3', read: 10, promotion_rule: 'must_not' }]);
    assert.equal(only.newMaster?.name, 'db2');
    assert.equal(only.choice?.ok && only.choice.rule, 'prefer_not');
  });

  test('promotion_location same_region: never across regions; unlabelled servers are not guessed', () => {
    const servers: S[] = [
      { name: 'db2', read: 20, datacenter: 'nyc1', region: 'us' },
      { name: 'db3', read: 10, datacenter: 'ams1', region: 'eu' },
      { name: 'db4', read: 20 },
    ];
    const p = plan(servers, { promotionLocation: 'same_region' });
    assert.equal(p.newMaster?.name, 'db3');
    assert.equal(rejected(p, 'db2')?.code, 'other_region');
    assert.match(rejected(p, 'db2')!.reason, /in another region than the master's eu: promotion_location same_region never promotes across regions/);
    assert.equal(rejected(p, 'db4')?.code, 'unknown_region');
    // nearest: the same region first, then unlabelled, then another region (here all after the rule tie).
    const n = plan(servers, { promotionLocation: 'nearest' });
    assert.deepEqual(n.choice?.ranking?.map((r) => r.name), ['db3', 'db4', 'db2']);
    // No eligible server in the region: refused, naming each.
    const r = plan([{ name: 'db2', read: 20, datacenter: 'nyc1', region: 'us' }], { promotionLocation: 'same_region' });
    assert.equal(r.ok, false);
    assert.match(r.refusal!.reason, /db2 \(in another region/);
    // The operator may cross regions (a lost region): --new-master.
    assert.equal(plan([{ name: 'db2', read: 20, datacenter: 'nyc1', region: 'us' }], { promotionLocation: 'same_region', forced: 'db2' }).newMaster?.name, 'db2');
  });

  test('backup and delayed replicas: never candidates unless allow_promotion; still recovered', () => {
    const p = plan([{ name: 'db2', read: 10 }, { name: 'db3', read: 20, backup: true }, { name: 'db4', read: 20, delay: 3600, candidate_master: true }]);
    assert.equal(p.newMaster?.name, 'db2');
    assert.equal(rejected(p, 'db3')?.code, 'backup');
    assert.equal(rejected(p, 'db4')?.code, 'delayed');
    assert.deepEqual(p.replicas.map((r) => r.name), ['db3', 'db4']);
    const allowed = plan([{ name: 'db2', read: 10 }, { name: 'db3', read: 20, backup: true, allow_promotion: true }]);
    assert.equal(allowed.newMaster?.name, 'db3');
    const delayed = plan([{ name: 'db2', read: 10 }, { name: 'db3', read: 20, delay: 3600, allow_promotion: true }]);
    assert.equal(delayed.newMaster?.name, 'db3');
    assert.deepEqual(delayed.newMaster?.steps.map((s) => s.kind), ['apply_own_relay_log']);
  });
});

describe('switchover: promotion rules', () => {
  const topoOpts = { secondsBehindMaster: 30, checkReplDelay: true, checkReplFilter: true, multiTierSlave: false, replUser: 'repl' };
  const decide = (servers: Array<Partial<ServerSpec> & { name: string }>, promotionLocation?: 'nearest' | 'same_region' | 'anywhere', newMaster?: string) =>
    decideSwitchover({
      analysis: analyzeTopology(healthy().specs, healthy().probes, topoOpts),
      servers: servers.map((s) => ({ candidate_master: false, no_master: false, ...s })),
      promotionLocation,
      newMaster,
      maxLagSeconds: 1,
      runningUpdatesLimit: 1,
      masterProcesses: [],
      ownConnectionIds: [],
    });

  test('must_not is never the target; the master datacenter wins among equals; same_region holds', () => {
    const d = decide([{ name: 'db1', datacenter: 'fra1', region: 'eu' }, { name: 'db2', promotion_rule: 'must_not' }, { name: 'db3' }]);
    assert.equal(d.ok && d.plan.newMaster, 'db3');
    assert.equal(d.ok && d.plan.rejected.find((r) => r.name === 'db2')?.code, 'must_not');
    const e = decide([{ name: 'db1', datacenter: 'fra1', region: 'eu' }, { name: 'db2', datacenter: 'ams1', region: 'eu' }, { name: 'db3', datacenter: 'fra1', region: 'eu' }]);
    assert.equal(e.ok && e.plan.newMaster, 'db3');
    assert.match(e.ok ? e.plan.newMasterReason : '', /in the master's datacenter fra1/);
    const f = decide([{ name: 'db1', region: 'eu' }, { name: 'db2', region: 'us' }, { name: 'db3', region: 'us' }], 'same_region');
    assert.equal(f.ok, false);
    assert.match(f.ok ? '' : f.reason, /promotion_location same_region never promotes across regions/);
    // Forced across regions by the operator.
    const g = decide([{ name: 'db1', region: 'eu' }, { name: 'db2', region: 'us' }, { name: 'db3', region: 'us' }], 'same_region', 'db3');
    assert.equal(g.ok && g.plan.newMaster, 'db3');
  });
});

describe('check-repl: promotability follows the rules', () => {
  test('must_not and backup everywhere: no replica can be promoted (an error)', () => {
    const h = healthy();
    const specs = [h.specs[0]!, { ...h.specs[1]!, promotion_rule: 'must_not' as const }, { ...h.specs[2]!, backup: true }];
    const a = analyzeTopology(specs, h.probes, { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false, replUser: 'repl' });
    assert.equal(a.findings.find((f) => f.code === 'no_candidate')?.severity, 'error');
    const ok = analyzeTopology([h.specs[0]!, h.specs[1]!, { ...h.specs[2]!, backup: true, allow_promotion: true }], h.probes, { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false, replUser: 'repl' });
    assert.equal(ok.findings.find((f) => f.code === 'no_candidate'), undefined);
  });

  const o = { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false, replUser: 'repl' };
  const placed = (regions: [string, string, string]): ServerSpec[] => healthy().specs.map((s, i) => ({ ...s, datacenter: `${regions[i]}1`, region: regions[i] }));
  const promo = (a: ReturnType<typeof analyzeTopology>) => a.findings.filter((f) => f.code === 'no_candidate' || f.code === 'single_candidate');

  test('same_region with every replica in another region: an error naming each replica, its rule, and what to change', () => {
    const a = analyzeTopology(placed(['eu', 'us', 'us']), healthy().probes, { ...o, promotionLocation: 'same_region' });
    const [f, ...more] = promo(a);
    assert.equal(more.length, 0);
    assert.equal(f?.severity, 'error');
    assert.equal(a.healthy, false);
    assert.match(f.message, /^no replica can be promoted if the master dies: db2 \(in another region than the master's eu: promotion_location same_region never promotes across regions/);
    assert.match(f.message, /; db3 \(in another region/);
    assert.match(f.hint ?? '', /add a promotable replica in region eu, or set the cluster's promotion_location to nearest \(db2, db3 would then be promoted across regions\)/);
    // nearest (the default) or anywhere: both may be promoted, nothing to say.
    assert.deepEqual(promo(analyzeTopology(placed(['eu', 'us', 'us']), healthy().probes, o)), []);
    assert.deepEqual(promo(analyzeTopology(placed(['eu', 'us', 'us']), healthy().probes, { ...o, promotionLocation: 'anywhere' })), []);
  });

  test('only one promotable replica left by the rules: a warning naming it and the excluded ones', () => {
    const specs = placed(['eu', 'us', 'eu']);
    const a = analyzeTopology(specs, healthy().probes, { ...o, promotionLocation: 'same_region' });
    const [f, ...more] = promo(a);
    assert.equal(more.length, 0);
    assert.deepEqual([f?.severity, f?.code, f?.server], ['warning', 'single_candidate', 'db3']);
    assert.equal(a.healthy, true);
    assert.match(f!.message, /^db3 is the only replica that can be promoted if the master dies \(if it is lost too, no failover is possible\): db2 \(in another region/);
    // must_not + delayed: each named with its rule, and the hint says which setting to change.
    const probes = healthy().probes.map((p) => (p.ok && p.obs.name === 'db3' ? { ok: true as const, obs: { ...p.obs, replica: { ...p.obs.replica!, sqlDelay: 3600 } } } : p));
    const h = healthy().specs;
    const b = analyzeTopology([h[0]!, { ...h[1]!, promotion_rule: 'must_not' }, h[2]!], probes, o);
    const [g] = promo(b);
    assert.equal(g?.code, 'no_candidate');
    assert.match(g.message, /db2 \(promotion_rule must_not: never promoted\); db3 \(delayed replica \(MASTER_DELAY=3600 s\)/);
    assert.match(g.hint ?? '', /set promotion_rule neutral or prefer \(and clear no_master\) on one of db2; or set allow_promotion: true on one of db3/);
    // no_master (MHA) is named as such.
    const c = analyzeTopology([h[0]!, { ...h[1]!, no_master: true }, h[2]!], healthy().probes, o);
    assert.match(promo(c)[0]?.message ?? '', /db3 is the only replica .*: db2 \(no_master is set\)/);
  });

  test('same_region and a replica without a region label: it is named, and the hint says to label it', () => {
    const specs = placed(['eu', 'eu', 'eu']);
    const a = analyzeTopology([specs[0]!, specs[1]!, { ...specs[2]!, region: undefined, datacenter: undefined }], healthy().probes, { ...o, promotionLocation: 'same_region' });
    const [f] = promo(a);
    assert.equal(f?.code, 'single_candidate');
    assert.match(f.message, /db3 \(no region label/);
    assert.match(f.hint ?? '', /give db3 a region label/);
  });

  test('every replica promotable, or a single replica in the cluster: no promotability finding', () => {
    assert.deepEqual(promo(analyzeTopology(placed(['eu', 'eu', 'eu']), healthy().probes, { ...o, promotionLocation: 'same_region' })), []);
    const h = healthy();
    assert.deepEqual(promo(analyzeTopology(h.specs.slice(0, 2), h.probes.slice(0, 2), o)), []);
  });
});
