import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTag, planNetns, validateSubnet, validateTag } from '../../src/sandbox/netns.js';

test('netns plan: names from the tag fit a link name, addresses on the subnet', () => {
  const { net, hosts } = planNetns('/x', { tag: 'abcdefghijk', subnet: '10.213.50' }, 21);
  assert.equal(net.bridge, 'abcdefghijkbr');
  assert.equal(net.gateway, '10.213.50.1');
  assert.equal(net.appAddress, '10.213.50.2');
  assert.deepEqual(hosts[0], { ns: 'abcdefghijk1', veth: 'abcdefghijk1', address: '10.213.50.11' });
  assert.deepEqual(hosts[20], { ns: 'abcdefghijk21', veth: 'abcdefghijk21', address: '10.213.50.31' });
  // The veth peer is created as VETH + "p" before it is renamed eth0 inside the namespace.
  for (const n of [net.bridge, ...hosts.map((h) => `${h.veth}p`)]) assert.ok(n.length <= 15, n);
  assert.deepEqual(net.namespaces, []);
  assert.throws(() => planNetns('/x', {}, 22), /at most 21/);
});

test('netns plan: default tag derived from the directory, valid and distinct', () => {
  const a = defaultTag('/var/tmp/a');
  const b = defaultTag('/var/tmp/b');
  assert.notEqual(a, b);
  assert.equal(validateTag(a), a);
  assert.equal(defaultTag('/var/tmp/a'), a);
  assert.equal(planNetns('/var/tmp/a', {}, 1).net.subnet, '10.213.200');
});

test('netns plan: bad tags and subnets are refused with the rule', () => {
  for (const t of ['', 'abcdefghijkl', 'Upper', '1abc', 'abc1', 'a_b', 'ab-']) assert.throws(() => validateTag(t), /1 to 11 characters/, t);
  for (const t of ['a', 'mhats-t-xa', 'a1b']) assert.equal(validateTag(t), t);
  for (const s of ['10.213', '10.213.256', '10.213.1.0', 'x.y.z']) assert.throws(() => validateSubnet(s), /first three octets/, s);
  for (const s of ['127.0.1', '0.1.2', '224.1.1']) assert.throws(() => validateSubnet(s), /not usable/, s);
  assert.equal(validateSubnet('10.213.50'), '10.213.50');
});
