/**
 * planFailover / classifySurvivors / onStepFailed across GTID and binlog
 * positions, MySQL and MariaDB: candidate behind, replica behind, a failed
 * diff, a delayed replica, a replica without a binlog, log_slave_updates=OFF,
 * and a failure after promotion.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySurvivors, type ClassifyInput } from '../../src/domain/failover/survivors.js';
import { planFailover, relayReadsAhead, type FailoverPlan, type PlanInput, type Step } from '../../src/domain/failover/plan.js';
import { onStepFailed } from '../../src/domain/failover/fallback.js';
import { advanceSlavePos, holdings } from '../../src/domain/failover/positions.js';
import type { ServerProbe } from '../../src/domain/types.js';
import type { ServerSpec } from '../../src/domain/topology.js';
import { obs, replicaStatus, spec } from '../helpers/observations.js';

type Flavor = 'mariadb' | 'mysql';
type Mode = 'gtid' | 'position';

interface S {
  name: string;
  /** Transactions received from the dead master (seq / position). */
  read: number;
  /** Applied (default: read). */
  exec?: number;
  lsu?: boolean;
  logBin?: boolean;
  delay?: number;
  candidate?: boolean;
  noMaster?: boolean;
  relayPurge?: boolean;
  down?: boolean;
  source?: string;
  sqlError?: boolean;
  ignoreFail?: boolean;
}

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const ip = (i: number): string => `10.0.0.${11 + i}`;
const coord = (n: number): { file: string; pos: number } => ({ file: 'mysql-bin.000007', pos: 1000 + n * 100 });
const gtidOf = (flavor: Flavor, n: number): string => (flavor === 'mariadb' ? `0-1-${n}` : n === 0 ? '' : `${UUID}:1-${n}`);

/** db1 is the dead master; `servers` its replicas, in config order. */
function cluster(flavor: Flavor, mode: Mode, servers: S[]): { specs: ServerSpec[]; probes: ServerProbe[] } {
  const specs = [spec('db1', ip(0)), ...servers.map((s, i) => spec(s.name, ip(i + 1), { candidate_master: s.candidate ?? false, no_master: s.noMaster ?? false, ignore_fail: s.ignoreFail ?? false }))];
  const probes: ServerProbe[] = servers.map((s, i) => {
    if (s.down) return { ok: false, failure: { name: s.name, host: ip(i + 1), port: 3306, kind: 'refused', message: 'connection refused', elapsedMs: 1 } };
    const exec = s.exec ?? s.read;
    const lsu = s.lsu ?? true;
    const logBin = s.logBin ?? true;
    const version = flavor === 'mariadb' ? { flavor, major: 10, minor: 11, patch: 6, raw: '10.11.6-MariaDB' } : { flavor, major: 8, minor: 0, patch: 36, raw: '8.0.36' };
    const applied = gtidOf(flavor, exec);
    const gtid =
      flavor === 'mariadb'
        ? { enabled: true, executed: applied, binlogPos: logBin && lsu ? applied : '', slavePos: applied, binlogState: logBin && lsu ? applied : '' }
        : { enabled: mode === 'gtid', executed: mode === 'gtid' ? applied : '' };
    return {
      ok: true,
      obs: obs(s.name, ip(i + 1), i + 2, {
        version,
        logBin,
        logSlaveUpdates: lsu,
        binlog: logBin ? { file: 'mysql-bin.000001', pos: 500, doDb: '', ignoreDb: '' } : undefined,
        relayLogPurge: s.relayPurge ?? false,
        serverUuid: flavor === 'mysql' ? `00000000-0000-0000-0000-00000000000${i + 2}` : undefined,
        gtid,
        replica: replicaStatus(s.source ?? ip(0), {
          read: coord(s.read),
          exec: coord(exec),
          gtidAutoPosition: mode === 'gtid',
          retrievedGtidSet: flavor === 'mariadb' ? gtidOf(flavor, s.read) : mode === 'gtid' ? gtidOf(flavor, s.read) : '',
          sqlDelay: s.delay ?? 0,
          ...(s.sqlError ? { sqlRunning: false, lastSqlErrno: 1062, lastSqlError: 'Duplicate entry' } : {}),
        }),
      }),
    };
  });
  return { specs, probes };
}

