import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors/errors.js';
import { loadConfig } from '../../../src/config/load.js';
import { parseHostSpec } from '../../../src/config/keys.js';
import { detectionSettings } from '../../../src/config/resolve.js';
import { configDir } from '../../helpers/config.js';

const load = (name: string, text: string): ReturnType<typeof loadConfig> => loadConfig({ conf: name, cwd: configDir('mhats-det-', { [name]: text }), env: {}, osUser: 'tester' });

const servers = `    servers:
      - hostname: 127.0.0.11
      - hostname: 127.0.0.12
`;

test('detection defaults: second route on (1 s probes), MHA’s 4 stalls, hung old master killed', async () => {
  const cfg = await load('m.yaml', `clusters:\n  app1:\n${servers}`);
  const c = cfg.clusters[0]!;
  assert.deepEqual(detectionSettings(c), { second_route: true, second_route_timeout: 1, secondary_hosts: [], ping_stall_failures: 4, fence_hung_master: 'kill' });
});

test('YAML: secondary_hosts as a list or a comma string; fence_hung_master none; second_route off', async () => {
  const cfg = await load('m.yaml', `clusters:\n  app1:\n    second_route: false\n    second_route_timeout: 0.5\n    ping_stall_failures: 6\n    fence_hung_master: none\n    secondary_hosts: [mon1, 'ops@mon2:2222', '[::1]:22']\n${servers}`);
  const d = detectionSettings(cfg.clusters[0]!);
  assert.equal(d.second_route, false);
  assert.equal(d.second_route_timeout, 0.5);
  assert.equal(d.ping_stall_failures, 6);
  assert.equal(d.fence_hung_master, 'none');
  assert.deepEqual(d.secondary_hosts, [{ host: 'mon1' }, { host: 'mon2', port: 2222, user: 'ops' }, { host: '::1', port: 22 }]);
});

test('bad values name the key', async () => {
  await assert.rejects(load('m.yaml', `clusters:\n  app1:\n    fence_hung_master: maybe\n${servers}`), (e: unknown) => e instanceof ConfigError && /fence_hung_master/.test(e.message) && /kill or none/.test(e.message));
  await assert.rejects(load('m.yaml', `clusters:\n  app1:\n    secondary_hosts: 'a b'\n${servers}`), (e: unknown) => e instanceof ConfigError && /secondary_hosts/.test(e.message));
});

test('an MHA file accepts the keys as mhats extensions', async () => {
  const cfg = await load('app1.cnf', `[server default]\nuser=mhats\nsecondary_hosts=mon1,mon2\nfence_hung_master=none\nping_stall_failures=3\n[server1]\nhostname=127.0.0.11\n[server2]\nhostname=127.0.0.12\n`);
  const d = detectionSettings(cfg.clusters[0]!);
  assert.deepEqual(d.secondary_hosts, [{ host: 'mon1' }, { host: 'mon2' }]);
  assert.equal(d.fence_hung_master, 'none');
  assert.equal(d.ping_stall_failures, 3);
});

test('parseHostSpec', () => {
  assert.deepEqual(parseHostSpec('root@10.0.0.5:22'), { host: '10.0.0.5', port: 22, user: 'root' });
  assert.equal(parseHostSpec('host:99999'), undefined);
  assert.equal(parseHostSpec(''), undefined);
});
