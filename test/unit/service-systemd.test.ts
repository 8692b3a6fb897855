/** sd_notify adapter, the watchdog's progress gate, and the unit file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createNotifier, watchdogMsFromEnv } from '../../src/adapters/systemd.js';
import { loopsProgress, type LoopView } from '../../src/app/manager.js';
import { silentLogger } from '../../src/ports/logger.js';

test('no NOTIFY_SOCKET: every call is a no-op, nothing is spawned', async () => {
  const calls: string[][] = [];
  const n = createNotifier({ log: silentLogger, env: {}, run: (a) => (calls.push(a), Promise.resolve(undefined)) });
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogMs, undefined);
  await n.ready('x');
  await n.watchdog();
  await n.stopping('y');
  assert.deepEqual(calls, []);
});

test('with NOTIFY_SOCKET: READY, STATUS (deduplicated), WATCHDOG, STOPPING, in order, with the socket', async () => {
  const calls: Array<{ args: string[]; env: Record<string, string> }> = [];
  const n = createNotifier({
    log: silentLogger,
    env: { NOTIFY_SOCKET: '/run/x.sock', WATCHDOG_USEC: '3000000' },
    run: async (args, env) => {
      await new Promise((r) => setTimeout(r, 5)); // slow sender: order must still hold
      calls.push({ args, env });
      return undefined;
    },
  });
  assert.equal(n.enabled, true);
  assert.equal(n.watchdogMs, 3000);
  void n.ready('1 cluster(s): app1: master db1 ok');
  void n.status('1 cluster(s): app1: master db1 ok');
  void n.watchdog();
  void n.status('line\nbreak');
  await n.stopping('stopping');
  assert.deepEqual(
    calls.map((c) => c.args),
    [['--ready', '--status=1 cluster(s): app1: master db1 ok'], ['WATCHDOG=1'], ['--status=line break'], ['--status=stopping', 'STOPPING=1']],
  );
  assert.ok(calls.every((c) => c.env.NOTIFY_SOCKET === '/run/x.sock'));
});

test('a failing systemd-notify is logged once and never thrown', async () => {
  const warned: string[] = [];
  const log = { ...silentLogger, warn: (_o: object, m?: string) => void warned.push(m ?? ''), child: () => log };
  const n = createNotifier({ log, env: { NOTIFY_SOCKET: '/nope' }, run: () => Promise.resolve('boom') });
  await n.watchdog();
  await n.watchdog();
  assert.equal(warned.length, 1);
  assert.match(warned[0] ?? '', /boom/);
});

test('WATCHDOG_USEC applies only to the process named by WATCHDOG_PID', () => {
  assert.equal(watchdogMsFromEnv({ WATCHDOG_USEC: '30000000' }, 10), 30_000);
  assert.equal(watchdogMsFromEnv({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '10' }, 10), 30_000);
  assert.equal(watchdogMsFromEnv({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '11' }, 10), undefined);
  assert.equal(watchdogMsFromEnv({}, 10), undefined);
  assert.equal(watchdogMsFromEnv({ WATCHDOG_USEC: 'x' }, 10), undefined);
});

const loop = (o: Partial<LoopView>): LoopView => ({ name: 'a', ticks: 5, busySince: undefined, inFailover: false, stopped: false, budgetMs: 10_000, ...o });

test('watchdog gate: pings only while every loop progresses; a wedged loop stops them', () => {
  const last = new Map([['a', 5], ['b', 3]]);
  // a ticked since the last ping; b sleeps between ticks.
  assert.deepEqual(loopsProgress([loop({ ticks: 6 }), loop({ name: 'b', ticks: 3 })], last, 100_000), { ok: true, stuck: [] });
  // b is inside a tick, still within its budget.
  assert.equal(loopsProgress([loop({ ticks: 6 }), loop({ name: 'b', ticks: 3, busySince: 95_000 })], last, 100_000).ok, true);
  // b's tick started 20 s ago with a 10 s budget: wedged.
  assert.deepEqual(loopsProgress([loop({ ticks: 6 }), loop({ name: 'b', ticks: 3, busySince: 80_000 })], last, 100_000), { ok: false, stuck: ['b'] });
  // A failover has its own phase deadlines: it counts as progress however long it runs.
  assert.equal(loopsProgress([loop({ name: 'b', ticks: 3, busySince: 0, inFailover: true })], last, 100_000).ok, true);
  // A first tick (a cluster added by a reload) is judged by the same budget.
  assert.equal(loopsProgress([loop({ ticks: 0, busySince: 99_000 })], new Map(), 100_000).ok, true);
  assert.equal(loopsProgress([loop({ ticks: 0, busySince: 80_000 })], new Map(), 100_000).ok, false);
  // A loop that died: no ping.
  assert.equal(loopsProgress([loop({ stopped: true })], last, 100_000).ok, false);
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyze = analyze.error !== undefined || analyze.status !== 0 ? 'systemd-analyze is not installed' : false;

test('systemd-analyze verify systemd/mhats.service passes', { skip: noAnalyze }, () => {
  const r = spawnSync('systemd-analyze', ['verify', 'systemd/mhats.service'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.trim(), '', r.stderr);
});

test('the unit is Type=notify with a watchdog and hardening', async () => {
  const { readFileSync } = await import('node:fs');
  const unit = readFileSync('systemd/mhats.service', 'utf8');
  for (const line of ['Type=notify', 'NotifyAccess=all', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'StateDirectory=mhats', 'ExecReload=/bin/kill -HUP $MAINPID']) {
    assert.match(unit, new RegExp(`^${line.replace(/[$]/g, '\\$')}$`, 'm'), line);
  }
  assert.match(unit, /^WatchdogSec=\d+s$/m);
});