function plan(flavor: Flavor, mode: Mode, servers: S[], extra: Partial<PlanInput> & { classify?: Partial<ClassifyInput> } = {}): FailoverPlan {
  const { specs, probes } = cluster(flavor, mode, servers);
  const classification = classifySurvivors({ servers: specs, deadMaster: 'db1', probes, lastMaster: { serverId: 1, serverUuid: UUID }, ...extra.classify });
  return planFailover({
    cluster: 'c1',
    deadMaster: 'db1',
    servers: specs,
    classification,
    options: { checkReplDelay: true, latestPriority: true },
    salvage: { sshReachable: false, reader: true },
    at: 1_700_000_000_000,
    ...extra,
  });
}

const kinds = (steps: Step[]): string[] => steps.map((s) => s.kind);
const rep = (p: FailoverPlan, name: string) => p.replicas.find((r) => r.name === name)!;

const MATRIX: Array<[Flavor, Mode]> = [
  ['mariadb', 'position'],
  ['mariadb', 'gtid'],
  ['mysql', 'position'],
  ['mysql', 'gtid'],
];

for (const [flavor, mode] of MATRIX) {
  describe(`${flavor}, ${mode === 'gtid' ? 'GTID' : 'binlog positions'}`, () => {
    test('all level: the candidate_master is promoted, the others repointed, nothing to catch up', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, candidate: true }, { name: 'db3', read: 20 }]);
      assert.equal(p.ok, true, p.refusal?.reason);
      assert.equal(p.newMaster?.name, 'db2');
      assert.equal(p.newMaster?.standing, 'equal');
      assert.deepEqual(p.newMaster?.steps, []);
      assert.equal(rep(p, 'db3').standing, 'equal');
      assert.deepEqual(kinds(rep(p, 'db3').steps), [mode === 'gtid' ? 'repoint_gtid' : 'repoint_position']);
      assert.equal(p.basis, 'observed');
      assert.equal(p.version, 1);
      // Plain data: it survives JSON unchanged (the journal and /status).
      assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
    });

    test('candidate behind: it catches up from the most advanced survivor first', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 10, candidate: true }, { name: 'db3', read: 20 }]);
      assert.equal(p.newMaster?.name, 'db2');
      assert.equal(p.newMaster?.standing, 'behind');
      const expected = mode === 'gtid' ? { kind: 'gtid_catch_up', source: 'db3' } : { kind: 'relay_diff', source: 'db3', from: coord(10) };
      assert.deepEqual(p.newMaster?.steps, [expected]);
      assert.equal(rep(p, 'db3').standing, 'ahead');
      assert.deepEqual(kinds(rep(p, 'db3').steps), [mode === 'gtid' ? 'repoint_gtid' : 'repoint_position']);
    });

    test('replica behind: brought level before it replicates from the new master', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, candidate: true }, { name: 'db3', read: 20 }, { name: 'db4', read: 10 }]);
      assert.equal(rep(p, 'db4').standing, 'behind');
      if (mode === 'gtid') assert.deepEqual(rep(p, 'db4').steps, [{ kind: 'repoint_gtid' }], 'the new master logs replicated transactions: GTID brings it level');
      else assert.deepEqual(rep(p, 'db4').steps, [{ kind: 'relay_diff', source: 'db3', from: coord(10) }, { kind: 'repoint_position' }]);
    });

    test('log_slave_updates=OFF: the new master\'s binlog lacks the history; a replica behind gets a relay-log diff, never a bare GTID repoint', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, candidate: true, lsu: false }, { name: 'db3', read: 20, lsu: false }, { name: 'db4', read: 10, lsu: false }]);
      assert.equal(p.newMaster?.binlogHasHistory, false);
      assert.deepEqual(kinds(rep(p, 'db4').steps), ['relay_diff', mode === 'gtid' ? 'repoint_gtid' : 'repoint_position']);
      assert.deepEqual(p.sources.gtid, [], 'no survivor binlog can supply events by GTID');
      assert.match(p.notes.join(' '), /db2 has log_slave_updates=OFF/);
    });

    test('log_slave_updates=OFF and the candidate behind: a relay-log diff, not a GTID catch-up from a binlog that lacks the events', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 10, candidate: true, lsu: false }, { name: 'db3', read: 20, lsu: false }]);
      assert.deepEqual(kinds(p.newMaster!.steps), ['relay_diff']);
      // The diff fails: nobody's binlog has the events, so the next complete candidate is chosen.
      const fb = onStepFailed(p, { server: 'db2', step: 'relay_diff', reason: 'ssh: connection refused', promoted: false, tried: [{ kind: 'relay_diff', source: 'db3' }] });
      assert.deepEqual(fb, { action: 'choose_again', exclude: 'db2', reason: 'ssh: connection refused' });
    });

    test('diff fails for the candidate: the next complete candidate, or a refusal', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 10, candidate: true }, { name: 'db3', read: 20 }]);
      const first = p.newMaster!.steps[0]!;
      const fb = onStepFailed(p, { server: 'db2', step: first.kind, reason: 'relay logs purged', promoted: false, tried: [{ kind: first.kind, source: 'db3' }] });
      if (mode === 'gtid') {
        // The GTID catch-up failed: the relay logs are the other way.
        assert.deepEqual(fb.action === 'retry' && fb.steps, [{ kind: 'relay_diff', source: 'db3', from: coord(10) }]);
      } else if (flavor === 'mariadb') {
        // MariaDB in positions: GTID catch-up from db3 (its binlog holds the history) before giving up.
        assert.deepEqual(fb.action === 'retry' && fb.steps, [{ kind: 'gtid_catch_up', source: 'db3' }]);
      } else assert.equal(fb.action, 'choose_again', 'MySQL without GTID: nothing else can bring it level');
      const fb2 = onStepFailed(p, { server: 'db2', step: 'gtid_catch_up', reason: 'timed out', promoted: false, tried: [{ kind: 'relay_diff', source: 'db3' }, { kind: 'gtid_catch_up', source: 'db3' }] });
      assert.equal(fb2.action, 'choose_again');
      const again = plan(flavor, mode, [{ name: 'db2', read: 10, candidate: true }, { name: 'db3', read: 20 }], { incomplete: new Map([['db2', 'relay logs purged']]) });
      assert.equal(again.ok, true);
      assert.equal(again.newMaster?.name, 'db3');
      assert.deepEqual(again.newMaster?.steps, []);
      assert.deepEqual(again.choice?.rejected.find((r) => r.name === 'db2')?.code, 'incomplete');
      // db3 is the only complete one and it may not be master: refuse, naming why.
      const none = plan(flavor, mode, [{ name: 'db2', read: 10, candidate: true }, { name: 'db3', read: 20, noMaster: true }], { incomplete: new Map([['db2', 'relay logs purged']]) });
      assert.equal(none.ok, false);
      assert.equal(none.refusal?.code, 'no_complete_candidate');
      assert.match(none.refusal.reason, /db2 \(cannot be brought level with db3: relay logs purged\); db3 \(no_master is set\)/);
    });

    test('diff fails for a replica: a fallback that cannot skip events, else left out by name', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, candidate: true, lsu: false }, { name: 'db3', read: 20, lsu: false }, { name: 'db4', read: 10, lsu: false }]);
      const fb = onStepFailed(p, { server: 'db4', step: 'relay_diff', reason: 'Cannot read relay logs', promoted: true, tried: [{ kind: 'relay_diff', source: 'db3' }] });
      // db2 (the new master) still has its relay logs: the other source.
      assert.equal(fb.action, 'retry');
      assert.deepEqual(fb.action === 'retry' && fb.steps[0], { kind: 'relay_diff', source: 'db2', from: coord(10) });
      const fb2 = onStepFailed(p, { server: 'db4', step: 'relay_diff', reason: 'Cannot read relay logs', promoted: true, tried: [{ kind: 'relay_diff', source: 'db3' }, { kind: 'relay_diff', source: 'db2' }] });
      assert.equal(fb2.action, 'leave_out');
      assert.match(fb2.action === 'leave_out' ? fb2.reason : '', /applied less than db2, db3 .* repointing it would skip them: recover it by hand/);
      // With the history in the new master's binlog, MariaDB in positions goes GTID-then-positions.
      const h = plan(flavor, mode, [{ name: 'db2', read: 20, candidate: true }, { name: 'db3', read: 20 }, { name: 'db4', read: 10 }]);
      const fb3 = onStepFailed(h, { server: 'db4', step: 'relay_diff', reason: 'x', promoted: true, tried: [{ kind: 'relay_diff', source: 'db3' }, { kind: 'relay_diff', source: 'db2' }] });
      if (flavor === 'mariadb' && mode === 'position') assert.deepEqual(fb3.action === 'retry' && fb3.steps, [{ kind: 'gtid_then_positions' }]);
      else if (mode === 'gtid') assert.equal(fb3.action, 'retry');
      else assert.equal(fb3.action, 'leave_out', 'MySQL without GTID: nothing else can bring it level');
    });

    test('delayed replica: never a candidate, never waited for, recovered after promotion', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, exec: 20 }, { name: 'db3', read: 20, exec: 5, delay: 3600 }], { options: { checkReplDelay: true, latestPriority: true } });
      assert.equal(p.newMaster?.name, 'db2');
      const r = rep(p, 'db3');
      assert.equal(r.delay, 3600);
      assert.deepEqual(p.choice?.rejected.find((x) => x.name === 'db3')?.code, 'delayed');
      assert.equal(p.excluded.find((e) => e.server === 'db3')?.code, 'delayed');
      assert.equal(p.excluded.find((e) => e.server === 'db3')?.scope, 'candidate');
      if (mode === 'gtid') {
        assert.deepEqual(r.steps, [{ kind: 'repoint_gtid', keepDelay: 3600 }], 'by GTID from its own position, delay kept');
        assert.equal(r.deferred, false);
      } else {
        assert.deepEqual(r.steps, [{ kind: 'apply_own_relay_log', liftDelay: true }, { kind: 'repoint_position', keepDelay: 3600 }]);
        assert.equal(r.deferred, true);
      }
      // Even as the only replica with everything, it is not promoted: the other one catches up from its relay logs.
      const q = plan(flavor, mode, [{ name: 'db2', read: 10 }, { name: 'db3', read: 20, exec: 5, delay: 3600 }]);
      assert.equal(q.newMaster?.name, 'db2');
      assert.deepEqual(q.newMaster?.steps, [{ kind: 'relay_diff', source: 'db3', from: coord(10) }]);
      // candidate_master alone does not make it one (MHA files set it everywhere)...
      const cm = plan(flavor, mode, [{ name: 'db2', read: 10 }, { name: 'db3', read: 20, exec: 5, delay: 3600, candidate: true }]);
      assert.equal(cm.newMaster?.name, 'db2');
      // ...explicitly allowed, or forced, it may be: its own relay log is applied first.
      for (const options of [{ checkReplDelay: true, latestPriority: true, allowDelayed: ['db3'] }, { checkReplDelay: true, latestPriority: true, forced: 'db3' }]) {
        const c = plan(flavor, mode, [{ name: 'db2', read: 10 }, { name: 'db3', read: 20, exec: 5, delay: 3600, candidate: true }], { options });
        assert.equal(c.newMaster?.name, 'db3');
        assert.deepEqual(kinds(c.newMaster.steps), ['apply_own_relay_log']);
      }
    });

    test('a replica still applying at the deadline is recovered after promotion and not chosen', () => {
      const applied = new Map([
        ['db2', { exec: coord(20), gtid: gtidOf(flavor, 20), stillApplying: true }],
        ['db3', { exec: coord(20), gtid: gtidOf(flavor, 20) }],
      ]);
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, candidate: true }, { name: 'db3', read: 20 }], { applied });
      assert.equal(p.basis, 'applied');
      assert.equal(p.newMaster?.name, 'db3');
      assert.equal(p.choice?.rejected.find((r) => r.name === 'db2')?.code, 'still_applying');
    });

    test('replica without a binlog: never the new master, recovered like any replica', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, logBin: false, candidate: true }, { name: 'db3', read: 20 }, { name: 'db4', read: 10, logBin: false }]);
      assert.equal(p.newMaster?.name, 'db3');
      assert.match(p.choice!.rejected.find((r) => r.name === 'db2')!.reason, /log_bin is OFF/);
      assert.equal(rep(p, 'db4').standing, 'behind');
      assert.equal(rep(p, 'db4').steps.at(-1)!.kind, mode === 'gtid' ? 'repoint_gtid' : 'repoint_position');
    });

    test('a failure after promotion is partial, never an abort; a replica that fails is left out', () => {
      const p = plan(flavor, mode, [{ name: 'db2', read: 20, candidate: true }, { name: 'db3', read: 20 }]);
      for (const step of ['leadership', 'deadline', 'hooks'] as const) {
        assert.equal(onStepFailed(p, { server: '', step, reason: 'x', promoted: true, tried: [] }).action, 'partial');
        assert.equal(onStepFailed(p, { server: '', step, reason: 'x', promoted: false, tried: [] }).action, 'abort');
      }
      assert.deepEqual(onStepFailed(p, { server: 'db3', step: 'repoint_position', reason: 'IO thread error 1236', promoted: true, tried: [] }), { action: 'leave_out', server: 'db3', reason: 'IO thread error 1236' });
      assert.equal(onStepFailed(p, { server: 'db2', step: 'relay_diff', reason: 'x', promoted: true, tried: [] }).action, 'partial');
      assert.equal(onStepFailed(p, { server: '', step: 'refence', reason: 'db1 came back writable and wrote', promoted: false, tried: [] }).action, 'abort');
      assert.equal(onStepFailed(p, { server: '', step: 'salvage', reason: 'ssh', promoted: false, tried: [] }).action, 'continue');
    });
  });
}

