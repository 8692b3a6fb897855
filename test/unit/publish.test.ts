import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostPort, masterKey, masterWrites, mayPublish, pointsAt, retractWrites } from '../../src/domain/publish.js';
import { ConsulKv, EtcdKv } from '../../src/adapters/publish/kv.js';
import { MasterPublisher } from '../../src/app/publisher.js';
import { Secret } from '../../src/domain/secret.js';
import { silentLogger } from '../../src/ports/logger.js';
import { parseYamlConfig } from '../../src/config/yaml.js';
import type { ClusterConfig, ServerConfig } from '../../src/config/types.js';
import type { TxnOp } from '../../src/adapters/leader/etcd-client.js';
import { ConsulStub } from '../helpers/consul-stub.js';

test("orchestrator's key layout, under an optional prefix", () => {
  assert.equal(masterKey('', 'app1'), 'mysql/master/app1');
  assert.equal(masterKey('/service/', 'app1'), '/service/mysql/master/app1');
  assert.deepEqual(masterWrites('', 'app1', { name: 'db2', hostname: 'db2.example', port: 3307, ipv4: '10.0.0.2' }), [
    { key: 'mysql/master/app1/hostname', value: 'db2.example' },
    { key: 'mysql/master/app1/port', value: '3307' },
    { key: 'mysql/master/app1/ipv4', value: '10.0.0.2' },
    { key: 'mysql/master/app1', value: 'db2.example:3307' },
  ]);
  // An unknown IPv4 deletes the key: it must never keep the previous master's address.
  assert.deepEqual(masterWrites('', 'app1', { name: 'db2', hostname: 'db2', port: 3306 })[2], { key: 'mysql/master/app1/ipv4', value: undefined });
  assert.equal(hostPort('::1', 3306), '[::1]:3306');
  assert.deepEqual(retractWrites('/p', 'c').map((w) => w.key), ['/p/mysql/master/c', '/p/mysql/master/c/hostname', '/p/mysql/master/c/port', '/p/mysql/master/c/ipv4']);
  assert.equal(pointsAt('db1:3306', 'db1', 3306), true);
  assert.equal(pointsAt('db10:3306', 'db1', 3306), false);
});

