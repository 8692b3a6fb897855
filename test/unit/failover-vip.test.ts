/**
 * The built-in vip hook's address taken early by the candidate (src/engine/failover-vip.ts), and the
 * deadline of the SSH reachability probe (src/engine/ops/ssh-reach.ts): the pure parts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { VipHook } from '../../src/config/hooks.js';
import type { HookRecord } from '../../src/adapters/hooks/types.js';
import { earlyVipHooks } from '../../src/engine/failover-vip.js';
import { recheckSshAfterNo, sshProbeTimeoutMs } from '../../src/engine/ops/ssh-reach.js';

const vip = (name: string): VipHook => ({ type: 'vip', name, address: '10.0.0.100/32', interface: 'eth0', arping_count: 2, verify: true, timeout: 10, on_failure: 'abort', phases: ['stop', 'start'] });
const rec = (name: string, ok: boolean, phase: HookRecord['phase'] = 'stop'): HookRecord => ({ name, type: 'vip', phase, policy: 'abort', verdict: ok ? 'ok' : 'continue', ok, timedOut: false, durationMs: 5, detail: '' });

describe('earlyVipHooks', () => {
  test('a hook whose stop step succeeded is taken early by a read_only candidate', () => {
    assert.deepEqual(earlyVipHooks([vip('a')], [rec('a', true)], true).map((h) => h.name), ['a']);
  });
  test('never by a candidate that is writable, or whose read_only is unknown', () => {
    assert.deepEqual(earlyVipHooks([vip('a')], [rec('a', true)], false), []);
    assert.deepEqual(earlyVipHooks([vip('a')], [rec('a', true)], undefined), []);
  });
  test('not when its stop step failed or did not run (it may still be on the old host)', () => {
    assert.deepEqual(earlyVipHooks([vip('a'), vip('b')], [rec('a', false)], true), []);
    assert.deepEqual(earlyVipHooks([vip('a')], [rec('a', true, 'start')], true), []);
    assert.deepEqual(earlyVipHooks([vip('a'), vip('b')], [rec('a', false), rec('b', true)], true).map((h) => h.name), ['b']);
  });
});

describe('sshProbeTimeoutMs', () => {
  test('on a kept shell: one round trip, the second route deadline (at least 1 s, at most connect_timeout)', () => {
    assert.equal(sshProbeTimeoutMs(5, 1, true), 1000);
    assert.equal(sshProbeTimeoutMs(5, 0.3, true), 1000);
    assert.equal(sshProbeTimeoutMs(5, 2, true), 2000);
    assert.equal(sshProbeTimeoutMs(0.5, 2, true), 500);
  });
  test('without one: a new session within connect_timeout, plus a second for the command', () => {
    assert.equal(sshProbeTimeoutMs(3, 1, false), 4000);
  });
});

test('ssh reachability: a quick "no" is asked again with the full connect_timeout unless the host itself may be gone', () => {
  // The host answered the manager: refused port, stalled statements: a slow SSH answer must not cost the salvage.
  assert.equal(recheckSshAfterNo({ basis: 'refused', failure: 'refused' }), true);
  assert.equal(recheckSshAfterNo({ basis: 'stalled', failure: 'timeout' }), true);
  assert.equal(recheckSshAfterNo({ basis: 'replicas', failure: 'refused' }), true);
  // A manual failover has no verdict: thoroughness over speed.
  assert.equal(recheckSshAfterNo(undefined), true);
  // Connections timed out: the host may be off the network; the quick answer stands (netdown).
  assert.equal(recheckSshAfterNo({ basis: 'unreachable', failure: 'timeout' }), false);
  assert.equal(recheckSshAfterNo({ basis: 'replicas', failure: 'timeout' }), false);
});