describe('classification', () => {
  test('coded exclusions; ignore_fail makes them non-blocking; failed and maintenance never block', () => {
    const { specs, probes } = cluster('mariadb', 'position', [
      { name: 'db2', read: 20 },
      { name: 'db3', read: 20, down: true },
      { name: 'db4', read: 20, source: '10.0.0.99' },
      { name: 'db5', read: 20, sqlError: true, ignoreFail: true },
      { name: 'db6', read: 20 },
      { name: 'db7', read: 20 },
      { name: 'db8', read: 20, down: true },
    ]);
    const c = classifySurvivors({ servers: specs, deadMaster: 'db1', probes, failed: new Set(['db6']), maintenance: ['db7', 'db8'] });
    const code = (n: string) => c.exclusions.find((e) => e.server === n);
    // db7 is in maintenance but healthy: recovered as a replica, never promoted.
    assert.deepEqual(c.survivors.map((s) => s.name), ['db2', 'db7']);
    assert.equal(code('db8')?.code, 'in_maintenance');
    assert.equal(code('db8')?.blocking, false);
    assert.equal(code('db8')?.scope, 'failover');
    assert.equal(code('db3')?.code, 'unreachable');
    assert.equal(code('db3')?.blocking, true);
    assert.equal(code('db4')?.code, 'wrong_source');
    assert.match(code('db4')!.reason, /replicates from 10\.0\.0\.99:3306, which is not in the config/);
    assert.equal(code('db5')?.code, 'sql_thread_broken');
    assert.equal(code('db5')?.blocking, false);
    assert.equal(code('db6')?.code, 'failed_old_master');
    assert.equal(code('db6')?.blocking, false);
    assert.equal(code('db7')?.code, 'in_maintenance');
    assert.equal(code('db7')?.blocking, false);
    assert.equal(code('db7')?.scope, 'candidate');
    const p = planFailover({ cluster: 'c', deadMaster: 'db1', servers: specs, classification: c, options: { checkReplDelay: true, latestPriority: true }, salvage: { sshReachable: undefined, reader: true }, at: 0 });
    assert.equal(p.ok, false);
    assert.equal(p.refusal?.code, 'blocked');
    // Without the blocking ones, db7 is never chosen although it is as advanced as db2.
    const q = planFailover({ cluster: 'c', deadMaster: 'db1', servers: specs, classification: { ...c, blocking: [] }, options: { checkReplDelay: true, latestPriority: true }, salvage: { sshReachable: undefined, reader: true }, at: 0 });
    assert.equal(q.newMaster?.name, 'db2');
    assert.equal(q.choice?.rejected.find((r) => r.name === 'db7')?.code, 'in_maintenance');
    assert.match(p.refusal.reason, /db3: unreachable .*; db4: replicates from/);
  });

  test('a replica of a FAILED server is named by that server (resolved by ip or hostname), not as unknown', () => {
    const { specs, probes } = cluster('mariadb', 'position', [{ name: 'db2', read: 20 }, { name: 'db3', read: 20, source: ip(1) }]);
    specs[1] = { ...specs[1]!, hostname: 'db2.example' };
    const c = classifySurvivors({ servers: specs, deadMaster: 'db1', probes, failed: new Set(['db2']) });
    assert.match(c.exclusions.find((e) => e.server === 'db3')!.reason, /replicates from db2 \(10\.0\.0\.12:3306\), not from db1/);
  });

  test('mixed replication modes: the minority is excluded and blocks', () => {
    const a = cluster('mariadb', 'gtid', [{ name: 'db2', read: 20 }, { name: 'db3', read: 20 }]);
    const b = cluster('mariadb', 'position', [{ name: 'db2', read: 20 }, { name: 'db3', read: 20 }, { name: 'db4', read: 20 }]);
    const probes = [a.probes[0]!, a.probes[1]!, b.probes[2]!];
    const specs = b.specs;
    const c = classifySurvivors({ servers: specs, deadMaster: 'db1', probes });
    assert.equal(c.mode, 'gtid');
    assert.deepEqual(c.blocking.map((e) => [e.server, e.code]), [['db4', 'mixed_mode']]);
  });

  test('an errant GTID blocks', () => {
    const { specs, probes } = cluster('mariadb', 'gtid', [{ name: 'db2', read: 20 }, { name: 'db3', read: 20 }]);
    const p = probes[1]!;
    if (p.ok) p.obs.gtid = { ...p.obs.gtid, binlogState: '0-1-20,0-3-1', binlogPos: '0-3-1' };
    const c = classifySurvivors({ servers: specs, deadMaster: 'db1', probes, lastMaster: { serverId: 1 } });
    assert.deepEqual(c.blocking.map((e) => [e.server, e.code]), [['db3', 'errant_gtid']]);
  });
});

