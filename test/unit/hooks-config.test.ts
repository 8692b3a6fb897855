/** The hooks section of the YAML config: schema, defaults, file:line errors, and MHA's keys as mha-script hooks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { hooksFor, hooksInPhase, parseHooks, parseSshDest, startHooksBesidePreparation } from '../../src/config/hooks.js';
import { configDir, configError } from '../helpers/config.js';

const load = (text: string): ReturnType<typeof loadConfig> => loadConfig({ conf: 'mhats.yaml', cwd: configDir('mhats-hooks-', { 'mhats.yaml': text }), env: {}, osUser: 'tester' });

const loadErr = async (text: string): Promise<string> => (await configError(load(text))).message;

const head = `clusters:
  c1:
    master_ip_failover_script: /usr/local/bin/master_ip_failover --vip=10.0.0.5
    shutdown_script: /usr/local/bin/power_manager
    report_script: /usr/local/bin/send_report
    servers:
      - { name: db1, hostname: db1.example }
      - { name: db2, hostname: db2.example }
`;

test('a hooks section: sets per environment, defaults per type', async () => {
  const cfg = await load(`${head}    hooks:
      environment: production
      sets:
        production:
          - type: vip
            address: 10.0.0.100/24
            interface: eth0
          - name: app-hosts
            type: hosts
            names: db-master.example
            targets: [app1.example, "deploy@app2.example:2222", { host: app3.example, port: 22 }]
            inplace: true
          - name: lb
            type: haproxy
            socket: /run/haproxy/admin.sock
            backend: mysql
            servers: { db1: mysql-db1 }
            on_failure: abort
            timeout: 5
        staging:
          - name: notify
            type: command
            phases: report
            command: [/usr/local/bin/notify, --channel, ops]
`);
  const c = cfg.clusters[0]!;
  const prod = c.hooks!.sets.production!;
  assert.equal(c.hooks!.environment, 'production');
  assert.deepEqual(prod.map((h) => [h.name, h.type, h.phases, h.timeout, h.on_failure]), [
    ['vip', 'vip', ['stop', 'start', 'online_change_stop', 'online_change_start'], 30, 'continue'],
    ['app-hosts', 'hosts', ['start', 'online_change_start'], 30, 'continue'],
    ['lb', 'haproxy', ['stop', 'start', 'online_change_stop', 'online_change_start'], 5, 'abort'],
  ]);
  const hosts = prod[1]!;
  assert.ok(hosts.type === 'hosts');
  assert.deepEqual(hosts.names, ['db-master.example']);
  assert.deepEqual(hosts.targets, [{ host: 'app1.example', port: 22 }, { host: 'app2.example', port: 2222, user: 'deploy' }, { host: 'app3.example', port: 22 }]);
  assert.equal(hosts.path, '/etc/hosts');
  assert.equal(hosts.inplace, true);
  const vip = prod[0]!;
  assert.ok(vip.type === 'vip');
  assert.equal(vip.arping_count, 3);
  // MHA's keys first (master_ip_failover before shutdown, as MHA runs them in Phase 2), then the set.
  const plan = hooksFor(c);
  assert.ok(plan.ok);
  assert.deepEqual(plan.hooks.map((h) => h.name), ['master_ip_failover_script', 'shutdown_script', 'report_script', 'vip', 'app-hosts', 'lb']);
  assert.deepEqual(hooksInPhase(plan.hooks, 'stop').map((h) => h.name), ['master_ip_failover_script', 'shutdown_script', 'vip', 'lb']);
  assert.deepEqual(hooksInPhase(plan.hooks, 'report').map((h) => h.name), ['report_script']);
  const st = hooksFor(c, 'staging');
  assert.ok(st.ok);
  assert.deepEqual(hooksInPhase(st.hooks, 'report').map((h) => h.name), ['report_script', 'notify']);
  const bad = hooksFor(c, 'qa');
  assert.ok(!bad.ok);
  assert.match(bad.reason, /no hook set "qa" \(sets: production, staging\)/);
  // Start hooks beside the saved binlog's apply only when none may clear read_only itself: MHA's
  // master_ip_failover_script (its sample sets read_only=0 in "start") keeps MHA's order.
  assert.equal(startHooksBesidePreparation(plan.hooks), false);
  assert.equal(startHooksBesidePreparation(plan.hooks.filter((h) => h.type !== 'mha-script')), true);
  assert.equal(startHooksBesidePreparation(plan.hooks.filter((h) => h.name === 'vip')), true);
  assert.equal(startHooksBesidePreparation([]), true);
});

test('without a hooks section MHA keys still become mha-script hooks with MHA semantics', async () => {
  const cfg = await load(head);
  const plan = hooksFor(cfg.clusters[0]!);
  assert.ok(plan.ok);
  const ipf = plan.hooks[0]!;
  assert.deepEqual([ipf.type, ipf.on_failure, ipf.timeout, ipf.phases], ['mha-script', 'mha', 60, ['stop', 'start']]);
  assert.ok(ipf.type === 'mha-script');
  assert.equal(ipf.command, '/usr/local/bin/master_ip_failover --vip=10.0.0.5');
  assert.equal(plan.environment, undefined);
});

test('errors carry file:line and say what is wrong', async () => {
  const msg = await loadErr(`${head}    hooks:
      environment: prod
      sets:
        production:
          - type: vip
            address: 10.0.0.300
            interface: eth0
          - type: hosts
            names: [db]
            targets: [app1]
            phases: [stop]
          - type: command
            phases: report
            on_failure: abort
            command: /bin/true
          - type: vip
            address: 10.0.0.5
            interface: eth0
            on_failure: mha
            colour: blue
          - type: haproxy
            backend: mysql
          - type: teleport
`);
  assert.match(msg, /mhats\.yaml:\d+: .*must be an IPv4 address with an optional prefix/);
  assert.match(msg, /mhats\.yaml:\d+: .*unknown key "colour"/);
  assert.match(msg, /mhats\.yaml:\d+: .*type must be one of hosts, vip, haproxy, mha-script, command/);
  const msg2 = await loadErr(`${head}    hooks:
      environment: prod
      sets:
        production:
          - type: hosts
            names: [db]
            targets: [app1]
            phases: [stop]
          - type: command
            phases: report
            on_failure: abort
            command: /bin/true
          - type: vip
            address: 10.0.0.5
            interface: eth0
            on_failure: mha
          - type: haproxy
            backend: mysql
`);
  assert.match(msg2, /mhats\.yaml:\d+: environment names no set under hooks\.sets \(sets: production\)/);
  assert.match(msg2, /mhats\.yaml:\d+: .*a hosts hook has nothing to do in phase stop/);
  assert.match(msg2, /mhats\.yaml:\d+: .*abort is only possible before promotion/);
  assert.match(msg2, /mhats\.yaml:\d+: .*on_failure "mha" \(exit codes 0\/10\) is for mha-script and command hooks/);
  assert.match(msg2, /mhats\.yaml:\d+: .*mode runtime-api needs socket/);
});

test('parseHooks and ssh destinations', () => {
  assert.deepEqual(parseSshDest('root@10.0.0.1:2222'), { host: '10.0.0.1', port: 2222, user: 'root' });
  assert.deepEqual(parseSshDest('app1'), { host: 'app1', port: 22 });
  assert.equal(parseSshDest('app1;rm -rf /'), undefined);
  const r = parseHooks({ sets: { x: [{ type: 'mha-script', script: 'shutdown', command: '/bin/pm', phases: ['start'] }] } });
  assert.ok(!r.ok);
  assert.match(r.problems.join('\n'), /shutdown_script is never called in phase start/);
  const dup = parseHooks({ sets: { x: [{ type: 'command', name: 'a', phases: 'stop', command: 'x' }, { type: 'command', name: 'a', phases: 'stop', command: 'y' }] } });
  assert.ok(!dup.ok);
  assert.match(dup.problems.join('\n'), /duplicate hook name "a"/);
});
