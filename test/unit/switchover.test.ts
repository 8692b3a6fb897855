import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTopology } from '../../src/domain/topology.js';
import { decideSwitchover, describePlan, isWriteStatement, longRunningWrites, sessionsToKill, type ProcessRow, type SwitchoverInput } from '../../src/domain/switchover.js';
import type { ServerProbe } from '../../src/domain/types.js';
import { healthy, obs, ok, replicaStatus, spec } from '../helpers/observations.js';

const topoOpts = { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false, replUser: 'repl' };

function proc(id: number, command: string, info: string | null, time = 0, user = 'app'): ProcessRow {
  return { id, user, host: '127.0.0.50:40000', db: 'shop', command, time, state: null, info };
}

const servers = [
  { name: 'db1', candidate_master: false, no_master: false },
  { name: 'db2', candidate_master: false, no_master: false },
  { name: 'db3', candidate_master: false, no_master: false },
];

function input(probes: ServerProbe[] = healthy().probes, extra: Partial<SwitchoverInput> = {}): SwitchoverInput {
  return {
    analysis: analyzeTopology(healthy().specs, probes, topoOpts),
    servers,
    maxLagSeconds: 1,
    runningUpdatesLimit: 1,
    masterProcesses: [proc(10, 'Sleep', null, 300), proc(11, 'Binlog Dump', null, 900, 'repl'), proc(12, 'Query', 'SELECT SLEEP(100)', 50)],
    ownConnectionIds: [99],
    ...extra,
  };
}

function modify(name: string, f: () => ServerProbe): ServerProbe[] {
  return healthy().probes.map((p) => (p.ok && p.obs.name === name ? f() : p));
}

function failed(d: ReturnType<typeof decideSwitchover>): string[] {
  return d.checks.filter((c) => !c.ok).map((c) => c.id);
}

describe('isWriteStatement (MHA: anything but SELECT and SHOW)', () => {
  test('reads are not writes', () => {
    for (const s of ['SELECT 1', '  select * from t', '/* app */ SELECT 1', '(SELECT 1) UNION (SELECT 2)', 'SHOW PROCESSLIST', 'WITH x AS (SELECT 1) SELECT * FROM x', 'EXPLAIN UPDATE t SET a=1', '-- c\nSELECT 1']) {
      assert.equal(isWriteStatement(s), false, s);
    }
  });
  test('everything else is', () => {
    for (const s of ['INSERT INTO t SELECT SLEEP(5)', 'update t set a = 1 where sleep(5)', '/* x */ DELETE FROM t', 'ALTER TABLE t ADD c INT', 'CALL p()', 'REPLACE INTO t VALUES (1)', 'LOAD DATA INFILE "x" INTO TABLE t', 'COMMIT']) {
      assert.equal(isWriteStatement(s), true, s);
    }
  });
  test('no statement is not a write', () => {
    assert.equal(isWriteStatement(null), false);
    assert.equal(isWriteStatement('  '), false);
  });
});

describe('processlist classification', () => {
  const rows = [
    proc(1, 'Query', 'UPDATE t SET a=1 WHERE SLEEP(5)', 3),
    proc(2, 'Query', 'UPDATE t SET a=1', 0),
    proc(3, 'Query', 'SELECT SLEEP(100)', 90),
    proc(4, 'Sleep', null, 500),
    proc(5, 'Binlog Dump', 'x', 900, 'repl'),
    proc(6, 'Daemon', null, 900, 'event_scheduler'),
    proc(7, 'Slave_SQL', 'INSERT x', 900, 'system user'),
    proc(8, 'Query', 'INSERT INTO t VALUES (1)', 7),
    proc(9, 'Killed', 'DELETE FROM t', 7),
  ];
  test('long-running writes: write statements at or over the limit, not ours, not system, not killed', () => {
    assert.deepEqual(longRunningWrites(rows, 1, [8]).map((p) => p.id), [1]);
    assert.deepEqual(longRunningWrites(rows, 4).map((p) => p.id), [8]);
    assert.deepEqual(longRunningWrites(rows, 0).map((p) => p.id), [1, 2, 8]);
  });
  test('sessions to kill: every client session (idle ones too), never replication, server threads or ours', () => {
    assert.deepEqual(sessionsToKill(rows, [2]).map((p) => p.id), [1, 3, 4, 8]);
  });
});