describe('positions', () => {
  test('MariaDB: what a server holds is the highest per domain over binlog, slave and current positions', () => {
    // log_slave_updates=OFF: gtid_binlog_pos is empty, gtid_slave_pos has the replicated transactions.
    assert.equal(holdings('mariadb', { enabled: true, executed: '0-1-8', binlogPos: '', slavePos: '0-1-8' }), '0-1-8');
    // A relay-log diff applied by a client is in gtid_binlog_pos (server_id 1), not in gtid_slave_pos or current_pos.
    assert.equal(holdings('mariadb', { enabled: true, executed: '0-1-8', binlogPos: '0-1-16', slavePos: '0-1-8' }), '0-1-16');
    assert.equal(holdings('mysql', { enabled: true, executed: `${UUID}:1-5` }), `${UUID}:1-5`);
  });

  test('after a diff, gtid_slave_pos advances so GTID replication never sends those transactions again', () => {
    assert.equal(advanceSlavePos('0-1-10,1-5-3', ['0-1-11', '0-1-12']), '0-1-12,1-5-3');
    assert.equal(advanceSlavePos('', ['0-1-4']), '0-1-4');
  });
});

describe('expected loss and salvage', () => {
  test('salvage planned when the dead master\'s host answers SSH; the exact loss otherwise', () => {
    const servers: S[] = [{ name: 'db2', read: 18 }, { name: 'db3', read: 20 }];
    const last = { coord: coord(25), gtid: '0-1-25', at: 1_700_000_000_000 };
    const yes = plan('mariadb', 'gtid', servers, { salvage: { sshReachable: true, reader: true }, lastMaster: last });
    assert.equal(yes.salvage.planned, true);
    assert.match(yes.expectedLoss.text, /^none expected/);
    assert.match(yes.expectedLoss.ifSalvageFails!, /^5 transaction\(s\): 0-1-21\.\.0-1-25/);
    const no = plan('mariadb', 'gtid', servers, { salvage: { sshReachable: false, reader: true }, lastMaster: last });
    assert.equal(no.salvage.planned, false);
    assert.match(no.salvage.reason, /does not answer SSH/);
    assert.equal(no.expectedLoss.count, 5);
    assert.equal(no.expectedLoss.exact, true);
  });
});