test('never a fenced, failed, unobserved, unhealthy or former master', () => {
  const ok = { name: 'db2', isCurrentMaster: true, failed: false, readOnly: false, healthy: true };
  assert.deepEqual(mayPublish(ok), { publish: true });
  assert.match(JSON.stringify(mayPublish({ ...ok, readOnly: true })), /read_only \(fenced/);
  assert.match(JSON.stringify(mayPublish({ ...ok, failed: true })), /failed old master/);
  assert.match(JSON.stringify(mayPublish({ ...ok, readOnly: undefined })), /not been observed/);
  assert.match(JSON.stringify(mayPublish({ ...ok, healthy: false })), /health checks/);
  assert.match(JSON.stringify(mayPublish({ ...ok, isCurrentMaster: false })), /not the current master/);
});

const server = (name: string, ip: string): ServerConfig => ({ name, hostname: `${name}.example`, ip, port: 3306 }) as ServerConfig;
const cluster = { name: 'app1', servers: [server('db1', '10.0.0.1'), server('db2', '10.0.0.2')] } as unknown as ClusterConfig;

let stub: ConsulStub;
before(async () => {
  stub = new ConsulStub();
  await stub.listen();
});
after(() => stub.close());

test('Consul KV: PUT with the token, GET raw, DELETE; a fenced server is retracted, another one is left alone', async () => {
  stub.kv.clear();
  const consul = new ConsulKv({ address: stub.url, token: new Secret('s3cr3t'), datacenter: 'dc1', timeoutMs: 2000 });
  const p = new MasterPublisher({ prefix: 'svc', interval: 60, timeout: 2 }, { log: silentLogger, stores: [consul] });
  await p.publish(cluster, cluster.servers[0]!, { isCurrentMaster: true, failed: false, readOnly: false, healthy: true }, 'test');
  assert.equal(stub.kv.get('svc/mysql/master/app1'), 'db1.example:3306');
  assert.equal(stub.kv.get('svc/mysql/master/app1/ipv4'), '10.0.0.1');
  assert.ok(stub.requests.every((r) => r.token === 's3cr3t' && /dc=dc1/.test(r.query)));
  // The main key is written last.
  assert.equal(stub.history.at(-1)?.key, 'svc/mysql/master/app1');
  // Reconciliation with the same master writes nothing.
  const before = stub.history.length;
  await p.publish(cluster, cluster.servers[0]!, { isCurrentMaster: true, failed: false, readOnly: false, healthy: true }, 'reconcile', false);
  assert.equal(stub.history.length, before);
  assert.equal(p.outcomes('app1')[0]?.last?.action, 'unchanged');
  // db2 fenced: db1's keys stay. db1 fenced: its keys go.
  await p.retractIfPointsAt(cluster, cluster.servers[1]!, 'fenced');
  assert.equal(stub.kv.get('svc/mysql/master/app1'), 'db1.example:3306');
  await p.retractIfPointsAt(cluster, cluster.servers[0]!, 'fenced');
  assert.equal(stub.kv.size, 0);
  // A fenced server is never published.
  await p.publish(cluster, cluster.servers[0]!, { isCurrentMaster: true, failed: false, readOnly: true, healthy: true }, 'test');
  assert.equal(stub.kv.size, 0);
});

test('a drifted key is rewritten at reconciliation; an unreachable store is logged, never thrown', async () => {
  stub.kv.clear();
  const consul = new ConsulKv({ address: stub.url, timeoutMs: 2000 });
  const closed = new ConsulStub();
  const closedUrl = await closed.listen();
  await closed.close();
  const dead = new ConsulKv({ address: closedUrl, timeoutMs: 500 });
  const p = new MasterPublisher({ prefix: '', interval: 60, timeout: 2 }, { log: silentLogger, stores: [consul, dead] });
  stub.kv.set('mysql/master/app1', 'db1.example:3306');
  await p.publish(cluster, cluster.servers[1]!, { isCurrentMaster: true, failed: false, readOnly: false, healthy: true }, 'reconcile', false);
  assert.equal(stub.kv.get('mysql/master/app1'), 'db2.example:3306');
  const [ok, bad] = p.outcomes('app1');
  assert.equal(ok?.last?.ok, true);
  assert.equal(bad?.last?.ok, false);
  assert.match(bad?.last?.error ?? '', /consul GET .*ECONNREFUSED/);
});

test('etcd: one transaction with the puts and the deletes', async () => {
  const calls: TxnOp[][] = [];
  const kv = new EtcdKv({ client: { txn: (_c, ops) => (calls.push(ops), Promise.resolve({ succeeded: true, revision: '1', kvs: [] })), get: () => Promise.resolve(undefined) }, where: 'fake' });
  await kv.apply(masterWrites('/x', 'app1', { name: 'db2', hostname: 'db2', port: 3306 }));
  assert.deepEqual(calls, [[
    { put: { key: '/x/mysql/master/app1/hostname', value: 'db2' } },
    { put: { key: '/x/mysql/master/app1/port', value: '3306' } },
    { delete: { key: '/x/mysql/master/app1/ipv4' } },
    { put: { key: '/x/mysql/master/app1', value: 'db2:3306' } },
  ]]);
});

test('config: publish to etcd needs endpoints; consul needs an address; a token may come from the environment', () => {
  const base = 'clusters:\n  app1:\n    servers:\n      - hostname: db1\n';
  const noEtcd = parseYamlConfig(`publish:\n  etcd: true\n${base}`, 'm.yaml');
  assert.match(noEtcd.problems.map((p) => `${p.line}: ${p.message}`).join('\n'), /^2: publish.etcd: true publishes to the endpoints of etcd:, which is not configured/);
  const ok = parseYamlConfig(`etcd:\n  endpoints: [http://127.0.71.1:2379]\npublish:\n  prefix: /svc/\n  etcd: true\n  consul: { address: "http://127.0.0.1:8500/", token: { env: CT } }\n${base}`, 'm.yaml');
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.publish?.prefix, '/svc');
  assert.deepEqual(ok.publish?.etcd, { endpoints: ['http://127.0.71.1:2379'] });
  assert.equal(ok.publish?.consul?.address, 'http://127.0.0.1:8500');
  assert.deepEqual(ok.publish?.consul?.token?.value, { kind: 'env', name: 'CT' });
  const typo = parseYamlConfig(`publish:\n  consul: { adress: "http://x:8500" }\n${base}`, 'm.yaml');
  assert.match(typo.problems.map((p) => p.message).join('\n'), /unknown key "adress" in publish.consul \(did you mean "address"\?\)/);
  const nothing = parseYamlConfig(`publish:\n  prefix: /x\n${base}`, 'm.yaml');
  assert.match(nothing.problems.map((p) => p.message).join('\n'), /publish: says where to publish/);
});
