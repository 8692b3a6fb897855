import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyFailure,
  classifyWitness,
  decide,
  deathPending,
  detect,
  initialDetectorState,
  parseGreeting,
  parseProbeOutput,
  probeArgv,
  type CheckResult,
  type DecideInput,
  type DetectorSettings,
  type DetectorState,
  type ReplicaSample,
  type RouteReport,
  type WitnessReport,
} from '../../src/domain/detector.js';

const S: DetectorSettings = { failuresToSuspect: 3, stallsToFail: 4 };

/** A fake clock: checks happen every `interval` ms from t=0. */
function run(results: Array<Partial<CheckResult> & { ok: boolean }>, settings: DetectorSettings = S, interval = 1000) {
  let state: DetectorState = initialDetectorState;
  let now = 0;
  const transitions: string[] = [];
  for (const r of results) {
    now += interval;
    const out = detect(state, { at: now, latencyMs: 1, ...r }, settings);
    state = out.state;
    transitions.push(out.transition);
  }
  return { state, transitions };
}

describe('detect: the manager’s own checks', () => {
  test('one lost ping never makes a suspicion', () => {
    const { state, transitions } = run([{ ok: true }, { ok: false, kind: 'timeout' }, { ok: true }]);
    assert.equal(state.phase, 'healthy');
    assert.deepEqual(transitions, ['none', 'first_failure', 'recovered']);
  });

  test('N failures in a row make a suspicion, with the start of the first failed check', () => {
    const { state, transitions } = run([{ ok: true }, { ok: false, kind: 'refused' }, { ok: false, kind: 'refused' }, { ok: false, kind: 'refused' }, { ok: false, kind: 'refused' }]);
    assert.equal(state.phase, 'suspect');
    assert.equal(state.firstFailureAt, 1999); // ended at 2000 after 1 ms
    assert.equal(state.lastOkAt, 1000);
    assert.deepEqual(transitions, ['none', 'first_failure', 'failure', 'suspect', 'failure']);
  });

  test('the threshold is configurable', () => {
    assert.equal(run([{ ok: false }], { failuresToSuspect: 1, stallsToFail: 4 }).state.phase, 'suspect');
    assert.equal(run([{ ok: false }, { ok: false }], { failuresToSuspect: 5, stallsToFail: 4 }).state.phase, 'failing');
  });

  test('alive codes (too many connections, access denied, read_only, host blocked) are not death and do not reset the count', () => {
    const { state, transitions } = run([{ ok: false, kind: 'timeout' }, { ok: false, kind: 'too_many_connections' }, { ok: false, kind: 'auth' }, { ok: false, kind: 'protocol', errno: 1129 }, { ok: false, kind: 'timeout' }]);
    assert.equal(state.consecutiveFailures, 2);
    assert.equal(state.phase, 'failing');
    assert.deepEqual(transitions, ['first_failure', 'alive_but_refusing', 'alive_but_refusing', 'alive_but_refusing', 'failure']);
  });

  test('statement timeouts on accepted connections are stalls; a connect failure breaks the run', () => {
    assert.equal(classifyFailure({ ok: false, kind: 'timeout', stage: 'statement' }), 'stall');
    assert.equal(classifyFailure({ ok: false, kind: 'timeout', stage: 'connect' }), 'ambiguous');
    assert.equal(classifyFailure({ ok: false, kind: 'refused', stage: 'connect' }), 'refused');
    const stall = { ok: false, kind: 'timeout' as const, stage: 'statement' as const };
    const a = run([stall, stall, { ok: false, kind: 'timeout', stage: 'connect' }, stall], { failuresToSuspect: 10, stallsToFail: 3 });
    assert.equal(a.state.consecutiveStalls, 1);
    assert.equal(a.state.consecutiveFailures, 4);
    const b = run([stall, stall, stall], { failuresToSuspect: 10, stallsToFail: 3 });
    assert.equal(b.state.phase, 'suspect');
    assert.deepEqual(b.transitions, ['first_failure', 'failure', 'suspect']);
  });
});