describe('relay-log reads ahead for deferred replicas', () => {
  const c = (pos: number): { file: string; pos: number } => ({ file: 'mysql-bin.000001', pos });
  const r = (name: string, deferred: boolean, steps: Step[]): FailoverPlan['replicas'][number] => ({ name, standing: 'behind', holds: { coord: c(100), gtid: '' }, delay: deferred ? 3600 : 0, deferred, steps });

  test("only a deferred replica's relay_diff from another survivor than the new master is read ahead", () => {
    const reads = relayReadsAhead(
      [
        r('db3', false, [{ kind: 'relay_diff', source: 'db4', from: c(100) }, { kind: 'repoint_position' }]),
        r('db5', true, [{ kind: 'apply_own_relay_log', liftDelay: true }, { kind: 'relay_diff', source: 'db3', from: c(120) }, { kind: 'repoint_position', keepDelay: 3600 }]),
        r('db6', true, [{ kind: 'apply_own_relay_log', liftDelay: true }, { kind: 'relay_diff', source: 'db2', from: c(130) }, { kind: 'repoint_position', keepDelay: 3600 }]),
        r('db7', true, [{ kind: 'repoint_gtid', keepDelay: 3600 }]),
      ],
      'db2',
    );
    assert.deepEqual(reads, [{ replica: 'db5', source: 'db3', from: c(120) }]);
  });
});
