import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hooksFor, parseHooks } from '../../src/config/hooks.js';
import { vipHooksInSwitch } from '../../src/engine/switchover.js';
import { VIP_MOVE_START, vipRollbackAdvance, vipRollbackPlan, type VipMoveFacts, type VipRollbackStep } from '../../src/engine/switchover-vip.js';

function plan(set: unknown[], mhaScript?: string): ReturnType<typeof vipHooksInSwitch> {
  const parsed = parseHooks({ environment: 'prod', sets: { prod: set } });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
  const p = hooksFor({ hooks: parsed.value, master_ip_online_change_script: mhaScript });
  assert.ok(p.ok);
  return vipHooksInSwitch(p.hooks);
}

const vip = { name: 'vip', type: 'vip', address: '10.0.0.100/32', interface: 'eth0' };

describe('vipHooksInSwitch: which switchovers move the VIP inside the database switch', () => {
  test('only built-in vip hooks in both online-change phases: moved inside the switch', () => {
    assert.deepEqual(plan([vip])?.map((h) => h.address), ['10.0.0.100/32']);
    assert.deepEqual(plan([vip, { ...vip, name: 'vip2', address: '10.0.0.101/32' }])?.map((h) => h.name), ['vip', 'vip2']);
  });

  test("MHA's master_ip_online_change_script keeps MHA's order, even beside a built-in vip hook", () => {
    assert.equal(plan([vip], '/usr/local/bin/master_ip_online_change'), undefined);
    assert.equal(plan([], '/usr/local/bin/master_ip_online_change'), undefined);
  });

  test('a command or another built-in in an online-change phase keeps the hook order', () => {
    assert.equal(plan([vip, { name: 'c', type: 'command', command: ['/bin/true'], phases: ['online_change_start'] }]), undefined);
    assert.equal(plan([vip, { name: 'lb', type: 'haproxy', mode: 'runtime-api', socket: '/run/haproxy.sock', backend: 'db', servers: { db1: 'db1', db2: 'db2' } }]), undefined);
  });

  test('a vip hook in only one online-change phase keeps the hook order; no online-change hook: nothing to move', () => {
    assert.equal(plan([{ ...vip, phases: ['online_change_start'] }]), undefined);
    assert.equal(plan([{ ...vip, phases: ['online_change_stop'] }]), undefined);
    assert.equal(plan([{ ...vip, phases: ['stop', 'start'] }]), undefined);
    assert.equal(plan([]), undefined);
  });

  test('hooks outside the online-change phases do not matter', () => {
    assert.deepEqual(plan([vip, { name: 'c', type: 'command', command: ['/bin/true'], phases: ['report'] }])?.map((h) => h.name), ['vip']);
  });
});

const facts = (f: Partial<VipMoveFacts>): VipMoveFacts => ({ ...VIP_MOVE_START, ...f });

describe('vipRollbackPlan: the VIP back on the old host when a switch rolls back, never on two hosts', () => {
  const cases: Array<[string, Partial<VipMoveFacts>, VipRollbackStep[]]> = [
    ['nothing sent (the switch failed before the release): nothing to undo', {}, []],
    ['released (or its release failed) and no add sent: back on the old host', { releaseSent: true }, ['add-on-old']],
    ['add in flight: settle it, take it off the new host, then back on the old host', { releaseSent: true, acquire: 'in-flight' }, ['settle-acquire', 'remove-from-new', 'add-on-old']],
    ['add settled (whatever it answered): off the new host first', { releaseSent: true, acquire: 'settled' }, ['remove-from-new', 'add-on-old']],
    ['confirmed off the new host: back on the old host', { releaseSent: true, acquire: 'settled', offNew: 'confirmed' }, ['add-on-old']],
    ['NOT confirmed off the new host: never put back on the old host', { releaseSent: true, acquire: 'settled', offNew: 'failed' }, []],
    ['back on the old host: done', { releaseSent: true, backOnOld: true }, []],
    ['off the new host and back on the old host: done', { releaseSent: true, acquire: 'settled', offNew: 'confirmed', backOnOld: true }, []],
    ['(cannot happen) an add without a release: off the new host, nothing added on the old host', { acquire: 'in-flight' }, ['settle-acquire', 'remove-from-new']],
  ];
  for (const [name, f, steps] of cases) {
    test(name, () => {
      assert.deepEqual(vipRollbackPlan(facts(f)), steps);
    });
  }

  test('each step, once recorded, leaves the plan', () => {
    let f = facts({ releaseSent: true, acquire: 'in-flight' });
    f = vipRollbackAdvance(f, 'settle-acquire', false);
    assert.deepEqual(vipRollbackPlan(f), ['remove-from-new', 'add-on-old']);
    assert.deepEqual(vipRollbackPlan(vipRollbackAdvance(f, 'remove-from-new', true)), ['add-on-old']);
    assert.deepEqual(vipRollbackPlan(vipRollbackAdvance(f, 'remove-from-new', false)), []);
    assert.deepEqual(vipRollbackPlan(vipRollbackAdvance(facts({ releaseSent: true }), 'add-on-old', false)), []);
  });

  // Every way the switch and its rollback can go, on a model of the two hosts ('maybe': a command
  // that failed or timed out may or may not have acted), driven as VipMove.rollback drives the plan.
  type On = 'yes' | 'no' | 'maybe';
  const starts: Array<{ name: string; f: Partial<VipMoveFacts>; old: On; new: On }> = [
    { name: 'failed before the release', f: {}, old: 'yes', new: 'no' },
    { name: 'release failed', f: { releaseSent: true }, old: 'maybe', new: 'no' },
    { name: 'released, read_only failed before the add was sent', f: { releaseSent: true }, old: 'no', new: 'no' },
    { name: 'add in flight, it will succeed', f: { releaseSent: true, acquire: 'in-flight' }, old: 'no', new: 'yes' },
    { name: 'add in flight, it will fail', f: { releaseSent: true, acquire: 'in-flight' }, old: 'no', new: 'no' },
    { name: 'add in flight, it will time out', f: { releaseSent: true, acquire: 'in-flight' }, old: 'no', new: 'maybe' },
  ];
  for (const s of starts) {
    for (const removeOk of [true, false]) {
      for (const addOk of [true, false]) {
        test(`model: ${s.name}; removal from the new host ${removeOk ? 'ok' : 'fails'}; add on the old host ${addOk ? 'ok' : 'fails'}`, () => {
          let f = facts(s.f);
          const on = { old: s.old, new: s.new };
          const done: VipRollbackStep[] = [];
          for (let next = vipRollbackPlan(f)[0]; next !== undefined; next = vipRollbackPlan(f)[0]) {
            assert.ok(done.length < 3, `the plan does not end: ${done.join(', ')}`);
            done.push(next);
            let ok = true;
            if (next === 'remove-from-new') {
              ok = removeOk;
              if (ok) on.new = 'no';
            } else if (next === 'add-on-old') {
              assert.equal(on.new, 'no', 'added on the old host while it may be on the new one');
              if (addOk) on.old = 'yes';
            }
            f = vipRollbackAdvance(f, next, ok);
          }
          if (s.f.releaseSent !== true) assert.deepEqual(done, [], 'nothing to undo: the VIP never left the old host');
          else if (!removeOk && done.includes('remove-from-new')) assert.ok(!done.includes('add-on-old'), 'put back on the old host while it may still be on the new one');
          else if (addOk) assert.deepEqual(on, { old: 'yes', new: 'no' }, `steps: ${done.join(', ')}`);
          else assert.equal(done.at(-1), 'add-on-old');
        });
      }
    }
  }
});
