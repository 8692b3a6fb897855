import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hooksFor, parseHooks } from '../../src/config/hooks.js';
import { vipHooksInSwitch } from '../../src/engine/switchover.js';

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