describe('classifyWitness: what a replica proves', () => {
  const base = (over: Partial<ReplicaSample> = {}): ReplicaSample => ({ at: 1000, reachable: true, replicatesFromMaster: true, io: 'Yes', lastIoErrno: 0, read: { file: 'mysql-bin.000001', pos: 100 }, heartbeats: 5, ...over });

  test('received events between two samples: fresh, alive', () => {
    const w = classifyWitness('db2', base({ at: 1000 }), base({ at: 1400, read: { file: 'mysql-bin.000001', pos: 900 } }), 500);
    assert.equal(w.class, 'fresh');
    assert.equal(w.says, 'alive');
    assert.equal(w.freshnessMs, 400);
    assert.match(w.detail, /read position mysql-bin.000001:100 → mysql-bin.000001:900/);
  });

  test('received a heartbeat between two samples: fresh', () => {
    const w = classifyWitness('db2', base({ at: 1000 }), base({ at: 1300, heartbeats: 6 }), 500);
    assert.equal(w.class, 'fresh');
    assert.match(w.detail, /1 heartbeat/);
  });

  test('IO Yes and nothing received: stale, proves nothing', () => {
    const w = classifyWitness('db2', base({ at: 1000 }), base({ at: 1300, heartbeatPeriod: 30 }), 500);
    assert.equal(w.class, 'stale');
    assert.equal(w.says, 'nothing');
    assert.match(w.detail, /heartbeat period 30 s/);
    assert.equal(classifyWitness('db2', undefined, base(), 500).class, 'stale');
  });

  test('progress that ended in a lost connection is not proof of life', () => {
    const w = classifyWitness('db2', base({ at: 1000 }), base({ at: 1300, io: 'Connecting', lastIoErrno: 2003, read: { file: 'mysql-bin.000001', pos: 999 } }), 500);
    assert.equal(w.class, 'lost');
    assert.equal(w.says, 'dead');
  });

  test('MySQL timestamps: received after the suspicion began is fresh, before it is not', () => {
    assert.equal(classifyWitness('db2', undefined, base({ at: 5000, receivedAgoMs: 200 }), 4000).class, 'fresh');
    assert.equal(classifyWitness('db2', undefined, base({ at: 5000, receivedAgoMs: 2000 }), 4000).class, 'stale');
  });

  test('Connecting with an alive code vetoes; the codes MHA treats as alive', () => {
    for (const errno of [1040, 1045, 1129, 1203, 1130, 1226]) {
      const w = classifyWitness('db2', undefined, base({ io: 'Connecting', lastIoErrno: errno }), 0);
      assert.equal(w.class, 'alive_error', String(errno));
      assert.equal(w.says, 'alive');
    }
    assert.match(classifyWitness('db2', undefined, base({ io: 'Connecting', lastIoErrno: 1040 }), 0).detail, /1040 \(too many connections\)/);
  });

  test('stopped by hand, stopped on an error, not a replica, unreachable: no witness', () => {
    assert.equal(classifyWitness('db3', undefined, base({ io: 'No', lastIoErrno: 0 }), 0).class, 'stopped');
    assert.equal(classifyWitness('db3', undefined, base({ io: 'No', lastIoErrno: 1236 }), 0).says, 'nothing');
    assert.equal(classifyWitness('db3', undefined, base({ replicatesFromMaster: false }), 0).class, 'not_replica');
    assert.equal(classifyWitness('db3', undefined, base({ reachable: false, error: 'refused' }), 0).class, 'unreachable');
  });
});