describe('decideSwitchover', () => {
  test('a healthy cluster: every check passes, the first replica in config order is chosen', () => {
    const d = decideSwitchover(input());
    assert.equal(d.ok, true, JSON.stringify(d.checks));
    assert.deepEqual(d.checks.map((c) => c.id), ['no_failover', 'topology', 'replicas', 'candidate', 'lag', 'long_writes', 'errant_gtid']);
    assert.ok(d.ok);
    assert.equal(d.plan.master, 'db1');
    assert.equal(d.plan.newMaster, 'db2');
    assert.deepEqual(d.plan.replicas, ['db3']);
    assert.equal(d.plan.mode, 'position');
    assert.match(d.checks.find((c) => c.id === 'long_writes')!.detail, /2 client connection\(s\) will be ended/);
  });

  test('candidate_master is preferred; --new-master forces; no_master is never chosen', () => {
    const s2 = [servers[0]!, servers[1]!, { ...servers[2]!, candidate_master: true }];
    const d = decideSwitchover(input(undefined, { servers: s2 }));
    assert.ok(d.ok);
    assert.equal(d.plan.newMaster, 'db3');
    const f = decideSwitchover(input(undefined, { servers: s2, newMaster: 'db2' }));
    assert.ok(f.ok);
    assert.equal(f.plan.newMaster, 'db2');
    const nm = decideSwitchover(input(undefined, { servers: [servers[0]!, { ...servers[1]!, no_master: true }, servers[2]!], newMaster: 'db2' }));
    assert.equal(nm.ok, false);
    assert.deepEqual(failed(nm), ['candidate']);
    assert.match(nm.checks.find((c) => c.id === 'candidate')!.detail, /no_master/);
  });

  test('the master itself as --new-master is refused', () => {
    const d = decideSwitchover(input(undefined, { newMaster: 'db1' }));
    assert.equal(d.ok, false);
    assert.match(d.checks.find((c) => c.id === 'candidate')!.detail, /already the master/);
  });

  test('a stopped SQL thread refuses, naming the replica', () => {
    const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.11', { sqlRunning: false }) })));
    const d = decideSwitchover(input(probes));
    assert.equal(d.ok, false);
    assert.ok(failed(d).includes('replicas'));
    assert.match(d.checks.find((c) => c.id === 'replicas')!.detail, /db3: SQL thread is stopped/);
    assert.ok(!d.ok && /db3/.test(d.reason));
  });

  test('the broken replica cannot be forced as new master', () => {
    const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.11', { ioRunning: 'No', lastIoErrno: 2003, lastIoError: 'cannot connect' }) })));
    const d = decideSwitchover(input(probes, { newMaster: 'db3' }));
    assert.deepEqual(failed(d).sort(), ['candidate', 'replicas']);
  });

  test('lag over the limit refuses; NULL lag refuses', () => {
    const lagging = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { secondsBehind: 5 }) })));
    const d = decideSwitchover(input(lagging));
    assert.deepEqual(failed(d), ['lag']);
    assert.match(d.checks.find((c) => c.id === 'lag')!.detail, /db2 is 5 s behind \(limit 1 s/);
    assert.equal(decideSwitchover(input(lagging, { maxLagSeconds: 10 })).ok, true);
    const unknown = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { secondsBehind: null }) })));
    assert.deepEqual(failed(decideSwitchover(input(unknown))), ['lag']);
  });

  test('a long-running write on the master refuses and says which; a long SELECT does not', () => {
    const d = decideSwitchover(input(undefined, { masterProcesses: [proc(42, 'Query', 'INSERT INTO t (v) SELECT SLEEP(5)', 2)] }));
    assert.deepEqual(failed(d), ['long_writes']);
    assert.match(d.checks.find((c) => c.id === 'long_writes')!.detail, /connection 42 \(app@127\.0\.0\.50\) running for 2 s: INSERT INTO t \(v\) SELECT SLEEP\(5\)/);
    assert.equal(decideSwitchover(input(undefined, { masterProcesses: [proc(42, 'Query', 'SELECT SLEEP(50)', 40)] })).ok, true);
    assert.equal(decideSwitchover(input(undefined, { masterProcesses: [proc(42, 'Query', 'UPDATE t SET a=1', 0)] })).ok, true);
  });

  test('an unreadable processlist refuses (cannot check)', () => {
    assert.deepEqual(failed(decideSwitchover(input(undefined, { masterProcesses: undefined }))), ['long_writes']);
  });

  test('an errant GTID refuses', () => {
    const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.11'), gtid: { enabled: true, executed: '0-1-10,0-3-2', binlogPos: '0-3-2', slavePos: '0-1-10', binlogState: '0-1-10,0-3-2' } })));
    const d = decideSwitchover(input(probes));
    assert.deepEqual(failed(d), ['errant_gtid']);
    assert.match(d.checks.find((c) => c.id === 'errant_gtid')!.detail, /db3: errant GTID transactions.*0-3-2/);
  });

  test('an unreachable replica, a read-only master, an unfinished failover: refused', () => {
    const unreachable: ServerProbe[] = [...healthy().probes.slice(0, 2), { ok: false, failure: { name: 'db3', host: '127.0.0.13', port: 3306, kind: 'refused', message: 'connection refused', elapsedMs: 1 } }];
    const u = decideSwitchover(input(unreachable));
    assert.ok(failed(u).includes('topology'));
    assert.match(u.checks.find((c) => c.id === 'topology')!.detail, /db3 cannot be reached: connection refused/);

    const ro = modify('db1', () => ok(obs('db1', '127.0.0.11', 1, { readOnly: true })));
    const r = decideSwitchover(input(ro));
    assert.equal(r.ok, false);

    const f = decideSwitchover(input(undefined, { unfinishedFailover: 'sandbox-20250101T000000Z-abcd' }));
    assert.deepEqual(failed(f), ['no_failover']);
    assert.match(f.checks[0]!.detail, /mhats ack/);
  });

  test('a replica of another replica is refused (only direct replicas are switched)', () => {
    const specs = [...healthy().specs];
    const probes = modify('db3', () => ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.12') })));
    const d = decideSwitchover({ ...input(probes), analysis: analyzeTopology(specs, probes, { ...topoOpts, multiTierSlave: true }) });
    assert.deepEqual(failed(d), ['replicas']);
    assert.match(d.checks.find((c) => c.id === 'replicas')!.detail, /db3: replicates from db2, not from the master db1/);
  });

  test('GTID replication gives a GTID plan', () => {
    const gtidReplica = (name: string, ip: string, id: number) => ok(obs(name, ip, id, { replica: replicaStatus('127.0.0.11', { gtidAutoPosition: true, mariadbUsingGtid: 'Slave_Pos' }) }));
    const probes: ServerProbe[] = [ok(obs('db1', '127.0.0.11', 1, { readOnly: false })), gtidReplica('db2', '127.0.0.12', 2), gtidReplica('db3', '127.0.0.13', 3)];
    const d = decideSwitchover({ ...input(probes), analysis: analyzeTopology([spec('db1', '127.0.0.11'), spec('db2', '127.0.0.12'), spec('db3', '127.0.0.13')], probes, topoOpts) });
    assert.ok(d.ok);
    assert.equal(d.plan.mode, 'gtid');
  });
});

