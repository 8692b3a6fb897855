/** A vip or haproxy hook that cannot take the address or the traffic from the old master aborts before promotion, by default. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hooksSchema, policyFor, type HookSpec } from '../../src/config/hooks.js';
import { verdictOf } from '../../src/adapters/hooks/runner.js';

function set(hooks: unknown[]): HookSpec[] {
  return hooksSchema.parse({ environment: 'p', sets: { p: hooks } }).sets.p!;
}

test('vip and haproxy without on_failure: abort in the stop phases, continue after', () => {
  const [vip, lb] = set([
    { type: 'vip', address: '10.0.0.100/24', interface: 'eth0' },
    { type: 'haproxy', socket: '/run/haproxy/admin.sock', backend: 'mysql' },
  ]);
  for (const h of [vip!, lb!]) {
    assert.equal(policyFor(h, 'stop'), 'abort', h.type);
    assert.equal(policyFor(h, 'online_change_stop'), 'abort', h.type);
    assert.equal(policyFor(h, 'start'), 'continue', h.type);
    assert.equal(verdictOf(policyFor(h, 'stop'), 'stop', false, undefined, false), 'abort');
  }
});

test('an explicit on_failure is kept in every phase; hosts hooks are unchanged', () => {
  const [vip, hosts] = set([
    { type: 'vip', address: '10.0.0.100/24', interface: 'eth0', on_failure: 'continue' },
    { type: 'hosts', names: ['db-master'], targets: ['app1'] },
  ]);
  assert.equal(policyFor(vip!, 'stop'), 'continue');
  assert.equal(policyFor(hosts!, 'start'), 'continue');
});