describe('the second route: probe output', () => {
  test('a greeting is a live server', () => {
    const r = parseProbeOutput('db2', { exitCode: 0, stdout: ' 68 00 00 00 0a 35 2e 35 2e 35 2d 31 30 2e 31 31\n', stderr: 'mhats-probe-connected\n' });
    assert.equal(r.kind, 'greeting');
    assert.equal(r.says, 'alive');
    assert.match(r.detail, /5\.5\.5-10\.11/);
  });

  test('an error packet instead of the greeting (too many connections) is alive', () => {
    const msg = [...Buffer.from('Too many connections')].map((b) => b.toString(16).padStart(2, '0'));
    const bytes = ['17', '00', '00', '00', 'ff', '10', '04', ...msg].slice(0, 16).join(' ');
    const r = parseProbeOutput('db2', { exitCode: 0, stdout: bytes, stderr: 'mhats-probe-connected\n' });
    assert.equal(r.kind, 'alive_error');
    assert.equal(r.errno, 1040);
    assert.equal(r.says, 'alive');
    const g = parseGreeting([0x17, 0, 0, 0, 0xff, 0x69, 0x04, ...Buffer.from('Host blocked')]);
    assert.deepEqual(g, { kind: 'alive_error', errno: 1129, message: 'Host blocked' });
  });

  test('TCP accepted but no greeting before the deadline: hung', () => {
    const r = parseProbeOutput('db2', { exitCode: 137, stdout: '', stderr: 'mhats-probe-connected\n' });
    assert.equal(r.kind, 'no_greeting');
    assert.equal(r.says, 'dead');
  });

  test('refused, unreachable, timed out, could not run', () => {
    assert.equal(parseProbeOutput('db2', { exitCode: 7, stdout: '', stderr: 'bash: connect: Connection refused\nbash: line 1: /dev/tcp/127.0.40.11/3306: Connection refused\n' }).kind, 'refused');
    assert.equal(parseProbeOutput('db2', { exitCode: 7, stdout: '', stderr: 'bash: connect: No route to host\n' }).kind, 'unreachable');
    assert.equal(parseProbeOutput('db2', { exitCode: 137, stdout: '', stderr: '' }).kind, 'timeout');
    const e = parseProbeOutput('db2', { exitCode: 127, stdout: '', stderr: 'timeout: failed to run command ‘bash’: No such file or directory\n' });
    assert.equal(e.kind, 'error');
    assert.equal(e.says, 'nothing');
  });

  test('the probe never interpolates the host into the script', () => {
    const argv = probeArgv("db1'; rm -rf /", 3306, 800);
    assert.deepEqual(argv.slice(0, 4), ['timeout', '-s', 'KILL', '0.8']);
    assert.equal(argv.at(-2), "db1'; rm -rf /");
    assert.ok(!argv[6]!.includes('db1'));
  });
});