describe('describePlan', () => {
  test('lists the steps in order, with the hooks and the old master fate', () => {
    const d = decideSwitchover(input());
    assert.ok(d.ok);
    const lines = describePlan(d.plan, { origMasterIsNewSlave: true, timeoutSeconds: 5, hook: true, hasSuperReadOnly: false });
    assert.match(lines[0]!, /1\. master_ip_online_change_script --command=stop/);
    assert.match(lines[1]!, /db1: set read_only = ON/);
    assert.ok(lines.some((l) => /db2: set read_only = OFF/.test(l)));
    assert.ok(lines.some((l) => /--command=start/.test(l)));
    assert.ok(lines.some((l) => /db3: once at db1's final position, replicate from db2/.test(l)));
    assert.ok(lines.some((l) => /db1: replicate from db2 \(stays read_only\)/.test(l)));
    const mysql = describePlan(d.plan, { origMasterIsNewSlave: false, timeoutSeconds: 5, hook: false, hasSuperReadOnly: true });
    assert.match(mysql[0]!, /read_only and super_read_only = ON/);
    assert.ok(mysql.some((l) => /db1: stays read_only and replicates from nobody/.test(l)));
  });

  test('built-in vip hooks moved inside the switch: release before read_only, add beside the catch-up, promotion with the VIP up, check after', () => {
    const d = decideSwitchover(input());
    assert.ok(d.ok);
    const lines = describePlan(d.plan, { origMasterIsNewSlave: true, timeoutSeconds: 5, hook: false, hasSuperReadOnly: false, vips: ['10.0.0.100/32'] });
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    assert.match(lines[0]!, /1\. db1's host: release 10\.0\.0\.100\/32 +\(writes through it blocked from here\)/);
    assert.match(lines[1]!, /db1: set read_only = ON/);
    assert.match(lines[2]!, /db2's host: add 10\.0\.0\.100\/32, gratuitous ARP +\(once db1's host has released it/);
    assert.ok(at(/db2: set read_only = OFF .*only once 10\.0\.0\.100\/32 is on its host/) > at(/db2: wait until it has applied/));
    assert.ok(at(/verify: 10\.0\.0\.100\/32 reaches db2/) > at(/db2: set read_only = OFF/));
    assert.ok(at(/RESET SLAVE ALL/) > at(/db2: set read_only = OFF/));
    assert.ok(lines.every((l) => !/--command=/.test(l)));
  });
});

describe('candidate inputs shared with the failover', () => {
  test('a delayed replica is never the switchover target unless forced', () => {
    const probes = modify('db2', () => ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11', { sqlDelay: 3600 }) })));
    const d = decideSwitchover(input(probes, { maxLagSeconds: 100 }));
    assert.equal(d.ok && d.plan.newMaster, 'db3', JSON.stringify(d.checks));
    assert.equal(d.ok && d.plan.rejected.find((r) => r.name === 'db2')?.code, 'delayed');
    const forced = decideSwitchover(input(probes, { maxLagSeconds: 100, newMaster: 'db2' }));
    assert.equal(forced.ok && forced.plan.newMaster, 'db2');
  });
});