describe('decide: the verdict', () => {
  const failing = (n: number, cls: 'refused' | 'ambiguous' | 'stall', stalls = 0): DetectorState => ({
    phase: n >= 3 ? 'suspect' : 'failing',
    consecutiveFailures: n,
    consecutiveStalls: stalls,
    firstFailureAt: 0,
    lastFailure: { kind: cls === 'refused' ? 'refused' : 'timeout', class: cls, message: cls, at: 100 },
  });
  const w = (name: string, cls: WitnessReport['class']): WitnessReport => ({ name, class: cls, says: cls === 'fresh' || cls === 'alive_error' ? 'alive' : cls === 'lost' ? 'dead' : 'nothing', detail: cls });
  const route = (via: string, kind: RouteReport['kind']): RouteReport => parseProbeOutput(via, kind === 'refused' ? { exitCode: 7, stdout: '', stderr: 'connect: Connection refused' } : kind === 'no_greeting' ? { exitCode: 137, stdout: '', stderr: 'mhats-probe-connected' } : kind === 'greeting' ? { exitCode: 0, stdout: '0a 00 00 00 0a 31 31 00', stderr: 'mhats-probe-connected' } : kind === 'timeout' ? { exitCode: 137, stdout: '', stderr: '' } : { exitCode: 255, stdout: '', stderr: 'ssh: cannot connect' });
  const input = (over: Partial<DecideInput>): DecideInput => ({ master: 'db1', detector: failing(2, 'refused'), settings: S, witnesses: [], now: 1000, ...over });

  test('refused, every witness lost its IO connection, refused again: dead at the re-check', () => {
    const one = decide(input({ detector: failing(1, 'refused'), witnesses: [w('db2', 'lost'), w('db3', 'lost')] }));
    assert.equal(one.dead, false);
    const v = decide(input({ witnesses: [w('db2', 'lost'), w('db3', 'lost')] }));
    assert.equal(v.dead, true);
    assert.equal(v.dead && v.basis, 'refused');
    assert.deepEqual(v.dead && v.witnesses, ['db2', 'db3']);
  });

  test('refused, replicas still say Yes (lagging), the second route refused too: dead without waiting for them', () => {
    const v = decide(input({ witnesses: [w('db2', 'stale'), w('db3', 'stale')], routes: [route('db2', 'refused'), route('db3', 'refused')] }));
    assert.equal(v.dead, true);
    assert.equal(v.dead && v.basis, 'refused');
    assert.match(v.reason, /from db2's host, db3's host/);
  });

  test('refused, replicas say Yes without fresh evidence, no second route: not yet', () => {
    const v = decide(input({ witnesses: [w('db2', 'stale'), w('db3', 'lost')] }));
    assert.equal(v.code, 'Unconfirmed');
    assert.match(v.reason, /db2 still says IO Yes without fresh evidence; no second route/);
  });

  test('a replica stopped by hand is not relied on', () => {
    const v = decide(input({ witnesses: [w('db2', 'lost'), w('db3', 'stopped')] }));
    assert.equal(v.dead, true);
    assert.deepEqual(v.dead && v.witnesses, ['db2']);
    const only = decide(input({ detector: failing(3, 'refused'), witnesses: [w('db3', 'stopped')] }));
    assert.equal(only.code, 'NoWitness');
  });

  test('a timeout: dead after two failed checks when no route reaches a live server (hung, or cut off)', () => {
    const v = decide(input({ detector: failing(2, 'ambiguous'), witnesses: [w('db2', 'stale'), w('db3', 'stale')], routes: [route('db2', 'no_greeting'), route('db3', 'timeout')] }));
    assert.equal(v.dead, true);
    assert.equal(v.dead && v.basis, 'unreachable');
    assert.equal(decide(input({ detector: failing(1, 'ambiguous'), routes: [route('db2', 'no_greeting')] })).dead, false);
  });

  test('a timeout, the master answers from another host: only the manager’s route is broken', () => {
    const v = decide(input({ detector: failing(5, 'ambiguous'), witnesses: [w('db2', 'stale')], routes: [route('db2', 'greeting'), route('db3', 'timeout')] }));
    assert.equal(v.dead, false);
    assert.equal(v.code, 'UnreachableMaster');
    assert.match(v.reason, /only the manager's route is broken; not failing over/);
  });

  test('a fresh witness or an alive error vetoes everything but a storage hang', () => {
    assert.equal(decide(input({ witnesses: [w('db2', 'fresh'), w('db3', 'lost')], routes: [route('db3', 'refused')] })).code, 'UnreachableMaster');
    const v = decide(input({ detector: failing(5, 'ambiguous'), witnesses: [w('db2', 'alive_error'), w('db3', 'lost')] }));
    assert.equal(v.code, 'AliveError');
    const hang = decide(input({ detector: failing(4, 'stall', 4), witnesses: [w('db2', 'fresh')], routes: [route('db2', 'greeting')] }));
    assert.equal(hang.dead, true);
    assert.equal(hang.code, 'StorageHang');
    assert.equal(decide(input({ detector: failing(3, 'stall', 3), witnesses: [w('db2', 'fresh')] })).dead, false);
  });

  test('without a second route the replicas decide after ping_failures, as before', () => {
    assert.equal(decide(input({ detector: failing(2, 'ambiguous'), witnesses: [w('db2', 'lost')] })).dead, false);
    const v = decide(input({ detector: failing(3, 'ambiguous'), witnesses: [w('db2', 'lost'), w('db3', 'unreachable')] }));
    assert.equal(v.dead && v.basis, 'replicas');
  });

  test('probes that could not run are no evidence', () => {
    const v = decide(input({ detector: failing(3, 'ambiguous'), witnesses: [w('db2', 'stale')], routes: [route('db2', 'error')] }));
    assert.equal(v.code, 'Unconfirmed');
    assert.match(v.reason, /no second-route probe could run/);
  });

  test('secondary_check_script has the last word', () => {
    const i = input({ witnesses: [w('db2', 'lost')] });
    assert.equal(deathPending(i), true);
    assert.equal(decide({ ...i, secondary: { kind: 'dead' } }).dead, true);
    assert.equal(decide({ ...i, secondary: { kind: 'alive', exitCode: 3, detail: 'reachable from mon2' } }).code, 'SecondaryCheckVeto');
    assert.equal(decide({ ...i, secondary: { kind: 'error', detail: 'timed out' } }).dead, false);
  });

  test('the evidence says who said what and how fresh', () => {
    const v = decide(input({ witnesses: [{ ...w('db2', 'stale'), freshnessMs: 300 }], routes: [route('db2', 'refused')], now: 1500 }));
    assert.equal(v.evidence.failingForMs, 1500);
    assert.equal(v.evidence.witnesses[0]!.freshnessMs, 300);
    assert.equal(v.evidence.routes![0]!.kind, 'refused');
  });
});
